"""Opening an export: file types, text encodings, workbook sheets, title, total and blank rows.

Every reader gives a raw table: the header row found (title rows above it
skipped, a header split over merged cells combined), one column per header cell,
the body rows as read, without total rows (合计/总计/小计) and blank rows.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as arrow_csv

from fanpin_risk import contract
from fanpin_risk.errors import ReadError

from ._context import _Ctx
from ._headers import _SCAN_ROWS, _header_row, _merge_header_rows, _score_row
from ._values import _isna, _na_mask, _np, _take, _test_some, _text_codes

Source = str | os.PathLike | pd.DataFrame

_TOTAL = re.compile(r"[\u4e00-\u9fff]{0,6}(合计|总计|小计)[:：]?")


def _load(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
          exclude_sheet: str | int | None = None) -> pd.DataFrame:
    """The raw table of ``source`` with one distinct name per column."""
    return _unique_columns(_load_any(source, sheet, table, label, ctx, exclude_sheet))


def _load_any(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
              exclude_sheet: str | int | None = None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return _drop_total_rows(source.reset_index(drop=True), label, ctx, offset=0)
    path = Path(source)
    if not path.exists():
        raise ReadError(f"{label}: file not found: {path}")
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm", ".xls"):
        return _load_workbook(path, sheet, table, label, ctx, exclude_sheet)
    if ext in (".csv", ".txt", ".tsv"):
        text = _decode(path.read_bytes(), label, ctx)
        return _frame_from_text(text, table, label, ctx)
    if ext in (".parquet", ".pq"):
        return _drop_total_rows(pd.read_parquet(path), label, ctx, offset=0)
    raise ReadError(f"{label}: unsupported file type {ext!r}; use .xlsx, .xls, .csv, .txt or .parquet")


def _unique_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A repeated header gets ".1", ".2", ... (as read_csv names it), so every column has its own name.

    The header mapping then keeps the first and sets the others aside with a note.
    """
    if not df.columns.duplicated().any():
        return df
    seen: dict = {}
    names = []
    for c in df.columns:
        k = seen.get(c, 0)
        seen[c] = k + 1
        names.append(c if k == 0 else f"{c}.{k}")
    return df.set_axis(names, axis=1)


# --------------------------------------------------------------------------- workbooks
def _load_workbook(path: Path, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
                   exclude_sheet: str | int | None) -> pd.DataFrame:
    try:
        xl = pd.ExcelFile(path)
    except Exception as exc:  # noqa: BLE001 - any engine failure is a read error
        raise ReadError(f"{label}: cannot open workbook {path.name}: {type(exc).__name__}") from None
    with xl:
        name = _choose_sheet(xl, sheet, table, label, ctx, exclude=exclude_sheet)
        grid = pd.read_excel(xl, sheet_name=name, header=None, dtype=object)
    ctx.notes.append(f"{label}: read sheet {name!r} of {path.name}")
    return _frame_from_grid(grid, table, label, ctx)


def _choose_sheet(xl: pd.ExcelFile, sheet: str | int | None, table: str, label: str,
                  ctx: _Ctx, exclude: str | int | None = None) -> str | int:
    names = xl.sheet_names
    if sheet is not None:
        return _named_sheet(names, sheet, label)
    if len(names) == 1:
        return names[0]
    excl = names[exclude] if isinstance(exclude, int) else exclude
    scores = {}
    for n in names:
        if n == excl:
            continue
        grid = pd.read_excel(xl, sheet_name=n, header=None, nrows=_SCAN_ROWS, dtype=object)
        scores[n] = max((_score_row(list(grid.iloc[k]), table) for k in range(len(grid))), default=0)
    best = max(scores, key=lambda n: scores[n])
    if scores[best] == 0:
        raise ReadError(f"{label}: none of the sheets {names} has contract headers; pass sheet=")
    ctx.notes.append(
        f"{label}: workbook has {len(names)} sheets; chose sheet {best!r} whose headers match the "
        f"{table} contract best ({scores[best]} headers"
        + "".join(f"; {n!r}: {s}" for n, s in scores.items() if n != best) + "); pass sheet= to choose another"
    )
    return best


def _named_sheet(names: list, sheet: str | int, label: str) -> str | int:
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise ReadError(f"{label}: sheet index {sheet} out of range; the workbook has {len(names)} sheet(s): {names}")
        return names[sheet]
    if sheet not in names:
        raise ReadError(f"{label}: no sheet named {sheet!r}; the workbook has {names}")
    return sheet


# --------------------------------------------------------------------------- text files
def _decode(data: bytes, label: str, ctx: _Ctx) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    else:
        bom = data.startswith(b"\xef\xbb\xbf")
        ctx.notes.append(f"{label}: text encoding {'UTF-8 with BOM' if bom else 'UTF-8'}")
        return text
    # Not UTF-8 as a whole. Decoding it all as GB18030 would turn UTF-8 lines of a file
    # concatenated from two exports into valid-looking mojibake, so decide line by line.
    out, n_utf8, n_gbk = _decode_lines(data, label)
    if n_utf8 and n_gbk:
        ctx.notes.append(f"{label}: mixed text encodings: {n_gbk} line(s) decoded as GBK/GB18030 and "
                         f"{n_utf8} as UTF-8; save the file in one encoding (UTF-8) to be sure")
    else:
        ctx.notes.append(f"{label}: text encoding GBK/GB18030")
    return "\n".join(out)


def _decode_lines(data: bytes, label: str) -> tuple[list[str], int, int]:
    """Lines of ``data``: a line with non-ASCII bytes that is valid UTF-8 is UTF-8, any other GB18030.

    Returns the decoded lines and how many were read as UTF-8 and as GB18030.
    """
    out, n_utf8, n_gbk = [], 0, 0
    for k, raw in enumerate(data.split(b"\n")):
        if raw.isascii():
            out.append(raw.decode("ascii"))
            continue
        try:
            out.append(raw.decode("utf-8-sig" if k == 0 else "utf-8"))
            n_utf8 += 1
            continue
        except UnicodeDecodeError:
            pass
        try:
            out.append(raw.decode("gb18030"))
            n_gbk += 1
        except UnicodeDecodeError as exc:
            raise ReadError(
                f"{label}: line {k + 1} has bytes that are neither UTF-8 nor GBK/GB18030 (byte {exc.start + 1} "
                f"of the line); the file is damaged or in another encoding. Re-export it, or save it as "
                "UTF-8 CSV or .xlsx"
            ) from None
    return out, n_utf8, n_gbk


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` as iterating ``io.StringIO(text)`` gives them, without copying the text."""
    start = 0
    while start < len(text):
        end = text.find("\n", start) + 1 or len(text)
        yield text[start:end]
        start = end


def _delimiter(text: str) -> str:
    head = text[:5000]
    return "\t" if head.count("\t") > head.count(",") else ","


def _padded(rows: list[list[str]]) -> pd.DataFrame:
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _grid_from_text(text: str) -> pd.DataFrame:
    return _padded(list(csv.reader(_lines(text), delimiter=_delimiter(text))))


def _frame_from_text(text: str, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    # Find the header on the first rows with the csv module, then let Arrow's parser (plain
    # files) or pandas' C parser read the body; ragged rows fall back to the csv module for
    # the whole file.
    delim = _delimiter(text)
    grid = _padded([r for _, r in zip(range(_SCAN_ROWS), csv.reader(_lines(text), delimiter=delim))])
    if grid.empty:
        raise ReadError(f"{label} is empty")
    i, _best = _header_row(grid, table)
    if i is not None:
        body = _plain_csv_body(text, i, delim)
        if body is None:
            body = _pandas_csv_body(text, i, delim)
        if body is not None:
            ctx.arrow_text.add(label)
            return _frame_from_grid(body, table, label, ctx, skipped=i)
    return _frame_from_grid(_grid_from_text(text), table, label, ctx)


def _pandas_csv_body(text: str, skip: int, delim: str) -> pd.DataFrame | None:
    """The body pandas' C parser reads after ``skip`` rows (``dtype=str``, no NA filter); None if it cannot."""
    try:
        # pandas feeds a StringIO to the C parser as these UTF-8 bytes; passing them
        # directly spares a 4-bytes-per-character copy of the text.
        return pd.read_csv(io.BytesIO(text.encode("utf-8")), sep=delim, skiprows=skip, header=None, dtype=str,
                           keep_default_na=False, na_filter=False, skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError):
        return None


def _plain_csv_body(text: str, skip: int, delim: str) -> pd.DataFrame | None:
    """The body pandas' C parser reads from ``text`` after ``skip`` rows (``dtype=str``, no NA filter), read by Arrow.

    Arrow's parser is several times faster and builds no Python strings. It is used
    only where both parsers certainly agree: no quote character, carriage return,
    NUL or byte-order mark (so a row is a line, a field the text between delimiters,
    kept as is), and every row with the header row's number of fields (Arrow refuses
    a row that has another; pandas pads short rows). Otherwise None: pandas reads it.
    """
    if any(c in text for c in '"\r\x00\ufeff'):
        return None
    start = 0
    for _ in range(skip):
        start = text.find("\n", start) + 1
    end = text.find("\n", start)
    width = text.count(delim, start, len(text) if end < 0 else end) + 1
    if width < 2:  # a blank line would be a one-field row to Arrow too
        return None
    names = [str(j) for j in range(width)]
    try:
        table = arrow_csv.read_csv(
            io.BytesIO(text[start:].encode("utf-8")),
            read_options=arrow_csv.ReadOptions(column_names=names),
            parse_options=arrow_csv.ParseOptions(delimiter=delim, quote_char=False, double_quote=False,
                                                 escape_char=False, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowException:
        return None
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # what read_csv(dtype=str) gives
    return pd.DataFrame({j: pd.arrays.ArrowStringArray(table.column(j), dtype=dtype) for j in range(width)})


# --------------------------------------------------------------------------- header and body rows
def _frame_from_grid(grid: pd.DataFrame, table: str, label: str, ctx: _Ctx, skipped: int = 0) -> pd.DataFrame:
    """The table in ``grid`` (cells as read, no header): header found and applied, odd rows dropped.

    ``skipped`` rows of the file were above ``grid``; notes give file row numbers.
    """
    if grid.empty:
        raise ReadError(f"{label} is empty")
    i, best = _header_row(grid, table)
    if i is None:
        zh = list(contract.zh_headers(table).values())[:6]
        raise ReadError(
            f"{label}: no header row found in the first {_SCAN_ROWS} rows (best row matched {best} "
            f"contract header(s)); the header needs columns such as {', '.join(zh)} or their English names"
        )
    cells, used = _merge_header_rows(grid, i, table)
    if len(used) > 1:
        ctx.notes.append(f"{label}: header spread over rows {', '.join(str(k + skipped + 1) for k in used)} "
                         "(merged cells); combined into one header")
    first = min(used)
    if first + skipped > 0:
        ctx.notes.append(f"{label}: header found on row {first + skipped + 1}; {first + skipped} title row(s) above it skipped")
    body = grid.iloc[max(used) + 1:].copy()
    body.columns = [f"unnamed_{j}" if _isna(h) else str(h).strip() for j, h in enumerate(cells)]
    body = _drop_total_rows(body, label, ctx, offset=skipped)
    body = _drop_blank_rows(body, label, ctx)
    empty_cols = [c for j, c in enumerate(body.columns) if c.startswith("unnamed_") and _na_mask(body.iloc[:, j]).all()]
    body = body.drop(columns=empty_cols)
    return body.reset_index(drop=True)


def _drop_blank_rows(body: pd.DataFrame, label: str, ctx: _Ctx) -> pd.DataFrame:
    # A row is blank when every cell is missing: each column is tested only on the rows
    # still blank so far (after the first column, usually none).
    blank = np.ones(len(body), dtype=bool)
    for j in range(body.shape[1]):
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        blank[rows] = _na_mask(body.iloc[rows, j]).to_numpy()
    if blank.any():
        ctx.notes.append(f"{label}: {int(blank.sum())} empty row(s) skipped")
        body = body[~blank]
    return body


def _is_total(u: Any) -> bool:
    return isinstance(u, str) and bool(_TOTAL.fullmatch(re.sub(r"\s+", "", unicodedata.normalize("NFKC", u))))


def _drop_total_rows(body: pd.DataFrame, label: str, ctx: _Ctx, offset: int = 0) -> pd.DataFrame:
    """Drop trailing total rows (合计 / 总计 / 小计 in one of the first three cells), with a note.

    A total row is not a household: keeping it would add a fake household with a
    missing year. It is dropped and listed in the notes, never silently.
    """
    if body.empty:
        return body
    hit = np.zeros(len(body), dtype=bool)
    for j in range(min(3, body.shape[1])):
        col = body.iloc[:, j]
        if col.dtype.kind in "biufcmM":
            continue
        enc = _text_codes(col)
        if enc is not None:  # ASCII text stays ASCII under NFKC: never 合计/总计/小计
            codes, uniq = enc
            hit |= _take(_test_some(uniq, _is_total, ~_np(pc.string_is_ascii(uniq))), codes, False)
            continue
        totals = [u for u in pd.unique(col.dropna()) if _is_total(u)]
        if totals:
            hit |= col.isin(totals).to_numpy(dtype=bool)
    if hit.any():
        rows = [str(int(k) + offset + 1) if isinstance(k, int | np.integer) else str(k) for k in body.index[hit]]
        ctx.notes.append(f"{label}: {int(hit.sum())} total row(s) (合计/总计/小计) skipped at row(s) {', '.join(rows[:10])}")
        body = body[~hit]
    return body
