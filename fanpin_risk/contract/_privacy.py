"""Personal data (PII) in monitoring exports: detection, dropping and hashing.

Exports of the monitoring system carry ID-card numbers (证件号码), phone numbers
(户联系电话) and names. None of them may leave :func:`fanpin_risk.read_panel`.

Key columns are judged per column, not per value
    A value *looks like an identifier* when, read as :func:`clean_key` reads it
    (Excel's leading apostrophe and ``="..."`` text marker removed, numeric cells
    as integers at Excel's 15 significant digits, scientific notation such as
    ``5.22601E+17`` expanded, full-width digits and a trailing ``x`` normalised),
    it is an ID-card number (:func:`id_card_like`: 18 or 15 digits, a known
    province and a valid birth date, the check digit right or wrong; digits Excel
    cut off may be zeros) or a phone number (:func:`is_phone`, with ``+86``,
    spaces or dashes). A key column where at least :data:`KEY_SHARE` (70 %) of
    the distinct non-empty values look like identifiers is an *identifier
    column*: every value becomes ``"h_" + sha256(salt + clean_key(v))[:16]``
    (:func:`hash_id`), so the household and member tables still match. In any
    other key column the values that look like, or hold, an ID-card or phone
    number or a personal-data label (``填表人：``) are hashed one by one.

    Why a clear majority and not 30 %: the values that look like identifiers are
    hashed whatever the share, so the share decides only whether the *other*
    values go with them — the odd typo in a column of ID numbers (a digit too
    few, a birth date that does not exist), which is a person's number all the
    same. A real identifier column is nearly all identifiers; a column that mixes
    household codes with a third or even two thirds of ID numbers is a mix, and
    its codes stay readable for the cadres who visit the households.

Other columns are dropped when
    * the header names personal data: a word of ``data_schema/pii_headers.csv``
      (姓名, 户主名称, 帮扶干部, 证件号码, 联系方式, 填表人, ...), equal to the header
      or inside it, both read by :func:`normalize_header` (so 戶主姓名 and
      ``*联系电话`` count), or the header itself holds an ID-card or phone number;
    * at least :data:`CONTENT_SHARE` (30 %) of the distinct values are ID-card or
      phone numbers, or at least 80 % are Chinese personal names (2–4 Han
      characters starting with a common surname, mostly distinct);
    * with ``inside_text`` (free text outside the contract, such as 备注 or a
      联系方式 cell holding several numbers): *any* value holds an ID-card or
      phone number, or a personal-data label (``in_text`` words of
      ``pii_headers.csv``: 身份证, 电话, 姓名, 填表人, ...). The whole column goes,
      not just the matched digits: a name next to a number cannot be told from
      the words around it, and the column is outside the contract anyway.

Nothing here logs or prints a PII value; reasons name the column, the pattern
and counts only.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import math
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk.errors import ContractError

from ._schema import codes, normalize_header, schema_dir

__all__ = ["detect_pii", "scrub", "is_id_card", "is_phone", "id_or_phone", "hash_id", "mask_value",
           "id_card_birth_date", "clean_key", "id_card_like", "pii_flags", "key_hashes", "KeyHashes",
           "hash_household_ids", "PII_HEADERS", "KEY_SHARE", "CONTENT_SHARE",
           "PII_ID", "PII_PHONE", "PII_INSIDE", "PII_LABEL"]

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROV2 = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
          50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
_RE18 = re.compile(r"\d{17}[\dX]")
_RE15 = re.compile(r"\d{15}")
_RE_MOBILE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
_RE_LANDLINE = re.compile(r"(?:\+?86)?0\d{2,3}-?\d{7,8}(?:-\d{1,5})?")
_RE_NAME = re.compile(r"[\u4e00-\u9fff·]{2,4}")
#: Arrow (RE2) pattern: ten or more ASCII digits anywhere in the value.
_TEN_DIGITS = "(?:[0-9][^0-9]*){10}"

#: Share of a key column's distinct non-empty values that must look like ID-card or
#: phone numbers for every value of the column to be hashed (see the module notes).
KEY_SHARE = 0.7
#: Share of a column's distinct values that must be ID-card or phone numbers for it to be dropped.
CONTENT_SHARE = 0.3
_NAME_SHARE = 0.8
#: Bits of :func:`pii_flags`: the whole value is an ID-card number / a phone number; an
#: ID-card or phone number stands inside the text; the text holds a personal-data label.
PII_ID, PII_PHONE, PII_INSIDE, PII_LABEL = 1, 2, 4, 8

_KINDS = {"id_card": "ID-card number", "phone": "phone number", "name": "person name",
          "bank": "bank account", "address": "home address"}

# The 100 most common surnames, enough to tell names from category values.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)

# Numbers inside text (after NFKC), each bounded by non-digits: 18- and 15-digit ID-card
# numbers (province and birth date checked in code), mobiles with +86, spaces or dashes,
# landlines with their dash, and numbers in scientific notation of 10^14 or more.
_IN_ID18 = re.compile(r"(?<![0-9])([1-9][0-9]{5})((?:18|19|20)[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx](?![0-9])")
_IN_ID15 = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])")
_IN_PHONE = re.compile(r"(?<![0-9])(?:(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}|0[0-9]{2,3}-[0-9]{7,8})(?![0-9])")
_IN_SCI = re.compile(r"[0-9](?:\.[0-9]+)?[eE]\+?1[4-9]")
# Digit groups of one number written apart ("522601 19510202 0375", "5226-0119-5102-0203-75"): the
# separators between digits are taken out and the ID-card tests run again.
_DIGIT_GAP = re.compile(r"(?<=[0-9])[ \-\u00a0\u3000]{1,2}(?=[0-9])")
# Masked numbers still name a person with the rest of the record: an ID-card number with its middle
# starred out (522601********0375, 5226011951****0375) and a mobile with four stars (138****5678).
_IN_MASKED_ID = re.compile(r"(?<![0-9*])[1-9][0-9]{5}(?=[0-9*]{11}[0-9Xx*](?![0-9*]))(?=(?:[0-9]*\*){4})[0-9*]{11}[0-9Xx*]")
_IN_MASKED_MOBILE = re.compile(r"(?<![0-9*])1[3-9][0-9]\*{4}[0-9]{4}(?![0-9*])")
# White space between the characters of a label, written out so that Python and
# Arrow's RE2 read the same class.
_LABEL_SPACE = "[\t\n\x0b\x0c\r \u00a0\u3000]*"
# Arrow pre-filter of pii_flags, a superset of what the exact tests accept: ten ASCII
# or full-width digits, any other character NFKC may turn into digits (numbers of other
# scripts, circled numbers, the telegraph symbols for months, days and hours), an
# exponent, or a label word.
_MAYBE_DIGITS = ("(?:[0-9０-９][^0-9０-９]*){10}|[^\\P{N}0-9０-９]|[\\x{32C0}-\\x{32CB}\\x{3358}-\\x{3370}"
                 "\\x{33E0}-\\x{33FE}]|[0-9０-９][eEｅＥ]|[0-9０-９][*＊]{4}")
# A value of ASCII digits only is an identifier only in these forms (mobile, with 86,
# landline, with 86, 15- and 18-digit ID-card numbers); village codes and the like are not.
_PII_DIGITS = "^(?:1[3-9][0-9]{9}|861[3-9][0-9]{9}|0[0-9]{9,11}|860[0-9]{9}|[0-9]{15}|[0-9]{18})$"
# Pre-filter of one ASCII value in Python (labels and other scripts are not ASCII): every number the
# tests accept has ten digits apart only by spaces, dashes, brackets or a decimal point, or is written
# with an exponent.
_ASCII_MAYBE = re.compile(r"(?:[0-9][\s().-]*){10}|[0-9][eE]\+?[0-9]|[0-9]\*{4}")
_QUOTES = "'‘’`\""
_EXCEL_TEXT = re.compile(r'="(.*)"')
_SCI_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)E[+-]?[0-9]{1,3}")


# --------------------------------------------------------------------------- the word list
@lru_cache(maxsize=None)
def _pii_words() -> tuple[tuple[str, str, str, bool], ...]:
    """(word, match, kind, in_text) rows of ``data_schema/pii_headers.csv``, in file order."""
    path = schema_dir() / "pii_headers.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["word"].strip(), r["match"].strip(), r["kind"].strip(), r["in_text"].strip() == "yes")
                for r in csv.DictReader(fh)]
    for word, match, kind, _ in rows:
        # A typo here would silently stop a header from being caught: refuse the file instead.
        if not word or match not in ("exact", "contains", "except") or kind not in _KINDS:
            raise ContractError(f"{path.name}: row {word!r} has match {match!r} and kind {kind!r}; "
                                f"match must be exact, contains or except, kind one of {', '.join(_KINDS)}")
    return tuple(rows)


#: Header words that mark a column as personal data (``data_schema/pii_headers.csv``), with the reason given.
PII_HEADERS: dict[str, str] = {w: f"{_KINDS[k]} (header)" for w, m, k, _ in _pii_words() if m != "except"}


@lru_cache(maxsize=None)
def _header_keys() -> tuple[dict[str, str], tuple[tuple[str, str, str], ...], dict[str, tuple[str, ...]]]:
    """Normalised exact words → reason, (fragment, kind, reason) matched inside headers, kind → words that cancel it."""
    exact: dict[str, str] = {}
    inside: list[tuple[str, str, str]] = []
    unless: dict[str, list[str]] = {}
    for word, match, kind, _ in _pii_words():
        key, reason = normalize_header(word), f"{_KINDS[kind]} (header)"
        if match == "exact":
            exact.setdefault(key, reason)
        elif match == "contains":
            inside.append((key, kind, reason))
        else:
            unless.setdefault(kind, []).append(key)
    return exact, tuple(inside), {k: tuple(v) for k, v in unless.items()}


@lru_cache(maxsize=None)
def _label_pattern() -> str:
    """Regular expression (Python and RE2 alike) of the ``in_text`` words, white space allowed inside."""
    words = sorted({w for w, _, _, t in _pii_words() if t}, key=len, reverse=True)
    return "|".join(_LABEL_SPACE.join(re.escape(c) for c in w) for w in words)


@lru_cache(maxsize=None)
def _label_re() -> re.Pattern:
    return re.compile(_label_pattern())


@lru_cache(maxsize=None)
def _maybe_re() -> str:
    return _MAYBE_DIGITS + "|" + _label_pattern()


@lru_cache(maxsize=None)
def _code_values() -> frozenset[str]:
    return frozenset(codes()["value"])


# --------------------------------------------------------------------------- single values
def _norm(s: object) -> str:
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", str(s))).upper()


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return 1900 <= y <= 2100


def is_id_card(s: object) -> bool:
    """True when ``s`` looks like a mainland resident ID-card number.

    18 characters (17 digits and a digit or ``X``) with a valid birth date and a
    correct GB 11643 (ISO 7064 MOD 11-2) check digit, or the old 15-digit form with
    a known province prefix and a valid YYMMDD birth date.
    """
    if s is None or (isinstance(s, float) and np.isnan(s)) or s is pd.NA:
        return False
    v = _norm(s)
    if v.endswith(".0"):
        v = v[:-2]
    if len(v) == 18 and _RE18.fullmatch(v):
        if int(v[:2]) not in _PROV2 or not _valid_date(int(v[6:10]), int(v[10:12]), int(v[12:14])):
            return False
        total = sum(int(c) * w for c, w in zip(v[:17], _W))
        return _CHECK[total % 11] == v[17]
    if len(v) == 15 and _RE15.fullmatch(v):
        return int(v[:2]) in _PROV2 and _valid_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
    return False


def id_card_birth_date(s: object) -> date | None:
    """Birth date held in an ID-card number, or None when ``s`` is not one."""
    if not is_id_card(s):
        return None
    v = _norm(s)
    if len(v) == 18:
        return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    return date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))


def is_phone(s: object) -> bool:
    """True when ``s`` looks like a mobile (1[3-9] + 9 digits) or landline number."""
    if s is None or (isinstance(s, float) and np.isnan(s)) or s is pd.NA:
        return False
    raw = unicodedata.normalize("NFKC", str(s)).strip().replace(" ", "")
    if raw.endswith(".0"):
        raw = raw[:-2]
    if _RE_MOBILE.fullmatch(raw.replace("-", "")):
        return True
    # A landline needs its leading 0 and, without a dash, 10-12 digits.
    return bool(_RE_LANDLINE.fullmatch(raw)) and ("-" in raw or 10 <= len(raw) <= 12)


def _candidates(values: object) -> tuple[np.ndarray, list]:
    """Positions of the ``values`` that :func:`is_id_card` or :func:`is_phone` might accept, and those values.

    Both tests need ten digits or more (a landline 0 + 2 + 7, a mobile 11, an ID card
    15). In ASCII text NFKC changes nothing and a digit is 0-9, so ASCII text with
    fewer than ten of them is rejected here by Arrow kernels over all values at
    once. Anything else (full-width digits, numbers, dates, ...) stays a candidate:
    the exact tests decide, so the pre-filter never changes an answer.

    ``values`` is an Arrow array or pandas string array of text, or any sequence.
    """
    if isinstance(getattr(values, "dtype", None), pd.StringDtype):
        values = pa.array(values)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        text, is_text = values, None
    else:
        values = list(values)
        is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        try:
            text = pa.array([v for v, t in zip(values, is_text) if t], type=pa.large_string())
        except UnicodeEncodeError:  # a lone surrogate: leave every value to the exact tests
            return np.arange(len(values)), values
    few = pc.and_(pc.string_is_ascii(text), pc.invert(pc.match_substring_regex(text, _TEN_DIGITS)))
    few = np.asarray(pc.fill_null(few, False), dtype=bool)
    if is_text is None:
        idx = np.flatnonzero(~few)
        return idx, values.take(pa.array(idx)).to_pylist()
    keep = np.ones(len(values), dtype=bool)
    keep[is_text] = ~few
    idx = np.flatnonzero(keep)
    return idx, [values[i] for i in idx]


def id_or_phone(values: object) -> np.ndarray:
    """Test many values at once for an ID-card or phone number.

    Gives ``is_id_card(v) or is_phone(v)`` for each value, but ASCII text with fewer
    than ten digits is rejected by Arrow kernels over all values together (see
    :func:`_candidates`), so a large column costs little more than its candidates.

    Parameters
    ----------
    values : pyarrow.Array, pyarrow.ChunkedArray, pandas string array or sequence
        Values of any type; missing values give False.

    Returns
    -------
    numpy.ndarray
        Boolean array, one entry per value.

    Examples
    --------
    >>> id_or_phone(["13812345678", "1200", None, "0851-1234567"]).tolist()
    [True, False, False, True]
    """
    out = np.zeros(len(values), dtype=bool)
    idx, cand = _candidates(values)
    out[idx] = [is_id_card(v) or is_phone(v) for v in cand]
    return out


# --------------------------------------------------------------------------- keys and loose tests
def _number_text(v: Any) -> tuple[str | None, bool]:
    """A numeric cell as key text, and whether digits were lost (Excel keeps 15 significant digits)."""
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        return None, False
    if not math.isfinite(x):
        return None, False
    if not x.is_integer():
        return repr(x), False
    if abs(x) >= 1e15:
        # beyond 15 significant digits neither Excel nor a double holds the digits: read them as Excel shows them
        return str(int(Decimal(format(x, ".15g")))), True
    return str(int(x)), False


def _sci_text(t: str) -> tuple[str, bool] | None:
    """``5.22601E+17`` as ``522601000000000000`` and whether digits were lost; None if ``t`` is no such number."""
    if not _SCI_TEXT.fullmatch(t):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        return None
    if d != d.to_integral_value() or abs(d) >= Decimal(10) ** 30:
        return None
    digits = str(abs(int(d)))
    sig = len(re.sub(r"[^0-9]", "", t.split("E")[0]).lstrip("0"))
    return ("-" if d < 0 else "") + digits, sig < len(digits)


def _clean_key(v: Any) -> tuple[str | None, bool]:
    """(:func:`clean_key` of ``v``, whether digits were lost on the way from the person's number)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None, False
    if isinstance(v, bool | np.bool_):
        return str(bool(v)), False
    if isinstance(v, int | np.integer):
        return str(int(v)), False
    if isinstance(v, float | np.floating | Decimal):
        return _number_text(v)
    if not isinstance(v, str):
        return _norm(v) or None, False
    t = unicodedata.normalize("NFKC", v).strip()
    m = _EXCEL_TEXT.fullmatch(t)
    if m:
        t = m.group(1)
    t = re.sub(r"\s+", "", t.strip(_QUOTES + " ")).upper()
    if not t:
        return None, False
    if re.fullmatch(r"[0-9]+\.0+", t):
        t = t.split(".")[0]
    sci = _sci_text(t)
    if sci is not None:
        return sci
    bare = re.sub(r"[-()]", "", t)
    if _RE_MOBILE.fullmatch(bare):
        return bare[-11:], False
    if _RE18.fullmatch(bare) or _RE15.fullmatch(bare):  # an ID-card number written in groups (5226-0119...)
        t = bare
    # 18 digits ending in 000 with a wrong check digit: a number Excel cut to 15 digits, saved as text
    cut = len(t) == 18 and t.isdigit() and t.endswith("000") and _CHECK[_check_total(t) % 11] != t[17]
    return t, cut


def _check_total(t: str) -> int:
    return sum(int(c) * w for c, w in zip(t[:17], _W))


def clean_key(v: Any) -> str | None:
    """The text a key value is tested and hashed as (None when empty).

    Excel's text markers (a leading apostrophe, ``="..."``) and surrounding quotes
    and spaces are removed, full-width characters become half-width, ``x``
    becomes ``X``; a numeric cell is read as Excel shows it (an integer, at most
    15 significant digits), scientific notation (``5.22601E+17``) is expanded and
    a mobile number loses its ``+86``, spaces, dashes and brackets. The same
    number thus gives the same text whether a table stored it as text or as a
    number — as far as its digits survived.

    Examples
    --------
    >>> clean_key("'52260119900101123x"), clean_key(5.22601199001011e17), clean_key("5.22601E+17")
    ('52260119900101123X', '522601199001011000', '522601000000000000')
    >>> clean_key("+86 138-0013-8000"), clean_key("  "), clean_key("H000123")
    ('13800138000', None, 'H000123')
    """
    return _clean_key(v)[0]


def _id_like(t: str, cut: bool) -> bool:
    """Whether clean key text ``t`` is shaped like an ID-card number (check digit not tested)."""
    if len(t) == 18 and _RE18.fullmatch(t) and t.isascii():
        y, m, d = int(t[6:10]), int(t[10:12]), int(t[12:14])
    elif len(t) == 15 and t.isascii() and t.isdigit():
        y, m, d = 1900 + int(t[6:8]), int(t[8:10]), int(t[10:12])
    else:
        return False
    if int(t[:2]) not in _PROV2:
        return False
    if cut:  # the region survived; the birth date may be among the digits Excel set to 0
        return len(t.rstrip("0")) >= 6
    return _valid_date(y, m, d)


def id_card_like(v: Any) -> bool:
    """True when ``v`` is shaped like an ID-card number, check digit right or wrong.

    Looser than :func:`is_id_card`: 18 characters (17 digits and a digit or ``X``)
    or 15 digits with a known province and a valid birth date, read through
    :func:`clean_key` (apostrophe, numeric cell, scientific notation). When Excel
    cut the number to 15 significant digits (a numeric cell of 10^15 or more, or
    18 digits ending in 000 with a wrong check digit) a known province is enough.

    Examples
    --------
    >>> id_card_like("522601199001011235"), id_card_like(5.22601E+17), id_card_like("H0000001")
    (True, True, False)
    """
    t, cut = _clean_key(v)
    return t is not None and _id_like(t, cut)


def _holds_id(text: str) -> bool:
    for m in _IN_ID18.finditer(text):
        if int(m.group(1)[:2]) in _PROV2 and _valid_date(int(m.group(2)), int(m.group(3)), int(m.group(4))):
            return True
    for m in _IN_ID15.finditer(text):
        if int(m.group(1)[:2]) in _PROV2 and _valid_date(1900 + int(m.group(2)), int(m.group(3)), int(m.group(4))):
            return True
    return False


def _holds_number(text: str) -> bool:
    """Whether NFKC text holds an ID-card (also in groups, or masked), mobile (also masked) or landline number,
    or a scientific-notation one, anywhere."""
    if _holds_id(text) or _IN_PHONE.search(text) or _IN_SCI.search(text):
        return True
    if any(int(m.group(0)[:2]) in _PROV2 for m in _IN_MASKED_ID.finditer(text)) or _IN_MASKED_MOBILE.search(text):
        return True
    joined = _DIGIT_GAP.sub("", text)
    return joined != text and _holds_id(joined)


def _flags(v: Any) -> int:
    """:func:`pii_flags` of one value."""
    return 0 if _no_pii(v) else _exact_flags(v)


def _exact_flags(v: Any) -> int:
    """:func:`pii_flags` of one value, every test run (what the pre-filters must never contradict)."""
    t, cut = _clean_key(v)
    if t is None:
        return 0
    if _id_like(t, cut):
        f = PII_ID
    elif is_phone(t):
        f = PII_PHONE
    elif isinstance(v, str) and _holds_number(unicodedata.normalize("NFKC", v)):
        f = PII_INSIDE
    else:
        f = 0
    if isinstance(v, str) and _label_re().search(v):
        f |= PII_LABEL
    return f


def _no_pii(v: Any) -> bool:
    """Quick answer for the values no test can accept: ASCII text with under ten digits, small or fractional numbers."""
    if isinstance(v, str):
        return v.isascii() and not _ASCII_MAYBE.search(v)
    return not _maybe_number(v)


def _maybe_number(v: Any) -> bool:
    """Whether a non-text value may be an identifier: a whole number of ten digits or more."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer | float | np.floating | Decimal):
        return False
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(x) and x.is_integer() and abs(x) >= 1e9


def _maybe_text(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow pre-filter of :func:`pii_flags` over text: False only where every exact test fails."""
    hit = np.asarray(pc.fill_null(pc.match_substring_regex(text, _maybe_re()), False), dtype=bool)
    if not hit.any():
        return hit
    # ASCII digits only: one more pattern decides (a 12-digit village code is no identifier)
    plain = hit & np.asarray(pc.fill_null(pc.and_(pc.string_is_ascii(text), pc.utf8_is_decimal(text)), False),
                             dtype=bool)
    if plain.any():
        idx = np.flatnonzero(plain)
        sub = text.take(pa.array(idx))
        hit[idx] = np.asarray(pc.fill_null(pc.match_substring_regex(sub, _PII_DIGITS), False), dtype=bool)
    return hit


def _maybe_pii(values: Any) -> tuple[np.ndarray, list]:
    """Positions of the ``values`` :func:`_flags` might flag, and those values."""
    if isinstance(getattr(values, "dtype", None), pd.StringDtype):
        values = pa.array(values)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        idx = np.flatnonzero(_maybe_text(values))
        return idx, (values.take(pa.array(idx)).to_pylist() if len(idx) else [])
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        x = values.astype("float64")
        with np.errstate(invalid="ignore"):
            idx = np.flatnonzero(np.isfinite(x) & (x == np.trunc(x)) & (np.abs(x) >= 1e9))
        return idx, values[idx].tolist()
    values = list(values)
    is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    keep = np.fromiter((_maybe_number(v) for v in values), dtype=bool, count=len(values))
    if is_text.any():
        try:
            keep[is_text] = _maybe_text(pa.array([v for v in values if isinstance(v, str)], type=pa.large_string()))
        except UnicodeEncodeError:  # a lone surrogate: leave every text to the exact tests
            keep[is_text] = True
    idx = np.flatnonzero(keep)
    return idx, [values[i] for i in idx]


def pii_flags(values: Any) -> np.ndarray:
    """Test many values at once for personal data; one bit set per finding.

    :data:`PII_ID`: the value is shaped like an ID-card number (:func:`id_card_like`);
    :data:`PII_PHONE`: it is a phone number; :data:`PII_INSIDE`: an ID-card or phone
    number stands inside its text (``张三 身份证522601199001011234``, several numbers
    in one 联系方式 cell); :data:`PII_LABEL`: the text holds a personal-data label
    (the ``in_text`` words of ``data_schema/pii_headers.csv``: 填表人, 电话, ...).
    Text that cannot hold any of these is rejected by Arrow kernels over all values
    at once, so a large column costs little more than its candidates.

    Parameters
    ----------
    values : pyarrow.Array, pyarrow.ChunkedArray, pandas string array or sequence
        Values of any type; missing values give 0.

    Returns
    -------
    numpy.ndarray
        ``uint8`` flags, one per value.

    Examples
    --------
    >>> pii_flags(["522601199001011235", "+86 138 0013 8000", "李四 13912345678", "填表人：", "脱贫户"]).tolist()
    [1, 2, 4, 8, 0]
    """
    out = np.zeros(len(values), dtype=np.uint8)
    idx, cand = _maybe_pii(values)
    if len(idx):
        out[idx] = [_flags(v) for v in cand]
    return out


@dataclass(frozen=True)
class KeyHashes:
    """What :func:`key_hashes` did to the distinct values of a key column.

    Attributes
    ----------
    hashes : numpy.ndarray
        Object array: the salted hash replacing each value, None where the value is kept.
    whole : bool
        The column was an identifier column: every non-missing value was hashed.
    n_like : int
        Values shaped like ID-card or phone numbers.
    n_cut : int
        Of those, ID-card numbers whose last digits Excel had set to 0 (numeric
        cells, scientific notation) and that no whole number of the column
        completes: they hash alike only when cut alike.
    flags : numpy.ndarray
        :func:`pii_flags` of each value.
    n_completed : int
        Cut numbers hashed as the one whole ID-card number of the column within one
        unit of their 15th digit (the same key typed as text in other rows).
    """

    hashes: np.ndarray
    whole: bool
    n_like: int
    n_cut: int
    flags: np.ndarray
    n_completed: int = 0

    @property
    def hashed(self) -> np.ndarray:
        """Which values were hashed."""
        return np.not_equal(self.hashes, None)

    @property
    def n_hashed(self) -> int:
        return int(self.hashed.sum())


def _py_values(values: Any, idx: np.ndarray) -> list:
    if isinstance(getattr(values, "dtype", None), pd.StringDtype):
        values = pa.array(values)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.take(pa.array(idx, type=pa.int64())).to_pylist()
    return [values[i] for i in idx]


def key_hashes(values: Any, salt: str, *, missing: np.ndarray | None = None, whole: bool | None = None,
               share: float = KEY_SHARE, flags: np.ndarray | None = None) -> KeyHashes:
    """Decide, for the distinct values of one key column, which are replaced by :func:`hash_id`.

    Parameters
    ----------
    values : pyarrow.Array, pandas string array or sequence
        The column's distinct values.
    salt : str
        Salt of :func:`hash_id`; the same for every table and year.
    missing : numpy.ndarray of bool, optional
        Values that stand for an empty cell (never hashed); default: those
        :func:`clean_key` reads as None.
    whole : bool, optional
        Hash every value (True) or only those with :func:`pii_flags` (False);
        default: every value when at least ``share`` of the non-missing values look
        like ID-card or phone numbers (an identifier column).
    share : float
        See ``whole``; :data:`KEY_SHARE` by default.
    flags : numpy.ndarray, optional
        :func:`pii_flags` of ``values`` when the caller has them already.

    Returns
    -------
    KeyHashes
        Each value is hashed from its :func:`clean_key` text, so the same number
        gives the same hash in every table however the cell stored it.

    Examples
    --------
    >>> kh = key_hashes(["'522601199001011235", "522601199001011236", 5.22601199001011e17, "H9"], "s")
    >>> kh.whole, kh.n_hashed, kh.n_cut, kh.hashes[0] == hash_id("522601199001011235", "s")
    (True, 4, 1, True)
    >>> key_hashes(["H1", "H2", "H3", "522601199001011236"], "s").hashed.tolist()
    [False, False, False, True]
    """
    flags = pii_flags(values) if flags is None else flags
    n = len(flags)
    if missing is None:
        missing = np.array([_clean_key(v)[0] is None for v in _py_values(values, np.arange(n))], dtype=bool)
    valid = ~np.asarray(missing, dtype=bool)
    like = valid & ((flags & (PII_ID | PII_PHONE)) != 0)
    n_valid, n_like = int(valid.sum()), int(like.sum())
    if whole is None:
        whole = n_valid > 0 and n_like >= share * n_valid
    idx = np.flatnonzero(valid if whole else valid & (flags != 0))
    out = np.full(n, None, dtype=object)
    cleaned = [(i, v, *_clean_key(v)) for i, v in zip(idx, _py_values(values, idx))]
    near = _whole_numbers_near(cleaned, flags)
    n_cut = n_completed = 0
    for i, v, t, cut in cleaned:
        if cut and flags[i] & PII_ID:
            full = near(t) if t is not None and len(t) == 18 else None
            if full is not None:  # the same key, typed as text elsewhere in the column
                t, n_completed = full, n_completed + 1
            else:
                n_cut += 1
        out[i] = hash_id(t if t is not None else v, salt)
    return KeyHashes(out, bool(whole), n_like, n_cut, flags, n_completed)


def _whole_numbers_near(cleaned: list, flags: np.ndarray):
    """A function: cut 18-digit number → the one uncut ID-card number of the column it can stand for, or None.

    A cut cell keeps 15 significant digits, truncated (typed into Excel) or rounded,
    once or twice (a double written with 16 or 17 digits, read with 15): the whole
    number lies within one unit of the 15th digit. Two candidates give none.
    """
    whole = sorted({int(t) for i, _v, t, cut in cleaned
                    if not cut and t is not None and len(t) == 18 and t.isdigit() and flags[i] & PII_ID})

    def near(t: str) -> str | None:
        if not t.isdigit():
            return None
        c = int(t)
        lo, hi = bisect.bisect_left(whole, c - 1000), bisect.bisect_right(whole, c + 1000)
        return str(whole[lo]) if hi - lo == 1 else None

    return near


def _is_name(s: object) -> bool:
    v = str(s).strip()
    return bool(_RE_NAME.fullmatch(v)) and v[0] in _SURNAMES


def hash_id(s: object, salt: str) -> str:
    """Pseudonymous household key: ``"h_" + sha256(salt + id).hexdigest()[:16]``.

    The id is normalised first (full-width → half-width, spaces removed, ``x`` → ``X``)
    so the same person's number hashes the same whatever its spelling; pass
    :func:`clean_key` of a cell to also undo Excel's apostrophe and number formats.
    """
    v = _norm(s)
    if v.endswith(".0"):
        v = v[:-2]
    return "h_" + hashlib.sha256((str(salt) + v).encode("utf-8")).hexdigest()[:16]


def mask_value(v: object) -> object:
    """``v`` itself, or ``"***"`` when it is or holds personal data.

    Masked: ID-card numbers (check digit right or wrong, as numbers too), phone
    numbers, text holding either or a personal-data label (``填表人：李四``), and
    what looks like a Chinese personal name (2–4 Han characters starting with a
    common surname) unless it is a value of a contract code list.
    """
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return v
    if isinstance(v, str):
        return "***" if _text_is_pii(v) else v
    if isinstance(v, bool | np.bool_) or _no_pii(v):
        return v  # the usual issue value, a number: nothing to test
    return "***" if is_id_card(v) or is_phone(v) or _flags(v) else v


@lru_cache(maxsize=4096)
def _text_is_pii(v: str) -> bool:
    """Whether :func:`mask_value` hides text ``v`` (cached: issue values repeat, one code value on many rows)."""
    if v.isascii() and _no_pii(v):
        return False
    if is_id_card(v) or is_phone(v) or _flags(v):
        return True
    return _is_name(v) and v.strip() not in _code_values()


# --------------------------------------------------------------------------- columns
def _header_reason(col: object) -> str | None:
    """Why header ``col`` names personal data (None when it does not)."""
    if _flags(str(col)) & (PII_ID | PII_PHONE | PII_INSIDE):
        return "ID-card or phone number in the header itself"
    key = normalize_header(col)
    exact, inside, unless = _header_keys()
    for k in (key, re.sub(r"\(.*?\)$", "", key)):
        if k in exact:
            return exact[k]
    return next((reason for frag, kind, reason in inside
                 if frag in key and not any(w in key for w in unless.get(kind, ()))), None)


def _distinct(s: pd.Series) -> tuple[Any, int] | None:
    """(distinct non-null values of ``s`` to test, number of non-null cells); None for dates and booleans."""
    n_rows = int(s.notna().sum())
    if isinstance(s.dtype, pd.StringDtype):
        return pc.unique(pa.array(s.array)).drop_null(), n_rows
    if s.dtype.kind in "biufcmM":
        if s.dtype.kind not in "iuf":
            return None
        return pd.unique(s.dropna().to_numpy()), n_rows
    uniq = pd.unique(s.dropna().to_numpy())
    if all(isinstance(u, str) for u in uniq):
        try:
            return pa.array(uniq, type=pa.large_string()), n_rows
        except UnicodeEncodeError:
            pass
    return list(uniq), n_rows


def _empty_mask(values: Any) -> np.ndarray:
    """Values that are empty text or spell a missing value ("nan", spaces)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return np.zeros(len(values), dtype=bool)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        t = pc.utf8_lower(pc.utf8_trim_whitespace(values))
        return np.asarray(pc.fill_null(pc.is_in(t, value_set=pa.array(["", "nan"], type=t.type)), True), dtype=bool)
    return np.array([isinstance(v, str) and v.strip().lower() in ("", "nan") for v in values], dtype=bool)


def _content_reason(values: Any, flags: np.ndarray, n_rows: int, *, names: bool, inside_text: bool,
                    units: int | None = None) -> str | None:
    """Why the distinct ``values`` of a column (with their :func:`pii_flags`) are personal data, or None.

    ``units`` (the number of households or persons the rows describe) replaces the row count in the
    names test: a name repeated once per year is as distinct as the households.
    """
    empty = _empty_mask(values)
    n = int((~empty).sum())
    if n == 0:
        return None
    k_id = int((flags & PII_ID != 0).sum())
    k_ph = int((flags & PII_PHONE != 0).sum())
    if k_id and k_id >= CONTENT_SHARE * n:
        return "ID-card numbers (content)"
    if k_ph and k_ph >= CONTENT_SHARE * n:
        return "phone numbers (content)"
    if k_id + k_ph and k_id + k_ph >= CONTENT_SHARE * n:
        return "ID-card and phone numbers (content)"
    numeric = isinstance(values, np.ndarray) and values.dtype.kind in "iuf"
    if names and not numeric and n >= 3 and n >= 0.5 * (n_rows if units is None else min(n_rows, units)):
        sample = [v for v, e in zip(_py_values(values, np.arange(min(len(empty), 2000))), empty) if not e]
        if sum(map(_is_name, sample)) >= _NAME_SHARE * len(sample):
            return "person names (content)"
    k = int((flags != 0).sum())
    if inside_text and k:
        return f"ID-card or phone numbers, or personal-data labels, inside the text (content, {k} distinct value(s))"
    return None


def detect_pii(df: pd.DataFrame, *, skip: tuple[str, ...] = ("household_id",), names: bool = True,
               inside_text: bool | Collection = False, units: int | None = None) -> dict[str, str]:
    """Columns of ``df`` that hold personal data, with the reason (never the values).

    Parameters
    ----------
    df : DataFrame
        Raw or canonical table.
    skip : tuple of str
        Columns not to test (``household_id`` is hashed by :func:`scrub`, not dropped).
    names : bool
        Also test the content for Chinese personal names (2–4 Han characters starting
        with a common surname, mostly distinct). Turn off for columns known to hold codes.
    inside_text : bool or collection of column names
        Columns (all with True) dropped when *any* value holds an ID-card or phone
        number or a personal-data label: free text outside the contract (备注).
    units : int, optional
        Number of households (or persons) the rows describe. A panel repeats each
        household's name once per year; the names test then asks for distinct
        values of at least half the units instead of half the rows.

    Returns
    -------
    dict
        column → reason such as ``"person name (header)"`` or ``"phone numbers (content)"``.
    """
    out: dict[str, str] = {}
    for col in df.columns:
        if str(col) in skip:
            continue
        reason = _header_reason(col)
        if reason is None:
            s = df[col]
            if isinstance(s, pd.DataFrame):  # duplicated header
                s = s.iloc[:, 0]
            got = _distinct(s)
            if got is None:
                continue
            values, n_rows = got
            flags = pii_flags(values)
            inside = inside_text if isinstance(inside_text, bool) else col in inside_text
            reason = _content_reason(values, flags, n_rows, names=names, inside_text=inside, units=units)
        if reason is not None:
            out[col] = reason
    return out


def hash_household_ids(s: pd.Series, salt: str, *, share: float = KEY_SHARE) -> tuple[pd.Series, int]:
    """Replace the values of key column ``s`` by :func:`hash_id`, judged per column (:func:`key_hashes`).

    Every value when at least ``share`` of the distinct values look like ID-card or
    phone numbers, else the values that look like or hold one. Returns the new
    series and the number of distinct values replaced.
    """
    uniq = list(pd.unique(s.dropna()))
    kh = key_hashes(uniq, salt, share=share)
    repl = {u: h for u, h in zip(uniq, kh.hashes) if h is not None}
    if not repl:
        return s, 0
    out = s.map(lambda v: repl.get(v, v))
    return out.astype(s.dtype) if s.dtype == "str" else out, len(repl)


def scrub(df: pd.DataFrame, salt: str, *, id_column: str = "household_id") -> tuple[pd.DataFrame, list[str]]:
    """Drop PII columns and pseudonymise household ids that are ID-card or phone numbers.

    Parameters
    ----------
    df : DataFrame
    salt : str
        Salt for :func:`hash_id`; use the same salt for every table and year.
    id_column : str
        Column holding the household key (judged per column: :func:`hash_household_ids`).

    Returns
    -------
    (DataFrame, list of str)
        The scrubbed copy and notes naming the columns dropped or hashed and why
        (never a value).
    """
    pii = detect_pii(df, skip=(id_column,))
    out = df.drop(columns=list(pii))
    notes = [f"dropped column {c!r}: {r}" for c, r in pii.items()]
    if id_column in out.columns:
        new, k = hash_household_ids(out[id_column], salt)
        if k:
            out[id_column] = new
            notes.append(f"{id_column}: {k} value(s) looked like ID-card or phone numbers and were replaced by salted hashes")
    return out, notes
