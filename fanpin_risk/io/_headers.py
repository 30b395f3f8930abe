"""Which raw header names which contract field, and where the header row is.

The contract's own headers and aliases come from ``data_schema/<table>.csv`` (through
:func:`fanpin_risk.contract.header_map`). Headers that do not name a field directly
(an inverse yes/no question, a member's birth date) are listed in
``data_schema/header_aliases.csv``.
"""

from __future__ import annotations

import csv
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
    key = contract.normalize_header(h)
    hm = contract.header_map(table)
    if key in hm:
        return hm[key]
    stripped = re.sub(r"\(.*\)$", "", key)
    if stripped in hm:
        return hm[stripped]
    for name, f in _inverse(table):
        if key == name or stripped == name:
            return "!" + f
    return None


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
