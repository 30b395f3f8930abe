"""Body rows of a sheet: the header applied, and the rows that are not households set aside.

County sheets hold more than household rows: total rows (合计/总计/小计/汇总), a
footer under the table (填表人, 审核人, 联系电话, 制表日期, 单位盖章 ...), header rows
repeated where blocks were pasted together, and block titles above them. Each is
recognised wherever it stands, flagged in the report with its row number (never
with its text: a footer holds names and phone numbers) and never turned into a
household. Every other row is kept.

Rows are tested cheaply first: only rows whose first cells, key or year cell look
like such a label, or whose year cell is not a year, are looked at whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk import contract
from fanpin_risk.errors import ReadError

from ._context import SOURCE_ROW, _Ctx
from ._headers import _SCAN_ROWS, _header_row, _match_header, _merge_header_rows, _score_row
from ._values import _isna, _isna_text, _na_mask, _np, _take, _text_codes

#: Where a row stands, for messages: row position in the sheet → "row 12 of sheet '2023年'".
Where = Callable[[int], str]

# 合计, 全县合计, 城关镇小计, 总计：, 合计：56户, 合计56户 (never 小计村001: a key)
_TOTAL = re.compile(r"[\u4e00-\u9fff]{0,8}(合计|总计|小计|汇总)(?:[:：][\d.,]*[户人]?|[\d.,]+[户人])?")
# Labels that start a footer cell whatever follows ("填表人张三", "审核人：李四") ...
_FOOTER_STRONG = ("填表人|填报人|制表人|统计人|审核人|审批人|复核人|核实人|单位负责人|负责人|分管领导|经办人|"
                  "制表日期|填表日期|填报日期|报送日期|统计日期|单位盖章|单位\\(盖章\\)|填报单位|制表单位|填表单位|报送单位")
# ... and words that are a footer only as a label (followed by a colon or alone in the cell).
_FOOTER_WEAK = "联系电话|联系方式|电话|联系人|日期|注|说明|备注|签字|签名|盖章|审核"
_FOOTER = re.compile(rf"(?:{_FOOTER_STRONG})|(?:{_FOOTER_WEAK})(?:[:：]|$)")
_TITLE_WORDS = re.compile(r"表|名单|清单|信息|情况|统计|台账|续")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# ASCII text that can be a header cell: an English field name (letters, no digits); Han text is tested anyway.
_MAYBE_HEADER = r"^[A-Za-z_ ]{2,40}$"
#: Rows without a year looked at whole, at most (the first and the last half of them): beyond, the cheap tests only.
_DEEP_MAX = 50_000


def _norm(v: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))


def _is_total(u: Any) -> bool:
    return isinstance(u, str) and bool(_TOTAL.fullmatch(_norm(u)))


def _is_footer(u: Any) -> bool:
    return isinstance(u, str) and bool(_FOOTER.match(_norm(u)))


def _is_year(u: Any) -> bool:
    """Whether a year cell holds a year (1900–2100, ``2023``, ``2023.0``, ``2023年``, ``2023年度``)."""
    if isinstance(u, bool | np.bool_):
        return False
    if isinstance(u, int | np.integer):  # Python ints beyond int64 too
        return 1900 <= u <= 2100
    if isinstance(u, float | np.floating):
        return bool(np.isfinite(u)) and float(u).is_integer() and 1900 <= u <= 2100
    t = _norm(u).removesuffix("年度").removesuffix("年")
    try:
        y = float(t)
    except ValueError:
        return False
    return y.is_integer() and 1900 <= y <= 2100


# --------------------------------------------------------------------------- header and body
def _frame_from_grid(grid: pd.DataFrame, table: str, label: str, ctx: _Ctx, skipped: int = 0,
                     where: Where | None = None) -> pd.DataFrame:
    """The table in ``grid`` (cells as read, no header): header found and applied, odd rows set aside.

    ``skipped`` rows of the file were above ``grid``; notes give file row numbers
    (``where`` words them, e.g. with the sheet name).
    """
    if grid.empty:
        raise ReadError(f"{label} is empty")
    where = where or (lambda k: f"row {k + skipped + 1}")
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
    body, first_na = _set_aside(body, cells, table, label, ctx, where)
    body = _drop_blank_rows(body, label, ctx, first_na)
    empty_cols = [c for j, c in enumerate(body.columns) if c.startswith("unnamed_") and _na_mask(body.iloc[:, j]).all()]
    body = body.drop(columns=empty_cols)
    if ctx.row_numbers:  # the row number as the report words it (row k of the file, of the sheet)
        body[SOURCE_ROW] = np.asarray(body.index, dtype=np.int64) + skipped + 1
    return body.reset_index(drop=True)


def _drop_blank_rows(body: pd.DataFrame, label: str, ctx: _Ctx, first_na: np.ndarray | None = None) -> pd.DataFrame:
    # A row is blank when every cell is missing: each column is tested only on the rows
    # still blank so far (after the first column, usually none). ``first_na``: the first
    # column's test, when already made.
    blank = np.ones(len(body), dtype=bool)
    for j in range(body.shape[1]):
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        if j == 0 and first_na is not None:
            blank = first_na.copy()
            continue
        blank[rows] = _na_mask(body.iloc[rows, j]).to_numpy()
    if blank.any():
        ctx.notes.append(f"{label}: {int(blank.sum())} empty row(s) skipped")
        body = body[~blank]
    return body


# --------------------------------------------------------------------------- rows that are no households
def _set_aside(body: pd.DataFrame, header: list, table: str, label: str, ctx: _Ctx,
               where: Where) -> tuple[pd.DataFrame, np.ndarray | None]:
    """``body`` without its total, footer, repeated-header and title rows, each flagged in ``ctx``.

    Blocks below a repeated header with another column order are aligned to the
    first header. The index of ``body`` holds row positions (``where`` words them).
    Also returns which kept rows have an empty first cell (None when not tested).
    """
    if body.empty:
        return body, None
    kinds, first_na = _row_kinds(body, header, table)
    if not kinds:
        return body, first_na
    heads = sorted(p for p, k in kinds.items() if k == "header")
    if heads and not isinstance(body.columns, pd.MultiIndex):
        aligned = _align_blocks(body, header, heads, table, label, ctx, where)
        if aligned is not body:  # cells moved between columns: the first column is tested anew
            body, first_na = aligned, None
    _flag_rows(kinds, body.index, label, ctx, where)
    keep = np.ones(len(body), dtype=bool)
    keep[list(kinds)] = False
    return body[keep], (first_na[keep] if first_na is not None else None)


def _row_kinds(body: pd.DataFrame, header: list, table: str) -> tuple[dict[int, str], np.ndarray | None]:
    """Position → ``"total"``, ``"footer"``, ``"header"`` or ``"title"`` for the rows that are no households.

    Also returns the rows whose first cell is empty (for the blank-row test).
    """
    key_col = _column_of(header, table, "household_id")
    year_col = _column_of(header, table, "year")
    probes = list(dict.fromkeys([*range(min(3, body.shape[1])), *(c for c in (key_col, year_col) if c is not None)]))
    known = _header_words(header, table)
    kinds: dict[int, str] = {}
    suspects = np.zeros(len(body), dtype=bool)
    found = {}
    for j in probes:
        pr = found[j] = _probe(body.iloc[:, j], known, year=j == year_col, na=j in (0, key_col))
        for p in np.flatnonzero(pr["total"]):
            kinds.setdefault(int(p), "total")
        for p in np.flatnonzero(pr["footer"]):
            kinds.setdefault(int(p), "footer")
        suspects |= pr["header"]
    need = min(3, max(1, len(header)))
    for p in np.flatnonzero(suspects):
        if int(p) not in kinds and _score_row(list(body.iloc[p]), table) >= need:
            kinds[int(p)] = "header"
    no_year = ~found[year_col]["year"] if year_col is not None else None
    no_key = found[key_col]["na"] if key_col is not None else None
    for p in _deep_rows(body, no_year, no_key, kinds):
        k = _deep_kind(list(body.iloc[p]), body.shape[1], keyed=no_key is not None and not no_key[p])
        if k is not None:
            kinds[int(p)] = k
    _titles(body, kinds)
    return kinds, (found[0]["na"] if 0 in found else None)


def _column_of(header: list, table: str, fld: str) -> int | None:
    return next((j for j, h in enumerate(header) if _match_header(h, table) == fld), None)


def _header_words(header: list, table: str) -> frozenset[str]:
    """Spellings a repeated header cell may have: this header's cells and the contract's headers."""
    words = {_norm(h) for h in header if not _isna(h)}
    words |= set(contract.header_map(table))
    return frozenset(words)


def _probe(col: pd.Series, known: frozenset[str], year: bool, na: bool) -> dict[str, np.ndarray | None]:
    """Per row of ``col``: a total label, a footer label, a header word; with ``na`` missing, with ``year`` a year.

    Each distinct value is tested once; ASCII text is never a Chinese label, and
    only English field names (letters, no digits) can be a header word there.
    """
    n = len(col)
    out: dict[str, np.ndarray | None] = {k: np.zeros(n, dtype=bool) for k in ("total", "footer", "header")}
    if col.dtype.kind in "biufcmM" or isinstance(col.dtype, pd.CategoricalDtype):
        out["na"] = col.isna().to_numpy(dtype=bool) if na else None
        out["year"] = _year_numbers(col) if year else None
        return out
    enc = _text_codes(col)
    if enc is not None:
        codes, uniq = enc
        odd = ~_np(pc.string_is_ascii(uniq)) | _np(pc.match_substring_regex(uniq, _MAYBE_HEADER))
        idx = np.flatnonzero(odd)
        vals = uniq.take(pa.array(idx)).to_pylist() if len(idx) else []
        na_u = _isna_text(uniq) if na else None
        all_vals = uniq.to_pylist() if year else None
    else:
        codes, uniq = pd.factorize(col.to_numpy(dtype=object))
        idx = np.array([k for k, u in enumerate(uniq) if isinstance(u, str)], dtype=np.intp)
        vals = [uniq[k] for k in idx]
        na_u = np.array([_isna(u) for u in uniq], dtype=bool) if na else None
        all_vals = list(uniq) if year else None
    per = np.zeros((3, len(uniq)), dtype=bool)
    for k, u in zip(idx, vals):
        t = _norm(u)
        per[0, k] = bool(_TOTAL.fullmatch(t))
        per[2, k] = t in known or t.lower() in known
        # a cell spelt as a header of this table is no footer label ("备注" above its column)
        per[1, k] = not (per[0, k] or per[2, k]) and bool(_FOOTER.match(t))
    for r, name in enumerate(("total", "footer", "header")):
        if per[r].any():
            out[name] = _take(per[r], codes, False)
    out["na"] = _take(na_u, codes, True) if na else None
    out["year"] = _take(np.array([_is_year(u) for u in all_vals], dtype=bool), codes, False) if year else None
    return out


def _year_numbers(col: pd.Series) -> np.ndarray:
    """Per row of a numeric column: a whole number in 1900–2100."""
    if col.dtype.kind not in "iuf":
        return np.zeros(len(col), dtype=bool)
    v = col.to_numpy(dtype="float64", na_value=np.nan)
    return np.isfinite(v) & (v == np.trunc(v)) & (v >= 1900) & (v <= 2100)


def _deep_rows(body: pd.DataFrame, no_year: np.ndarray | None, no_key: np.ndarray | None,
               kinds: dict[int, str]) -> np.ndarray:
    """Rows to look at whole: without a year (or, with no year column, a key), sparse or without a key."""
    bad = no_year if no_year is not None else no_key
    if bad is None:
        return np.array([], dtype=np.intp)
    bad = bad.copy()
    if kinds:
        bad[list(kinds)] = False
    rows = np.flatnonzero(bad)
    if not len(rows):
        return rows
    if len(rows) > _DEEP_MAX:  # a year column in a form not read as years: footers stand last, titles first
        rows = np.concatenate([rows[:_DEEP_MAX // 2], rows[-(_DEEP_MAX // 2):]])
    filled = np.zeros(len(rows), dtype=np.int64)
    for j in range(body.shape[1]):
        s = body.iloc[rows, j]
        filled += (~(s.isna() | (s.astype(object) == ""))).to_numpy(dtype=bool)
    sparse = filled <= max(3, body.shape[1] // 3)
    keyless = no_key[rows] if no_key is not None else np.zeros(len(rows), dtype=bool)
    return rows[sparse | keyless]


def _deep_kind(cells: list, width: int, keyed: bool) -> str | None:
    """Kind of a row looked at whole: a total or footer label in it, a lone title cell, or None (a household).

    A footer label further right (制表日期 under the last columns) counts only in a
    sparse row without a household key: a household's own note may start with 说明：.
    """
    filled = [c for c in cells if not _isna(c)]
    if not filled:
        return None
    if any(_is_total(c) for c in filled[:4]):
        return "total"
    if _is_footer(filled[0]) or (not keyed and len(filled) <= max(3, width // 3) and any(map(_is_footer, filled))):
        return "footer"
    if _title_like(filled, loose=False):
        return "title"
    return None


def _titles(body: pd.DataFrame, kinds: dict[int, str]) -> None:
    """Mark block titles: rows of one or two text cells just above a repeated header."""
    for p in [p for p, k in kinds.items() if k == "header"]:
        q = p - 1
        while q >= 0 and q not in kinds and _title_like(list(body.iloc[q]), loose=True):
            kinds[q] = "title"
            q -= 1


def _title_like(cells: list, loose: bool) -> bool:
    """A table title: one Han text cell naming a table (表, 名单, 信息, 情况, 续 ...).

    With ``loose`` (just above a repeated header) one or two Han text cells.
    """
    filled = [c for c in cells if not _isna(c)]
    if not filled or len(filled) > (2 if loose else 1) or not all(isinstance(c, str) for c in filled):
        return False
    han = [c for c in filled if _HAN.search(c)]
    if not han:
        return False
    if loose:
        return len(filled) == 1 or not any(_is_year(c) for c in filled)
    return bool(_TITLE_WORDS.search(han[0]))


def _flag_rows(kinds: dict[int, str], index: pd.Index, label: str, ctx: _Ctx, where: Where) -> None:
    """One report issue per row set aside (rule, where it stands; never its text), and a note per kind."""
    seen: dict[str, list[str]] = {}
    for p in sorted(kinds):
        at = where(int(index[p]))
        kind = kinds[p]
        seen.setdefault(kind, []).append(at)
        if kind == "total":
            ctx.issue(field="row", value=at, rule="total_row", level="info",
                      message=f"{label}: {at} is a total row (合计/总计/小计/汇总), not a household; skipped")
        elif kind == "footer":
            ctx.issue(field="row", value=at, rule="footer_row", level="info",
                      message=f"{label}: {at} is a footer (填表人/审核人/联系电话/制表日期 ...), not a household; "
                              "skipped and its text not kept")
        elif kind == "header":
            ctx.issue(field="row", value=at, rule="repeated_header", level="info",
                      message=f"{label}: {at} repeats the header (blocks pasted together); skipped")
        else:
            ctx.issue(field="row", value=at, rule="title_row", level="info",
                      message=f"{label}: {at} is a title inside the table, not a household; skipped")
    words = {"total": "total row(s) (合计/总计/小计/汇总)", "footer": "footer row(s) (填表人/审核人/联系电话 ...)",
             "header": "repeated header row(s)", "title": "title row(s) inside the table"}
    for kind, ats in seen.items():
        more = f" (+{len(ats) - 10} more)" if len(ats) > 10 else ""
        ctx.notes.append(f"{label}: {len(ats)} {words[kind]} skipped at {', '.join(ats[:10])}{more}; "
                         "see the report's issues")


# --------------------------------------------------------------------------- pasted blocks
def _cell_key(c: Any, table: str) -> str | None:
    """What a header cell names: its field, else its text (None when empty)."""
    if _isna(c):
        return None
    return _match_header(c, table) or _norm(c).lower()


def _align_blocks(body: pd.DataFrame, header: list, heads: list[int], table: str, label: str, ctx: _Ctx,
                  where: Where) -> pd.DataFrame:
    """Rows below each repeated header moved to the columns of the first header, matched by field.

    Blocks pasted from another export may order or name their columns differently
    (家庭人口 for 家庭人口数); a column the first header lacks is added. Blocks with the
    same header are left as they are (the usual case: nothing is copied).
    """
    main = [_cell_key(h, table) for h in header]
    pos = {}
    for j, k in enumerate(main):
        if k is not None:
            pos.setdefault(k, j)
    vals = None
    names = [str(c) for c in body.columns]
    for h, end in zip(heads, [*heads[1:], len(body)]):
        keys = [_cell_key(c, table) for c in body.iloc[h]]
        if all(k is None or k == main[j] for j, k in enumerate(keys)):
            continue
        if vals is None:
            vals = body.to_numpy(dtype=object).copy()
        target, taken = [], set()
        for j, k in enumerate(keys):
            t = pos.get(k, -1) if k is not None else (j if main[j] is None else -1)
            if t < 0 or t in taken:
                names.append(f"{body.iat[h, j]}" if k is not None and f"{body.iat[h, j]}" not in names
                             else f"unnamed_{len(names)}")
                vals = np.hstack([vals, np.full((len(vals), 1), None, dtype=object)])
                t = len(names) - 1
            taken.add(t)
            target.append(t)
        block = vals[h + 1:end, :len(keys)].copy()
        vals[h + 1:end, :] = None
        for j, t in enumerate(target):
            vals[h + 1:end, t] = block[:, j]
        ctx.notes.append(f"{label}: the rows below the header repeated at {where(int(body.index[h]))} have "
                         "another column order; their cells were aligned to the first header by column name")
    if vals is None:
        return body
    return pd.DataFrame(vals, index=body.index, columns=names)


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
