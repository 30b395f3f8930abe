"""Privacy screening while reading: PII columns dropped, ID-like household ids hashed.

The tests themselves live in :mod:`fanpin_risk.contract` (``detect_pii``,
``hash_household_ids``, ``is_phone``, ...); this module decides where reading
applies them and records what was done (never a value) in the context.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import pandas as pd

from fanpin_risk import contract

from ._context import _Ctx
from ._values import _isna, _isna_text, _parse_string, _parse_strings, _take_str, _text_codes


@dataclass
class _Salt:
    """Salt for hashing household ids, and whether it was random and used."""

    salt: str
    random: bool = False
    used: bool = False

    @classmethod
    def resolve(cls, salt: str | None) -> _Salt:
        """``salt``, else ``FANPIN_SALT``, else a random salt for this call only."""
        if salt is None:
            salt = os.environ.get("FANPIN_SALT")
        if not salt:
            return cls(secrets.token_hex(16), random=True)
        return cls(salt)

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
    """Drop PII columns (recorded in ctx.dropped), hash household ids; return birth dates from ID numbers."""
    id_cols = [c for c, f in mapping.items() if f in ("household_id", "hh:household_id")]
    types = _field_types(mapping, label)
    typed = {c for c in mapping if types[c] in ("number", "integer", "boolean")}
    # numbers, integers and booleans of the contract are parsed as such; content tests apply to text columns
    cand = df[[c for c in df.columns if c not in typed]]
    pii = contract.detect_pii(cand, skip=tuple(id_cols))
    birth = None
    for col, reason in pii.items():
        if keep_id_birth and reason.startswith("ID-card") and birth is None:
            birth = df[col].map(contract.id_card_birth_date)
            if birth.notna().any():
                ctx.notes.append(f"{label}: birth dates taken from the ID-card numbers of column {col!r} before it was dropped")
        ctx.dropped[f"{label}: {col}" if label.startswith("member") else str(col)] = reason
        mapping.pop(col, None)
    df = df.drop(columns=list(pii))
    for c in id_cols:
        new, k = contract.hash_household_ids(_id_strings(df[c]), salt.salt)
        if k:
            df[c] = new
            salt.used = True
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
