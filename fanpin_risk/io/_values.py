"""Cell values as county exports spell them: 是/否, ``1,200元``, ``2021年3月``, missing markers.

The per-value parsers (:func:`parse_bool`, :func:`parse_number`, :func:`parse_month`,
...) define what a cell means. The vectorised helpers below give the same answers
for a whole text column, testing each distinct value once and, where a value is
plain ASCII, with Arrow kernels instead of Python calls.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

_NA = {"", "nan", "none", "null", "na", "n/a", "<na>", "nat", "-", "--", "—", "/", "\\"}
_TRUE = {"是", "有", "已", "√", "✓", "✔", "对", "y", "yes", "true", "t", "1", "1.0"}
_FALSE = {"否", "无", "未", "×", "✗", "✘", "x", "n", "no", "false", "f", "0", "0.0"}
_NUM = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(万元|万|元/人/年|元/人|元/年|元|人|个月|月|岁|年度|年|亩|公里|km|户|次)?",
    re.IGNORECASE,
)
_MONTH = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月日]?.*)?")
#: Excel day serials of 2000-01-01 .. 2100-12-31 (1900 date system) and the serial epoch.
_EXCEL_SERIAL = (36526, 73415)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Arrow (RE2) patterns run over the distinct values of a text column. No spelling of a
# missing value holds a digit or a Han character, and NFKC, strip and lower keep both.
_DIGIT_OR_HAN = "[0-9\u4e00-\u9fff]"
# An ASCII decimal that parse_number reads as float(value): no space, comma, unit, "+"
# or exponent (those go through parse_number itself).
_PLAIN_NUMBER = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
# ASCII whitespace as str.strip() sees it, at either end of a value.
_EDGE_SPACE = r"^[\t-\r\x1c-\x20]|[\t-\r\x1c-\x20]$"


# --------------------------------------------------------------------------- per value
def _isna(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, str):
        return unicodedata.normalize("NFKC", v).strip().lower() in _NA
    return False


def parse_bool(v: Any) -> bool:
    """Read a yes/no cell.

    Parameters
    ----------
    v : object
        是/否, 有/无, √/×, true/false, 1/0, Y/N (spaces and full-width forms ignored),
        a bool, or the number 0 or 1.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        When ``v`` is none of these.

    Examples
    --------
    >>> parse_bool("是"), parse_bool(" 否 "), parse_bool("√"), parse_bool(0)
    (True, False, True, False)
    """
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer | float | np.floating) and v in (0, 1):
        return bool(v)
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v))).lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(v)


def parse_number(v: Any) -> float:
    """Read a number written with separators, full-width digits or a unit.

    Parameters
    ----------
    v : object
        A number, or text such as ``1,200``, ``１２００``, ``1200元``, ``3人`` or
        ``1.2万元`` (万 multiplies by 10,000). Booleans are refused.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``v`` is not such a number.

    Examples
    --------
    >>> parse_number("1,200元"), parse_number("1.2万元"), parse_number("３人")
    (1200.0, 12000.0, 3.0)
    """
    if isinstance(v, bool | np.bool_):
        raise ValueError(v)
    if isinstance(v, int | np.integer | float | np.floating):
        return float(v)
    t = re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", str(v)))
    m = _NUM.fullmatch(t)
    if not m:
        raise ValueError(v)
    x = float(m.group(1))
    if m.group(2) and m.group(2).startswith("万"):
        x *= 10_000
    return x


def parse_month(v: Any) -> int:
    """Read a month as ``YYYYMM``.

    Parameters
    ----------
    v : object
        202103, ``"2021-03"``, ``"2021/3"``, ``"2021年3月"``, ``"20210315"``, a date
        or timestamp, or an Excel day serial of a date in 2000–2100.

    Returns
    -------
    int
        ``year * 100 + month``.

    Raises
    ------
    ValueError
        When ``v`` is not a month of 1900–2100.

    Examples
    --------
    >>> parse_month("2021年3月"), parse_month("2021/3"), parse_month(44256)
    (202103, 202103, 202103)
    """
    if isinstance(v, datetime | date | pd.Timestamp):
        return v.year * 100 + v.month
    if isinstance(v, int | np.integer | float | np.floating) and not isinstance(v, bool | np.bool_):
        if float(v) != int(v):
            raise ValueError(v)
        t = str(int(v))
    else:
        t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))
        if re.fullmatch(r"\d+\.0+", t):
            t = t.split(".")[0]
    if re.fullmatch(r"\d{5}", t) and _EXCEL_SERIAL[0] <= int(t) <= _EXCEL_SERIAL[1]:
        # A date cell that lost its date format shows as Excel's day serial (44256 = 2021-03-01).
        d = _EXCEL_EPOCH + pd.Timedelta(days=int(t))
        y, m = d.year, d.month
    elif re.fullmatch(r"\d{6}", t):
        y, m = int(t[:4]), int(t[4:])
    elif re.fullmatch(r"\d{8}", t):
        y, m = int(t[:4]), int(t[4:6])
    else:
        mm = _MONTH.fullmatch(t)
        if not mm:
            raise ValueError(v)
        y, m = int(mm.group(1)), int(mm.group(2))
    if not (1 <= m <= 12 and 1900 <= y <= 2100):
        raise ValueError(v)
    return y * 100 + m


def _parse_string(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, datetime | date | pd.Timestamp):
        return str(v)
    return unicodedata.normalize("NFKC", str(v)).strip()


def _parse_category(v: Any) -> str:
    # Chinese code values carry no spaces: "脱贫 户" → "脱贫户".
    return re.sub(r"\s+", "", str(v).replace("\u3000", " "))


def _parse_integer(v: Any) -> int:
    x = parse_number(v)
    # beyond int64 the Int64 column cannot hold it: a parse error, not an OverflowError later
    if not float(x).is_integer() or abs(x) >= 2**63:
        raise ValueError(v)
    return int(x)


def _looks_numeric(v: Any) -> bool:
    try:
        parse_number(v)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _kind(field_row: Any) -> str:
    """Parser kind of a contract field row: its type, or ``"month"`` for YYYYMM fields."""
    if field_row.unit == "YYYYMM":
        return "month"
    return field_row.type


_PARSERS = {
    "string": _parse_string,
    "category": _parse_category,
    "integer": _parse_integer,
    "number": parse_number,
    "boolean": parse_bool,
    "month": parse_month,
}


# --------------------------------------------------------------------------- per column
def _text_codes(s: pd.Series) -> tuple[np.ndarray, pa.Array | pa.ChunkedArray] | None:
    """Codes (-1 where missing) and distinct values of ``s`` when every value is text, else None.

    Parsing and PII tests then run once per distinct value, mostly as Arrow kernels,
    and reach the rows through the codes. A column mixing text with numbers or dates
    (Excel) gives None: pandas' unique/isin/map treat 1, 1.0 and True as one value
    there, which only the per-value paths reproduce.
    """
    if isinstance(s.dtype, pd.StringDtype):
        codes, uniq = pd.factorize(s)
        return codes, pa.array(uniq.array)
    if s.dtype != object:
        return None
    codes, uniq = pd.factorize(s.to_numpy())
    if not all(isinstance(u, str) for u in uniq):
        return None
    try:
        return codes, pa.array(uniq, type=pa.large_string())
    except UnicodeEncodeError:  # a lone surrogate: only Python holds it
        return None


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result (no nulls) as a numpy bool array."""
    return np.asarray(mask, dtype=bool)


def _take(per_value: np.ndarray, codes: np.ndarray, missing: Any) -> np.ndarray:
    """Per-row array from per-distinct-value results; rows with code -1 (missing) get ``missing``."""
    return np.concatenate([per_value, np.array([missing], dtype=per_value.dtype)])[codes]


def _take_str(per_value: np.ndarray, codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """``str`` array of per-distinct-value strings (None: missing) taken per row, with no Python string per row."""
    rows = pa.array(per_value, type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.arrays.ArrowStringArray(rows, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _test_some(uniq: pa.Array | pa.ChunkedArray, test: Any, maybe: np.ndarray) -> np.ndarray:
    """``test(u)`` for the distinct values where the pre-filter ``maybe`` holds, False elsewhere."""
    out = np.zeros(len(uniq), dtype=bool)
    idx = np.flatnonzero(maybe)
    if len(idx):
        out[idx] = [test(u) for u in uniq.take(pa.array(idx)).to_pylist()]
    return out


def _isna_text(uniq: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_isna` of each distinct text value (only those without a digit or Han character can be missing)."""
    return _test_some(uniq, _isna, ~_np(pc.match_substring_regex(uniq, _DIGIT_OR_HAN)))


def _na_mask(s: pd.Series) -> pd.Series:
    """Vectorised :func:`_isna` (tests each distinct value once)."""
    base = s.isna()
    if s.dtype.kind in "biufcmM" or s.dtype in ("boolean", "Int64", "Float64"):
        return base.astype(bool)
    enc = _text_codes(s)
    if enc is not None:
        codes, uniq = enc
        return pd.Series(_take(_isna_text(uniq), codes, True), index=s.index)
    rest = s[~base]
    bad = [u for u in pd.unique(rest) if _isna(u)]
    if not bad:
        return base.astype(bool)
    return (base | s.isin(bad)).astype(bool)


def _parse_strings(uniq: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_parse_string` of each distinct text value (object array).

    ASCII text is its own NFKC form, so unless it starts or ends with whitespace
    it comes back unchanged; only the other values go through the Python function.
    """
    out = uniq.to_numpy(zero_copy_only=False)
    odd = ~_np(pc.string_is_ascii(uniq)) | _np(pc.match_substring_regex(uniq, _EDGE_SPACE))
    out[odd] = [_parse_string(u) for u in out[odd]]
    return out


def _to_float(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``float(t)`` of :data:`_PLAIN_NUMBER` values: Arrow's parser rounds correctly, as ``float`` does."""
    try:
        return np.asarray(pc.cast(text, pa.float64()), dtype=np.float64)
    except pa.ArrowInvalid:  # out of range: float() gives ±inf
        return np.array([float(t) for t in text.to_pylist()], dtype=np.float64)


# --------------------------------------------------------------------------- units in headers
#: Quantities a unit of ``data_schema/units.csv`` may measure (the first part of its base).
_QUANTITIES = ("yuan", "persons", "months", "years", "mu", "km")
#: Qualifiers after the quantity ("yuan/person/year"); a header's must fit the field's.
_QUALIFIERS = ("person", "household", "year")
# Values that carry a unit of their own ("1.2万", "3人") are read as written, not rescaled.
_OWN_UNIT = "[\u4e00-\u9fff]"


@lru_cache(maxsize=None)
def _unit_rows() -> dict[str, tuple[tuple[float, str], ...]]:
    """Unit (spelt as :func:`fanpin_risk.contract.normalize_header` returns it) → its (factor, base) rows.

    A unit may be listed more than once (年: 12 months of a duration, 1 year of
    age); the row whose base fits the field is used. A row that could not work
    refuses the file: a typo would otherwise read values in the wrong unit.
    """
    path = contract.schema_dir() / "units.csv"
    out: dict[str, list[tuple[float, str]]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            q, *quals = r["base"].split("/")
            try:
                factor = float(r["factor"])
            except ValueError:
                factor = -1.0
            # the spelling a header carries: the unit as it comes out of a header "x(unit)"
            spelt = contract.normalize_header(f"x({r['unit']})", unit=True)[1]
            if not factor > 0 or q not in _QUANTITIES or not set(quals) <= set(_QUALIFIERS) or spelt is None:
                raise ContractError(f"{path.name}: row {r['unit']!r} needs a positive factor and a base "
                                    f"of {', '.join(_QUANTITIES)} (optionally /{'/'.join(_QUALIFIERS)})")
            out.setdefault(spelt, []).append((factor, r["base"]))
    return {u: tuple(rows) for u, rows in out.items()}


def _base_fits(base: str, contract_unit: str, *, exact: bool = True) -> bool:
    """Whether values in ``base`` can be a field in ``contract_unit``.

    The quantity must be the same (yuan, persons, months, ...). With ``exact``
    the qualifiers must fit too: every contract money field is annual, so "/year"
    may be left out of a header; a per-person header fits a per-person field, a
    per-household one a field that is not per person.
    """
    q, *quals = base.split("/")
    cq, *cquals = contract_unit.split("/")
    allowed = set(cquals) | ({"household"} if "person" not in cquals else set())
    return q == cq and (not exact or set(quals) <= allowed)


def _unit_factor(unit: str, contract_unit: str) -> tuple[float | None, bool]:
    """Factor taking values in header ``unit`` to ``contract_unit``, and whether the qualifiers fit.

    The factor is None when the unit measures another quantity (亩 for an income);
    ``False`` second means only the quantity fits (元/人/年 on a household total).
    """
    rows = _unit_rows().get(unit, ())
    for exact in (True, False):
        f = next((f for f, base in rows if _base_fits(base, contract_unit, exact=exact)), None)
        if f is not None:
            return f, exact
    return None, False


def _fitting_units(contract_unit: str) -> list[str]:
    """Units of ``units.csv`` that a field in ``contract_unit`` accepts (for messages)."""
    return [u for u, rows in _unit_rows().items() if any(_base_fits(b, contract_unit) for _, b in rows)]


def _own_unit(s: pd.Series) -> np.ndarray:
    """Per row of raw column ``s``: whether the cell is text with a unit of its own (a Han character)."""
    if s.dtype.kind in "biufcmM":
        return np.zeros(len(s), dtype=bool)
    enc = _text_codes(s)
    if enc is not None:
        codes, uniq = enc
        return _take(_np(pc.match_substring_regex(uniq, _OWN_UNIT)), codes, False)
    pat = re.compile(_OWN_UNIT)
    return np.array([isinstance(v, str) and pat.search(v) is not None for v in s], dtype=bool)
