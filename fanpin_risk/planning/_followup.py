"""Follow-up after risk elimination (风险消除后跟踪回访): the eliminated cohort and its re-entry label.

Policy asks that households whose risk was declared eliminated stay under
watch. This module defines that cohort, a label for it and the tools around it:

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

:func:`cohort_backtest` is the rolling-origin backtest of
:func:`fanpin_risk.backtest` on this label (rows outside the cohort carry no
label, so training and testing use the cohort only); :func:`score_followup`
gives the ranked follow-up visit list of the cohort in the scored year.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import ContractError

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
        ``income_below_line`` and ``guarantee_failed`` (always ``<NA>``: not part
        of this label), ``in_cohort``.
    """
    from .labels import PARTS, _as_panel, _next_rows

    df = _as_panel(panel)
    if horizon < 1:
        raise ContractError("horizon must be ≥ 1 year")
    coh = eliminated_cohort(df)
    nxt = _next_rows(df, horizon)
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
    for p in PARTS:
        out[p] = pd.Series(pd.NA, index=df.index, dtype="boolean")
    out["new_identification"] = label
    out["in_cohort"] = coh
    out.attrs["definition"] = {"definition": "reentry", "horizon": int(horizon), "cohort": "eliminated",
                               "parts": {"new_identification": True, "income_below_line": False, "guarantee_failed": False},
                               "rule": None}
    return out


def cohort_backtest(panel: Any, models=("rule", "scorecard", "lightgbm"), *, cohort: str = "eliminated",
                    label: str = "reentry", **kwargs):
    """Rolling-origin backtest on the eliminated cohort with the re-entry label.

    Parameters
    ----------
    panel : DataFrame or path
    models : sequence of model kinds
    cohort : {"eliminated"}
    label : {"reentry"}
    **kwargs
        Passed to :func:`fanpin_risk.backtest.backtest` (``k_share``, ``n_boot``,
        ``log_to_mlflow``, ``progress``, ``first_test_year``, ...).

    Returns
    -------
    BacktestResult
        Per-year and pooled figures of the cohort (``settings["cohort"]`` is set).
    """
    from .backtest import backtest

    if cohort not in COHORTS:
        raise ContractError(f"unknown cohort {cohort!r}; choose from {list(COHORTS)}")
    if label != "reentry":
        raise ContractError(f"the eliminated cohort is evaluated with label='reentry', got {label!r}")
    res = backtest(panel, models=models, label=label, **kwargs)
    res.settings["cohort"] = cohort
    return res


def score_followup(records: Any, model: Any = None, *, year: int | None = None, budget: int | float | None = None,
                   quota_by: str | None = None, reasons: str | None = None, headers: str = "en", lines=None) -> pd.DataFrame:
    """Ranked follow-up visit list (跟踪回访名单) of the households whose risk is eliminated.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records with history.
    model : RiskModel, path or None
        Preferably a model trained on the re-entry label
        (``train(panel, label="reentry")``); None loads the packaged default
        model, whose "relapse" risk then ranks the cohort.
    year, budget, quota_by, reasons, headers, lines
        As for :func:`fanpin_risk.score`; the budget counts cohort households.

    Returns
    -------
    DataFrame
        The columns of :func:`fanpin_risk.score` for the cohort households of the
        scored year (rank 1 = most at risk of re-entry), plus ``elimination_month``
        and ``years_since_elimination``. ``.attrs["cohort"]`` = "eliminated".
    """
    from .score import _to_panel
    from .score import score as _score

    panel = _to_panel(records, lines=lines)
    yrs = panel["year"].astype("int64")
    y = int(yrs.max()) if year is None else int(year)
    cur = panel[yrs == y]
    coh = eliminated_cohort(cur)
    ids = set(cur.loc[coh, "household_id"].astype("str"))
    if not ids:
        raise ContractError(f"no household has risk_eliminated True in {y}; nothing to follow up")
    # features use each household's own history only, so scoring the cohort alone changes no score
    sub = panel[panel["household_id"].astype("str").isin(ids)]
    out = _score(sub, model, year=y, budget=budget, quota_by=quota_by, reasons=reasons, headers="en", lines=lines)
    em = cur.assign(household_id=cur["household_id"].astype("str")).set_index("household_id")
    em = em["elimination_month"].astype("Int64") if "elimination_month" in em.columns else pd.Series(pd.NA, index=em.index, dtype="Int64")
    out["elimination_month"] = out["household_id"].map(em).astype("Int64")
    out["years_since_elimination"] = (y - out["elimination_month"] // 100).astype("Int64")
    out.attrs["cohort"] = "eliminated"
    if headers == "zh":
        from .score import to_headers

        out = to_headers(out, "zh").rename(columns={"elimination_month": "消除监测时间", "years_since_elimination": "风险消除年数"})
    return out
