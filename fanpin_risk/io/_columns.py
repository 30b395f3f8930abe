"""Contract columns parsed into typed values; unreadable and PII-looking cells become issues.

Text columns go through :func:`_parse_text` (each distinct value once, plain
numbers by Arrow), columns mixing types (Excel) through :func:`_parse_objects`
(each distinct value by the per-value parsers); both give the same values and the
same issues.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._context import _Ctx
from ._pii import _pii_numbers

#: No amount or count of a household reaches this; a number this large is a personal identifier.
PII_MAGNITUDE = 1e14
from ._values import (_PARSERS, _PLAIN_NUMBER, _fitting_units, _isna_text, _kind, _na_mask, _np, _own_unit,
                      _parse_strings, _take, _take_str, _text_codes, _to_float, _unit_factor)

_KIND_HINT = {
    "number": "a number such as 1200 or 1,200元",
    "integer": "a whole number",
    "boolean": "是/否 (or true/false, 1/0, Y/N, √/×)",
    "month": "a month such as 202103, 2021-03 or 2021年3月",
    "string": "text",
    "category": "a code value",
}
_NO_ROWS = np.array([], dtype=np.intp)
#: How the reading steps key member-sheet headers in ``ctx.header_map``.
_MEMBER_KEY = "member table: "


def _clean(df: pd.DataFrame, table: str, label: str, ctx: _Ctx, *, prefix: str = "", member: bool = False,
           canonical_text: bool = False) -> pd.DataFrame:
    """Parse every contract column of ``df`` in place (columns already renamed to fields).

    With ``canonical_text`` the string and category columns read from text come back
    as ``str`` (their canonical dtype, built without a Python string per row) instead
    of object holding str and NaN; the values are the same. Numbers whose header
    names a unit (``工资性收入（万元）``) are scaled to the contract's unit.
    """
    frows = {r.field: r for r in contract.fields(table).itertuples()}
    units = _unit_headers(ctx, table, label)
    for col in list(df.columns):
        fname = col[len(prefix):] if prefix and col.startswith(prefix) else col
        if fname not in frows or (prefix and not col.startswith(prefix)):
            continue
        raw = df[col]
        df[col] = _clean_column(raw, df, fname, _kind(frows[fname]), member, canonical_text, ctx)
        if fname in units and frows[fname].unit not in ("", "YYYYMM"):
            df[col] = _to_contract_unit(df[col], raw, *units[fname], frows[fname], table, label, ctx)
    return df


def _clean_column(s: pd.Series, df: pd.DataFrame, fname: str, kind: str, member: bool, canonical_text: bool,
                  ctx: _Ctx) -> pd.Series:
    """Raw column ``s`` of field ``fname`` parsed as ``kind``; its unreadable and PII-looking cells recorded."""
    if kind in ("number", "integer") and s.dtype.kind in "iuf":
        return _clean_numbers(s, df, fname, kind, member, ctx)
    if kind == "boolean" and s.dtype in ("bool", "boolean"):
        return s.astype("boolean")
    out, pii, bad, shown = _parse_column(s, kind, canonical_text)
    for p in pii:
        _bad(ctx, df, df.index[p], fname, "***", kind, member, pii=True)
    for p in bad:
        _bad(ctx, df, df.index[p], fname, shown.iat[p], kind, member)
    return pd.Series(out, index=df.index)


def _unit_headers(ctx: _Ctx, table: str, label: str) -> dict[str, tuple[str, str]]:
    """Field → (raw header, unit) for the columns of ``label`` whose header names a unit.

    Read from ``ctx.header_map``, which the reading steps fill before parsing:
    household headers as written, member-sheet headers behind ``"member table: "``
    mapped to ``"member.<field>"`` or, for household fields on member rows,
    ``"hh:<field>"``. Each header is normalised once (cached), so this is per column.
    """
    on_member = label.startswith("member")
    want = "member." if table == "member" else ("hh:" if on_member else "")
    out = {}
    for key, val in ctx.header_map.items():
        if key.startswith(_MEMBER_KEY) != on_member or not val.startswith(want):
            continue
        raw = key[len(_MEMBER_KEY):] if on_member else key
        unit = contract.normalize_header(raw, unit=True)[1]
        if unit is not None:
            out[val[len(want):].lstrip("!")] = (raw, unit)
    return out


def _to_contract_unit(vals: pd.Series, raw: pd.Series, header: str, unit: str, frow: Any, table: str,
                      label: str, ctx: _Ctx) -> pd.Series:
    """Parsed values of a column whose header is in ``unit``, in the contract's unit (with a note).

    Cells written with a unit of their own ("2.9万", "29554元") were read in that
    unit and stay as they are. A unit that cannot measure the field (亩 on an
    income) stops the read: every value of the column would be wrong. A unit of
    the right quantity but per person where the field is per household (or the
    reverse) is read with a note: which one is meant, only the county knows.
    """
    factor, exact = _unit_factor(unit, frow.unit)
    if factor is not None and not exact:
        ctx.notes.append(f"{label}: column {header!r} is in {unit} but {frow.field} is in {frow.unit}; the values "
                         "are read as the contract's (check that the column holds what the field means)")
    if factor is None:
        zh = contract.zh_headers(table).get(frow.field, "")
        raise ContractError(
            f"{label}: column {header!r} is in {unit}, which cannot measure {frow.field} ({zh}), a field in "
            f"{frow.unit}; put the unit of its values in the header ({', '.join(_fitting_units(frow.unit)[:6])}) "
            "or check that the column is the one meant"
        )
    if factor == 1:
        return vals
    own = _own_unit(raw) & vals.notna().to_numpy()
    scale = vals.notna().to_numpy() & ~own
    num = vals.astype("float64")
    # 0.07 万元 is 700 yuan, not 700.0000000000001: no export holds finer than a millionth
    out = num.where(~scale, (num * factor).round(6))
    if frow.type == "integer":
        out = pd.Series(pd.array(out.round(), dtype="Int64"), index=vals.index)
    ctx.notes.append(
        f"{label}: column {header!r} is in {unit}: {int(scale.sum())} value(s) multiplied by {factor:g} to "
        f"{frow.field} in {frow.unit}" + (f"; {int(own.sum())} value(s) written with their own unit read as written"
                                          if own.any() else "")
    )
    return out


def _clean_numbers(s: pd.Series, df: pd.DataFrame, fname: str, kind: str, member: bool, ctx: _Ctx) -> pd.Series:
    """A numeric column of a number or integer field: PII-looking numbers and fractions of integers emptied."""
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
    return vals


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
    vals, na, pii, bad = _parse_distinct(uniq, kind)
    pii_rows = np.flatnonzero(_take(pii, codes, False)) if pii.any() else _NO_ROWS
    bad_rows = np.flatnonzero(_take(bad, codes, False)) if bad.any() else _NO_ROWS
    return _rows(vals, na, bad, codes, kind, index, canonical_text), pii_rows, bad_rows


def _parse_distinct(uniq: pa.Array | pa.ChunkedArray, kind: str) -> tuple[np.ndarray, ...]:
    """Per distinct value: parsed value, missing, PII-looking, unreadable."""
    n = len(uniq)
    na = _isna_text(uniq)
    pii = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    todo = ~na
    vals = np.full(n, np.nan) if kind in ("number", "integer", "month") else np.full(n, np.nan, dtype=object)
    if kind in ("number", "integer"):
        pii[todo] = contract.id_or_phone(uniq.filter(pa.array(todo)))
        todo &= ~pii
        plain = todo & _np(pc.match_substring_regex(uniq, _PLAIN_NUMBER))
        vals[plain] = _to_float(uniq.filter(pa.array(plain)))
        # 15+ digits in an amount or count field is an ID-card number (a wrong check digit included), not money
        big = plain & (np.abs(np.nan_to_num(vals, nan=0.0)) >= PII_MAGNITUDE)
        pii |= big
        vals[big] = np.nan
        plain &= ~big
        todo &= ~big
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
    return vals, na, pii, bad


def _rows(vals: np.ndarray, na: np.ndarray, bad: np.ndarray, codes: np.ndarray, kind: str, index: pd.Index,
          canonical_text: bool) -> Any:
    """The column of ``kind`` built from per-distinct-value results through ``codes``."""
    if kind == "number":
        return _take(vals, codes, np.nan)
    if kind in ("integer", "month"):  # whole numbers below 2**63: exact as int64
        miss = np.isnan(vals)
        whole = np.where(miss, 0, vals).astype(np.int64)
        return pd.arrays.IntegerArray(_take(whole, codes, 0), _take(miss, codes, True))
    if kind == "boolean":
        known = ~(na | bad)
        true = known & (vals == True)  # noqa: E712 - elementwise on the object array
        return pd.arrays.BooleanArray(_take(true, codes, False), ~_take(known, codes, False))
    if canonical_text:
        return pd.Series(_take_str(np.where(na | bad, None, vals), codes), index=index)
    return pd.Series(_take(vals, codes, np.nan), index=index, dtype=object)


def _parse_objects(s: pd.Series, kind: str) -> tuple[Any, np.ndarray, np.ndarray, pd.Series]:
    """Parse a column of mixed values as ``kind``: values, positions of PII and unreadable cells, the raw values."""
    obj = s.astype(object)
    na = _na_mask(obj)
    parser = _PARSERS[kind]
    lookup: dict[Any, Any] = {}
    bad: set = set()
    pii_vals: set = set()
    for u in pd.unique(obj[~na]):
        if kind in ("number", "integer") and (contract.is_phone(u) or contract.is_id_card(u)):
            pii_vals.add(u)
            continue
        try:
            v = parser(u)
        except (ValueError, TypeError, OverflowError):
            bad.add(u)
            continue
        if kind in ("number", "integer") and v is not None and not pd.isna(v) and abs(float(v)) >= PII_MAGNITUDE:
            pii_vals.add(u)  # as in _parse_distinct: an ID-card number in a number field
            continue
        lookup[u] = v
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


def _bad(ctx: _Ctx, df: pd.DataFrame, idx: Any, fname: str, value: Any, kind: str, member: bool,
         pii: bool = False) -> None:
    """Record a parse issue of cell ``idx`` (a member's issue is keyed by its household and year)."""
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
