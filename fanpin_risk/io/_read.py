"""Read monitoring-system exports into the canonical household-year frame.

:func:`read_panel` accepts Excel (.xlsx/.xlsm/.xls), CSV/TXT (UTF-8, UTF-8 with BOM,
GBK/GB18030), parquet or a DataFrame, with Chinese or English headers, title rows
above the header, a separate member sheet, and the value spellings county exports
use (是/否, √/×, "1,200元", "2021年3月", ...). It drops personal data, derives what
the contract allows to derive and validates the result. See ``docs/reading.md``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as arrow_csv

from . import contract, privacy
from .errors import ContractError, MissingLineError, ReadError
from .validate import ValidationReport, _empty_issues, validate

__all__ = ["read_panel", "parse_bool", "parse_number", "parse_month", "INVERSE_HEADERS", "BIRTH_HEADERS"]

Source = str | os.PathLike | pd.DataFrame

#: Headers whose yes/no answer is the negation of a contract boolean.
INVERSE_HEADERS: dict[str, str] = {"是否危房户": "housing_safe", "危房户": "housing_safe", "是否危房": "housing_safe"}
#: Member-sheet headers holding a birth date (used for ``age`` when no age column exists).
BIRTH_HEADERS = ("出生日期", "出生年月", "出生年月日", "birth_date", "date_of_birth", "birthday")
#: Member labour-skill values that count as labour (弱劳动力或半劳动力 only with ``count_weak_labor``).
LABOR_VALUES = ("技能劳动力", "普通劳动力")
WEAK_LABOR = "弱劳动力或半劳动力"

_NA = {"", "nan", "none", "null", "na", "n/a", "<na>", "nat", "-", "--", "—", "/", "\\"}
_TRUE = {"是", "有", "已", "√", "✓", "✔", "对", "y", "yes", "true", "t", "1", "1.0"}
_FALSE = {"否", "无", "未", "×", "✗", "✘", "x", "n", "no", "false", "f", "0", "0.0"}
_NUM = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(万元|万|元/人/年|元/人|元/年|元|人|个月|月|岁|年|亩|公里|km|户|次)?",
    re.IGNORECASE,
)
_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月日]?.*)?")
_MULTI_SPLIT = re.compile(r"[,，、;；]")
#: Excel day serials of 2000-01-01 .. 2100-12-31 (1900 date system) and the serial epoch.
_EXCEL_SERIAL = (36526, 73415)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_SCAN_ROWS = 30
_MIN_MATCH = 3
# Arrow (RE2) patterns run over the distinct values of a text column. No spelling of a
# missing value holds a digit or a Han character, and NFKC, strip and lower keep both.
_DIGIT_OR_HAN = "[0-9\u4e00-\u9fff]"
# An ASCII decimal that parse_number reads as float(value): no space, comma, unit, "+"
# or exponent (those go through parse_number itself).
_PLAIN_NUMBER = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
# ASCII whitespace as str.strip() sees it, at either end of a value.
_EDGE_SPACE = r"^[\t-\r\x1c-\x20]|[\t-\r\x1c-\x20]$"


# --------------------------------------------------------------------------- value parsers
def _isna(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, str):
        return unicodedata.normalize("NFKC", v).strip().lower() in _NA
    return False


def _na_mask(s: pd.Series) -> pd.Series:
    """Vectorised :func:`_isna` (tests each distinct value once)."""
    base = s.isna()
    if s.dtype.kind in "biufcmM" or s.dtype in ("boolean", "Int64", "Float64"):
        return base.astype(bool)
    enc = _text_codes(s)
    if enc is not None:
        codes, uniq = enc
        return pd.Series(_take(_isna_text(uniq), codes, True), index=s.index)
    rest = s[~base]
    bad = [u for u in pd.unique(rest) if _isna(u)]
    if not bad:
        return base.astype(bool)
    return (base | s.isin(bad)).astype(bool)


def _text_codes(s: pd.Series) -> tuple[np.ndarray, pa.Array | pa.ChunkedArray] | None:
    """Codes (-1 where missing) and distinct values of ``s`` when every value is text, else None.

    Parsing and PII tests then run once per distinct value, mostly as Arrow kernels,
    and reach the rows through the codes. A column mixing text with numbers or dates
    (Excel) gives None: pandas' unique/isin/map treat 1, 1.0 and True as one value
    there, which only the per-value paths reproduce.
    """
    if isinstance(s.dtype, pd.StringDtype):
        codes, uniq = pd.factorize(s)
        return codes, pa.array(uniq.array)
    if s.dtype != object:
        return None
    codes, uniq = pd.factorize(s.to_numpy())
    if not all(isinstance(u, str) for u in uniq):
        return None
    try:
        return codes, pa.array(uniq, type=pa.large_string())
    except UnicodeEncodeError:  # a lone surrogate: only Python holds it
        return None


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result (no nulls) as a numpy bool array."""
    return np.asarray(mask, dtype=bool)


def _take(per_value: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:
    """Per-row array from per-distinct-value results; rows with code -1 (missing) get ``missing``."""
    return np.concatenate([per_value, np.array([missing], dtype=per_value.dtype)])[codes]


def _take_str(per_value: np.ndarray, codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """``str`` array of per-distinct-value strings (None: missing) taken per row, with no Python string per row."""
    rows = pa.array(per_value, type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.arrays.ArrowStringArray(rows, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _test_some(uniq: pa.Array | pa.ChunkedArray, test: Any, maybe: np.ndarray) -> np.ndarray:
    """``test(u)`` for the distinct values where the pre-filter ``maybe`` holds, False elsewhere."""
    out = np.zeros(len(uniq), dtype=bool)
    idx = np.flatnonzero(maybe)
    if len(idx):
        out[idx] = [test(u) for u in uniq.take(pa.array(idx)).to_pylist()]
    return out


def _isna_text(uniq: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_isna` of each distinct text value (only those without a digit or Han character can be missing)."""
    return _test_some(uniq, _isna, ~_np(pc.match_substring_regex(uniq, _DIGIT_OR_HAN)))


def _parse_strings(uniq: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_parse_string` of each distinct text value (object array).

    ASCII text is its own NFKC form, so unless it starts or ends with whitespace
    it comes back unchanged; only the other values go through the Python function.
    """
    out = uniq.to_numpy(zero_copy_only=False)
    odd = ~_np(pc.string_is_ascii(uniq)) | _np(pc.match_substring_regex(uniq, _EDGE_SPACE))
    out[odd] = [_parse_string(u) for u in out[odd]]
    return out


def _to_float(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``float(t)`` of :data:`_PLAIN_NUMBER` values: Arrow's parser rounds correctly, as ``float`` does."""
    try:
        return np.asarray(pc.cast(text, pa.float64()), dtype=np.float64)
    except pa.ArrowInvalid:  # out of range: float() gives ±inf
        return np.array([float(t) for t in text.to_pylist()], dtype=np.float64)


def parse_bool(v: Any) -> bool:
    """Parse 是/否, √/×, true/false, 1/0, Y/N (spaces and full-width ignored); ValueError otherwise."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer | float | np.floating) and v in (0, 1):
        return bool(v)
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v))).lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(v)


def parse_number(v: Any) -> float:
    """Parse ``1,200``, ``１２００``, ``1200元``, ``3人``, ``1.2万元``; ValueError otherwise."""
    if isinstance(v, bool | np.bool_):
        raise ValueError(v)
    if isinstance(v, int | np.integer | float | np.floating):
        return float(v)
    t = re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", str(v)))
    m = _NUM.fullmatch(t)
    if not m:
        raise ValueError(v)
    x = float(m.group(1))
    if m.group(2) and m.group(2).startswith("万"):
        x *= 10_000
    return x


def parse_month(v: Any) -> int:
    """Parse a month to ``YYYYMM``: 202103, "2021-03", "2021/3", "2021年3月", a date, an Excel day serial; ValueError otherwise."""
    if isinstance(v, datetime | date | pd.Timestamp):
        return v.year * 100 + v.month
    if isinstance(v, int | np.integer | float | np.floating) and not isinstance(v, bool | np.bool_):
        if float(v) != int(v):
            raise ValueError(v)
        t = str(int(v))
    else:
        t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))
        if re.fullmatch(r"\d+\.0+", t):
            t = t.split(".")[0]
    if re.fullmatch(r"\d{5}", t) and _EXCEL_SERIAL[0] <= int(t) <= _EXCEL_SERIAL[1]:
        # A date cell that lost its date format shows as Excel's day serial (44256 = 2021-03-01).
        d = _EXCEL_EPOCH + pd.Timedelta(days=int(t))
        y, m = d.year, d.month
    elif re.fullmatch(r"\d{6}", t):
        y, m = int(t[:4]), int(t[4:])
    elif re.fullmatch(r"\d{8}", t):
        y, m = int(t[:4]), int(t[4:6])
    else:
        mm = _MONTH.fullmatch(t)
        if not mm:
            raise ValueError(v)
        y, m = int(mm.group(1)), int(mm.group(2))
    if not (1 <= m <= 12 and 1900 <= y <= 2100):
        raise ValueError(v)
    return y * 100 + m


def _parse_string(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, datetime | date | pd.Timestamp):
        return str(v)
    return unicodedata.normalize("NFKC", str(v)).strip()


def _parse_category(v: Any) -> str:
    # Chinese code values carry no spaces: "脱贫 户" → "脱贫户".
    return re.sub(r"\s+", "", str(v).replace("\u3000", " "))


def _parse_integer(v: Any) -> int:
    x = parse_number(v)
    # beyond int64 the Int64 column cannot hold it: a parse error, not an OverflowError later
    if not float(x).is_integer() or abs(x) >= 2**63:
        raise ValueError(v)
    return int(x)


def _kind(field_row: Any) -> str:
    if field_row.unit == "YYYYMM":
        return "month"
    return field_row.type


_PARSERS = {
    "string": _parse_string,
    "category": _parse_category,
    "integer": _parse_integer,
    "number": parse_number,
    "boolean": parse_bool,
    "month": parse_month,
}


# --------------------------------------------------------------------------- context
@dataclass
class _Ctx:
    errors: str
    notes: list[str] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    header_map: dict[str, str] = field(default_factory=dict)
    #: Tables read by the CSV parser: their columns are Arrow strings standing in for
    #: the Python strings of the other readers (a fraction of the memory).
    arrow_text: set[str] = field(default_factory=set)

    def issue(self, *, field: str, value: Any, rule: str, level: str, message: str,
              row: Any = None, key: tuple | None = None) -> None:
        self.issues.append(dict(_row=row, _key=key, field=field, value=privacy.mask_value(value),
                                rule=rule, level=level, message=message))


# --------------------------------------------------------------------------- loading
def _match_header(h: Any, table: str) -> str | None:
    """Contract field for raw header ``h`` (or ``"!" + field`` for an inverse header)."""
    if _isna(h):
        return None
    key = contract.normalize_header(h)
    hm = contract.header_map(table)
    if key in hm:
        return hm[key]
    stripped = re.sub(r"\(.*\)$", "", key)
    if stripped in hm:
        return hm[stripped]
    if table == "household_year":
        for name, f in INVERSE_HEADERS.items():
            if key == contract.normalize_header(name) or stripped == contract.normalize_header(name):
                return "!" + f
    return None


def _score_row(row: list, table: str) -> int:
    return sum(_match_header(c, table) is not None for c in row)


def _header_row(grid: pd.DataFrame, table: str) -> tuple[int | None, int]:
    best = 0
    for i in range(min(_SCAN_ROWS, len(grid))):
        s = _score_row(list(grid.iloc[i]), table)
        need = min(_MIN_MATCH, max(1, grid.shape[1]))
        if s >= need:
            return i, s
        best = max(best, s)
    return None, best


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
    # concatenated from two exports into valid-looking mojibake, so decide line by line:
    # a line with non-ASCII bytes that is valid UTF-8 is UTF-8, any other line GB18030.
    lines = data.split(b"\n")
    out, n_utf8, n_gbk = [], 0, 0
    for k, raw in enumerate(lines):
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
    if n_utf8 and n_gbk:
        ctx.notes.append(f"{label}: mixed text encodings: {n_gbk} line(s) decoded as GBK/GB18030 and "
                         f"{n_utf8} as UTF-8; save the file in one encoding (UTF-8) to be sure")
    else:
        ctx.notes.append(f"{label}: text encoding GBK/GB18030")
    return "\n".join(out)


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` as iterating ``io.StringIO(text)`` gives them, without copying the text."""
    start = 0
    while start < len(text):
        end = text.find("\n", start) + 1 or len(text)
        yield text[start:end]
        start = end


def _grid_from_text(text: str) -> pd.DataFrame:
    head = text[:5000]
    delim = "\t" if head.count("\t") > head.count(",") else ","
    rows = list(csv.reader(_lines(text), delimiter=delim))
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _frame_from_text(text: str, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    # Find the header on the first rows with the csv module, then let Arrow's parser (plain
    # files) or pandas' C parser read the body; ragged rows fall back to the csv module for
    # the whole file.
    head = text[:5000]
    delim = "\t" if head.count("\t") > head.count(",") else ","
    first = list(zip(range(_SCAN_ROWS), csv.reader(_lines(text), delimiter=delim)))
    width = max((len(r) for _, r in first), default=0)
    grid = pd.DataFrame([r + [""] * (width - len(r)) for _, r in first], dtype=object)
    if grid.empty:
        raise ReadError(f"{label} is empty")
    i, _best = _header_row(grid, table)
    if i is not None:
        body = _plain_csv_body(text, i, delim)
        if body is None:
            try:
                # pandas feeds a StringIO to the C parser as these UTF-8 bytes; passing them
                # directly spares a 4-bytes-per-character copy of the text.
                body = pd.read_csv(io.BytesIO(text.encode("utf-8")), sep=delim, skiprows=i, header=None, dtype=str,
                                   keep_default_na=False, na_filter=False, skip_blank_lines=False)
            except (pd.errors.ParserError, ValueError):
                body = None
        if body is not None:
            ctx.arrow_text.add(label)
            return _frame_from_grid(body, table, label, ctx, skipped=i)
    return _frame_from_grid(_grid_from_text(text), table, label, ctx)


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


def _merge_header_rows(grid: pd.DataFrame, i: int, table: str) -> tuple[list, list[int]]:
    """Header cells of row ``i``, completed from a neighbour row when merged cells split the header.

    Exports often have a two-row header: group titles merged across columns ("收入情况")
    above the field names, and single fields merged down both rows (so pandas sees the
    name in one row and an empty cell in the other). A neighbour row is taken as part of
    the header only when it names contract fields in columns that row ``i`` leaves
    unnamed and holds nothing but empty cells or unmatched text above/below the fields
    row ``i`` names (a data row has values there, often numbers).
    """
    cells = list(grid.iloc[i])
    match = [_match_header(c, table) is not None for c in cells]
    used = [i]
    for k in (i - 1, i + 1):
        if not 0 <= k < len(grid):
            continue
        other = list(grid.iloc[k])
        om = [_match_header(c, table) is not None for c in other]
        adds = [j for j in range(len(cells)) if om[j] and not match[j]]
        if not adds:
            continue
        if k > i:  # below: empty under every named column (vertical merges)
            fits = all(_isna(other[j]) for j in range(len(cells)) if match[j])
        else:  # above: empty or a group title over every named column, never a number
            fits = all(_isna(other[j]) or (om[j] is False and not _looks_numeric(other[j]))
                       for j in range(len(cells)) if match[j])
        if fits:
            for j in adds:
                cells[j] = other[j]
                match[j] = True
            used.append(k)
    return cells, sorted(used)


def _looks_numeric(v: Any) -> bool:
    try:
        parse_number(v)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


_TOTAL = re.compile(r"[\u4e00-\u9fff]{0,6}(合计|总计|小计)[:：]?")


def _drop_total_rows(body: pd.DataFrame, label: str, ctx: _Ctx, offset: int = 0) -> pd.DataFrame:
    """Drop trailing total rows (合计 / 总计 / 小计 in one of the first three cells), with a note.

    A total row is not a household: keeping it would add a fake household with a
    missing year. It is dropped and listed in the notes, never silently.
    """
    if body.empty:
        return body
    def is_total(u: Any) -> bool:
        return isinstance(u, str) and bool(_TOTAL.fullmatch(re.sub(r"\s+", "", unicodedata.normalize("NFKC", u))))

    hit = np.zeros(len(body), dtype=bool)
    for j in range(min(3, body.shape[1])):
        col = body.iloc[:, j]
        if col.dtype.kind in "biufcmM":
            continue
        enc = _text_codes(col)
        if enc is not None:  # ASCII text stays ASCII under NFKC: never 合计/总计/小计
            codes, uniq = enc
            hit |= _take(_test_some(uniq, is_total, ~_np(pc.string_is_ascii(uniq))), codes, False)
            continue
        totals = [u for u in pd.unique(col.dropna()) if is_total(u)]
        if totals:
            hit |= col.isin(totals).to_numpy(dtype=bool)
    if hit.any():
        rows = [str(int(k) + offset + 1) if isinstance(k, int | np.integer) else str(k) for k in body.index[hit]]
        ctx.notes.append(f"{label}: {int(hit.sum())} total row(s) (合计/总计/小计) skipped at row(s) {', '.join(rows[:10])}")
        body = body[~hit]
    return body


def _frame_from_grid(grid: pd.DataFrame, table: str, label: str, ctx: _Ctx, skipped: int = 0) -> pd.DataFrame:
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
    header = []
    for j, h in enumerate(cells):
        header.append(f"unnamed_{j}" if _isna(h) else str(h).strip())
    body = grid.iloc[max(used) + 1:].copy()
    body.columns = header
    body = _drop_total_rows(body, label, ctx, offset=skipped)
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
    empty_cols = [c for j, c in enumerate(body.columns) if c.startswith("unnamed_") and _na_mask(body.iloc[:, j]).all()]
    body = body.drop(columns=empty_cols)
    return body.reset_index(drop=True)


def _choose_sheet(xl: pd.ExcelFile, sheet: str | int | None, table: str, label: str,
                  ctx: _Ctx, exclude: str | int | None = None) -> str | int:
    names = xl.sheet_names
    if sheet is not None:
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise ReadError(f"{label}: sheet index {sheet} out of range; the workbook has {len(names)} sheet(s): {names}")
            return names[sheet]
        if sheet not in names:
            raise ReadError(f"{label}: no sheet named {sheet!r}; the workbook has {names}")
        return sheet
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


def _load(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
          exclude_sheet: str | int | None = None) -> pd.DataFrame:
    return _unique_columns(_load_any(source, sheet, table, label, ctx, exclude_sheet))


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


def _load_any(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
              exclude_sheet: str | int | None = None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return _drop_total_rows(source.reset_index(drop=True), label, ctx, offset=0)
    path = Path(source)
    if not path.exists():
        raise ReadError(f"{label}: file not found: {path}")
    ext = path.suffix.lower()
    if ext in (".xlsx", ".xlsm", ".xls"):
        try:
            xl = pd.ExcelFile(path)
        except Exception as exc:  # noqa: BLE001 - any engine failure is a read error
            raise ReadError(f"{label}: cannot open workbook {path.name}: {type(exc).__name__}") from None
        with xl:
            name = _choose_sheet(xl, sheet, table, label, ctx, exclude=exclude_sheet)
            grid = pd.read_excel(xl, sheet_name=name, header=None, dtype=object)
        ctx.notes.append(f"{label}: read sheet {name!r} of {path.name}")
        return _frame_from_grid(grid, table, label, ctx)
    if ext in (".csv", ".txt", ".tsv"):
        text = _decode(path.read_bytes(), label, ctx)
        return _frame_from_text(text, table, label, ctx)
    if ext in (".parquet", ".pq"):
        return _drop_total_rows(pd.read_parquet(path), label, ctx, offset=0)
    raise ReadError(f"{label}: unsupported file type {ext!r}; use .xlsx, .xls, .csv, .txt or .parquet")


# --------------------------------------------------------------------------- header mapping and cleaning
def _map_headers(df: pd.DataFrame, table: str, label: str, ctx: _Ctx,
                 extra_table: str | None = None) -> tuple[dict[str, str], list[str]]:
    """raw column → field (``"!f"`` inverse, ``"hh:f"`` household field on a member sheet); unknown columns."""
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    taken: set[str] = set()
    for col in df.columns:
        f = _match_header(col, table)
        if f is None and extra_table is not None:
            g = _match_header(col, extra_table)
            f = None if g is None else "hh:" + g.lstrip("!") if not g.startswith("!") else "hh:" + g
        if f is None:
            unknown.append(col)
            continue
        target = f.lstrip("!") if not f.startswith("hh:") else f
        if target in taken:
            ctx.notes.append(f"{label}: column {col!r} repeats field {target!r}; the first one is used, this one is kept aside")
            unknown.append(col)
            continue
        taken.add(target)
        mapping[col] = f
    # an inverse header only counts when the direct field is absent
    for col, f in list(mapping.items()):
        if f.startswith("!") and f[1:] in {g for g in mapping.values() if not g.startswith("!")}:
            del mapping[col]
            unknown.append(col)
    return mapping, unknown


def _clean(df: pd.DataFrame, table: str, label: str, ctx: _Ctx, *, prefix: str = "", member: bool = False,
           canonical_text: bool = False) -> pd.DataFrame:
    """Parse every contract column of ``df`` in place (columns already renamed to fields).

    With ``canonical_text`` the string and category columns read from text come back
    as ``str`` (their canonical dtype, built without a Python string per row) instead
    of object holding str and NaN; the values are the same.
    """
    frows = {r.field: r for r in contract.fields(table).itertuples()}
    for col in list(df.columns):
        fname = col[len(prefix):] if prefix and col.startswith(prefix) else col
        if fname not in frows or (prefix and not col.startswith(prefix)):
            continue
        kind = _kind(frows[fname])
        s = df[col]
        if kind in ("number", "integer") and s.dtype.kind in "iuf":
            vals = s.astype("float64")
            pii = _pii_numbers(vals)
            for idx in vals.index[pii]:
                _bad(ctx, df, idx, fname, "***", kind, member, pii=True)
            vals = vals.where(~pii)
            if kind == "integer":
                frac = vals.notna() & (vals % 1 != 0)
                for idx in vals.index[frac]:
                    _bad(ctx, df, idx, fname, s[idx], kind, member)
                vals = vals.where(~frac)
            df[col] = vals
            continue
        if kind == "boolean" and s.dtype in ("bool", "boolean"):
            df[col] = s.astype("boolean")
            continue
        out, pii, bad, shown = _parse_column(s, kind, canonical_text)
        for p in pii:
            _bad(ctx, df, df.index[p], fname, "***", kind, member, pii=True)
        for p in bad:
            _bad(ctx, df, df.index[p], fname, shown.iat[p], kind, member)
        df[col] = pd.Series(out, index=df.index)
    return df


def _parse_column(s: pd.Series, kind: str, canonical_text: bool) -> tuple[Any, np.ndarray, np.ndarray, pd.Series]:
    """Parse a raw column as ``kind``: values, positions of PII and of unreadable cells, the raw values to show."""
    enc = _text_codes(s)
    if enc is None:
        return _parse_objects(s, kind)
    return (*_parse_text(*enc, kind, s.index, canonical_text), s)


def _parse_text(codes: np.ndarray, uniq: pa.Array | pa.ChunkedArray, kind: str, index: pd.Index,
                canonical_text: bool) -> tuple[Any, np.ndarray, np.ndarray]:
    """Parse a text column (:func:`_text_codes`) as ``kind``: values, positions of PII and of unreadable cells.

    Gives what :func:`_parse_objects` gives, testing each distinct value once: only
    values that may be missing, PII or not a plain number reach the Python functions.
    String and category values come as ``str`` with ``canonical_text`` (see :func:`_clean`).
    """
    n = len(uniq)
    na = _isna_text(uniq)
    pii = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    todo = ~na
    if kind in ("number", "integer", "month"):
        vals = np.full(n, np.nan)
    else:
        vals = np.full(n, np.nan, dtype=object)
    if kind in ("number", "integer"):
        pii[todo] = privacy._id_or_phone(uniq.filter(pa.array(todo)))
        todo &= ~pii
        plain = todo & _np(pc.match_substring_regex(uniq, _PLAIN_NUMBER))
        vals[plain] = _to_float(uniq.filter(pa.array(plain)))
        if kind == "integer":  # as _parse_integer: whole and within int64
            bad = plain & ~(np.isfinite(vals) & (vals == np.trunc(vals)) & (np.abs(vals) < 2.0**63))
            vals[bad] = np.nan
        todo &= ~plain
    if kind == "string":
        vals[todo] = _parse_strings(uniq.filter(pa.array(todo)))
        todo[:] = False
    parser = _PARSERS[kind]
    idx = np.flatnonzero(todo)
    for i, u in zip(idx, uniq.take(pa.array(idx)).to_pylist()):
        try:
            vals[i] = parser(u)
        except (ValueError, TypeError, OverflowError):
            bad[i] = True
    pii_rows = np.flatnonzero(_take(pii, codes, False)) if pii.any() else np.array([], dtype=np.intp)
    bad_rows = np.flatnonzero(_take(bad, codes, False)) if bad.any() else np.array([], dtype=np.intp)
    if kind == "number":
        out = _take(vals, codes, np.nan)
    elif kind in ("integer", "month"):  # whole numbers below 2**63: exact as int64
        miss = np.isnan(vals)
        whole = np.where(miss, 0, vals).astype(np.int64)
        out = pd.arrays.IntegerArray(_take(whole, codes, 0), _take(miss, codes, True))
    elif kind == "boolean":
        known = ~(na | bad)
        true = known & (vals == True)  # noqa: E712 - elementwise on the object array
        out = pd.arrays.BooleanArray(_take(true, codes, False), ~_take(known, codes, False))
    elif canonical_text:
        out = pd.Series(_take_str(np.where(na | bad, None, vals), codes), index=index)
    else:
        out = pd.Series(_take(vals, codes, np.nan), index=index, dtype=object)
    return out, pii_rows, bad_rows


def _parse_objects(s: pd.Series, kind: str) -> tuple[Any, np.ndarray, np.ndarray, pd.Series]:
    """Parse a column of mixed values as ``kind``: values, positions of PII and unreadable cells, the raw values."""
    obj = s.astype(object)
    na = _na_mask(obj)
    parser = _PARSERS[kind]
    lookup: dict[Any, Any] = {}
    bad: set = set()
    pii_vals: set = set()
    for u in pd.unique(obj[~na]):
        if kind in ("number", "integer") and (privacy.is_phone(u) or privacy.is_id_card(u)):
            pii_vals.add(u)
            continue
        try:
            lookup[u] = parser(u)
        except (ValueError, TypeError, OverflowError):
            bad.add(u)
    pii_rows = np.flatnonzero(((~na) & obj.isin(list(pii_vals))).to_numpy()) if pii_vals else np.array([], dtype=int)
    bad_rows = np.flatnonzero(((~na) & obj.isin(list(bad))).to_numpy()) if bad else np.array([], dtype=int)
    out = obj.where(~na, None).map(lookup) if lookup else pd.Series(None, index=obj.index, dtype=object)
    if kind in ("number",):
        out = out.astype("float64")
    elif kind in ("integer", "month"):
        out = pd.array(out, dtype="Int64")
    elif kind == "boolean":
        out = pd.array(out, dtype="boolean")
    else:
        out = out.astype(object).where(out.notna(), np.nan)
    return out, pii_rows, bad_rows, obj


_KIND_HINT = {
    "number": "a number such as 1200 or 1,200元",
    "integer": "a whole number",
    "boolean": "是/否 (or true/false, 1/0, Y/N, √/×)",
    "month": "a month such as 202103, 2021-03 or 2021年3月",
    "string": "text",
    "category": "a code value",
}


def _pii_numbers(vals: pd.Series) -> pd.Series:
    """Numbers that look like a mobile number or an ID-card number (never kept)."""
    whole = vals.notna() & (vals % 1 == 0)
    phone = whole & vals.between(13e9, 2e10 - 1)
    if phone.any():
        phone &= vals.map(lambda v: privacy.is_phone(str(int(v))) if v == v else False).astype(bool)
    return (phone | (whole & (vals >= 1e14))).fillna(False).astype(bool)


def _bad(ctx: _Ctx, df: pd.DataFrame, idx: Any, fname: str, value: Any, kind: str, member: bool,
         pii: bool = False) -> None:
    table = "member" if member else "household_year"
    zh = contract.zh_headers(table).get(fname, "")
    msg = f"{fname} ({zh}): cannot read {('member ' if member else '')}value as {_KIND_HINT[kind]}; it is left empty"
    if pii:
        value = "***"
        msg = f"{fname} ({zh}): value looks like a phone or ID-card number; it is left empty and not shown"
    if member:
        key = (df.at[idx, "household_id"] if "household_id" in df.columns else None,
               df.at[idx, "year"] if "year" in df.columns else None)
        ctx.issue(field=f"member.{fname}", value=value, rule="parse", level="error", message=msg, key=key)
    else:
        ctx.issue(field=fname, value=value, rule="parse", level="error", message=msg, row=idx)


def _scrub_table(df: pd.DataFrame, mapping: dict[str, str], label: str, salt_box: dict, ctx: _Ctx,
                 keep_id_birth: bool = False) -> tuple[pd.DataFrame, dict[str, str], pd.Series | None]:
    """Drop PII columns (recorded in ctx.dropped), hash household ids; return birth dates from ID numbers."""
    id_cols = [c for c, f in mapping.items() if f in ("household_id", "hh:household_id")]
    def ftype(f: str) -> str:
        tbl = "household_year" if (f.startswith("hh:") or not label.startswith("member")) else "member"
        name = f.split(":")[-1].lstrip("!")
        return contract.fields(tbl).set_index("field")["type"].get(name, "string")

    typed = {c for c, f in mapping.items() if ftype(f) in ("number", "integer", "boolean")}
    # numbers, integers and booleans of the contract are parsed as such; content tests apply to text columns
    cand = df[[c for c in df.columns if c not in typed]]
    pii = privacy.detect_pii(cand, skip=tuple(id_cols))
    birth = None
    for col, reason in pii.items():
        if keep_id_birth and reason.startswith("ID-card") and birth is None:
            birth = df[col].map(privacy.id_card_birth_date)
            if birth.notna().any():
                ctx.notes.append(f"{label}: birth dates taken from the ID-card numbers of column {col!r} before it was dropped")
        ctx.dropped[f"{label}: {col}" if label.startswith("member") else str(col)] = reason
        mapping.pop(col, None)
    df = df.drop(columns=list(pii))
    for c in id_cols:
        new, k = privacy.hash_household_ids(_id_strings(df[c]), salt_box["salt"])
        if k:
            df[c] = new
            salt_box["used"] = True
            ctx.notes.append(f"{label}: {k} household id(s) looked like ID-card or phone numbers and were replaced "
                             "by salted hashes (h_ + sha256(salt + id)[:16])")
    return df, mapping, birth


def _id_strings(s: pd.Series) -> pd.Series:
    """Household ids as :func:`_parse_string` reads them, missing where :func:`_isna` (the values to hash)."""
    enc = _text_codes(s)
    if enc is None:
        return s.astype(object).where(~s.map(_isna), None).map(lambda v: _parse_string(v) if v is not None else v)
    codes, uniq = enc
    parsed = _parse_strings(uniq)
    parsed[_isna_text(uniq)] = None
    return pd.Series(_take_str(parsed, codes), index=s.index)


# --------------------------------------------------------------------------- members
def _birth_years(s: pd.Series) -> pd.Series:
    def one(v: Any) -> float:
        if _isna(v):
            return np.nan
        if isinstance(v, datetime | date | pd.Timestamp):
            return float(v.year)
        t = unicodedata.normalize("NFKC", str(v)).strip()
        m = re.match(r"(19\d{2}|20\d{2})", t)
        return float(m.group(1)) if m else np.nan
    return s.map(one).astype("float64")


def _aggregate_members(m: pd.DataFrame, birth_from_id: pd.Series | None, birth_col: str | None,
                       count_weak_labor: bool, ctx: _Ctx) -> pd.DataFrame:
    """Household counts from member rows, keyed by (household_id, year)."""
    key = ["household_id", "year"]
    g = m.groupby(key, sort=False, dropna=False)
    out = pd.DataFrame({"household_size": g.size().astype("float64")})
    year = pd.to_numeric(m["year"], errors="coerce").astype("float64")

    age = m["age"].astype("float64") if "age" in m.columns else pd.Series(np.nan, index=m.index)
    src = []
    if birth_col is not None and age.isna().any():
        by = _birth_years(m[birth_col])
        fill = age.isna() & by.notna()
        age = age.where(~fill, year - by)
        if fill.any():
            src.append(f"{int(fill.sum())} from 出生日期")
    if birth_from_id is not None and age.isna().any():
        by = birth_from_id.map(lambda d: d.year if d is not None and not _isna(d) else np.nan).astype("float64")
        fill = age.isna() & by.notna()
        age = age.where(~fill, year - by)
        if fill.any():
            src.append(f"{int(fill.sum())} from ID-card birth dates")
    if src:
        ctx.notes.append("member ages derived as year − birth year: " + ", ".join(src))

    def count(flag: pd.Series, known: pd.Series) -> pd.Series:
        v = flag.astype("float64").where(known)
        return v.groupby([m["household_id"], m["year"]], sort=False, dropna=False).sum(min_count=1)

    if age.notna().any():
        out["n_elderly"] = count(age >= 65, age.notna())
        out["n_children"] = count(age < 16, age.notna())
    if "labor_skill" in m.columns:
        labor = set(LABOR_VALUES) | ({WEAK_LABOR} if count_weak_labor else set())
        ls = m["labor_skill"]
        out["n_labor"] = count(ls.isin(labor), pd.Series(True, index=m.index))
    if "work_months" in m.columns:
        wm = m["work_months"].astype("float64")
        bad = wm.notna() & ((wm < 0) | (wm > 12))
        for idx in m.index[bad]:
            ctx.issue(field="member.work_months", value=wm[idx], rule="member_work_months_range", level="warning",
                      message=f"member {m.at[idx, 'member_no'] if 'member_no' in m.columns else idx}: work_months "
                              f"(务工时间（月）) outside 0..12, clipped", key=(m.at[idx, "household_id"], m.at[idx, "year"]))
        wmc = wm.clip(0, 12)
        out["n_migrant_workers"] = count(wmc > 0, pd.Series(True, index=m.index))
        out["migrant_work_months"] = wmc.fillna(0).groupby([m["household_id"], m["year"]], sort=False, dropna=False).sum()
    if "school_status" in m.columns:
        ss = m["school_status"]
        out["n_students"] = count(ss.notna() & (ss != "学龄前儿童"), pd.Series(True, index=m.index))
    if "health_status" in m.columns:
        hs = m["health_status"].astype(object)
        allowed = set(contract.code_list("health_status"))
        odd = {u for u in pd.unique(hs.dropna())
               if {t.strip() for t in _MULTI_SPLIT.split(str(u)) if t.strip()} - allowed}
        for idx in hs.index[hs.isin(list(odd))]:
            toks = {t.strip() for t in _MULTI_SPLIT.split(str(hs[idx])) if t.strip()}
            for t in toks - allowed:
                ctx.issue(field="member.health_status", value=t, rule="code_list", level="warning",
                          message="health_status (健康状况): value outside the code list, kept",
                          key=(m.at[idx, "household_id"], m.at[idx, "year"]))
        hs_txt = hs.where(hs.notna(), "").astype(str)
        for f, word in (("n_disabled", "残疾"), ("n_chronic_ill", "长期慢性病"), ("n_serious_ill", "患有大病")):
            out[f] = count(hs_txt.str.contains(word, regex=False), pd.Series(True, index=m.index))
    if "medical_insured" in m.columns:
        mi = m["medical_insured"].astype("boolean")
        any_false = (mi == False).fillna(False).groupby([m["household_id"], m["year"]], sort=False, dropna=False).any()  # noqa: E712
        all_known = mi.notna().groupby([m["household_id"], m["year"]], sort=False, dropna=False).all()
        val = pd.Series(pd.NA, index=any_false.index, dtype="boolean")
        val[any_false] = False
        val[~any_false & all_known] = True
        out["medical_insured"] = val
    if "public_welfare_job_months" in m.columns:
        pw = m["public_welfare_job_months"].astype("float64")
        out["public_welfare_job"] = (pw.fillna(0) > 0).groupby([m["household_id"], m["year"]], sort=False, dropna=False).any()
    for cat in ("labor_skill", "school_status", "relation", "sex", "education", "work_place"):
        if cat in m.columns:
            allowed = set(contract.code_list(cat))
            off = m[cat].notna() & ~m[cat].isin(allowed)
            for idx in m.index[off]:
                ctx.issue(field=f"member.{cat}", value=m.at[idx, cat], rule="code_list", level="warning",
                          message=f"{cat} ({contract.zh_headers('member')[cat]}): member value outside the code list, kept",
                          key=(m.at[idx, "household_id"], m.at[idx, "year"]))
    return out


def _merge_members(hh: pd.DataFrame, agg: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    keys = list(zip(hh["household_id"], hh["year"]))
    idx = pd.MultiIndex.from_tuples(keys, names=["household_id", "year"]) if keys else None
    zh = contract.zh_headers()
    in_members = pd.Series([k in agg.index for k in keys], index=hh.index, dtype=bool)
    if len(hh) and not in_members.all():
        ctx.notes.append(f"{int((~in_members).sum())} household row(s) have no member rows; their member-derived values stay as given")
    n_orphan = len(set(agg.index) - set(keys))
    if n_orphan:
        ctx.notes.append(f"{n_orphan} household-year(s) in the member sheet have no household row and are ignored")
    for f in agg.columns:
        vals = agg[f].reindex(idx)
        vals.index = hh.index
        if f not in hh.columns:
            hh[f] = vals
            ctx.notes.append(f"{f} ({zh[f]}) derived from the member sheet for all rows")
            continue
        cur = hh[f]
        miss = cur.isna() & vals.notna()
        both = cur.notna() & vals.notna()
        if f in ("medical_insured", "public_welfare_job"):
            differ = both & (cur.astype("boolean") != vals.astype("boolean")).fillna(False)
        else:
            differ = both & (pd.to_numeric(cur, errors="coerce").astype("float64") - vals.astype("float64")).abs().gt(1e-6)
        for i in hh.index[differ]:
            ctx.issue(field=f, value=cur[i], rule="member_mismatch", level="warning", row=i,
                      message=f"{f} ({zh[f]}) = {cur[i]} in the household table but {vals[i]} from the member sheet; household value kept")
        if miss.any():
            if cur.dtype == "boolean" or f in ("medical_insured", "public_welfare_job"):
                hh[f] = cur.astype("boolean").where(~miss, vals.astype("boolean"))
            else:
                hh[f] = cur.astype("float64").where(~miss, vals.astype("float64"))
            ctx.notes.append(f"{f} ({zh[f]}): {int(miss.sum())} empty cell(s) filled from the member sheet")
    return hh


# --------------------------------------------------------------------------- main entry point
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


def read_panel(
    source: Source | None,
    members: Source | None = None,
    *,
    sheet: str | int | None = None,
    member_sheet: str | int | None = None,
    lines: str | os.PathLike | pd.DataFrame | None = None,
    province: str | None = None,
    salt: str | None = None,
    count_weak_labor: bool = False,
    errors: Literal["raise", "warn"] = "raise",
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read a monitoring export into the canonical household-year frame and validate it.

    Parameters
    ----------
    source : path, DataFrame or None
        Household table: ``.xlsx/.xlsm/.xls`` (sheet chosen with ``sheet``, or the
        sheet whose headers match the contract best), ``.csv/.txt`` (UTF-8, UTF-8
        with BOM or GBK/GB18030, detected), ``.parquet`` or a DataFrame. Title rows
        above the header are skipped (the header is the first row where at least
        three cells are contract headers). ``None`` when ``members`` holds
        household fields repeated on each member row.
    members : path, DataFrame or None
        Member table (one row per person and year), in any of the same forms.
    sheet, member_sheet : str or int, optional
        Sheet name or 0-based index of the household / member table; ``member_sheet``
        alone reads the members from the workbook ``source``.
    lines : path or DataFrame, optional
        Monitoring-line table (province, year, line); default ``data_schema/monitoring_lines.csv``.
    province : str, optional
        Province for rows whose ``province`` is empty (fills the column and selects the line).
    salt : str, optional
        Salt for hashing household ids that are ID-card or phone numbers; default the
        ``FANPIN_SALT`` environment variable, else a random salt for this call (the
        report warns that ids then differ between calls).
    count_weak_labor : bool, default False
        Count 弱劳动力或半劳动力 members as labour in ``n_labor``.
    errors : {"raise", "warn"}
        ``"raise"`` stops with :class:`~fanpin_risk.errors.ContractError` (naming the
        fields and the fix) when an error is found; ``"warn"`` keeps every row and
        lists the errors in the report.

    Returns
    -------
    (pandas.DataFrame, ValidationReport)
        Canonical frame: every contract field in contract order, canonical dtypes,
        sorted by (household_id, year), index 0..n-1; unknown columns are not in it
        (see ``report.extras``). The report lists issues, the header mapping,
        dropped PII columns, unknown columns and notes.

    Notes
    -----
    Values: booleans 是/否 (spaces ignored), true/false, 1/0, Y/N, √/×; numbers with
    thousands separators, full-width digits and units (``1,200元``, ``3人``, ``1.2万元``);
    months as 202103, 2021-03, 2021年3月 or a date; code values lose inner spaces
    (``脱贫 户`` → ``脱贫户``) and values outside the code lists are warned about and
    kept. ``是否危房户`` is read as the negation of ``housing_safe``.

    Household fields repeated on member rows give the household rows when
    ``source`` is None (first non-empty value; 享受低保 / 特困供养: any member) and
    otherwise fill absent or empty household fields.

    Member aggregation (fills household fields that are missing; when both exist and
    disagree the household value is kept and a ``member_mismatch`` warning is given):
    household_size = number of members; n_labor = labor_skill in {技能劳动力, 普通劳动力}
    (+ 弱劳动力或半劳动力 with ``count_weak_labor``); n_migrant_workers = work_months > 0;
    migrant_work_months = sum of work_months, each clipped to 0..12 (flagged when out
    of range); n_elderly = age ≥ 65; n_children = age < 16; n_students = school_status
    set and not 学龄前儿童; n_disabled / n_chronic_ill / n_serious_ill = health_status
    contains 残疾 / 长期慢性病 / 患有大病 (multi-select joined by , ， 、 ;); age = year −
    birth year, from 出生日期 or, when absent, the ID-card number (read before the
    column is dropped); medical_insured = every member insured; public_welfare_job =
    any member with public_welfare_job_months > 0.

    Derived: net_income_per_capita = (wage + business − business expense + property
    + transfer) / household_size where empty; newly_identified = identification
    month in the row's year where empty; monitoring_line from
    :func:`fanpin_risk.contract.lookup_line` (own → (province, year) → national →
    :class:`~fanpin_risk.errors.MissingLineError`).

    PII: ID-card, phone and name columns are dropped (``report.dropped_columns``);
    see :mod:`fanpin_risk.privacy`.
    """
    if errors not in ("raise", "warn"):
        raise ValueError("errors must be 'raise' or 'warn'")
    ctx = _Ctx(errors=errors)
    salt_box: dict[str, Any] = {"salt": salt, "used": False, "random": False}
    if salt_box["salt"] is None:
        salt_box["salt"] = os.environ.get("FANPIN_SALT")
    if not salt_box["salt"]:
        salt_box["salt"] = secrets.token_hex(16)
        salt_box["random"] = True

    if source is None and members is None:
        raise ReadError("read_panel needs a household table (source) or a member table (members=)")
    hh_raw = None
    if source is not None:
        hh_raw = _load(source, sheet, "household_year", "household table", ctx, exclude_sheet=member_sheet)
    mem_raw = None
    if members is not None:
        mem_raw = _load(members, member_sheet, "member", "member table", ctx)
    elif member_sheet is not None:
        if isinstance(source, pd.DataFrame) or source is None:
            raise ReadError("member_sheet= needs a workbook as source; pass members= for a separate table")
        mem_raw = _load(source, member_sheet, "member", "member table", ctx)

    # household table
    extras = None
    hh = None
    if hh_raw is not None:
        mapping, unknown = _map_headers(hh_raw, "household_year", "household table", ctx)
        hh_raw, mapping, _ = _scrub_table(hh_raw, mapping, "household table", salt_box, ctx)
        unknown = [c for c in unknown if c in hh_raw.columns]
        ctx.unknown += [str(c) for c in unknown]
        ctx.header_map.update({str(c): f.lstrip("!") for c, f in mapping.items()})
        hh = hh_raw[list(mapping)].copy()
        hh.columns = [mapping[c].lstrip("!") for c in mapping]
        # text in the canonical str dtype at once: to_canonical_dtypes keeps it as it is
        hh = _clean(hh, "household_year", "household table", ctx, canonical_text=True)
        for c, f in mapping.items():
            if f.startswith("!"):
                hh[f[1:]] = ~hh[f[1:]].astype("boolean")
                ctx.notes.append(f"{f[1:]} read as the negation of {c!r} (是 → False)")
        extras = hh_raw[unknown].copy() if unknown else None
        if extras is not None and "household table" in ctx.arrow_text:
            extras = extras.astype(object)
        if unknown:
            ctx.notes.append(f"household table: {len(unknown)} column(s) outside the contract kept aside in report.extras")
        hh_raw = None  # all read from it: free the raw columns before the member table is read

    # member table
    agg = None
    if mem_raw is not None:
        mmap, munknown = _map_headers(mem_raw, "member", "member table", ctx, extra_table="household_year")
        birth_col = next((c for c in munknown if contract.normalize_header(c) in {contract.normalize_header(b) for b in BIRTH_HEADERS}), None)
        mem_raw, mmap, birth_id = _scrub_table(mem_raw, mmap, "member table", salt_box, ctx, keep_id_birth=True)
        munknown = [c for c in munknown if c in mem_raw.columns and c != birth_col]
        ctx.unknown += [f"member table: {c}" for c in munknown]
        ctx.header_map.update({f"member table: {c}": (f if f.startswith("hh:") else "member." + f) for c, f in mmap.items()})
        m = mem_raw[list(mmap)].copy()
        m.columns = [("hh__" + f[3:].lstrip("!")) if f.startswith("hh:") else f for f in mmap.values()]
        for need in ("household_id", "year"):
            if need not in m.columns and "hh__" + need in m.columns:
                m = m.rename(columns={"hh__" + need: need})
        missing = [f for f in ("household_id", "year") if f not in m.columns]
        if missing:
            raise ContractError(
                f"member table lacks {', '.join(f'{f} ({contract.zh_headers()[f]})' for f in missing)}; "
                "each member row needs the household id and the year to be aggregated"
            )
        m = _clean(m, "member", "member table", ctx, member=True)
        hh_cols = [c for c in m.columns if c.startswith("hh__")]
        if hh_cols:
            sub = m[hh_cols].copy()
            sub.columns = [c[4:] for c in hh_cols]
            sub = _clean(sub, "household_year", "member table", ctx)
            for c in hh_cols:
                m[c] = sub[c[4:]]
            for c, f in mmap.items():
                if f.startswith("hh:!"):
                    m["hh__" + f[4:]] = ~m["hh__" + f[4:]].astype("boolean")
        if birth_id is not None:
            birth_id = birth_id.reindex(m.index)
        if birth_col is not None:
            m["_birth"] = mem_raw[birth_col]
        agg = _aggregate_members(m, birth_id, "_birth" if birth_col is not None else None, count_weak_labor, ctx)
        hh_vals = None
        if hh_cols:
            grp = m.groupby(["household_id", "year"], sort=False, dropna=False)
            hh_vals = grp[hh_cols].first()
            for c in ("hh__receives_dibao", "hh__receives_tekun"):
                if c in hh_cols:  # a member receiving it makes the household a recipient
                    hh_vals[c] = m[c].astype("boolean").fillna(False).groupby(
                        [m["household_id"], m["year"]], sort=False, dropna=False).any().astype("boolean")
            hh_vals.columns = [c[4:] for c in hh_cols]
            hh_vals = hh_vals.drop(columns=[c for c in ("household_id", "year") if c in hh_vals.columns])
        if hh is None:
            hh = m[["household_id", "year"]].drop_duplicates().reset_index(drop=True)
            if hh_vals is not None:
                hh = hh.join(hh_vals, on=["household_id", "year"])
            ctx.notes.append(f"no household table: {len(hh)} household-year row(s) built from the member rows")
        elif hh_vals is not None and len(hh_vals.columns):
            idx = pd.MultiIndex.from_arrays([hh["household_id"], hh["year"]])
            for f in hh_vals.columns:
                vals = hh_vals[f].reindex(idx)
                vals.index = hh.index
                if f not in hh.columns:
                    hh[f] = vals
                    ctx.notes.append(f"{f} ({contract.zh_headers()[f]}) taken from the member rows (absent from the household table)")
                else:
                    miss = hh[f].isna() & vals.notna()
                    if miss.any():
                        hh[f] = hh[f].where(~miss, vals)
                        ctx.notes.append(f"{f} ({contract.zh_headers()[f]}): {int(miss.sum())} empty cell(s) taken from the member rows")

    assert hh is not None
    hh = hh.reset_index(drop=True) if source is None else hh
    if agg is not None:
        hh = _merge_members(hh, agg, ctx)

    # province default
    if province is not None:
        if "province" not in hh.columns:
            hh["province"] = province
            ctx.notes.append(f"province set to {province!r} for all rows")
        elif hh["province"].isna().any():
            k = int(hh["province"].isna().sum())
            hh["province"] = hh["province"].where(hh["province"].notna(), province)
            ctx.notes.append(f"province set to {province!r} for {k} row(s) without one")

    # required fields
    zh = contract.zh_headers()
    for f in contract.required_fields():
        if f in hh.columns:
            continue
        accepted = ", ".join([zh[f], f, *contract.fields().set_index("field").at[f, "aliases"]])
        fix = ("add the column or pass members= to derive it from the member sheet" if f == "household_size"
               else f"add the column (accepted headers: {accepted})")
        msg = f"required field {f} ({zh[f]}) is missing; {fix}"
        if errors == "raise":
            raise ContractError(msg)
        ctx.issue(field=f, value=None, rule="missing_column", level="error", message=msg)
        hh[f] = np.nan

    # derivations
    hh = _derive(hh, ctx)
    for f in contract.field_names():
        if f not in hh.columns:
            hh[f] = np.nan
    hh = _fill_lines(hh, lines, province, ctx)
    hh = hh[contract.field_names()]
    hh = contract.to_canonical_dtypes(hh)

    # sort, keep track of the original rows
    order = hh.sort_values(["household_id", "year"], kind="stable", na_position="last").index
    # positions of the issues raised while reading (only built when some issue needs them)
    pos_of = {old: new for new, old in enumerate(order)} if any(it["_row"] is not None for it in ctx.issues) else {}
    hh = hh.loc[order].reset_index(drop=True)
    if extras is not None:
        extras = extras.loc[order].reset_index(drop=True)
        extras.insert(0, "year", hh["year"])
        extras.insert(0, "household_id", hh["household_id"])
    key_pos = ({k: i for i, k in enumerate(zip(hh["household_id"], hh["year"]))}
               if any(it["_key"] is not None for it in ctx.issues) else {})

    if salt_box["used"] and salt_box["random"]:
        ctx.issue(field="household_id", value=None, rule="random_salt", level="warning",
                  message="household ids were hashed with a random salt: they differ between calls; "
                          "pass salt= or set FANPIN_SALT to keep them stable")

    report = validate(hh, lines=lines, _province=province)
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
    read_issues = pd.DataFrame(rows, columns=_empty_issues().columns) if rows else _empty_issues()
    val = report.issues
    if len(read_issues) and len(val):
        parsed = set(zip(read_issues.loc[read_issues["rule"] == "parse", "row"], read_issues.loc[read_issues["rule"] == "parse", "field"]))
        dup = [(r, f) in parsed for r, f in zip(val["row"], val["field"])]
        val = val[~((val["rule"] == "required") & pd.Series(dup, index=val.index))]
    report.issues = _concat_issues(read_issues, val)
    report.dropped_columns = dict(ctx.dropped)
    report.unknown_columns = list(ctx.unknown)
    report.header_map = dict(ctx.header_map)
    report.notes = ctx.notes + report.notes
    if salt_box["used"] and salt_box["random"]:
        report.notes.append("household ids hashed with a random per-call salt (no salt= and no FANPIN_SALT)")
    report.extras = extras

    if errors == "raise" and not report.ok:
        raise ContractError(_error_message(report))
    return hh, report


def _concat_issues(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    parts = [x for x in (a, b) if len(x)]
    if not parts:
        return _empty_issues()
    out = pd.concat([p.astype(object) for p in parts], ignore_index=True)
    out["row"] = pd.array(out["row"], dtype="Int64")
    out["year"] = pd.array(pd.to_numeric(out["year"], errors="coerce"), dtype="Int64")
    return out


def _error_message(report: ValidationReport) -> str:
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
            + "\nFix the export, or pass errors='warn' to keep the rows and get the full report.")


def _derive(hh: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    comps = ["income_wage", "income_business", "income_transfer", "household_size"]
    if all(c in hh.columns for c in comps):
        num = (hh["income_wage"].astype("float64") + hh["income_business"].astype("float64")
               + hh["income_transfer"].astype("float64"))
        for c, sign in (("expense_business", -1.0), ("income_property", 1.0)):
            if c in hh.columns:
                num = num + sign * hh[c].astype("float64").fillna(0.0)
        size = pd.to_numeric(hh["household_size"], errors="coerce").astype("float64")
        pc = num / size.where(size > 0)
        if "net_income_per_capita" not in hh.columns:
            hh["net_income_per_capita"] = pc
            ctx.notes.append(f"net_income_per_capita (人均纯收入) derived from the income components for "
                             f"{int(pc.notna().sum())} row(s) (column absent)")
        else:
            cur = hh["net_income_per_capita"].astype("float64")
            fill = cur.isna() & pc.notna()
            if fill.any():
                hh["net_income_per_capita"] = cur.where(~fill, pc)
                ctx.notes.append(f"net_income_per_capita (人均纯收入) derived for {int(fill.sum())} row(s) with an empty cell")
    if "identification_month" in hh.columns and "year" in hh.columns:
        im = pd.to_numeric(hh["identification_month"], errors="coerce").astype("Float64")
        yr = pd.to_numeric(hh["year"], errors="coerce").astype("Float64")
        new = ((im // 100) == yr).fillna(False).astype("boolean").where(yr.notna(), pd.NA)
        if "newly_identified" not in hh.columns:
            hh["newly_identified"] = new
            ctx.notes.append("newly_identified (当年新识别) derived from identification_month (column absent)")
        else:
            cur = hh["newly_identified"].astype("boolean")
            fill = cur.isna() & new.notna()
            if fill.any():
                hh["newly_identified"] = cur.where(~fill, new)
                ctx.notes.append(f"newly_identified (当年新识别) derived for {int(fill.sum())} row(s) with an empty cell")
    return hh


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
    own = pd.to_numeric(hh["monitoring_line"], errors="coerce").astype("float64")
    has_own = own.gt(0)
    try:
        line = _lookup_line(hh, lines, province)
    except MissingLineError:
        if ctx.errors == "raise":
            raise
        line = pd.Series(np.nan, index=hh.index, dtype="float64")
        yrs = pd.to_numeric(hh["year"], errors="coerce")
        for y, sub in hh.groupby(yrs, dropna=False):
            try:
                line.loc[sub.index] = contract.lookup_line(sub, lines, default_province=province)
            except MissingLineError as exc:
                for i in sub.index:
                    ctx.issue(field="monitoring_line", value=None, rule="missing_line", level="error", row=i,
                              message=str(exc))
    n = int((~has_own & line.notna()).sum())
    if n:
        ctx.notes.append(f"monitoring_line (监测标准) filled for {n} row(s) from the (province, year) / national line table")
    hh["monitoring_line"] = line
    return hh
