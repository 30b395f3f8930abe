"""Privacy screening while reading: PII columns dropped, key columns hashed per column, PII cells emptied.

The tests themselves live in :mod:`fanpin_risk.contract` (``detect_pii``,
``key_hashes``, ``pii_flags``, ...); this module decides where reading applies
them and records what was done (never a value) in the context. For each table:

1. Columns outside the contract (they would reach ``report.extras``) whose header
   names personal data, or one of whose values holds an ID-card or phone number
   or a personal-data label, are dropped; the report names the column, the reason
   and the number of cells, never a value. A contract column is never dropped for
   its content (one bad cell must not take a field from every household): see 3
   and 4.
2. Key columns (``household_id`` on the household and on the member sheet) are
   judged per column (:func:`fanpin_risk.contract.key_hashes`). The first table
   read decides whether every key is hashed, and the next table follows, so the
   household and member keys are hashed alike and still match.
3. A row whose key or contract text cell carries a personal-data label (填表人：,
   审核人：, 联系电话：) is a signature line or footer, not a household: it keeps
   only its (hashed) key, every other cell is emptied and the row is flagged
   (``pii_row``).
4. Any other contract text cell holding an ID-card or phone number is emptied
   and flagged (a ``parse`` error, as a phone typed into a number cell is); the row is kept.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk import contract
from fanpin_risk.contract import PII_ID, PII_INSIDE, PII_LABEL, PII_PHONE

from ._context import _Ctx
from ._values import _isna, _isna_text, _na_mask, _parse_string, _parse_strings, _take_str, _text_codes

_KEY_FIELDS = ("household_id", "hh:household_id")
_NUMBER = PII_ID | PII_PHONE | PII_INSIDE


@dataclass
class _Salt:
    """Salt for hashing household ids, whether it was random and used, and the key decision of the read."""

    salt: str
    random: bool = False
    used: bool = False
    #: Whether every key is hashed (an identifier column), decided by the first table read; None before.
    whole: bool | None = None

    @classmethod
    def resolve(cls, salt: str | None, salt_file: str | os.PathLike | None = None, *,
                required: bool = False) -> _Salt:
        """``salt``, else ``FANPIN_SALT``, else a salt file (``salt_file``, ``FANPIN_SALT_FILE``), else a
        random salt for this call only, or with ``required`` an error (:func:`fanpin_risk.contract.resolve_salt`)."""
        found = contract.resolve_salt(salt, salt_file, required=required)
        if not found:
            return cls(secrets.token_hex(16), random=True)
        return cls(found)

    def warn_if_random(self, ctx: _Ctx) -> None:
        """Issue a warning when ids were hashed with a random salt (they then differ between calls)."""
        if self.used and self.random:
            ctx.issue(field="household_id", value=None, rule="random_salt", level="warning",
                      message="household ids were hashed with a random salt: they differ between calls; "
                              "pass salt= or set FANPIN_SALT to keep them stable")


def _pii_numbers(vals: pd.Series) -> pd.Series:
    """Numbers that look like a mobile number or an ID-card number (never kept)."""
    whole = vals.notna() & (vals % 1 == 0)
    phone = whole & vals.between(13e9, 2e10 - 1)
    if phone.any():
        phone &= vals.map(lambda v: contract.is_phone(str(int(v))) if v == v else False).astype(bool)
    return (phone | (whole & (vals >= 1e14))).fillna(False).astype(bool)


def _field_types(mapping: dict[str, str], label: str) -> dict[str, str]:
    """Raw column → contract type of the field it maps to (``"string"`` when unknown)."""
    types = {t: contract.fields(t).set_index("field")["type"] for t in ("household_year", "member")}
    out = {}
    for c, f in mapping.items():
        tbl = "household_year" if (f.startswith("hh:") or not label.startswith("member")) else "member"
        out[c] = types[tbl].get(f.split(":")[-1].lstrip("!"), "string")
    return out


def _scrub_table(df: pd.DataFrame, mapping: dict[str, str], label: str, salt: _Salt, ctx: _Ctx,
                 keep_id_birth: bool = False) -> tuple[pd.DataFrame, dict[str, str], pd.Series | None]:
    """Drop PII columns, hash the key columns, empty PII rows and cells; return birth dates from ID numbers."""
    keys = [c for c, f in mapping.items() if f in _KEY_FIELDS]
    types = _field_types(mapping, label)
    # A column outside the contract goes whole when one value holds personal data. A contract
    # column never does (one bad cell must not take a required field from every household):
    # its text cells are tested one by one below; numbers, integers and booleans are parsed.
    # households (or persons) rather than rows: a panel repeats each name once per year
    units = int(df[keys[0]].nunique()) if keys else None
    pii = contract.detect_pii(df.loc[:, [c not in mapping for c in df.columns]], skip=(), inside_text=True,
                              units=units)
    birth = _id_birth_dates(df, pii, label, ctx) if keep_id_birth else None
    _record_dropped(df, pii, mapping, label, ctx)
    df = df.drop(columns=list(pii))
    text_cols = [c for c in mapping if c not in keys and types[c] in ("string", "category")]
    flags = {c: _row_flags(df[c]) for c in text_cols}
    labelled = np.zeros(len(df), dtype=bool)
    for f in flags.values():
        if f is not None:
            labelled |= (f & PII_LABEL) != 0
    for c in keys:
        df[c], key_labels = _hash_keys(df[c], c, label, salt, ctx)
        if key_labels is not None:
            labelled |= key_labels
        _warn_case_only(df[c], label, ctx)
    year_col = next((c for c, f in mapping.items() if f in ("year", "hh:year")), None)
    where = _Where(label, keys[0] if keys else None, year_col)
    if labelled.any():
        df = _empty_labelled_rows(df, keys, labelled, where, ctx)
    _empty_pii_cells(df, text_cols, mapping, flags, labelled, where, ctx)
    return df, mapping, birth


def _birth_date(v: Any) -> date | None:
    """Birth date written in an ID-card number as cells hold it (check digit not needed), or None."""
    t = contract.clean_key(v)
    if t is None or not contract.id_card_like(t):
        return None
    y, m, d = (t[6:10], t[10:12], t[12:14]) if len(t) == 18 else ("19" + t[6:8], t[8:10], t[10:12])
    try:
        return date(int(y), int(m), int(d))
    except ValueError:  # digits Excel set to 0 (scientific notation): no date left
        return None


def _id_birth_dates(df: pd.DataFrame, pii: dict, label: str, ctx: _Ctx) -> pd.Series | None:
    """Birth dates read from the first dropped ID-card column that holds any (before it goes)."""
    for col, reason in pii.items():
        if reason.startswith("ID-card"):
            s = df[col]
            s = (s.iloc[:, 0] if isinstance(s, pd.DataFrame) else s).astype(object)
            birth = s.map({u: _birth_date(u) for u in pd.unique(s.dropna().to_numpy())})
            if birth.notna().any():
                ctx.notes.append(f"{label}: birth dates taken from the ID-card numbers of column "
                                 f"{_safe_name(col)!r} before it was dropped")
            return birth
    return None


def _safe_name(col: Any) -> str:
    """A column header fit for the report: its digits masked when it holds an ID-card or phone number."""
    name = str(col)
    if contract.pii_flags([name])[0] & _NUMBER:
        return re.sub(r"[0-9０-９]", "*", name)
    return name


def _record_dropped(df: pd.DataFrame, pii: dict, mapping: dict, label: str, ctx: _Ctx) -> None:
    """Name each dropped column in ``ctx.dropped`` with its reason and how many cells went (never a value)."""
    for col, reason in pii.items():
        s = df[col]
        n = int((~_na_mask(s.iloc[:, 0] if isinstance(s, pd.DataFrame) else s)).sum())
        name = _safe_name(col)
        ctx.dropped[f"{label}: {name}" if label.startswith("member") else name] = \
            f"{reason}; {n} filled cell(s), none kept"
        mapping.pop(col, None)


def _distinct(s: pd.Series) -> pa.Array | list:
    """Distinct values of ``s`` (Arrow for text columns, a list otherwise)."""
    if isinstance(s, pd.DataFrame):  # a repeated header: the first column is the one read
        s = s.iloc[:, 0]
    if isinstance(s.dtype, pd.StringDtype):
        return pc.unique(pa.array(s.array))
    return list(pd.unique(s.astype(object).to_numpy()))


def _row_flags(s: pd.Series) -> np.ndarray | None:
    """Per-row :func:`~fanpin_risk.contract.pii_flags` of ``s`` (each distinct value tested once); None if none set."""
    values = _distinct(s)
    flags = contract.pii_flags(values)
    hit = np.flatnonzero(flags)
    if not len(hit):
        return None
    vals = [values[i] for i in hit] if isinstance(values, list) else values.take(pa.array(hit)).to_pylist()
    by_value = dict(zip(vals, flags[hit].tolist()))
    return s.astype(object).map(by_value).fillna(0).to_numpy(dtype=np.uint8)


def _warn_case_only(s: pd.Series, label: str, ctx: _Ctx) -> None:
    """A ``key_case`` warning when household ids differ only in letter case (h0000001 and H0000001).

    They stay two households (a code may be case-sensitive), but a year keyed in lower case
    splits each household's history in two without any other sign.
    """
    uniq = pd.Series(pd.unique(s.dropna())).astype("str")
    if uniq.empty or not uniq.str.contains(r"[A-Za-z]", regex=True).any():
        return
    folded = uniq.str.upper()
    clash = folded.duplicated(keep=False)
    if clash.any():
        pair = uniq[clash & (folded == folded[clash].iloc[0])].tolist()[:2]
        ctx.issue(field="household_id", value=None, rule="key_case", level="warning",
                  message=f"{label}: {int(folded[clash].nunique())} household id(s) appear in two letter cases "
                          f"(e.g. {pair[0]!r} and {pair[1]!r}); they are read as different households. Write each "
                          "id one way in every sheet and year")


def _hash_keys(s: pd.Series, col: Any, label: str, salt: _Salt, ctx: _Ctx) -> tuple[pd.Series, np.ndarray | None]:
    """Key column ``s`` with its identifier values hashed (per column), and the rows whose key holds a label."""
    if salt.whole is not True and not contract.pii_flags(_distinct(s)).any():
        # the usual case, settled on the distinct values alone: no codes, no Python string per row
        if salt.whole is None and s.notna().any():
            salt.whole = False
        return s, None
    enc = _text_codes(s)
    if enc is not None:
        codes, uniq = enc
        missing = _isna_text(uniq)
    else:
        codes, uniq = pd.factorize(s.astype(object).to_numpy())
        uniq = list(uniq)
        missing = np.array([_isna(v) for v in uniq], dtype=bool)
    kh = contract.key_hashes(uniq, salt.salt, missing=missing, whole=salt.whole)
    n_valid = int((~missing).sum())
    own = n_valid > 0 and kh.n_like >= contract.KEY_SHARE * n_valid
    if salt.whole is None and n_valid:
        salt.whole = kh.whole
    elif own and not kh.whole:
        ctx.notes.append(f"{label}: most keys of column {_safe_name(col)!r} look like ID-card or phone numbers but "
                         "those of the table read first do not; only the ones that look so were hashed, and the "
                         "two tables may not match")
    labels = kh.flags & PII_LABEL
    key_labels = _take_mask(labels != 0, codes) if labels.any() else None
    hashed = kh.hashed
    if not hashed.any():
        return s, key_labels
    salt.used = True
    _note_hashed(kh, int(hashed.sum()), n_valid, col, label, ctx)
    if enc is not None:
        parsed = _parse_strings(uniq)
        parsed[missing] = None
        parsed[hashed] = kh.hashes[hashed]
        return pd.Series(_take_str(parsed, codes), index=s.index), key_labels
    per_value = np.array([None if m else _parse_string(v) for v, m in zip(uniq, missing)] + [None], dtype=object)
    per_value[:-1][hashed] = kh.hashes[hashed]
    return pd.Series(per_value[codes], index=s.index, dtype=object), key_labels


def _take_mask(per_value: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-row booleans from per-distinct-value ones (False where missing)."""
    return np.concatenate([per_value, [False]])[codes]


def _note_hashed(kh: Any, n_hashed: int, n_valid: int, col: Any, label: str, ctx: _Ctx) -> None:
    """Say which keys were hashed and warn about ID-card numbers Excel cut short (never a value)."""
    how = "h_ + sha256(salt + id)[:16]"
    if kh.whole:
        ctx.notes.append(f"{label}: column {_safe_name(col)!r} holds ID-card or phone numbers ({kh.n_like} of "
                         f"{n_valid} distinct values look so): every one of its {n_hashed} distinct value(s) was "
                         f"replaced by a salted hash ({how})")
    else:
        ctx.notes.append(f"{label}: {n_hashed} household id(s) looked like or held ID-card or phone numbers and "
                         f"were replaced by salted hashes ({how})")
    if kh.n_completed:
        ctx.notes.append(f"{label}: {kh.n_completed} household id(s) stored as numbers (Excel keeps 15 digits) were "
                         "matched to the one whole ID-card number of the column that agrees with their 15 digits and "
                         "hashed as it")
    if kh.n_cut:
        ctx.issue(field="household_id", value=None, rule="key_cut", level="warning",
                  message=f"{label}: {kh.n_cut} household id(s) are ID-card numbers whose last digits Excel set "
                          "to 0 (stored as numbers, 15 significant digits): they were hashed as cut, so they match "
                          "only keys cut the same way and two households may share one; format the key column "
                          "as text in the workbook and export again")


@dataclass
class _Where:
    """How issues of a table point at their rows: by row label (household table) or by key (member sheet)."""

    label: str
    key_col: Any
    year_col: Any

    @property
    def member(self) -> bool:
        return self.label.startswith("member")

    def issue(self, ctx: _Ctx, df: pd.DataFrame, idx: Any, *, field: str, rule: str, message: str) -> None:
        if not self.member:
            ctx.issue(field=field, value=None, rule=rule, level="error", message=message, row=idx)
            return
        key = None
        if self.key_col is not None and self.year_col is not None and self.year_col in df.columns:
            key = (df.at[idx, self.key_col], df.at[idx, self.year_col])
        ctx.issue(field=field, value=None, rule=rule, level="error", message=message, key=key)


def _empty_labelled_rows(df: pd.DataFrame, keys: list, rows: np.ndarray, where: _Where, ctx: _Ctx) -> pd.DataFrame:
    """Rows carrying personal-data labels keep only their key: every other cell emptied, each row flagged."""
    keep = ~rows
    for c in df.columns:
        if c not in keys:
            df[c] = df[c].where(keep)
    for idx in df.index[rows]:
        where.issue(ctx, df, idx, field="household_id", rule="pii_row",
                    message=f"{where.label}: a row carries personal-data labels (填表人, 审核人, 联系电话, ...) where "
                            "household keys and codes belong, as a signature line or footer under the table does; "
                            "all its cells but the (hashed) key were emptied and are not shown. Delete such rows "
                            "from the export")
    return df


def _empty_pii_cells(df: pd.DataFrame, text_cols: list, mapping: dict, flags: dict, labelled: np.ndarray,
                     where: _Where, ctx: _Ctx) -> None:
    """Contract text cells holding an ID-card or phone number emptied and flagged (in place); rows kept."""
    for c in text_cols:
        f = flags.get(c)
        if f is None:
            continue
        bad = ((f & _NUMBER) != 0) & ~labelled
        if not bad.any():
            continue
        df[c] = df[c].where(~bad)
        fname = mapping[c].split(":")[-1].lstrip("!")
        on_member = where.member and not mapping[c].startswith("hh:")
        zh = contract.zh_headers("member" if on_member else "household_year").get(fname, "")
        for idx in df.index[bad]:
            # worded as the parse issue of a phone typed into a number cell: one rule for both
            where.issue(ctx, df, idx, field=f"member.{fname}" if on_member else fname, rule="parse",
                        message=f"{fname} ({zh}): value holds a phone or ID-card number; it is left empty and not "
                                "shown (personal data belongs in no contract column)")
