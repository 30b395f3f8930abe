"""Which raw header names which contract field, and where the header row is.

The contract's own headers and aliases come from ``data_schema/<table>.csv`` (through
:func:`fanpin_risk.contract.header_map`). Headers that do not name a field directly
(an inverse yes/no question, a member's birth date) are listed in
``data_schema/header_aliases.csv``.

Headers are compared as :func:`fanpin_risk.contract.normalize_header` writes them
(traditional characters, markers such as ``*``, invisible characters, line breaks,
brackets and units taken care of). On top of that a trailing bracket is optional,
and so is a trailing 数 for a number field (家庭人口 / 家庭人口数 in two years'
exports). A header over several levels (MultiIndex columns) is read as one level.
When a required field is absent, :func:`_closest_hint` names the nearest headers.
"""

from __future__ import annotations

import csv
import difflib
import re
from functools import lru_cache
from typing import Any

import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._context import _Ctx
from ._values import _isna, _looks_numeric

#: Rows of a sheet searched for the header, and the contract headers a row needs to be it.
_SCAN_ROWS = 30
_MIN_MATCH = 3
_MEANINGS = ("negation", "birth_date")
#: What pandas puts in an empty cell of a header over several levels.
_LEVEL_FILLER = re.compile(r"Unnamed: \d+_level_\d+|")


@lru_cache(maxsize=None)
def _alias_rows() -> tuple[tuple[str, str, str, str], ...]:
    """(table, header, field, meaning) rows of ``data_schema/header_aliases.csv``, in file order."""
    path = contract.schema_dir() / "header_aliases.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["table"], r["header"], r["field"], r["meaning"]) for r in csv.DictReader(fh)]
    for table, header, fld, meaning in rows:
        # A typo here would silently stop a header from being read: refuse the file instead.
        if meaning not in _MEANINGS or fld not in contract.field_names(table):
            raise ContractError(f"{path.name}: row {header!r} has an unknown meaning {meaning!r} "
                                f"or field {fld!r} of {table}")
    return tuple(rows)


def _alias_headers(table: str, meaning: str) -> dict[str, str]:
    """Header → field of the alias rows of ``table`` with ``meaning``, in file order."""
    return {h: f for t, h, f, m in _alias_rows() if t == table and m == meaning}


@lru_cache(maxsize=None)
def _inverse(table: str) -> tuple[tuple[str, str], ...]:
    """(normalised header, field) of the headers whose yes/no answer negates a field of ``table``."""
    return tuple((contract.normalize_header(h), f) for h, f in _alias_headers(table, "negation").items())


@lru_cache(maxsize=None)
def _birth_keys() -> frozenset[str]:
    return frozenset(contract.normalize_header(h) for h in BIRTH_HEADERS)


#: Headers whose yes/no answer is the negation of a contract boolean.
INVERSE_HEADERS: dict[str, str] = _alias_headers("household_year", "negation")
#: Member-sheet headers holding a birth date (used for ``age`` when no age column exists).
BIRTH_HEADERS: tuple[str, ...] = tuple(_alias_headers("member", "birth_date"))


def _match_header(h: Any, table: str) -> str | None:
    """Contract field for raw header ``h`` (or ``"!" + field`` for an inverse header)."""
    if _isna(h):
        return None
    return _match_key(contract.normalize_header(h), table)


@lru_cache(maxsize=8192)
def _match_key(key: str, table: str) -> str | None:
    """Field (``"!" + field`` inverse) for a normalised header, by the rules of :func:`_match_header`.

    In order: the key itself; the key without a trailing bracket (``家庭人口数（含外出）``);
    an inverse header. Then a trailing 数 is optional for a number field
    (家庭人口 and 家庭人口数 are one header in two years' exports), never for a
    yes/no or code field (低保户数 is not 低保户).
    """
    hm = contract.header_map(table)
    stripped = re.sub(r"\(.*\)$", "", key)
    for k in (key, stripped):
        if k in hm:
            return hm[k]
    for name, f in _inverse(table):
        if key == name or stripped == name:
            return "!" + f
    for k in dict.fromkeys((key, stripped)):
        alt = k[:-1] if k.endswith("数") else k + "数"
        if alt in hm and hm[alt] in _numeric_fields(table):
            return hm[alt]
    return None


@lru_cache(maxsize=None)
def _numeric_fields(table: str) -> frozenset[str]:
    return frozenset(contract.fields_of_type("integer", table) + contract.fields_of_type("number", table))


def _birth_column(columns: list) -> Any:
    """First of ``columns`` that is a birth-date header, or None."""
    keys = _birth_keys()
    return next((c for c in columns if contract.normalize_header(c) in keys), None)


def _score_row(row: list, table: str) -> int:
    return sum(_match_header(c, table) is not None for c in row)


def _header_row(grid: pd.DataFrame, table: str) -> tuple[int | None, int]:
    """First row of ``grid`` naming enough contract fields, and the best score seen."""
    best = 0
    for i in range(min(_SCAN_ROWS, len(grid))):
        s = _score_row(list(grid.iloc[i]), table)
        need = min(_MIN_MATCH, max(1, grid.shape[1]))
        if s >= need:
            return i, s
        best = max(best, s)
    return None, best


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
        if adds and _fits(other, om, match, below=k > i):
            for j in adds:
                cells[j] = other[j]
                match[j] = True
            used.append(k)
    return cells, sorted(used)


def _fits(other: list, om: list[bool], match: list[bool], below: bool) -> bool:
    """Whether a neighbour row can be part of the header, judged over the columns already named."""
    if below:  # empty under every named column (vertical merges)
        return all(_isna(other[j]) for j in range(len(match)) if match[j])
    # above: empty or a group title over every named column, never a number
    return all(_isna(other[j]) or (om[j] is False and not _looks_numeric(other[j]))
               for j in range(len(match)) if match[j])


def _map_headers(df: pd.DataFrame, table: str, label: str, ctx: _Ctx,
                 extra_table: str | None = None) -> tuple[dict[str, str], list[str]]:
    """raw column → field (``"!f"`` inverse, ``"hh:f"`` household field on a member sheet); unknown columns."""
    if isinstance(df.columns, pd.MultiIndex):
        # the reader's own copy of the table: its columns can be renamed in place
        df.columns = _flat_columns(df.columns, table, extra_table)
        ctx.notes.append(f"{label}: header of {df.columns.size} column(s) over several levels read as one "
                         "level (the level that names a contract field, else the levels joined)")
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


def _flat_columns(columns: pd.MultiIndex, table: str, extra_table: str | None) -> list[str]:
    """One name per column of a header over several levels (``read_excel(header=[0, 1])``).

    The levels joined are the name when they name a contract field (致贫返贫风险
    over 2); else the deepest level that names one (group titles such as 收入情况
    above 工资性收入 fall away); else the levels joined by "/". Names left equal
    get ".1", ".2", ... as repeated headers do.
    """
    tables = (table,) if extra_table is None else (table, extra_table)
    names = []
    for col in columns:
        parts = [str(p).strip() for p in col if not _isna(p) and not _LEVEL_FILLER.fullmatch(str(p).strip())]
        cands = ["".join(parts), *reversed(parts)]
        name = next((c for c in cands if any(_match_header(c, t) is not None for t in tables)), "/".join(parts))
        names.append(name or "unnamed")
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}.{k}")
    return out


def _closest_headers(field: str, headers: list, table: str = "household_year", n: int = 3) -> list[str]:
    """Headers of the file closest to the accepted headers of ``field`` (for "is missing" messages).

    Compared as normalised headers (:func:`fanpin_risk.contract.normalize_header`),
    with :func:`difflib.get_close_matches`; the raw headers are returned, best first.
    """
    row = contract.fields(table).set_index("field").loc[field]
    wanted = {contract.normalize_header(h) for h in (field, row.zh_header, *row.aliases)}
    by_key: dict[str, str] = {}
    for h in headers:
        if not _isna(h):
            raw = str(h).removeprefix("member table: ")  # how ctx.unknown lists member-sheet headers
            by_key.setdefault(contract.normalize_header(raw), raw)
    scores: dict[str, float] = {}
    for w in wanted:
        for k in difflib.get_close_matches(w, list(by_key), n=n, cutoff=0.5):
            scores[k] = max(scores.get(k, 0.0), difflib.SequenceMatcher(None, w, k).ratio())
    return [by_key[k] for k in sorted(scores, key=lambda k: -scores[k])[:n]]


def _closest_hint(field: str, headers: list, table: str = "household_year") -> str:
    """``"; closest headers in the file: a, b"`` for a missing ``field``, or ``""`` when none is close."""
    near = _closest_headers(field, headers, table)
    return f"; closest headers in the file: {', '.join(near)}" if near else ""
