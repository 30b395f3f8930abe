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

The assistance-aware definition ("pre_transfer") replaces the income part by

``pre_transfer_below_line``
    per-capita income *without* dibao (低保), tekun (特困供养) and public-welfare
    job pay (公益性岗位) is below the line, so a household that dibao lifts just
    over the line does not look safe. The contract records only whether a
    household gets each of them; the amounts taken out are the assumed ones of
    ``data_schema/pre_transfer.csv`` (:func:`fanpin_risk.contract.pre_transfer_amounts`),
    or a panel's own ``income_dibao`` / ``income_tekun`` /
    ``income_public_welfare_job`` columns where it has them. What is taken out
    of ``income_transfer`` (dibao, tekun) or ``income_wage`` (public-welfare pay)
    never exceeds that component (:func:`assistance_income`).

Rows with no record in ``t + horizon`` are *censored*: their label is missing
(``<NA>``), never 0. See ``docs/modeling.md`` for why this default and its biases,
and ``docs/labels_pre_transfer.md`` for when to use "pre_transfer".
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._cohort import ALL_PARTS, PARTS, PRE_TRANSFER_PART, next_rows, reentry_labels
from ._panel import as_panel

#: The definitions and the parts each ORs ("reentry", the cohort label, is separate).
DEFINITIONS: dict[str, tuple[str, ...]] = {
    "relapse": PARTS,
    "identified": ("new_identification",),
    "income": ("income_below_line",),
    "guarantee": ("guarantee_failed",),
    "pre_transfer": ("new_identification", PRE_TRANSFER_PART, "guarantee_failed"),
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


def _num(df: pd.DataFrame, c: str) -> pd.Series:
    if not c or c not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[c], errors="coerce").astype("float64")


def assistance_income(df: pd.DataFrame, amounts=None) -> pd.DataFrame:
    """Yearly yuan of each assistance item in a household's income, as the pre-transfer label takes it out.

    Parameters
    ----------
    df : DataFrame
        Canonical household-year rows.
    amounts : path or DataFrame, optional
        Item table (default ``data_schema/pre_transfer.csv``, see
        :func:`fanpin_risk.contract.pre_transfer_amounts`).

    Returns
    -------
    pandas.DataFrame
        Index of ``df``, one float column per item. A row's amount is its own
        ``amount_field`` column (e.g. ``income_dibao``) where the frame has it and
        the value is known, else the item's assumed ``amount`` (× ``household_size``
        when ``per`` is "person") if ``flag_field`` is True, else 0 (a missing flag
        counts as not receiving). The items sharing a ``cap_field`` are scaled down
        together so that their sum never exceeds that component (a missing or
        negative component caps nothing, resp. caps at 0). An assumed per-person
        amount is missing when ``household_size`` is.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"household_size": [2, 2], "receives_dibao": [True, True],
    ...                      "receives_tekun": [False, False], "public_welfare_job": [True, False],
    ...                      "income_transfer": [8000.0, 1000.0], "income_wage": [3000.0, 0.0]})
    >>> assistance_income(rows)
       dibao  tekun  public_welfare_job
    0 6000.0    0.0              3000.0
    1 1000.0    0.0                 0.0
    """
    table = contract.pre_transfer_amounts(amounts)
    size = _num(df, "household_size").where(lambda v: v > 0)
    raw: dict[str, pd.Series] = {}
    for r in table.itertuples(index=False):
        if r.flag_field in df.columns:
            flag = df[r.flag_field].astype("boolean").fillna(False).astype(bool)
        else:
            flag = pd.Series(False, index=df.index)
        assumed = (size * r.amount) if r.per == "person" else pd.Series(r.amount, index=df.index, dtype="float64")
        assumed = assumed.where(flag, 0.0)
        own = _num(df, r.amount_field).clip(lower=0.0)
        raw[r.item] = own.where(own.notna(), assumed)
    out = pd.DataFrame(raw, index=df.index, dtype="float64")
    for cap_field, items in table.groupby("cap_field", sort=False)["item"]:
        cap = _num(df, cap_field).clip(lower=0.0)
        total = out[list(items)].sum(axis=1, min_count=1)
        over = (total > cap) & cap.notna()  # False where either is missing
        scale = (cap / total).where(over, 1.0)
        out[list(items)] = out[list(items)].mul(scale, axis=0)
    return out


def pre_transfer_income_per_capita(df: pd.DataFrame, amounts=None) -> pd.Series:
    """Per-capita net income without dibao, tekun and public-welfare job pay.

    :func:`net_income_per_capita` minus :func:`assistance_income` summed over the
    items, divided by ``household_size``. Where nothing is taken out it equals
    :func:`net_income_per_capita`; it is missing where that is, or where an
    amount to take out is unknown (e.g. no household size).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"household_size": [2], "income_wage": [4000.0], "income_business": [2000.0],
    ...                      "income_transfer": [8000.0], "receives_dibao": [True]})
    >>> float(net_income_per_capita(rows).iloc[0]), float(pre_transfer_income_per_capita(rows).iloc[0])
    (7000.0, 4000.0)
    """
    help_ = assistance_income(df, amounts)
    taken = help_.sum(axis=1).where(help_.notna().all(axis=1))  # NaN when any amount is unknown
    size = _num(df, "household_size").where(lambda v: v > 0)
    per_capita = (taken / size).where(taken != 0, 0.0)  # nothing taken out needs no size
    return net_income_per_capita(df) - per_capita


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


def _below(pc: pd.Series, line: pd.Series) -> pd.Series:
    out = (pc < line).astype("boolean")
    out[pc.isna() | line.isna()] = pd.NA
    return out


def label_parts(rows: pd.DataFrame, target_year: pd.Series | None = None, *, pre_transfer_amounts=None) -> pd.DataFrame:
    """Evaluate each label part on the records of the outcome year.

    A part is ``<NA>`` only when every input it needs is missing. Columns are
    :data:`ALL_PARTS`; ``pre_transfer_amounts`` is the item table of
    :func:`assistance_income` (default ``data_schema/pre_transfer.csv``).
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
    line = rows["monitoring_line"].astype("float64")
    inc = _below(net_income_per_capita(rows), line)
    pre = _below(pre_transfer_income_per_capita(rows, pre_transfer_amounts), line)
    g = _or_known([~rows[c].astype("boolean") for c in GUARANTEES if c in rows.columns], idx)
    return pd.DataFrame({"new_identification": new_id, "income_below_line": inc, "guarantee_failed": g,
                         PRE_TRANSFER_PART: pre}, index=idx)[list(ALL_PARTS)]


# --------------------------------------------------------------------------- public
def make_labels(
    panel,
    definition: str = "relapse",
    horizon: int = 1,
    parts: Mapping[str, bool] | None = None,
    rule: Callable[[pd.DataFrame], pd.Series] | None = None,
    *,
    lines=None,
    pre_transfer_amounts=None,
) -> pd.DataFrame:
    """Next-year labels aligned with the panel's rows.

    Parameters
    ----------
    panel : DataFrame or path
        Household-year records (canonical, Chinese headers or a file).
    definition : {"relapse", "pre_transfer", "identified", "income", "guarantee", "reentry"}
        "relapse" (default) ORs ``new_identification``, ``income_below_line`` and
        ``guarantee_failed``. "pre_transfer" is "relapse" with the income part
        replaced by ``pre_transfer_below_line``: income per capita *without*
        dibao, tekun and public-welfare job pay below the line, so households
        that assistance keeps just above the line count as at risk (for
        evaluating who would be poor without help, or targeting where dibao
        households should stay on the list; not for counting official relapse,
        see ``docs/labels_pre_transfer.md``). "identified", "income" and
        "guarantee" keep one part. "reentry" labels only the eliminated cohort
        (re-identified in t + 1 after risk elimination; other rows ``<NA>``),
        see :func:`fanpin_risk.panel.reentry_labels`.
    horizon : int, default 1
        The label of year *t* describes year ``t + horizon``.
    parts : dict, optional
        Switch parts of :data:`ALL_PARTS` on or off, e.g.
        ``{"guarantee_failed": False}`` or, with "relapse",
        ``{"income_below_line": False, "pre_transfer_below_line": True}``.
    rule : callable, optional
        ``rule(next_year_rows) -> bool Series`` replacing the parts: it receives
        the outcome-year records (index = the index of the row being labelled)
        and returns True for a positive. Missing values stay missing.
    lines : monitoring-line table, optional
    pre_transfer_amounts : path or DataFrame, optional
        Assumed assistance amounts for ``pre_transfer_below_line`` (default
        ``data_schema/pre_transfer.csv``; see
        :func:`fanpin_risk.contract.pre_transfer_amounts`). A panel's own
        ``income_dibao``, ``income_tekun`` or ``income_public_welfare_job``
        columns (not contract fields) override the assumed amounts where known;
        what is taken out is capped at ``income_transfer`` (dibao, tekun) and
        ``income_wage`` (public-welfare pay), see :func:`assistance_income`.

    Returns
    -------
    pandas.DataFrame
        Index of ``panel``; columns ``label`` (nullable boolean; ``<NA>`` when
        censored: no record in ``t + horizon``), ``target_year``, ``censored``
        and one column per part of :data:`ALL_PARTS` (``<NA>`` when censored or
        switched off). ``attrs["definition"]`` describes the definition
        (:func:`describe_definition`); with ``pre_transfer_below_line`` on it
        also lists the amounts taken out.

    Examples
    --------
    A dibao household of two whose 2021 income is 7000 yuan per person, 6000
    of it from transfers, against a line of 6000: above the line after dibao,
    below it without the assumed 3000 yuan per person.

    >>> import pandas as pd
    >>> rec = dict(household_id="h1", county_code="520101", household_type="脱贫户", household_size=2,
    ...            income_wage=8000.0, income_business=0.0, income_transfer=6000.0, monitoring_line=6000.0,
    ...            newly_identified=False, housing_safe=True, receives_dibao=True)
    >>> panel = pd.DataFrame([{**rec, "year": 2020}, {**rec, "year": 2021}])
    >>> make_labels(panel)["label"].tolist()
    [False, <NA>]
    >>> lab = make_labels(panel, "pre_transfer")
    >>> lab["label"].tolist(), lab.attrs["definition"]["definition"]
    ([True, <NA>], 'pre_transfer')
    >>> lab.attrs["definition"]["parts"]["pre_transfer_below_line"]
    True
    """
    df = as_panel(panel, lines=lines)
    if horizon < 1:
        raise ContractError("horizon must be ≥ 1 year")
    if definition == "reentry" and rule is None:  # follow-up cohort label, see fanpin_risk.panel._cohort
        return reentry_labels(df, horizon=horizon)
    active = _active_parts(definition, parts, rule)
    amounts = contract.pre_transfer_amounts(pre_transfer_amounts)  # checked even when the part is off

    nxt = next_rows(df, horizon)
    has = nxt.notna()
    target_year = (df["year"].astype("Int64") + horizon)
    out = pd.DataFrame(index=df.index)
    out["target_year"] = target_year
    out["censored"] = ~has
    label = pd.Series(pd.NA, index=df.index, dtype="boolean")
    part_cols = {p: pd.Series(pd.NA, index=df.index, dtype="boolean") for p in ALL_PARTS}
    if has.any():
        src = nxt[has]
        rows = df.loc[src.to_numpy()].copy()
        rows.index = src.index
        if rule is not None:
            res = rule(rows)
            res = res if isinstance(res, pd.Series) else pd.Series(np.asarray(res), index=rows.index)
            label.loc[rows.index] = res.reindex(rows.index).astype("boolean")
        else:
            pr = label_parts(rows, target_year[has], pre_transfer_amounts=amounts)
            for p in ALL_PARTS:
                if active[p]:
                    part_cols[p].loc[rows.index] = pr[p]
            label.loc[rows.index] = _or_known([pr[p] for p in ALL_PARTS if active[p]], rows.index)
    out["label"] = label
    for p in ALL_PARTS:
        out[p] = part_cols[p]
    pre = _amounts_used(amounts, df.columns) if rule is None and active[PRE_TRANSFER_PART] else None
    out.attrs["definition"] = describe_definition(definition, horizon, active, rule, pre_transfer=pre)
    return out[["label", "target_year", "censored", *ALL_PARTS]]


def _active_parts(definition: str, parts: Mapping[str, bool] | None, rule) -> dict[str, bool]:
    """Part → on/off for a definition and the caller's switches (checked)."""
    if definition not in DEFINITIONS and rule is None:
        raise ContractError(f"unknown label definition {definition!r}; choose from {sorted([*DEFINITIONS, 'reentry'])} "
                            "or pass rule=")
    active = {p: (p in DEFINITIONS.get(definition, PARTS)) for p in ALL_PARTS}
    for k, v in (parts or {}).items():
        if k not in active:
            raise ContractError(f"unknown label part {k!r}; parts are {list(ALL_PARTS)}")
        active[k] = bool(v)
    if rule is None and not any(active.values()):
        raise ContractError("every label part is switched off")
    return active


def _amounts_used(amounts: pd.DataFrame, columns) -> dict:
    """The item table as JSON-able metadata, with the panel's own amount columns that override it."""
    return {r.item: {"flag_field": r.flag_field, "amount": float(r.amount), "per": r.per, "cap_field": r.cap_field,
                     "amount_field": r.amount_field, "amount_field_in_panel": bool(r.amount_field and r.amount_field in columns)}
            for r in amounts.itertuples(index=False)}


def describe_definition(definition: str, horizon: int, active: Mapping[str, bool], rule=None, *,
                        pre_transfer: Mapping | None = None) -> dict:
    """JSON-able description of a label definition (for metadata and MLflow).

    ``pre_transfer`` (the assistance amounts taken out, when
    ``pre_transfer_below_line`` is on) is added under the key ``"pre_transfer"``.

    Examples
    --------
    >>> d = describe_definition("pre_transfer", 1, {p: p in DEFINITIONS["pre_transfer"] for p in ALL_PARTS})
    >>> d["definition"], d["parts"]["income_below_line"], d["parts"]["pre_transfer_below_line"]
    ('pre_transfer', False, True)
    """
    out = {
        "definition": definition if rule is None else "custom_rule",
        "horizon": int(horizon),
        "parts": {k: bool(v) for k, v in active.items()} if rule is None else {},
        "rule": None if rule is None else getattr(rule, "__name__", repr(rule)),
    }
    if pre_transfer is not None and rule is None:
        out["pre_transfer"] = {k: dict(v) for k, v in pre_transfer.items()}
    return out
