"""Personal data (PII) in monitoring exports: detection, dropping and hashing.

Exports of the monitoring system carry ID-card numbers (证件号码), phone numbers
(户联系电话) and names. None of them may leave :func:`fanpin_risk.read_panel`:

* columns whose header names PII (姓名, 户主姓名, 联系人, 证件号码, 身份证号, 联系电话,
  户联系电话, 手机号, ...) or whose values look like ID-card numbers (18 characters
  with a valid GB 11643 check digit, or the old 15-digit form), mobile numbers
  (``1[3-9]`` + 9 digits), landlines or Chinese personal names are dropped;
* a ``household_id`` value that looks like an ID-card or phone number is replaced
  by ``"h_" + sha256(salt + id)[:16]``, so it stays consistent across years and
  between the household and member tables as long as the salt is the same.

Nothing here logs or prints a PII value; reasons name the column and the pattern only.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["detect_pii", "scrub", "is_id_card", "is_phone", "id_or_phone", "hash_id", "mask_value",
           "id_card_birth_date"]

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

#: Normalised header fragments that mark a column as PII, with the reason given.
PII_HEADERS: dict[str, str] = {
    "证件号码": "ID-card number (header)",
    "身份证号": "ID-card number (header)",
    "身份证号码": "ID-card number (header)",
    "公民身份号码": "ID-card number (header)",
    "证件号": "ID-card number (header)",
    "idcard": "ID-card number (header)",
    "id_card": "ID-card number (header)",
    "id_number": "ID-card number (header)",
    "联系电话": "phone number (header)",
    "户联系电话": "phone number (header)",
    "手机号": "phone number (header)",
    "手机号码": "phone number (header)",
    "电话": "phone number (header)",
    "电话号码": "phone number (header)",
    "phone": "phone number (header)",
    "mobile": "phone number (header)",
    "姓名": "person name (header)",
    "户主姓名": "person name (header)",
    "成员姓名": "person name (header)",
    "联系人": "person name (header)",
    "帮扶责任人": "person name (header)",
    "name": "person name (header)",
    "户主": "person name (header)",
    "银行卡号": "bank account (header)",
    "银行账号": "bank account (header)",
}
_PII_FRAGMENTS = ("证件号", "身份证", "电话", "手机", "姓名", "联系人")

# The 100 most common surnames, enough to tell names from category values.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


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


def _is_name(s: object) -> bool:
    v = str(s).strip()
    return bool(_RE_NAME.fullmatch(v)) and v[0] in _SURNAMES


def hash_id(s: object, salt: str) -> str:
    """Pseudonymous household key: ``"h_" + sha256(salt + id).hexdigest()[:16]``.

    The id is normalised first (full-width → half-width, spaces removed, ``x`` → ``X``)
    so the same person's number hashes the same whatever its spelling.
    """
    v = _norm(s)
    if v.endswith(".0"):
        v = v[:-2]
    return "h_" + hashlib.sha256((str(salt) + v).encode("utf-8")).hexdigest()[:16]


def mask_value(v: object) -> object:
    """``v`` itself, or ``"***"`` when it looks like an ID-card or phone number or a name."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return v
    if is_id_card(v) or is_phone(v):
        return "***"
    return v


def _header_reason(col: object) -> str | None:
    h = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(col))).lower()
    h = re.sub(r"\(.*?\)$", "", h)
    if h in PII_HEADERS:
        return PII_HEADERS[h]
    for frag in _PII_FRAGMENTS:
        if frag in h:
            return PII_HEADERS.get(frag, "PII (header)") if frag in PII_HEADERS else (
                "ID-card number (header)" if frag in ("证件号", "身份证") else
                "phone number (header)" if frag in ("电话", "手机") else "person name (header)")
    return None


def _content_reason(s: pd.Series, *, names: bool = True) -> str | None:
    vals = s.dropna()
    if vals.dtype.kind in "biufcmM" and vals.dtype.kind not in "iuf":
        return None
    vals = vals.astype(str).str.strip()
    vals = vals[(vals != "") & (vals.str.lower() != "nan")]
    if vals.empty:
        return None
    uniq = pd.unique(vals)
    sample = uniq[:2000]
    n = len(sample)
    _, cand = _candidates(sample)
    k_id = sum(map(is_id_card, cand))
    if k_id and k_id >= 0.3 * n:
        return "ID-card numbers (content)"
    k_ph = sum(map(is_phone, cand))
    if k_ph and k_ph >= 0.3 * n:
        return "phone numbers (content)"
    if names and n >= 3 and len(uniq) >= 0.5 * len(vals):
        k_nm = sum(map(_is_name, sample))
        if k_nm >= 0.8 * n:
            return "person names (content)"
    return None


def detect_pii(df: pd.DataFrame, *, skip: tuple[str, ...] = ("household_id",), names: bool = True) -> dict[str, str]:
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

    Returns
    -------
    dict
        column → reason such as ``"ID-card number (header)"`` or ``"phone numbers (content)"``.
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
            reason = _content_reason(s, names=names)
        if reason is not None:
            out[col] = reason
    return out


def hash_household_ids(s: pd.Series, salt: str) -> tuple[pd.Series, int]:
    """Replace values of ``s`` that look like ID-card or phone numbers by :func:`hash_id`.

    Returns the new series and the number of distinct values replaced.
    """
    uniq = pd.unique(s.dropna())
    repl = {u: hash_id(u, salt) for u in uniq[id_or_phone(uniq)]}
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
        Column holding the household key.

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
