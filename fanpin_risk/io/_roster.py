"""The roster: every member of the monitored households as a person hash, read from the member sheet.

:func:`read_roster` reads the member sheet as :func:`read_panel` does (same
loader, header matching, privacy screening, merged 户编号 cells filled down) and
keeps one row per member: the household key exactly as :func:`read_panel` gives
it for the same file and salt (hashed alike when it is an ID-card or phone
number), the member number, the person hash of the member's ID-card number and
its issue code. The ID-card number itself, names and phones are dropped.
"""

from __future__ import annotations

import os
import re
import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._context import _Ctx
from ._feeds import FeedReport, _feed_report, _hash_ids, _id_column
from ._files import Source, _load
from ._headers import _map_headers
from ._members import _clean_member_rows, _fill_merged_keys
from ._pii import _Salt, _scrub_table

__all__ = ["read_roster", "ROSTER_COLUMNS"]

#: Columns of the roster, in order (``year`` only when the member sheet has one).
ROSTER_COLUMNS = ("household_id", "member_no", "person_hash", "id_issue", "township_code", "village_code")
_LABEL = "member table"
_HASHED_KEY = re.compile(r"h_[0-9a-f]{16}")
_PLACES = ("township_code", "village_code")


def read_roster(members: Source, *, salt: str | None = None, salt_file: str | os.PathLike | None = None,
                households: pd.DataFrame | None = None, sheet: str | int | None = None,
                ) -> tuple[pd.DataFrame, FeedReport]:
    """Read the member sheet into the roster that department feeds are matched against.

    Parameters
    ----------
    members : path or DataFrame
        The member sheet (成员信息), in any form :func:`read_panel` reads: one row
        per person (and year), with 户编号, 成员序号 and the member's 证件号码.
    salt, salt_file : optional
        The county's salt (:func:`fanpin_risk.contract.resolve_salt`); none found is
        an error. Pass the same salt to :func:`read_panel` so the household keys meet.
    households : DataFrame, optional
        The canonical household frame of :func:`read_panel` for the same export:
        gives township_code and village_code when the member sheet has none, and
        (as in :func:`read_panel`, where the household table is read first) decides
        whether every member key is hashed: when all its household ids are hashes.
    sheet : str or int, optional
        Sheet of a workbook holding the members.

    Returns
    -------
    (pandas.DataFrame, FeedReport)
        One row per member: ``household_id``, ``member_no`` (Int64),
        ``person_hash``, ``id_issue``, ``township_code``, ``village_code`` (and
        ``year`` when the sheet has one: a person listed in several years keeps the
        latest). No ID-card number, name or phone number.

    Examples
    --------
    >>> import pandas as pd
    >>> mem = pd.DataFrame({"户编号": ["H1", "H1", "H2"], "成员序号": [1, 2, 1], "姓名": ["张三", "李四", "王五"],
    ...                     "证件号码": ["990101199001011230", "99010119900101123X", None], "乡镇代码": "520102101"})
    >>> roster, report = read_roster(mem, salt="doc")
    >>> roster[["household_id", "member_no", "id_issue", "township_code"]]
      household_id  member_no         id_issue township_code
    0           H1          1                      520102101
    1           H1          2  bad_check_digit     520102101
    2           H2          1          missing     520102101
    >>> report.id_issues
    {'': 1, 'bad_check_digit': 1, 'missing': 1}
    """
    ctx = _Ctx(errors="warn")
    salt_ = _Salt.resolve(salt, salt_file, required=True)
    if households is not None:
        salt_.whole = _keys_hashed(households)
    raw = _load(members, sheet, "member", _LABEL, ctx)
    mmap, unknown = _map_headers(raw, "member", _LABEL, ctx, extra_table="household_year")
    id_col, note = _id_column(raw, {c: contract.header_map(contract.FEEDS).get(contract.normalize_header(c), "")
                                    for c in unknown}, unknown)
    if id_col is None:
        raise ContractError(f"{_LABEL}: no ID-card column (证件号码, 身份证号 ...): the roster needs each member's "
                            "ID-card number to match department lists")
    if note:
        ctx.notes.append(note.replace("feed:", f"{_LABEL}:"))
    person, issue = _hash_ids(raw.pop(id_col), salt_.salt)
    raw, mmap, _ = _scrub_table(raw, mmap, _LABEL, salt_, ctx)
    m = _member_frame(raw, mmap)
    m["_person"], m["_issue"] = person, issue
    m = _fill_merged_keys(m, ctx)
    m, _ = _clean_member_rows(m, mmap, ctx)
    out = _roster_frame(m, households, ctx)
    left_out = [c for c in unknown if c in raw.columns and c != id_col]
    return out, _feed_report("roster", members, out, ctx, False, id_col, left_out)


def _keys_hashed(households: pd.DataFrame) -> bool | None:
    """Whether every household id of a read_panel frame is a salted hash (then every member key is hashed)."""
    ids = households["household_id"].dropna().astype(str) if "household_id" in households.columns else None
    if ids is None or ids.empty:
        return None
    return bool(ids.str.fullmatch(_HASHED_KEY).all())


def _member_frame(raw: pd.DataFrame, mmap: dict[str, str]) -> pd.DataFrame:
    """Contract columns of the member sheet renamed as :func:`read_panel` names them (household fields ``hh__f``)."""
    m = raw[list(mmap)].copy()
    m.columns = [("hh__" + f[3:].lstrip("!")) if f.startswith("hh:") else f for f in mmap.values()]
    for need in ("household_id", "year"):
        if need not in m.columns and "hh__" + need in m.columns:
            m = m.rename(columns={"hh__" + need: need})
    if "household_id" not in m.columns:
        raise ContractError(f"{_LABEL} lacks household_id (户编号): each member needs its household")
    if "year" not in m.columns:
        m["year"] = 0  # one year: merged keys are filled down all the same
        m.attrs["_no_year"] = True
    return m


def _roster_frame(m: pd.DataFrame, households: pd.DataFrame | None, ctx: _Ctx) -> pd.DataFrame:
    """One row per member in the roster's columns and dtypes; places from the sheet, else from ``households``."""
    has_year = not m.attrs.get("_no_year", False)
    out = pd.DataFrame({"household_id": m["household_id"].astype("str")}, index=m.index)
    out["member_no"] = pd.array(m["member_no"], dtype="Int64") if "member_no" in m.columns else pd.NA
    out["member_no"] = out["member_no"].astype("Int64")
    out["person_hash"] = m["_person"].astype("str")
    out["id_issue"] = m["_issue"].astype("str")
    for f in _PLACES:
        out[f] = m["hh__" + f].astype("str") if "hh__" + f in m.columns else pd.Series(np.nan, index=m.index,
                                                                                     dtype="str")
    if has_year:
        out["year"] = pd.to_numeric(m["year"], errors="coerce").astype("Int64")
        out = _latest_year(out, ctx)
    if households is not None:
        out = _places_from(out, households, ctx)
    return out.reset_index(drop=True)


def _latest_year(out: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """A person listed in several years: the row of the latest year kept (members without a hash all kept)."""
    order = out.sort_values("year", kind="stable", na_position="first")
    dup = order["person_hash"].notna() & order.duplicated("person_hash", keep="last")
    if dup.any():
        ctx.notes.append(f"{_LABEL}: {int(dup.sum())} row(s) of people listed in several years left out; "
                         "the latest year's row is kept")
        out = out.drop(index=order.index[dup])
    return out


def _places_from(out: pd.DataFrame, households: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """township_code and village_code filled from the household frame (its latest year) where empty."""
    have = [f for f in _PLACES if f in households.columns]
    if not have or "household_id" not in households.columns:
        return out
    hh = households
    if "year" in hh.columns:
        hh = hh.sort_values("year", kind="stable")
    last = hh.drop_duplicates("household_id", keep="last").set_index("household_id")
    n = 0
    for f in have:
        vals = out["household_id"].map(last[f]).astype("str")
        fill = out[f].isna() & vals.notna()
        if fill.any():
            out[f] = out[f].where(~fill, vals)
            n += int(fill.sum())
    if n:
        ctx.notes.append(f"{_LABEL}: {n} township/village code(s) taken from the household table")
    return out

