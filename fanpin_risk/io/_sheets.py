"""Workbooks as counties make them: one sheet per year or per township, side sheets, HTML saved as .xls.

Without ``sheet=``, every sheet whose header row is a header of the table being
read (it names the household id and more fields of this table than of the other
one) is read, and the sheets are stacked: one sheet per year (2022年, 2023年 ...)
or per township. Columns are matched across sheets by the field they name (家庭人口
in one year, 家庭人口数 in the next). Each row keeps its sheet name in ``_sheet``
(a column outside the contract: ``report.extras``). A sheet named after one year
gives that year to rows without one and is checked against the rows that have one.
Sheets with another header (说明, 汇总, a member sheet) are skipped with a note.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, ReadError

from ._context import _Ctx
from ._headers import _SCAN_ROWS, _header_row, _match_header, _merge_header_rows
from ._html import _html_tables
from ._rows import _cell_key, _frame_from_grid, _is_year, _norm, _unique_columns
from ._textfile import _decode
from ._values import _isna, _take, _unit_factor, parse_number

_SHEET_COL = "_sheet"
_SHEET_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d{2})(?!\d)")
_OTHER = {"household_year": "member", "member": "household_year"}
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


# --------------------------------------------------------------------------- opening
def _open_workbook(path: Path, kind: str, label: str) -> pd.ExcelFile:
    """The workbook at ``path`` (``kind``: ``"zip"`` or ``"ole"``), or a ReadError saying why not and what to do."""
    try:
        with warnings.catch_warnings():
            # xlrd is this project's .xls reader (a declared dependency); pandas' notice that it
            # prefers another engine is for the project, not for the person reading a file
            warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")
            return pd.ExcelFile(path)
    except Exception as exc:  # noqa: BLE001 - any engine failure is a read error, explained below
        raise ReadError(_cannot_open(path, kind, exc, label)) from None


def _cannot_open(path: Path, kind: str, exc: Exception, label: str) -> str:
    what = f"{label}: cannot open workbook {path.name}"
    if kind == "ole":
        data = path.read_bytes()
        if _ENCRYPTED in data or "encrypt" in str(exc).lower():
            return (f"{what}: it is password-protected (encrypted). Open it in Excel or WPS, remove the password "
                    "(File → Info → Protect Workbook → Encrypt with Password, clear it) and save it as .xlsx")
        return (f"{what}: it is an Excel 97–2003 file (.xls) that cannot be read ({type(exc).__name__}); "
                "open it in Excel or WPS and save it as .xlsx")
    return (f"{what}: the file is damaged or not a workbook ({type(exc).__name__}); open it in Excel or WPS "
            "(which may repair it) and save it again as .xlsx, or export it again")


def _named_sheet(names: list, sheet: str | int, label: str) -> str | int:
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise ReadError(f"{label}: sheet index {sheet} out of range; the workbook has {len(names)} sheet(s): "
                            f"{names}")
        return names[sheet]
    if sheet not in names:
        raise ReadError(f"{label}: no sheet named {sheet!r}; the workbook has {names}")
    return sheet


def _as_stored(df: pd.DataFrame) -> pd.DataFrame:
    """Whole numbers of 16 digits or more back to the doubles the workbook stored.

    A spreadsheet cell holds a double; pandas hands a whole one over as a Python int,
    and 5.22601195102020E+17 becomes 522601195102019968, digits no person's number
    has. As a double, the key cleaning reads it as Excel shows it (15 significant
    digits) and knows digits were lost (the ``key_cut`` warning).
    """
    for c in df.columns:
        vals = df[c].to_numpy()
        if vals.dtype != object:
            continue
        big = [i for i, v in enumerate(vals) if type(v) is int and abs(v) >= 10**15]
        if big:
            vals = vals.copy()
            for i in big:
                vals[i] = float(vals[i])
            df[c] = vals
    return df


def _read_sheet(xl: pd.ExcelFile, name: str | int, path: Path, label: str, nrows: int | None = None) -> pd.DataFrame:
    try:
        return _as_stored(pd.read_excel(xl, sheet_name=name, header=None, dtype=object, nrows=nrows))
    except Exception as exc:  # noqa: BLE001 - an engine failure on one sheet is a read error naming it
        err = exc
    if xl.engine == "openpyxl":  # pandas fails on some cells openpyxl reads (a number beyond float's range)
        try:
            return _openpyxl_sheet(path, name, nrows)
        except Exception:  # noqa: BLE001 - reported below with pandas' reason
            pass
    raise ReadError(f"{label}: cannot read sheet {name!r} of {path.name} ({type(err).__name__}); open the "
                    "workbook in Excel or WPS and save it again as .xlsx")


def _openpyxl_sheet(path: Path, name: str | int, nrows: int | None) -> pd.DataFrame:
    """The sheet's cells as openpyxl gives them (values, not formulas), as ``read_excel(header=None)`` would."""
    from openpyxl import load_workbook  # only for sheets pandas could not convert

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [list(r) for r in wb[name].iter_rows(values_only=True, max_row=nrows)]
    finally:
        wb.close()
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [None] * (width - len(r)) for r in rows], dtype=object)


# --------------------------------------------------------------------------- choosing sheets
def _load_workbook(path: Path, kind: str, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
                   exclude_sheet: str | int | None) -> pd.DataFrame:
    """The raw table of a workbook: the sheet ``sheet``, else every sheet with this table's header, stacked."""
    xl = _open_workbook(path, kind, label)
    with xl:
        names = xl.sheet_names
        if kind == "ole" and path.suffix.lower() != ".xls":
            ctx.notes.append(f"{label}: {path.name} is an Excel 97–2003 workbook (.xls) under another name; "
                             "read as such")
        if sheet is not None:
            chosen = [_named_sheet(names, sheet, label)]
        elif len(names) == 1:
            chosen = names
        else:
            chosen = _choose_sheets(xl, path, table, label, ctx, exclude_sheet)
        grids = [(n, _read_sheet(xl, n, path, label)) for n in chosen]
    if len(grids) == 1:
        ctx.notes.append(f"{label}: read sheet {grids[0][0]!r} of {path.name}")
    parts = []
    for n, grid in grids:
        sub = label if len(grids) == 1 else f"{label}, sheet {n!r}"
        parts.append((n, _frame_from_grid(grid, table, sub, ctx, where=_sheet_rows(n, len(grids) > 1))))
    return _stack_sheets(parts, table, label, ctx)


def _sheet_rows(name: str | int, named: bool):
    """How a row position of sheet ``name`` is worded in the report (Excel's row numbers)."""
    return (lambda k: f"row {k + 1} of sheet {name!r}") if named else (lambda k: f"row {k + 1}")


def _sheet_header(grid: pd.DataFrame, table: str) -> tuple[int, frozenset[str], int]:
    """(contract headers of ``table``, its fields, headers of the other table) of a sheet's header row."""
    i, best = _header_row(grid, table)
    if i is None:
        return best, frozenset(), 0
    cells, _ = _merge_header_rows(grid, i, table)
    fields = frozenset(f.lstrip("!") for c in cells if (f := _match_header(c, table)) is not None)
    other = sum(_match_header(c, _OTHER[table]) is not None for c in cells) if table in _OTHER else 0
    return len(fields), fields, other


def _choose_sheets(xl: pd.ExcelFile, path: Path, table: str, label: str, ctx: _Ctx,
                   exclude: str | int | None) -> list:
    """Names of the sheets that hold ``table``, each skipped sheet named in a note."""
    names = xl.sheet_names
    excl = names[exclude] if isinstance(exclude, int) and not isinstance(exclude, bool) and 0 <= exclude < len(names) \
        else exclude
    seen = {n: _sheet_header(_read_sheet(xl, n, path, label, nrows=_SCAN_ROWS), table) for n in names if n != excl}
    if not seen or max(s for s, _, _ in seen.values()) == 0:
        raise ReadError(f"{label}: none of the sheets {names} has contract headers; pass sheet=")
    # this table's sheets: they name its key (the household id; a list's ID-card number) and more of this
    # table's fields than of the other's
    key = _key_field(table)
    ours = [n for n, (s, f, o) in seen.items() if key in f and s > o]
    if len(ours) <= 1:
        best = ours[0] if ours else max(seen, key=lambda n: seen[n][0])
        ctx.notes.append(
            f"{label}: workbook has {len(names)} sheets; chose sheet {best!r} whose headers match the "
            f"{table} contract best ({seen[best][0]} headers"
            + "".join(f"; {n!r}: {s}" for n, (s, _, _) in seen.items() if n != best)
            + "); pass sheet= to choose another"
        )
        return [best]
    skipped = [n for n in names if n not in ours]
    why = {n: _why_skipped(seen.get(n), n == excl, table) for n in skipped}
    ctx.notes.append(
        f"{label}: read {len(ours)} sheets of {path.name} that share the {table} header, stacked: "
        + ", ".join(repr(n) for n in ours)
        + ("; skipped " + "; ".join(f"{n!r} ({why[n]})" for n in skipped) if skipped else "")
        + ("; the sheet of each row is in source_sheet" if key == "id_number"
           else "; the sheet of each row is in report.extras (_sheet)") + "; pass sheet= to read one sheet"
    )
    _note_field_gaps(ours, {n: seen[n][1] for n in ours}, table, label, ctx)
    return ours


def _key_field(table: str) -> str:
    """The field every sheet of ``table`` names: a department list is keyed by the person's ID-card number."""
    return "id_number" if table == contract.FEEDS or table.startswith(contract.FEED_PREFIX) else "household_id"


def _why_skipped(seen: tuple | None, excluded: bool, table: str) -> str:
    if excluded or seen is None:
        return "the member sheet (member_sheet=)"
    own, _fields, other = seen
    if own == 0:
        return f"no {table} header"
    if other >= own:
        return "a member header; pass member_sheet= to read it" if table == "household_year" else "a household header"
    return "no ID-card column" if _key_field(table) == "id_number" else "no household id column"


def _note_field_gaps(names: list, fields: dict, table: str, label: str, ctx: _Ctx) -> None:
    """Note the fields some stacked sheets have and others lack (their rows are empty there)."""
    every = frozenset().union(*fields.values())
    zh = contract.zh_headers(table)
    for n in names:
        gap = sorted(every - fields[n] - {"year"})
        if gap:
            shown = ", ".join(f"{f} ({zh.get(f, '')})" for f in gap[:8]) + (" ..." if len(gap) > 8 else "")
            ctx.notes.append(f"{label}: sheet {n!r} lacks {len(gap)} field(s) other sheets have: {shown}; "
                             "its rows are empty there")


# --------------------------------------------------------------------------- stacking
def _sheet_year(name: object) -> int | None:
    """The one year a sheet name holds (``2023年``, ``2023年度监测户``), else None."""
    years = set(_SHEET_YEAR.findall(str(name)))
    return int(years.pop()) if len(years) == 1 else None


def _stack_sheets(parts: list[tuple[object, pd.DataFrame]], table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    """The sheets' tables stacked, columns matched by field; sheet names and sheet years applied."""
    if len(parts) == 1:
        name, df = parts[0]
        return _years_from_sheets(df, [(name, 0, len(df))], table, label, ctx, check=False)
    columns: dict[str, str] = {}
    frames, spans, start = [], [], 0
    mixed = _fields_with_mixed_units([df for _, df in parts], table)
    for name, df in parts:
        df = _unique_columns(df)
        ren, seen = {}, set()
        for c in df.columns:
            k = _cell_key(c, table)
            if k is None or k in seen:
                continue  # a second column for one field keeps its own name (set aside later)
            seen.add(k)
            if k in mixed:  # this sheet's own unit applied here; the stacked column is in the contract's unit
                df = df.assign(**{c: _in_contract_unit(df[c], c, k, table, name, label, ctx)})
            target = columns.setdefault(k, mixed[k] if k in mixed else c)
            if target != c and target not in df.columns:
                ren[c] = target
        frames.append(df.rename(columns=ren))
        spans.append((name, start, start + len(df)))
        start += len(df)
    out = pd.concat([f.astype(object) for f in frames], ignore_index=True, sort=False)
    col = _SHEET_COL if _SHEET_COL not in out.columns else f"{_SHEET_COL}.1"
    out[col] = np.repeat(np.array([str(n) for n, _, _ in spans], dtype=object), [b - a for _, a, b in spans])
    return _years_from_sheets(out, spans, table, label, ctx, check=True)


def _header_unit(c: object) -> str | None:
    return contract.normalize_header(c, unit=True)[1] if isinstance(c, str) else None


def _fields_with_mixed_units(frames: list[pd.DataFrame], table: str) -> dict[str, str]:
    """Fields whose header carries different units in different sheets → the unit-free header to stack them under.

    工资性收入（万元） in 2022年 and 工资性收入 in 2023年 must not both be read in the
    first sheet's unit: each sheet is converted with its own before stacking.
    """
    units: dict[str, set] = {}
    for df in frames:
        for c in df.columns:
            k = _cell_key(c, table)
            if k is not None and k in contract.field_names(table):
                units.setdefault(k, set()).add(_header_unit(c))
    zh = contract.zh_headers(table)
    return {k: zh[k] for k, u in units.items() if len(u) > 1}


def _in_contract_unit(s: pd.Series, header: object, field: str, table: str, sheet: object, label: str,
                      ctx: _Ctx) -> pd.Series:
    """A sheet's column converted from its header's unit to the contract's (unreadable cells kept as they are)."""
    unit = _header_unit(header)
    if unit is None:
        return s
    contract_unit = contract.fields(table).set_index("field").at[field, "unit"]
    factor, _ = _unit_factor(unit, contract_unit)
    if factor is None:
        raise ContractError(f"{label}: column {header!r} of sheet {sheet!r} is in {unit}, which {field} "
                            f"({contract.zh_headers(table)[field]}) cannot be measured in")

    def one(v):
        try:
            return round(parse_number(v) * factor, 6)
        except (ValueError, TypeError):
            return v
    ctx.notes.append(f"{label}: sheet {sheet!r}, column {header!r} converted from {unit} (× {factor:g}) before "
                     "stacking with sheets in other units")
    return s.map(lambda v: v if _isna(v) else one(v))


def _years_from_sheets(df: pd.DataFrame, spans: list, table: str, label: str, ctx: _Ctx,
                       check: bool) -> pd.DataFrame:
    """Years from sheet names: for rows without a year column (or, stacked, an empty cell); checked otherwise.

    With ``check`` (several sheets stacked) a year cell that differs from its sheet's
    year is a row-level warning (the cell is kept).
    """
    years = [(n, _sheet_year(n), a, b) for n, a, b in spans]
    if "year" not in contract.field_names(table) or not any(y is not None and b > a for _, y, a, b in years):
        return df
    ycol = next((c for c in df.columns if _match_header(c, table) == "year"), None)
    had = ycol is not None
    if not had:
        ycol = contract.zh_headers(table)["year"]
        df[ycol] = None
    elif not check:
        return df
    vals = df[ycol].to_numpy(dtype=object).copy()
    filled = []
    for name, y, a, b in years:
        if y is None or b == a:
            continue
        empty, other = _year_cells(vals[a:b], y)
        vals[a:b][empty] = y
        if empty.any():
            filled.append(f"{name!r} → {y} ({int(empty.sum())} row(s))")
        if had and table == "household_year":  # member rows are reported by household key, not by row
            for k in np.flatnonzero(other):
                ctx.issue(field="year", value=vals[a + k], rule="sheet_year", level="warning", row=a + int(k),
                          message=f"year (年度) {vals[a + k]} differs from the year {y} of sheet {name!r}; "
                                  "the cell's year is kept")
    df[ycol] = pd.Series(vals, index=df.index, dtype=object)
    if filled:
        ctx.notes.append(f"{label}: year ({ycol}) taken from the sheet name where the rows have none: "
                         + ", ".join(filled))
    return df


def _year_cells(cells: np.ndarray, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: empty, and a year other than ``y`` (each distinct value tested once; unreadable ones are neither)."""
    codes, uniq = pd.factorize(cells)
    empty_u = np.array([_isna(u) for u in uniq], dtype=bool)
    other_u = np.array([not e and _is_year(u) and _year_of(u) != y for u, e in zip(uniq, empty_u)], dtype=bool)
    return _take(empty_u, codes, True), _take(other_u, codes, False)


def _year_of(v: object) -> int:
    return int(float(_norm(v).removesuffix("年度").removesuffix("年")))


# --------------------------------------------------------------------------- HTML saved as .xls
def _load_html(path: Path, data: bytes, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    """The table of an HTML page saved as .xls (a web system's "export to Excel") that holds this table's header."""
    text = _decode(data, label, ctx)
    tables = _html_tables(text)
    grids = [pd.DataFrame([r + [None] * (max(map(len, t)) - len(r)) for r in t], dtype=object) for t in tables]
    scored = [(g, _header_row(g, table)) for g in grids if not g.empty]
    found = [(g, s) for g, (i, s) in scored if i is not None]
    if not found:
        raise ReadError(f"{label}: {path.name} is an HTML page (a web system's \"export to Excel\"), not a workbook, "
                        f"and none of its {len(grids)} table(s) has a header naming contract fields; open it in Excel "
                        "or WPS and save it as .xlsx (File → Save As → Excel Workbook)")
    grid = max(found, key=lambda gs: gs[1])[0]
    ctx.notes.append(f"{label}: {path.name} is an HTML page (a web system's \"export to Excel\"), not a workbook; "
                     f"read its table ({len(grid)} rows) as text")
    return _frame_from_grid(grid, table, label, ctx)
