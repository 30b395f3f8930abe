"""Person ID-card numbers of department feeds: normalised, checked, and replaced by a keyed hash.

Departments push lists keyed by a person's ID-card number (证件号码). The number
is read only to compute a *person hash* and is never kept, written or logged:

* :func:`normalize_id_number` gives the 18-character form: spaces, Excel's
  leading apostrophe or ``="..."`` marker and full-width digits removed, ``x``
  upper-cased, and an old 15-digit number converted by the national rule
  ("19" inserted after the 6-digit region code, the GB 11643 / ISO 7064
  MOD 11-2 check digit appended).
* :func:`id_number_issues` says what was found: ``""`` (a valid 18-digit
  number), ``"old_15"`` (converted), ``"bad_check_digit"``, ``"bad_format"``
  or ``"missing"``. Numbers Excel stored as numbers lose their last digits
  (15 significant digits): they are ``"bad_format"``, as no one can tell whose they are.
* :func:`person_hash` is ``"P" + HMAC-SHA256(salt, number)[:20]``: without the
  salt it cannot be recomputed, nor reversed by trying every number.
  A wrong check digit is hashed all the same (the roster may hold the same
  typo, or the number may be a real person's entered wrongly) but flagged.

Only the shape and the check digit are tested, not the region code or birth
date: a county's lists hold numbers of every province, and tests use fake regions.

The salt (:func:`resolve_salt`) must be the same for every run of a county, or
the hashes of two months' lists would not meet: explicit → ``FANPIN_SALT`` →
a salt file (``salt_file=`` or ``FANPIN_SALT_FILE``, made by :func:`new_salt_file`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fanpin_risk.errors import ContractError

from ._privacy import _clean_key

__all__ = ["ID_ISSUES", "id_check_digit", "normalize_id_number", "id_number_issues", "person_hash",
           "resolve_salt", "new_salt_file", "SALT_ENV", "SALT_FILE_ENV", "PERSON_HASH_LENGTH"]

#: Issue codes of :func:`id_number_issues`, "" meaning a valid 18-digit number.
ID_ISSUES = ("", "old_15", "bad_check_digit", "bad_format", "missing")
#: Environment variables holding the salt itself and the path of a salt file.
SALT_ENV, SALT_FILE_ENV = "FANPIN_SALT", "FANPIN_SALT_FILE"
#: Hex characters of the HMAC kept in a person hash (80 bits: no collision among a county's people).
PERSON_HASH_LENGTH = 20

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RE18 = re.compile(r"[0-9]{17}[0-9X]")
_RE15 = re.compile(r"[0-9]{15}")
# ID-card numbers written in groups: 9901 0119 9001 0112 34, 990101-19900101-1234
_GROUPS = re.compile(r"[\s\-_.·]")


def id_check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of the first 17 digits of an ID-card number.

    Examples
    --------
    >>> id_check_digit("99010119900101123")
    '0'
    """
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("the check digit needs exactly 17 digits")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _W)) % 11]


def _one(v: Any) -> tuple[str | None, str]:
    """(normalised 18-character number or None, issue code) of one cell."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None, "missing"
    text, cut = _clean_key(v)
    if text is None or text.lower() in ("nan", "none", "null", "<na>"):
        return None, "missing"
    if cut:  # Excel's 15 significant digits: the last ones are zeros, the person unknown
        return None, "bad_format"
    t = _GROUPS.sub("", text)
    if t.endswith(".0") and t[:-2].isdigit():
        t = t[:-2]
    if not t.isascii():
        return None, "bad_format"
    if _RE15.fullmatch(t):
        head = t[:6] + "19" + t[6:]
        return head + id_check_digit(head), "old_15"
    if _RE18.fullmatch(t):
        return t, "" if id_check_digit(t[:17]) == t[17] else "bad_check_digit"
    return None, "bad_format"


_WARR = np.array(_W, dtype=np.int64)
_CHECK_BYTES = np.frombuffer(_CHECK.encode("ascii"), dtype=np.uint8)


def _plain18(uniq: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells that are already a bare 18-character number, worked out with array arithmetic.

    Nearly every cell of a roster is such a text; :func:`_one` reads the rest
    (apostrophes, spaces, 15 digits, numeric cells ...) and gives the same answer for
    these (``test_array_path_gives_what_the_cell_reader_gives``), only a hundred
    times slower on a million members.

    Parameters
    ----------
    uniq : array
        Distinct non-missing cells (pandas' factorize): a string array, or objects.

    Returns
    -------
    (positions in ``uniq``, upper-cased numbers as objects (None where Excel cut the digits), issue codes)
    """
    if isinstance(uniq, np.ndarray):
        text_pos = np.flatnonzero(np.fromiter((type(u) is str for u in uniq), dtype=bool, count=len(uniq)))
        text = pa.array(uniq[text_pos], type=pa.large_string())
    else:  # pandas' str dtype: every cell is text
        text_pos = np.arange(len(uniq))
        text = pa.array(uniq, type=pa.large_string())
    plain = pc.match_substring_regex(text, r"^[0-9]{17}[0-9Xx]$").to_numpy(zero_copy_only=False).astype(bool)
    pos = text_pos[plain]
    empty = np.array([], dtype=object)
    if not len(pos):
        return pos, empty, empty
    sel = pc.ascii_upper(pc.filter(text, pa.array(plain)))
    offsets = np.frombuffer(sel.buffers()[1], dtype=np.int64)[sel.offset:sel.offset + len(sel) + 1]
    b = np.frombuffer(sel.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 18)
    check = _CHECK_BYTES[((b[:, :17].astype(np.int64) - 48) @ _WARR) % 11]
    good = check == b[:, 17]
    # 18 digits ending in 000 with a wrong check digit: Excel cut the number to 15 digits (as _clean_key says)
    cut = ~good & (b[:, 17] != ord("X")) & (b[:, 15:] == ord("0")).all(axis=1)
    num = np.array(sel.to_numpy(zero_copy_only=False), dtype=object)
    num[cut] = None
    issue = np.where(good, "", np.where(cut, "bad_format", "bad_check_digit")).astype(object)
    return pos, num, issue


def _normalised_unique(values: Any) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """(index, codes, normalised number and issue per distinct cell): each distinct cell worked out once.

    A code of -1 (a missing cell) points at the last entry: no number, "missing".
    """
    s = values if isinstance(values, pd.Series) else pd.Series(list(values) if not np.isscalar(values) else [values],
                                                                 dtype=object)
    if isinstance(s.dtype, pd.StringDtype):
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
        uniq = uniq.array
    else:
        codes, uniq = pd.factorize(s.astype(object), use_na_sentinel=True)
        uniq = np.asarray(uniq, dtype=object)
    num = np.empty(len(uniq) + 1, dtype=object)
    iss = np.empty(len(uniq) + 1, dtype=object)
    num[-1], iss[-1] = None, "missing"
    fast, fnum, fiss = _plain18(uniq)
    num[fast], iss[fast] = fnum, fiss
    rest = np.ones(len(uniq), dtype=bool)
    rest[fast] = False
    for i in np.flatnonzero(rest):
        num[i], iss[i] = _one(uniq[i])
    return s.index, codes, num, iss


def _normalised(values: Any) -> tuple[pd.Series, pd.Series]:
    """Normalised numbers and issue codes of ``values``, aligned with it."""
    index, codes, num, iss = _normalised_unique(values)
    return pd.Series(num[codes], index=index, dtype="str"), pd.Series(iss[codes], index=index, dtype="str")


def normalize_id_number(values: Any) -> pd.Series:
    """ID-card numbers in their 18-character form, missing where no number can be read.

    Parameters
    ----------
    values : sequence or Series
        Cells as read: text (``'99010119900101123x``, full-width digits, spaces),
        numbers (a 15-digit old number survives a numeric cell; an 18-digit one
        does not) or missing.

    Returns
    -------
    pandas.Series
        ``str`` dtype, aligned with ``values``: the normalised number (with a wrong
        check digit too), NaN for missing and badly formed values. Never print or
        log it: it holds the clear numbers.

    Examples
    --------
    >>> normalize_id_number(["'99010119900101123０ ", "990101900101123", "99010119900101123x", "12"]).tolist()
    ['990101199001011230', '990101199001011230', '99010119900101123X', nan]
    """
    return _normalised(values)[0]


def id_number_issues(values: Any) -> pd.Series:
    """What is wrong with each ID-card number: a code of :data:`ID_ISSUES`.

    ``""`` a valid 18-digit number; ``"old_15"`` a 15-digit number (converted to
    18 digits); ``"bad_check_digit"`` 18 characters whose check digit is wrong
    (still hashed: a typo or a real person's number entered wrongly);
    ``"bad_format"`` anything else, including numbers whose last digits Excel set
    to 0; ``"missing"`` an empty cell.

    Examples
    --------
    >>> id_number_issues(["990101199001011230", "990101900101123", "990101199001011239", "abc", None]).tolist()
    ['', 'old_15', 'bad_check_digit', 'bad_format', 'missing']
    """
    return _normalised(values)[1]


def person_hash(values: Any, salt: str) -> pd.Series:
    """Keyed hash of each person's ID-card number: ``"P" + HMAC-SHA256(salt, number).hex()[:20]``.

    The number is normalised first (:func:`normalize_id_number`), so an old
    15-digit number, an apostrophe-typed or full-width one hash as the 18-digit
    number does. Missing and badly formed numbers give ``<NA>``; a wrong check
    digit is hashed (and flagged by :func:`id_number_issues`).

    Parameters
    ----------
    values : sequence or Series
    salt : str
        The county's salt (:func:`resolve_salt`); without it the hash can neither be
        recomputed nor reversed by trying every possible number.

    Returns
    -------
    pandas.Series
        ``str`` dtype, aligned with ``values``.

    Examples
    --------
    >>> h = person_hash(["990101199001011230", "990101900101123", None], salt="county-salt")
    >>> h[0] == h[1], len(h[0]), h[0][0], h.isna().tolist()
    (True, 21, 'P', [False, False, True])
    >>> bool(person_hash(["990101199001011230"], "another")[0] != h[0])
    True
    """
    return person_hashes_and_issues(values, salt)[0]


def person_hashes_and_issues(values: Any, salt: str) -> tuple[pd.Series, pd.Series]:
    """:func:`person_hash` and :func:`id_number_issues` of the same cells, each number read once.

    Examples
    --------
    >>> h, issue = person_hashes_and_issues(["990101900101123", "abc"], salt="s")
    >>> issue.tolist(), h.isna().tolist()
    (['old_15', 'bad_format'], [False, True])
    """
    if not isinstance(salt, str) or not salt:
        raise ContractError("person_hash needs a salt (see resolve_salt)")
    index, codes, num, iss = _normalised_unique(values)
    # one hash per distinct cell: two spellings of one number are hashed twice, to the same hash
    known = np.flatnonzero(pd.notna(num))
    hashed = np.empty(len(num), dtype=object)
    hashed[known] = _hmac_hex(salt.encode("utf-8"), num[known])
    return pd.Series(hashed[codes], index=index, dtype="str"), pd.Series(iss[codes], index=index, dtype="str")


def _hmac_hex(key: bytes, numbers: Any) -> list[str]:
    """``"P" + HMAC-SHA256(key, number).hex()[:PERSON_HASH_LENGTH]`` of each number (RFC 2104).

    The keyed inner and outer SHA-256 states are computed once and copied for each
    number: half the time of ``hmac.digest`` per call, which matters for a roster of
    millions of members, and the same digest (``test_person_hash_is_the_documented_hmac``).
    """
    if len(key) > 64:  # SHA-256's block: longer keys are hashed first (RFC 2104)
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    n = PERSON_HASH_LENGTH // 2

    def one(number: str) -> str:
        i = inner.copy()
        i.update(number.encode("ascii"))
        o = outer.copy()
        o.update(i.digest())
        return "P" + o.digest()[:n].hex()

    return [one(u) for u in numbers]


# --------------------------------------------------------------------------- the salt
def resolve_salt(salt: str | None = None, salt_file: str | os.PathLike | None = None, *,
                 required: bool = True) -> str | None:
    """The county's salt: ``salt``, else ``$FANPIN_SALT``, else a salt file, else an error.

    Parameters
    ----------
    salt : str, optional
        The salt itself.
    salt_file : path, optional
        A file holding the salt (its first line, surrounding spaces removed); default
        ``$FANPIN_SALT_FILE``. Make one with :func:`new_salt_file`.
    required : bool, default True
        Raise :class:`~fanpin_risk.errors.ContractError` when none is found (person
        hashes of feeds must be the same in every run); False returns None instead
        (the household-key hashing of :func:`fanpin_risk.read_panel` then falls back
        to a random salt and warns).

    Examples
    --------
    >>> resolve_salt("abc")
    'abc'
    """
    if salt:
        return str(salt)
    env = os.environ.get(SALT_ENV)
    if env:
        return env
    path = salt_file if salt_file is not None else os.environ.get(SALT_FILE_ENV) or None
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ContractError(f"cannot read the salt file {p}: {exc.strerror or type(exc).__name__}; "
                                "check the path (salt_file= or FANPIN_SALT_FILE)") from None
        value = text.strip().splitlines()[0].strip() if text.strip() else ""
        if not value:
            raise ContractError(f"the salt file {p} is empty; write a new one with new_salt_file()")
        return value
    if required:
        raise ContractError(
            "no salt: person hashes must be the same in every run of the county, so a random salt will not do. "
            "Pass salt= or salt_file=, or set FANPIN_SALT or FANPIN_SALT_FILE; make a salt file once with "
            "fanpin_risk.contract.new_salt_file(path) and keep it (see docs/alerts.md, 'Keeping the salt')")
    return None


def new_salt_file(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a new random salt (32 bytes, hex) to ``path``, readable by its owner only (0600).

    An existing file is never replaced unless ``overwrite``: a new salt changes every
    hash, so last month's lists would no longer match this month's.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise ContractError(f"{p} exists: a new salt would change every person and household hash; "
                            "pass overwrite=True only if that is what you want")
    p.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(p, flags, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
    finally:
        os.close(fd)
    os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)  # also when the file existed with wider permissions
    return p
