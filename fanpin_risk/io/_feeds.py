"""Department feeds (部门筛查预警): lists keyed by ID-card numbers, read into person hashes.

:func:`read_feed` reads a list pushed by a department (医保局, 教育局, 应急管理局,
人社局, 民政局, 残联, 住建局) with the readers of :func:`read_panel`: xlsx/xls/CSV
(UTF-8 or GBK), Chinese headers below title rows or merged cells, totals and
footers set aside, ``万元`` in a header. The kind is detected from the headers
when not given (``data_schema/feeds/*.csv``).

The ID-card number is read only to compute the salted person hash
(:func:`fanpin_risk.contract.person_hash`) and its issue code, then dropped;
names, phone numbers and every other column outside the kind's fields are
dropped too (the report names them, never a value). Text cells of the kept
fields that hold an ID-card or phone number are emptied.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._columns import _clean
from ._context import SOURCE_ROW, _Ctx
from ._sheets import _SHEET_COL
from ._files import Source, _load
from ._headers import _closest_hint, _map_headers, _match_header
from ._pii import _NUMBER, _record_dropped, _row_flags, _safe_name, _Salt

__all__ = ["read_feed", "FeedReport", "FEED_COLUMNS_FIRST", "FEED_COLUMNS_LAST"]

#: Columns of every frame :func:`read_feed` returns: these first, the kind's own fields, then the last ones.
FEED_COLUMNS_FIRST = ("kind", "person_hash", "id_issue", "event_month", "list_month")
FEED_COLUMNS_LAST = ("township", "village", "source_row")
_LABEL = "feed"
# Digits of an ID-card number (15, or 17 and a check character) standing in any text: never let out.
_ID_DIGITS = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9])")
_LONG_DIGITS = re.compile(r"[0-9０-９]{10,}")


@dataclass
class FeedReport:
    """What :func:`read_feed` (or :func:`read_roster`) did: counts and column names, never a value.

    Attributes
    ----------
    table : str
        ``"feed:<kind>"`` or ``"roster"``.
    source : str
        File name (no folder), or ``"DataFrame"``.
    n_rows : int
        Rows returned.
    id_issues : dict
        Issue code of :data:`fanpin_risk.contract.ID_ISSUES` → rows (``""`` → valid).
    kind_detected : bool
        Whether the kind was detected from the headers.
    id_column : str or None
        The header of the ID-card column read (then dropped).
    dropped_columns, unknown_columns, header_map, notes, issues
        Personal-data columns dropped (name → reason), other columns left out,
        raw header → field, notes and row issues (``row``, ``field``, ``rule``,
        ``level``, ``message``), all without values.
    """

    table: str
    source: str
    n_rows: int = 0
    id_issues: dict[str, int] = field(default_factory=dict)
    kind_detected: bool = False
    id_column: str | None = None
    dropped_columns: dict[str, str] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    header_map: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        codes = ", ".join(f"{k or 'ok'}: {v}" for k, v in self.id_issues.items()) or "none"
        lines = [f"{self.table} from {self.source}: {self.n_rows} row(s); ID numbers {codes}"
                 + (" (kind detected from the headers)" if self.kind_detected else "")]
        if self.dropped_columns:
            lines.append("dropped (personal data): " + "; ".join(f"{c}: {r}" for c, r in self.dropped_columns.items()))
        if self.unknown_columns:
            lines.append("left out: " + ", ".join(self.unknown_columns))
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"{i['level']}: {i['message']}" + (f" (row {i['row']})" if i.get("row") is not None else "")
                  for i in self.issues[:20]]
        if len(self.issues) > 20:
            lines.append(f"... {len(self.issues) - 20} more issue(s)")
        return "\n".join(lines)


def _safe_text(text: str) -> str:
    """A message or header fit for the report: long digit runs (numbers of people) masked."""
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group()), str(text))


def _source_name(source: Any) -> str:
    return "DataFrame" if isinstance(source, pd.DataFrame) else _safe_text(Path(source).name)


# --------------------------------------------------------------------------- kinds
def _kind_scores(columns: list) -> dict[str, tuple[int, int]]:
    """Kind → (own fields named by the headers, headers naming another kind's own field)."""
    union = {f for c in columns if (f := _match_header(c, contract.FEEDS)) is not None}
    out = {}
    for kind in contract.feed_kinds()["kind"]:
        own = set(contract.feed_fields(kind)["field"]) - set(contract.FEED_COMMON)
        hits = {f for c in columns if (f := _match_header(c, contract.feed_table(kind))) is not None} & own
        out[kind] = (len(hits), len(union - set(contract.feed_fields(kind)["field"])))
    return out


def _detect_kind(columns: list, source: Any, ctx: _Ctx) -> str:
    """The kind whose own fields the headers name best; ties broken by a kind's Chinese name in the file name."""
    scores = _kind_scores(columns)
    best = max(s[0] - s[1] for s in scores.values())
    tied = [k for k, s in scores.items() if s[0] - s[1] == best]
    if len(tied) > 1 and not isinstance(source, pd.DataFrame):
        names = contract.feed_kinds().set_index("kind")["zh_name"]
        stem = contract.normalize_header(Path(source).stem)
        named = [k for k in tied if contract.normalize_header(names[k]) in stem]
        if len(named) == 1:
            ctx.notes.append(f"{_LABEL}: kind {named[0]!r} taken from the file name ({names[named[0]]}); "
                             f"the headers fit {', '.join(tied)} alike")
            return named[0]
    if len(tied) > 1:
        zh = contract.feed_kinds().set_index("kind")["zh_name"]
        raise ContractError(f"{_LABEL}: cannot tell the kind of this list from its headers: it fits "
                            f"{', '.join(f'{k} ({zh[k]})' for k in tied)} alike; pass kind=")
    ctx.notes.append(f"{_LABEL}: kind {tied[0]!r} detected from the headers")
    return tied[0]


# --------------------------------------------------------------------------- the ID column
def _id_column(raw: pd.DataFrame, mapping: dict[str, str], unknown: list) -> tuple[Any, str | None]:
    """The column holding the ID-card numbers: by header, else the one unknown column of ID-shaped values."""
    col = next((c for c, f in mapping.items() if f == "id_number"), None)
    if col is not None:
        return col, None
    shaped = []
    for c in unknown:
        s = raw[c]
        vals = pd.unique(s.dropna().astype(object).to_numpy())[:2000]
        if len(vals):
            iss = contract.id_number_issues(list(vals))
            if iss.isin(["", "old_15", "bad_check_digit"]).mean() >= contract.KEY_SHARE:
                shaped.append(c)
    if len(shaped) == 1:
        return shaped[0], (f"{_LABEL}: no 证件号码 header; column {_safe_text(shaped[0])!r} holds ID-card numbers "
                           "and was read as the ID column")
    return None, None


def _hash_ids(values: pd.Series, salt: str) -> tuple[pd.Series, pd.Series]:
    """Person hashes and issue codes of an ID column (the clear values go no further)."""
    return contract.person_hashes_and_issues(values, salt)


# --------------------------------------------------------------------------- reading
def read_feed(source: Source, kind: str | None = None, *, salt: str | None = None,
              salt_file: str | os.PathLike | None = None, sheet: str | int | None = None,
              ) -> tuple[pd.DataFrame, FeedReport]:
    """Read a department's list into person hashes and the kind's fields.

    Parameters
    ----------
    source : path or DataFrame
        The list as the department sent it: ``.xlsx/.xls`` or ``.csv/.txt``
        (UTF-8, GBK/GB18030, UTF-16), Chinese or English headers (those of
        ``data_schema/feeds/<kind>.csv`` and their aliases), title rows above the
        header, a header over merged cells, units in headers (``（万元）``), ID
        numbers typed with an apostrophe, dates as 2025-03-14, 2025/3, 202503 or
        Excel dates.
    kind : str, optional
        Feed kind (``data_schema/feeds.csv``: medical_bill, education_cost,
        disaster_victim, unemployment, returned_migrant, dibao_change,
        disability_certificate, unsafe_house). Default: detected from the headers
        (the kind whose own fields they name; a kind's Chinese name in the file
        name breaks a tie; a :class:`~fanpin_risk.errors.ContractError` when it stays ambiguous).
    salt, salt_file : optional
        The county's salt (:func:`fanpin_risk.contract.resolve_salt`: ``salt`` →
        ``FANPIN_SALT`` → ``salt_file`` or ``FANPIN_SALT_FILE``); none found is an error.
    sheet : str or int, optional
        Sheet of a workbook; default the sheet whose headers fit best.

    Returns
    -------
    (pandas.DataFrame, FeedReport)
        One row per list row: ``kind``, ``person_hash`` (``P`` + 20 hex, missing
        for missing or badly formed numbers), ``id_issue``, ``event_month`` and
        ``list_month`` (Int64 YYYYMM), the kind's own fields (canonical names and
        dtypes), ``township``, ``village`` and ``source_row`` (the row in the
        file: line of a CSV, Excel row of the sheet; position for a DataFrame),
        and ``source_sheet`` when a workbook's sheets (one per month, say) were
        read and stacked. No ID-card number, name or phone number is in it, nor
        in the report.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"姓名": ["张三", "李四"], "身份证号": ["'990101199001011230", "990101900101123"],
    ...                     "结算日期": ["2025-03-14", "2025/4"], "个人自付金额（万元）": [2.5, "8000元"],
    ...                     "乡镇": ["城关镇", "河西乡"]})
    >>> df, report = read_feed(raw, salt="doc")
    >>> df[["kind", "id_issue", "event_month", "amount_self_paid", "township"]]
               kind id_issue  event_month  amount_self_paid township
    0  medical_bill                202503           25000.0      城关镇
    1  medical_bill   old_15       202504            8000.0      河西乡
    >>> bool(df["person_hash"][0] == df["person_hash"][1]), list(report.dropped_columns)
    (True, ['姓名'])
    """
    ctx = _Ctx(errors="warn", row_numbers=True)
    salt_ = _Salt.resolve(salt, salt_file, required=True)
    raw = _load(source, sheet, contract.FEEDS, _LABEL, ctx)
    detected = kind is None
    kind = _detect_kind(list(raw.columns), source, ctx) if detected else contract.feed_table(kind)[5:]
    table = contract.feed_table(kind)
    rows = raw.pop(SOURCE_ROW) if SOURCE_ROW in raw.columns else pd.Series(np.arange(len(raw)), index=raw.index)
    # a workbook with one sheet per month: the sheet of each row goes with its row number
    sheets = raw.pop(_SHEET_COL) if _SHEET_COL in raw.columns else None
    mapping, unknown = _map_headers(raw, table, _LABEL, ctx)
    id_col, note = _id_column(raw, mapping, unknown)
    if id_col is None:
        raise ContractError(f"{_LABEL} ({kind}): no ID-card column (证件号码, 身份证号 ...)"
                            f"{_closest_hint('id_number', list(raw.columns), table)}; each row needs the person's "
                            "ID-card number to be matched")
    if note:
        ctx.notes.append(note)
    person, issue = _hash_ids(raw.pop(id_col), salt_.salt)
    mapping.pop(id_col, None)
    unknown = [c for c in unknown if c != id_col]
    raw, df = _kind_fields(raw, mapping, unknown, table, ctx)
    out = _assemble(df, kind, person, issue, rows, table, sheets)
    report = _feed_report(table, source, out, ctx, detected, id_col, [c for c in unknown if c in raw.columns])
    return out, report


def _kind_fields(raw: pd.DataFrame, mapping: dict[str, str], unknown: list, table: str,
                 ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw`` without its personal-data columns, and the kind's fields parsed in canonical names and dtypes
    (PII cells emptied)."""
    pii = contract.detect_pii(raw.loc[:, [c in unknown for c in raw.columns]], skip=(), inside_text=True)
    _record_dropped(raw, pii, mapping, _LABEL, ctx)
    raw = raw.drop(columns=list(pii))
    f = contract.fields(table).set_index("field")
    missing = [x for x in f.index[f["required"]] if x != "id_number" and x not in mapping.values()]
    if missing:
        raise ContractError(f"{_LABEL} ({table[5:]}): no column for "
                            + "; ".join(f"{x} ({f.at[x, 'zh_header']})"
                                        f"{_closest_hint(x, list(raw.columns), table)}" for x in missing))
    ctx.header_map.update({str(c): v for c, v in mapping.items()})
    df = raw[list(mapping)].copy()
    df.columns = list(mapping.values())
    text = [c for c in df.columns if f.at[c, "type"] in ("string", "category")]
    _empty_pii_text(df, text, ctx)
    df = _clean(df, table, _LABEL, ctx, canonical_text=True)
    return raw, contract.to_canonical_dtypes(df, table)


def _empty_pii_text(df: pd.DataFrame, cols: list[str], ctx: _Ctx) -> None:
    """Text cells holding an ID-card or phone number (or the digits of one) emptied in place, counted in a note."""
    n = 0
    for c in cols:
        flags = _row_flags(df[c])
        bad = (flags & _NUMBER) != 0 if flags is not None else np.zeros(len(df), dtype=bool)
        bad |= df[c].astype(object).map(lambda v: isinstance(v, str) and bool(_ID_DIGITS.search(v))).to_numpy(bool)
        if bad.any():
            df[c] = df[c].astype(object).where(~bad)
            n += int(bad.sum())
            # worded as the reader's parse issue of a phone typed into a cell: one rule for both
            ctx.issue(field=c, value=None, rule="parse", level="error",
                      message=f"{c}: {int(bad.sum())} cell(s) held an ID-card or phone number; emptied, not shown")
    if n:
        ctx.notes.append(f"{_LABEL}: {n} text cell(s) holding personal numbers emptied")


def _assemble(df: pd.DataFrame, kind: str, person: pd.Series, issue: pd.Series, rows: pd.Series,
              table: str, sheets: pd.Series | None = None) -> pd.DataFrame:
    """The output columns in order: kind, hash, issue, months, the kind's own fields, township, village, row
    (and sheet, for a workbook read sheet by sheet)."""
    dtypes = contract.canonical_dtypes(table)
    out = pd.DataFrame({"kind": pd.Series(kind, index=df.index, dtype="str"),
                        "person_hash": person.to_numpy(), "id_issue": issue.to_numpy()}, index=df.index)
    out["person_hash"] = out["person_hash"].astype("str")
    out["id_issue"] = out["id_issue"].astype("str")
    own = [f for f in contract.field_names(table) if f not in contract.FEED_COMMON]
    for f in ("event_month", "list_month", *own, "township", "village"):
        out[f] = df[f] if f in df.columns else pd.Series(pd.NA if dtypes[f] == "Int64" else np.nan, index=df.index,
                                                         dtype=dtypes[f])
    out["source_row"] = pd.array(rows.to_numpy(), dtype="Int64")
    if sheets is not None:
        out["source_sheet"] = pd.Series(sheets.reindex(df.index).to_numpy(), index=df.index).astype("str")
    return out.reset_index(drop=True)


def _feed_report(table: str, source: Any, out: pd.DataFrame, ctx: _Ctx, detected: bool, id_col: Any,
                 unknown: list) -> FeedReport:
    counts = out["id_issue"].value_counts()
    issues = [{"row": _file_row(out, i.get("_row")), "field": i["field"], "rule": i["rule"], "level": i["level"],
               "message": _safe_text(i["message"])} for i in ctx.issues]
    return FeedReport(
        table=table, source=_source_name(source), n_rows=len(out),
        id_issues={c: int(counts.get(c, 0)) for c in contract.ID_ISSUES if counts.get(c, 0)},
        kind_detected=detected, id_column=_safe_name(id_col),
        dropped_columns={_safe_text(k): v for k, v in ctx.dropped.items()},
        unknown_columns=[_safe_text(_safe_name(c)) for c in unknown],
        header_map={_safe_text(k): v for k, v in ctx.header_map.items()},
        notes=[_safe_text(n) for n in ctx.notes], issues=issues,
    )


def _file_row(out: pd.DataFrame, pos: Any) -> int | None:
    """The file row of output position ``pos`` (issues are recorded by position)."""
    if pos is None or "source_row" not in out.columns or not isinstance(pos, int | np.integer) \
            or not 0 <= pos < len(out):
        return None
    v = out["source_row"].iat[int(pos)]
    return None if pd.isna(v) else int(v)
