"""The eliminated cohort (风险消除户) and its re-entry label.

Cohort "eliminated"
    Household-year rows (h, t) whose record says ``risk_eliminated`` is True:
    the household was a monitoring object and its risk was declared eliminated
    in year t or earlier, and it has not been re-identified since (a
    re-identification clears the elimination in the records).

Label "reentry" (``make_labels(panel, definition="reentry")``)
    For a cohort row (h, t) with a record in t + 1, positive when that record
    shows h identified as a monitoring object again:

    * ``newly_identified`` is True in t + 1, or
    * ``identification_month`` of t + 1 falls in year t + 1 and after the
      ``elimination_month`` of year t, or
    * ``risk_eliminated`` is False in t + 1 while ``monitoring_category`` is
      filled (a category reappearing after elimination).

    Negative when the t + 1 record is known and none holds. Missing (``<NA>``)
    when (h, t) is outside the cohort or has no record in t + 1 (censored, never 0).

The follow-up list and the cohort backtest built on it are in :mod:`fanpin_risk.planning`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanpin_risk.errors import ContractError

from ._panel import as_panel

#: Label parts shared with the default definitions (see :mod:`fanpin_risk.panel._labels`).
PARTS = ("new_identification", "income_below_line", "guarantee_failed")
#: The assistance-aware income part: income without dibao, tekun and public-welfare pay below the line.
PRE_TRANSFER_PART = "pre_transfer_below_line"
#: Every label part, one column each in the frame :func:`make_labels` returns.
ALL_PARTS = (*PARTS, PRE_TRANSFER_PART)


def next_rows(panel: pd.DataFrame, horizon: int) -> pd.Series:
    """For each row, the index label of the same household's row in year + horizon (NaN if none)."""
    key = pd.MultiIndex.from_arrays([panel["household_id"].astype(str), panel["year"].astype("int64")])
    pos = pd.Series(panel.index, index=key)
    want = pd.MultiIndex.from_arrays([panel["household_id"].astype(str), panel["year"].astype("int64") + horizon])
    return pd.Series(pos.reindex(want).to_numpy(), index=panel.index)


COHORTS = ("eliminated",)


def eliminated_cohort(panel: pd.DataFrame) -> pd.Series:
    """True for rows whose risk is recorded as eliminated (and not re-identified since)."""
    if "risk_eliminated" not in panel.columns:
        raise ContractError("the eliminated cohort needs risk_eliminated (风险是否消除); the records lack it")
    return panel["risk_eliminated"].astype("boolean").fillna(False).astype(bool)


def reentry_labels(panel: Any, horizon: int = 1) -> pd.DataFrame:
    """Re-entry labels of the eliminated cohort (see the module docstring).

    Parameters
    ----------
    panel : DataFrame or path
        Household-year records.
    horizon : int, default 1

    Returns
    -------
    DataFrame
        Index of the panel; columns ``label``, ``target_year``, ``censored``,
        ``new_identification`` (same as label on cohort rows),
        ``income_below_line``, ``guarantee_failed`` and ``pre_transfer_below_line``
        (always ``<NA>``: not part of this label), ``in_cohort``.
    """
    df = as_panel(panel)
    if horizon < 1:
        raise ContractError("horizon must be ≥ 1 year")
    coh = eliminated_cohort(df)
    nxt = next_rows(df, horizon)
    has = nxt.notna()
    target_year = df["year"].astype("Int64") + horizon
    label = pd.Series(pd.NA, index=df.index, dtype="boolean")
    use = coh & has
    if use.any():
        src = nxt[use].to_numpy()
        rows = df.loc[src]
        idx = df.index[use]

        def col(c, dtype):
            return pd.Series(rows[c].astype(dtype).to_numpy(), index=idx) if c in rows.columns else pd.Series(pd.NA, index=idx, dtype=dtype)

        ty = target_year[use]
        ni = col("newly_identified", "boolean")
        im = col("identification_month", "Int64")
        em_t = df.loc[idx, "elimination_month"].astype("Int64") if "elimination_month" in df.columns else pd.Series(pd.NA, index=idx, dtype="Int64")
        by_month = ((im // 100 > ty - horizon) & (im // 100 <= ty)).astype("boolean")
        by_month = by_month & (em_t.isna() | (im > em_t)).astype("boolean")
        by_month = by_month.where(im.notna(), pd.NA)
        re = col("risk_eliminated", "boolean")
        cat = col("monitoring_category", "str")
        by_cat = (~re & cat.notna() & (cat.astype("str").str.len() > 0)).astype("boolean")
        by_cat = by_cat.where(re.notna(), pd.NA)
        frame = pd.concat([ni, by_month, by_cat], axis=1)
        anyt = frame.fillna(False).any(axis=1)
        known = frame.notna().any(axis=1)
        lab = anyt.astype("boolean")
        lab[~known] = pd.NA
        label.loc[idx] = lab
    out = pd.DataFrame(index=df.index)
    out["label"] = label
    out["target_year"] = target_year
    out["censored"] = ~has
    for p in ALL_PARTS:
        out[p] = pd.Series(pd.NA, index=df.index, dtype="boolean")
    out["new_identification"] = label
    out["in_cohort"] = coh
    out.attrs["definition"] = {"definition": "reentry", "horizon": int(horizon), "cohort": "eliminated",
                               "parts": {p: p == "new_identification" for p in ALL_PARTS},
                               "rule": None}
    return out
