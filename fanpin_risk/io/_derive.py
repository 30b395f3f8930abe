"""Completing the household rows: province default, required fields, derived fields, monitoring lines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, MissingLineError

from ._context import _Ctx
from ._headers import _closest_hint


def _set_province(hh: pd.DataFrame, province: str | None, ctx: _Ctx) -> pd.DataFrame:
    """``province`` for the rows without one (the column is added when absent), in one spelling per province."""
    if province is not None and "province" not in hh.columns:
        hh["province"] = province
        ctx.notes.append(f"province set to {province!r} for all rows")
    elif province is not None and hh["province"].isna().any():
        k = int(hh["province"].isna().sum())
        hh["province"] = hh["province"].where(hh["province"].notna(), province)
        ctx.notes.append(f"province set to {province!r} for {k} row(s) without one")
    return _one_spelling(hh, ctx) if "province" in hh.columns else hh


def _one_spelling(hh: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """贵州, 贵州省, 52 and 贵州 省 become 贵州; a value that names no province is warned about.

    The line table is looked up by province: an unrecognised spelling would take the
    national line without a word, and the list would name one province four ways.
    """
    raw = hh["province"]
    uniq = pd.unique(raw.dropna())
    norm = {u: contract.normalize_province(u) for u in uniq}
    unknown = sorted({str(v) for u, v in norm.items() if not contract.known_province(u)})
    changed = sum(1 for u, v in norm.items() if v != u)
    if changed:
        hh["province"] = raw.map(norm).where(raw.notna(), raw)
        ctx.notes.append(f"province: {len(uniq)} spelling(s) written as {len(set(norm.values()))} province name(s)")
    if unknown:
        bad = hh["province"].isin(unknown)
        shown = ", ".join(repr(u) for u in unknown[:5])
        ctx.issue(field="province", value=None, rule="unknown_province", level="warning",
                  message=f"{int(bad.sum())} row(s) have a province that names no province ({shown}): rows without "
                          "their own 监测标准 take the national line; write the province's name (贵州 or 贵州省) "
                          "or its 2-digit code")
    return hh


def _require_fields(hh: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """Stop on a missing required column (``errors="raise"``), else report it and add it empty."""
    zh = contract.zh_headers()
    for f in contract.required_fields():
        if f in hh.columns:
            continue
        accepted = ", ".join([zh[f], f, *contract.fields().set_index("field").at[f, "aliases"]])
        fix = ("add the column or pass members= to derive it from the member sheet" if f == "household_size"
               else f"add the column (accepted headers: {accepted})")
        msg = f"required field {f} ({zh[f]}) is missing{_closest_hint(f, ctx.unknown)}; {fix}"
        if ctx.errors == "raise":
            raise ContractError(msg)
        ctx.issue(field=f, value=None, rule="missing_column", level="error", message=msg)
        hh[f] = np.nan
    return hh


def _complete(hh: pd.DataFrame, lines: Any, province: str | None, ctx: _Ctx) -> pd.DataFrame:
    """Every contract field, in contract order and canonical dtypes: derived where empty, lines filled."""
    hh = _derive(hh, ctx)
    for f in contract.field_names():
        if f not in hh.columns:
            hh[f] = np.nan
    hh = _fill_lines(hh, lines, province, ctx)
    hh = hh[contract.field_names()]
    return contract.to_canonical_dtypes(hh)


def _derive(hh: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    _derive_income(hh, ctx)
    _derive_newly_identified(hh, ctx)
    return hh


def _derive_income(hh: pd.DataFrame, ctx: _Ctx) -> None:
    """net_income_per_capita from the income components where the column is absent or the cell empty."""
    comps = ["income_wage", "income_business", "income_transfer", "household_size"]
    if not all(c in hh.columns for c in comps):
        return
    def part(c: str) -> pd.Series:
        return hh[c].astype("float64") if c in hh.columns else pd.Series(np.nan, index=hh.index, dtype="float64")

    num = contract.net_income_total(part)  # the one formula (optional parts missing count as 0)
    size = pd.to_numeric(hh["household_size"], errors="coerce").astype("float64")
    _fill_derived(hh, "net_income_per_capita", num / size.where(size > 0), "float64", "the income components", ctx)


def _derive_newly_identified(hh: pd.DataFrame, ctx: _Ctx) -> None:
    """newly_identified = identification month in the row's year, where the column is absent or the cell empty."""
    if "identification_month" not in hh.columns or "year" not in hh.columns:
        return
    im = pd.to_numeric(hh["identification_month"], errors="coerce").astype("Float64")
    yr = pd.to_numeric(hh["year"], errors="coerce").astype("Float64")
    new = ((im // 100) == yr).fillna(False).astype("boolean").where(yr.notna(), pd.NA)
    _fill_derived(hh, "newly_identified", new, "boolean", "identification_month", ctx)


def _fill_derived(hh: pd.DataFrame, field: str, derived: pd.Series, dtype: str, source: str, ctx: _Ctx) -> None:
    """``field`` from ``derived`` where the column is absent or a cell empty; the report says how many rows."""
    zh = contract.zh_headers()[field]
    if field not in hh.columns:
        hh[field] = derived
        ctx.notes.append(f"{field} ({zh}) derived from {source} for {int(derived.notna().sum())} row(s) (column absent)")
        return
    cur = hh[field].astype(dtype)
    fill = cur.isna() & derived.notna()
    if fill.any():
        hh[field] = cur.where(~fill, derived)
        ctx.notes.append(f"{field} ({zh}) derived for {int(fill.sum())} row(s) with an empty cell")


def _lookup_line(hh: pd.DataFrame, lines: Any, province: str | None) -> pd.Series:
    """:func:`fanpin_risk.contract.lookup_line` run once per distinct (province, year, monitoring_line).

    The line of a row depends on those three cells only, and the error names the set
    of years without a line, so the answer and the error are the row-wise ones.
    """
    keys = hh[["province", "year", "monitoring_line"]]
    group = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = keys.iloc[np.unique(group, return_index=True)[1]]
    line = contract.lookup_line(first, lines, default_province=province).to_numpy()
    return pd.Series(line[group], index=hh.index, dtype="float64")


def _fill_lines(hh: pd.DataFrame, lines: Any, province: str | None, ctx: _Ctx) -> pd.DataFrame:
    """monitoring_line: the row's own line, else the table's; rows of years without a line are errors."""
    own = pd.to_numeric(hh["monitoring_line"], errors="coerce").astype("float64")
    has_own = own.gt(0)
    try:
        line = _lookup_line(hh, lines, province)
    except MissingLineError:
        if ctx.errors == "raise":
            raise
        line = _lines_by_year(hh, lines, province, ctx)
    n = int((~has_own & line.notna()).sum())
    if n:
        ctx.notes.append(f"monitoring_line (监测标准) filled for {n} row(s) from the (province, year) / national line table")
    hh["monitoring_line"] = line
    return hh


def _lines_by_year(hh: pd.DataFrame, lines: Any, province: str | None, ctx: _Ctx) -> pd.Series:
    """The lines year by year, an issue on each row of a year that has none (``errors="warn"``)."""
    line = pd.Series(np.nan, index=hh.index, dtype="float64")
    yrs = pd.to_numeric(hh["year"], errors="coerce")
    for _y, sub in hh.groupby(yrs, dropna=False):
        try:
            line.loc[sub.index] = contract.lookup_line(sub, lines, default_province=province)
        except MissingLineError as exc:
            for i in sub.index:
                ctx.issue(field="monitoring_line", value=None, rule="missing_line", level="error", row=i,
                          message=str(exc))
    return line
