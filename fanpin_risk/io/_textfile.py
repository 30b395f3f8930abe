"""Text exports (CSV, TSV, "Unicode text" saved from Excel): encoding, line endings, delimiter, parsing.

Encodings: UTF-8 (with or without BOM), GBK/GB18030 (decided line by line, so a
file concatenated from two exports is not turned into mojibake) and UTF-16 (what
Excel writes as "Unicode text"). Line endings: LF, CRLF, CR alone (old Mac
exports) or mixed. Delimiters: comma, tab, semicolon, vertical bar or full-width
comma, chosen by which one splits the first rows into contract headers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv

from fanpin_risk.errors import ReadError

from ._context import _Ctx
from ._headers import _SCAN_ROWS, _header_row
from ._rows import _frame_from_grid

_DELIMITERS = (",", "\t", ";", "|", "，")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar", "，": "full-width comma (，)"}
#: Characters of the file's start looked at to choose the delimiter.
_HEAD_CHARS = 262_144
#: The csv module's field limit while a file with a cell over its default (128 KB) is read.
_FIELD_MAX = 2**31 - 1
_NOT_BLANK = re.compile(r"[^\s,;|\ufeff]")


# --------------------------------------------------------------------------- bytes → text
def _decode(data: bytes, label: str, ctx: _Ctx) -> str:
    """The text of ``data`` with LF line endings, its encoding and line endings noted."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_guess(data):
        return _decode_utf16(data, label, ctx)
    data = _lf_bytes(data, label, ctx)
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


def _lf_bytes(data: bytes, label: str, ctx: _Ctx) -> bytes:
    """``data`` with CRLF and lone CR line endings as LF.

    Safe on UTF-8 and GB18030 bytes alike: neither uses 0x0D or 0x0A inside a
    multi-byte character. A lone CR would otherwise end up inside a cell, and the
    csv module refuses it ("new-line character seen in unquoted field").
    """
    if b"\r" not in data:
        return data
    crlf = data.count(b"\r\n")
    out = data.replace(b"\r\n", b"\n")
    if b"\r" in out:
        ctx.notes.append(f"{label}: line endings {'mixed (CRLF and CR)' if crlf else 'CR only (old Mac format)'}; "
                         "read as line breaks")
        out = out.replace(b"\r", b"\n")
    return out


def _utf16_guess(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: most ASCII characters then have a zero byte beside them."""
    head = data[:4000]
    if len(head) < 8 or b"\x00" not in head:
        return False
    even, odd = head[0::2], head[1::2]
    return max(even.count(0) / len(even), odd.count(0) / max(1, len(odd))) > 0.3


def _decode_utf16(data: bytes, label: str, ctx: _Ctx) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    else:  # no BOM: the zero bytes tell the byte order (ASCII 'a' is 61 00 in little-endian)
        enc = "utf-16-le" if data[1:4000:2].count(0) >= data[0:4000:2].count(0) else "utf-16-be"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise ReadError(f"{label}: the file looks like UTF-16 text (Excel's \"Unicode text\") but byte {exc.start + 1} "
                        "cannot be decoded; the file is damaged. Re-export it, or save it as UTF-8 CSV or .xlsx"
                        ) from None
    text = text.removeprefix("\ufeff")
    ctx.notes.append(f"{label}: text encoding UTF-16 (Excel \"Unicode text\")")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


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
                f"of the line); the file is damaged or in another encoding (Big5, UTF-16 ...). Re-export it, "
                "or save it as UTF-8 CSV or .xlsx"
            ) from None
    return out, n_utf8, n_gbk


# --------------------------------------------------------------------------- rows of text
def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` as iterating ``io.StringIO(text)`` gives them, without copying the text."""
    start = 0
    while start < len(text):
        end = text.find("\n", start) + 1 or len(text)
        yield text[start:end]
        start = end


@contextmanager
def _large_fields() -> Iterator[None]:
    # The csv module's only knob for its 128 KB cell limit is process-wide: raised for
    # this read and put back at once.
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, _FIELD_MAX))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_rows(text: str, delim: str, label: str, n: int | None = None) -> list[list[str]]:
    """The first ``n`` rows (all when None) of ``text`` as the csv module reads them."""
    def read() -> list[list[str]]:
        rows = csv.reader(_lines(text), delimiter=delim)
        return list(rows) if n is None else [r for _, r in zip(range(n), rows)]
    try:
        try:
            return read()
        except csv.Error as exc:
            if "field larger than field limit" not in str(exc):
                raise
        with _large_fields():
            return read()
    except csv.Error as exc:
        raise ReadError(f"{label}: cannot be read as delimited text ({exc}); save it again as CSV UTF-8 "
                        "from Excel, or as .xlsx") from None


def _padded(rows: list[list[str]]) -> pd.DataFrame:
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _delimiter(text: str, table: str, label: str) -> str:
    """The delimiter that splits the first rows into the most contract headers (comma when none is seen)."""
    head = text[:_HEAD_CHARS]
    end = 0
    for _ in range(_SCAN_ROWS):
        nxt = head.find("\n", end)
        if nxt < 0:
            break
        end = nxt + 1
    head = head[:end] if end else head
    present = [d for d in _DELIMITERS if d in head]
    if len(present) <= 1:
        return present[0] if present else ","

    def score(d: str) -> tuple[int, int]:
        rows = _csv_rows(head, d, label)
        _, best = _header_row(_padded(rows), table)
        counts = [len(r) - 1 for r in rows if len(r) > 1]
        steady = max((counts.count(c) for c in set(counts)), default=0)
        return best, steady

    scores = {d: score(d) for d in present}
    return max(present, key=lambda d: (*scores[d], -_DELIMITERS.index(d)))


# --------------------------------------------------------------------------- text → raw table
def _frame_from_text(text: str, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    # Find the header on the first rows with the csv module, then let Arrow's parser (plain
    # files) or pandas' C parser read the body; ragged rows fall back to the csv module for
    # the whole file.
    if not _NOT_BLANK.search(text):
        raise ReadError(f"{label} is empty (no rows)")
    delim = _delimiter(text, table, label)
    if delim != ",":
        ctx.notes.append(f"{label}: fields separated by {_DELIMITER_NAMES[delim]}")
    grid = _padded(_csv_rows(text, delim, label, _SCAN_ROWS))
    if grid.empty:
        raise ReadError(f"{label} is empty")
    i, _best = _header_row(grid, table)
    if i is not None and delim.isascii():
        body = _plain_csv_body(text, i, delim)
        if body is None:  # quotes, CR or ragged rows: pandas (Arrow reads no quotes, so no cell spans lines)
            body = _pandas_csv_body(text, i, delim)
            if body is not None:
                _check_spanning_cells(body, text, i, delim, label)
        if body is not None:
            ctx.arrow_text.add(label)
            return _frame_from_grid(body, table, label, ctx, skipped=i)
    grid = _padded(_csv_rows(text, delim, label))
    _check_spanning_cells(grid, text, 0, delim, label)
    if i is None and _header_row(grid, table)[0] is None:
        _, best = _header_row(grid, table)
        raise ReadError(f"{label}: no header row found in the first {_SCAN_ROWS} rows (best row matched {best} "
                        "contract header(s)); if the headers look garbled, the file is in another encoding than "
                        "UTF-8, GBK or UTF-16 (Big5 ...): save it as CSV UTF-8 or .xlsx; otherwise the header needs "
                        "columns such as 户编号, 年度, 县代码 or their English names")
    return _frame_from_grid(grid, table, label, ctx)


def _check_spanning_cells(body: pd.DataFrame, text: str, skip: int, delim: str, label: str) -> None:
    """Refuse a file where a quoted cell swallows the rows below it (a quote opened and never closed).

    A cell may hold line breaks (a note typed over two lines), but one whose lines
    hold as many delimiters as a row has is rows of the file read as one cell: they
    would be lost without a word.
    """
    if '"' not in text:
        return
    n_lines = text.count("\n") + (not text.endswith("\n"))
    if skip + len(body) >= n_lines or body.shape[1] < 2:
        return  # every line is a row of its own
    need = max(1, (body.shape[1] - 1) // 2)
    for j in range(body.shape[1]):
        col = body.iloc[:, j]
        multi = col.astype(object).str.contains("\n", regex=False, na=False).to_numpy(dtype=bool)
        for k in np.flatnonzero(multi):
            inner = str(col.iat[k]).split("\n")
            if any(line.count(delim) >= need for line in inner[1:]):
                raise ReadError(
                    f"{label}: the cell in row {skip + k + 1}, column {j + 1} runs over {len(inner) - 1} line(s) that "
                    "look like rows of the table: a quote (\") opens it and is not closed where the cell should end, "
                    "so those rows would be lost inside it. Remove the stray quote, or save the file again from "
                    "Excel as CSV UTF-8"
                )


def _pandas_csv_body(text: str, skip: int, delim: str) -> pd.DataFrame | None:
    """The body pandas' C parser reads after ``skip`` rows (``dtype=str``, no NA filter); None if it cannot."""
    try:
        # pandas feeds a StringIO to the C parser as these UTF-8 bytes; passing them
        # directly spares a 4-bytes-per-character copy of the text.
        return pd.read_csv(io.BytesIO(text.encode("utf-8")), sep=delim, skiprows=skip, header=None,
                           dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False)
    except (pd.errors.ParserError, ValueError, UnicodeError):
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
    except (pa.ArrowException, UnicodeError):
        return None
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # what read_csv(dtype=str) gives
    return pd.DataFrame({j: pd.arrays.ArrowStringArray(table.column(j), dtype=dtype) for j in range(width)})

