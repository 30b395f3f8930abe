"""The read frame's row order and the report: reading issues pointed at rows, then validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.contract import ValidationReport, empty_issues, validate

from ._context import _Ctx
from ._pii import _Salt
from ._values import _isna

#: The way out an error message of read_panel ends with (the CLI names its own: ``fanpin-risk validate``).
FULL_REPORT_HINT = "Fix the export, or pass errors='warn' to keep the rows and get the full report."


def _sort_rows(hh: pd.DataFrame, extras: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Index]:
    """Rows sorted by (household_id, year), extras aligned and keyed; also the original row labels in order."""
    order = hh.sort_values(["household_id", "year"], kind="stable", na_position="last").index
    hh = hh.loc[order].reset_index(drop=True)
    if extras is not None:
        extras = extras.loc[order].reset_index(drop=True)
        extras.insert(0, "year", hh["year"])
        extras.insert(0, "household_id", hh["household_id"])
    return hh, extras, order


def _build_report(hh: pd.DataFrame, extras: pd.DataFrame | None, order: pd.Index, lines: Any,
                  province: str | None, salt: _Salt, ctx: _Ctx) -> ValidationReport:
    """Validate ``hh`` and put the reading issues, mapping, dropped columns and notes in its report."""
    report = validate(hh, lines=lines, _province=province)
    _note_unplaceable(hh, ctx)
    read_issues = _read_issues(hh, order, ctx)
    val = _without_covered(_without_parse_duplicates(report.issues, read_issues), order, ctx)
    report.issues = _concat_issues(read_issues, val)
    report.dropped_columns = dict(ctx.dropped)
    report.unknown_columns = list(ctx.unknown)
    report.header_map = dict(ctx.header_map)
    report.notes = ctx.notes + report.notes
    if salt.used and salt.random:
        report.notes.append("household ids hashed with a random per-call salt (no salt= and no FANPIN_SALT)")
    report.extras = extras
    return report


def _read_issues(hh: pd.DataFrame, order: pd.Index, ctx: _Ctx) -> pd.DataFrame:
    """The issues raised while reading, pointing at rows of the sorted frame (by raw row or member key)."""
    # Both lookups are only built when some issue needs them: a clean large file pays nothing.
    pos_of = {old: new for new, old in enumerate(order)} if any(it["_row"] is not None for it in ctx.issues) else {}
    key_pos = ({k: i for i, k in enumerate(zip(hh["household_id"], hh["year"]))}
               if any(it["_key"] is not None for it in ctx.issues) else {})
    rows = []
    for it in ctx.issues:
        r = it["_row"]
        pos = pos_of.get(r) if r is not None else None
        if pos is None and it["_key"] is not None:
            k = it["_key"]
            pos = key_pos.get((k[0], _key_year(k[1])) if k[1] is not None else k)
        row = dict(row=pos, household_id=hh.at[pos, "household_id"] if pos is not None else None,
                   year=hh.at[pos, "year"] if pos is not None else None)
        row.update({k: it[k] for k in ("field", "value", "rule", "level", "message")})
        rows.append(row)
    return pd.DataFrame(rows, columns=empty_issues().columns) if rows else empty_issues()


def _key_year(v):
    """Year of a member row's (household, year) key as the household table holds it; None if unreadable.

    An unreadable year ("abc") is already reported as such; its issue then has no
    household row to point at, rather than stopping the whole read.
    """
    if _isna(v):
        return pd.NA
    try:
        return int(float(str(v).strip().removesuffix("年")))
    except (TypeError, ValueError, OverflowError):
        return None


def _note_unplaceable(hh: pd.DataFrame, ctx: _Ctx) -> None:
    """Say what becomes of rows that cannot be placed in the panel (no rows; no household id; no usable year).

    Validation flags each such row; the note adds what scoring does with them, so
    that a county's other households are not blamed for one empty cell.
    """
    if not len(hh):
        ctx.issue(field="household_id", value=None, rule="no_data_rows", level="warning",
                  message="no data rows: the table has a header but no rows under it; check the sheet or the export")
        ctx.notes.append("no data rows: the frame is empty (a header only)")
        return
    hid = hh["household_id"]
    no_id = hid.isna().to_numpy(dtype=bool)
    if not no_id.all():
        text = hid.astype("str")
        no_id = no_id | (text.eq("") | text.str.isspace()).fillna(False).to_numpy(dtype=bool)
    f = contract.fields().set_index("field")
    yr = hh["year"].to_numpy(dtype="float64", na_value=np.nan)  # canonical Int64 by now
    no_year = ~((yr >= f.at["year", "min"]) & (yr <= f.at["year", "max"])) & ~no_id
    if not (no_id.any() or no_year.any()):
        return
    parts = [f"{int(m.sum())} without {what} (row(s) {_rows(m)})"
             for m, what in ((no_id, "a household id (户编号)"), (no_year, "a usable year (年度)")) if m.any()]
    ctx.notes.append(f"{int((no_id | no_year).sum())} row(s) cannot be placed in the panel: {'; '.join(parts)}. "
                     "They are kept here and flagged; score() leaves them out (a household with no other row comes "
                     "back unscorable, rows without an id are counted in score().attrs['rows_left_out'])")


def _rows(mask: np.ndarray) -> str:
    pos = np.flatnonzero(mask)
    return ", ".join(str(int(p)) for p in pos[:10]) + (", ..." if len(pos) > 10 else "")


def _without_covered(val: pd.DataFrame, order: pd.Index, ctx: _Ctx) -> pd.DataFrame:
    """Validation issues less the ``required`` ones on cells a reading issue already explains (``_covers``).

    A key mismatch between the household and member tables explains every empty
    member-derived cell of the households concerned: one message, not one per row.
    """
    covers = [c for it in ctx.issues for c in it.get("_covers", ())]
    if not (covers and len(val)):
        return val
    pos_of = {old: new for new, old in enumerate(order)}
    cells = {(pos_of[r], f) for r, f in covers if r in pos_of}
    hit = [(r, f) in cells for r, f in zip(val["row"], val["field"])]
    return val[~((val["rule"] == "required") & pd.Series(hit, index=val.index))]


def _without_parse_duplicates(val: pd.DataFrame, read_issues: pd.DataFrame) -> pd.DataFrame:
    """Validation issues less the ``required`` ones on cells already reported as unreadable."""
    if not (len(read_issues) and len(val)):
        return val
    is_parse = read_issues["rule"] == "parse"
    parsed = set(zip(read_issues.loc[is_parse, "row"], read_issues.loc[is_parse, "field"]))
    dup = [(r, f) in parsed for r, f in zip(val["row"], val["field"])]
    return val[~((val["rule"] == "required") & pd.Series(dup, index=val.index))]


def _concat_issues(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    parts = [x for x in (a, b) if len(x)]
    if not parts:
        return empty_issues()
    out = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    out["row"] = pd.array(out["row"], dtype="Int64")
    out["year"] = pd.array(pd.to_numeric(out["year"], errors="coerce"), dtype="Int64")
    return out


def _error_message(report: ValidationReport) -> str:
    """The errors of ``report`` grouped by field and rule (at most ten groups), with the way out."""
    errs = report.errors
    zh = {**{f"member.{k}": v for k, v in contract.zh_headers("member").items()}, **contract.zh_headers()}
    parts = []
    for (f, rule), grp in errs.groupby(["field", "rule"], sort=False, dropna=False):
        first = grp.iloc[0]
        where = "" if pd.isna(first["row"]) else f" (rows {', '.join(str(int(r)) for r in grp['row'].dropna().head(5))}{', ...' if len(grp) > 5 else ''})"
        parts.append(f"- {f} ({zh.get(f, '')}) [{rule}] x{len(grp)}{where}: {first['message']}")
        if len(parts) >= 10:
            break
    return (f"{len(errs)} error(s) in the input:\n" + "\n".join(parts)
            + "\n" + FULL_REPORT_HINT)
