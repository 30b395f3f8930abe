"""Next-year labels: does household *h*, seen in year *t*, fall (back) into poverty in *t + horizon*?

The default definition ("relapse") marks a household-year positive when, in
the record of year ``t + horizon``, any of these parts holds:

``new_identification``
    the household is newly identified as a monitoring object (``newly_identified``
    is true, or ``identification_month`` falls in year ``t + horizon``);
``income_below_line``
    per-capita net income is below that year's monitoring line;
``guarantee_failed``
    one of 两不愁三保障 fails (``housing_safe``, ``drinking_water_safe``,
    ``compulsory_education_ok`` or ``medical_insured`` is False).

Rows with no record in ``t + horizon`` are *censored*: their label is missing
(``<NA>``), never 0. See ``docs/modeling.md`` for why this default and its biases.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._cohort import PARTS, next_rows, reentry_labels
from ._panel import as_panel

#: Parts of the default label and the definitions built from them.
DEFINITIONS: dict[str, tuple[str, ...]] = {
    "relapse": PARTS,
    "identified": ("new_identification",),
    "income": ("income_below_line",),
    "guarantee": ("guarantee_failed",),
}
GUARANTEES = ("housing_safe", "drinking_water_safe", "compulsory_education_ok", "medical_insured")


# --------------------------------------------------------------------------- helpers
def net_income_per_capita(df: pd.DataFrame) -> pd.Series:
    """Reported per-capita net income, else the contract's net income (:func:`fanpin_risk.contract.net_income_total`) / size."""
    rep = df["net_income_per_capita"].astype("float64") if "net_income_per_capita" in df.columns else None

    def col(c: str) -> pd.Series:
        if c not in df.columns:
            return pd.Series(np.nan, index=df.index, dtype="float64")
        return df[c].astype("float64")

    size = col("household_size").where(lambda s: s > 0)
    derived = contract.net_income_total(col) / size
    return derived if rep is None else rep.where(rep.notna(), derived)


def _or_known(series: list[pd.Series], index=None) -> pd.Series:
    """True if any is True; False if none is True and at least one is known; NA if all are NA."""
    if not series:
        return pd.Series(pd.NA, index=index, dtype="boolean")
    frame = pd.concat([s.astype("boolean") for s in series], axis=1)
    anyt = frame.fillna(False).any(axis=1)
    known = frame.notna().any(axis=1)
    out = anyt.astype("boolean")
    out[~known] = pd.NA
    return out


def label_parts(rows: pd.DataFrame, target_year: pd.Series | None = None) -> pd.DataFrame:
    """Evaluate each label part on the records of the outcome year.

    A part is ``<NA>`` only when every input it needs is missing.
    """
    idx = rows.index
    ty = rows["year"].astype("Int64") if target_year is None else target_year
    ni = rows["newly_identified"].astype("boolean") if "newly_identified" in rows.columns else pd.Series(pd.NA, index=idx, dtype="boolean")
    if "identification_month" in rows.columns:
        im = rows["identification_month"].astype("Int64")
        by_month = (im // 100 == ty).astype("boolean")
    else:
        by_month = pd.Series(pd.NA, index=idx, dtype="boolean")
    new_id = _or_known([ni, by_month])
    pc = net_income_per_capita(rows)
    line = rows["monitoring_line"].astype("float64")
    inc = (pc < line).astype("boolean")
    inc[pc.isna() | line.isna()] = pd.NA
    g = _or_known([~rows[c].astype("boolean") for c in GUARANTEES if c in rows.columns], idx)
    return pd.DataFrame({"new_identification": new_id, "income_below_line": inc, "guarantee_failed": g}, index=idx)


# --------------------------------------------------------------------------- public
def make_labels(
    panel,
    definition: str = "relapse",
    horizon: int = 1,
    parts: Mapping[str, bool] | None = None,
    rule: Callable[[pd.DataFrame], pd.Series] | None = None,
    *,
    lines=None,
) -> pd.DataFrame:
    """Next-year labels aligned with the panel's rows.

    Parameters
    ----------
    panel : DataFrame or path
        Household-year records (canonical, Chinese headers or a file).
    definition : {"relapse", "identified", "income", "guarantee", "reentry"}
        "relapse" (default) ORs all three parts; the others keep one part.
        "reentry" labels only the eliminated cohort (re-identified in t + 1 after
        risk elimination; other rows ``<NA>``), see :func:`fanpin_risk.panel.reentry_labels`.
    horizon : int, default 1
        The label of year *t* describes year ``t + horizon``.
    parts : dict, optional
        Switch parts on or off, e.g. ``{"guarantee_failed": False}``.
    rule : callable, optional
        ``rule(next_year_rows) -> bool Series`` replacing the parts: it receives
        the outcome-year records (index = the index of the row being labelled)
        and returns True for a positive. Missing values stay missing.
    lines : monitoring-line table, optional

    Returns
    -------
    pandas.DataFrame
        Index of ``panel``; columns ``label`` (nullable boolean; ``<NA>`` when
        censored: no record in ``t + horizon``), ``target_year``, ``censored``
        and one column per part (``<NA>`` when censored or switched off).
    """
    df = as_panel(panel, lines=lines)
    if horizon < 1:
        raise ContractError("horizon must be ≥ 1 year")
    if definition == "reentry" and rule is None:  # follow-up cohort label, see fanpin_risk.panel._cohort
        return reentry_labels(df, horizon=horizon)
    if definition not in DEFINITIONS and rule is None:
        raise ContractError(f"unknown label definition {definition!r}; choose from {sorted(DEFINITIONS)} or pass rule=")
    active = {p: (p in DEFINITIONS.get(definition, PARTS)) for p in PARTS}
    for k, v in (parts or {}).items():
        if k not in active:
            raise ContractError(f"unknown label part {k!r}; parts are {list(PARTS)}")
        active[k] = bool(v)
    if rule is None and not any(active.values()):
        raise ContractError("every label part is switched off")

    nxt = next_rows(df, horizon)
    has = nxt.notna()
    target_year = (df["year"].astype("Int64") + horizon)
    out = pd.DataFrame(index=df.index)
    out["target_year"] = target_year
    out["censored"] = ~has
    label = pd.Series(pd.NA, index=df.index, dtype="boolean")
    part_cols = {p: pd.Series(pd.NA, index=df.index, dtype="boolean") for p in PARTS}
    if has.any():
        src = nxt[has]
        rows = df.loc[src.to_numpy()].copy()
        rows.index = src.index
        if rule is not None:
            res = rule(rows)
            res = res if isinstance(res, pd.Series) else pd.Series(np.asarray(res), index=rows.index)
            label.loc[rows.index] = res.reindex(rows.index).astype("boolean")
        else:
            pr = label_parts(rows, target_year[has])
            for p in PARTS:
                if active[p]:
                    part_cols[p].loc[rows.index] = pr[p]
            label.loc[rows.index] = _or_known([pr[p] for p in PARTS if active[p]], rows.index)
    out["label"] = label
    for p in PARTS:
        out[p] = part_cols[p]
    out.attrs["definition"] = describe_definition(definition, horizon, active, rule)
    return out[["label", "target_year", "censored", *PARTS]]


def describe_definition(definition: str, horizon: int, active: Mapping[str, bool], rule=None) -> dict:
    """JSON-able description of a label definition (for metadata and MLflow)."""
    return {
        "definition": definition if rule is None else "custom_rule",
        "horizon": int(horizon),
        "parts": {k: bool(v) for k, v in active.items()} if rule is None else {},
        "rule": None if rule is None else getattr(rule, "__name__", repr(rule)),
    }
