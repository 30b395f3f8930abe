"""Department feeds matched to the roster by person hash.

Rules, row by row of the feeds in the order given:

``bad_id``
    The ID-card number is missing or badly formed (no person hash): it cannot be matched.
``duplicate``
    The same person, kind and event month came earlier in the feeds (a list sent
    twice, or one person in two lists of a month); the first one keeps its status.
``matched``
    The person hash is a roster member's: ``household_id`` and ``member_no`` filled.
``not_in_roster``
    A valid hash of no roster member: someone outside the monitored households,
    listed by the department's own township and village (:func:`unmatched_by_township`).

``id_issue`` is kept beside the status: an old 15-digit number that matches is
``matched`` with ``old_15``; a wrong check digit that matches no one is
``not_in_roster`` with ``bad_check_digit`` (worth a look: a typo of a member's number?).
Duplicate rows keep the household of their person, so count alerts on ``status == "matched"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin_risk.errors import ContractError

__all__ = ["match_feeds", "unmatched_by_township", "MATCH_STATUSES"]

#: Values of the ``status`` column of :func:`match_feeds`.
MATCH_STATUSES = ("matched", "not_in_roster", "duplicate", "bad_id")
_ROSTER_COLS = ("household_id", "member_no", "township_code", "village_code")


def match_feeds(feeds: pd.DataFrame | list[pd.DataFrame], roster: pd.DataFrame) -> pd.DataFrame:
    """Match the rows of department feeds to roster members.

    Parameters
    ----------
    feeds : DataFrame or list of DataFrames
        Frames of :func:`read_feed` (one kind each, or several stacked).
    roster : DataFrame
        The frame of :func:`read_roster`.

    Returns
    -------
    pandas.DataFrame
        One row per feed row, in the order given: the feed's columns, then
        ``household_id`` (missing when not matched), ``member_no``,
        ``township_code``, ``village_code`` (the roster's) and ``status`` (see
        :data:`MATCH_STATUSES` and the module notes). ``attrs["counts"]`` holds the
        rows per status and ``attrs["roster_conflicts"]`` the hashes of the feeds
        that the roster gives to two households (the first one is used).

    Examples
    --------
    >>> import pandas as pd
    >>> roster = pd.DataFrame({"household_id": ["H1"], "member_no": pd.array([1], dtype="Int64"),
    ...                        "person_hash": ["Pa"], "id_issue": [""]})
    >>> feed = pd.DataFrame({"kind": "unemployment", "person_hash": ["Pa", "Pb", "Pa", None],
    ...                      "id_issue": ["", "", "", "missing"], "event_month": [202503, 202503, 202503, 202504]})
    >>> match_feeds(feed, roster)[["person_hash", "household_id", "status"]]
      person_hash household_id         status
    0          Pa           H1        matched
    1          Pb          NaN  not_in_roster
    2          Pa           H1      duplicate
    3         NaN          NaN         bad_id
    """
    frames = [feeds] if isinstance(feeds, pd.DataFrame) else list(feeds)
    if not frames:
        raise ContractError("match_feeds needs at least one feed frame (read_feed)")
    for f in frames:
        missing = {"kind", "person_hash", "id_issue", "event_month"} - set(f.columns)
        if missing:
            raise ContractError(f"a feed frame lacks {sorted(missing)}; pass frames of read_feed")
    df = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0].reset_index(drop=True)
    if "person_hash" not in roster.columns or "household_id" not in roster.columns:
        raise ContractError("the roster lacks person_hash or household_id; pass the frame of read_roster")
    lookup, conflicts = _lookup(roster, df["person_hash"])
    found = df[["person_hash"]].join(lookup, on="person_hash")
    out = df.copy()
    for c in _ROSTER_COLS:
        if c in lookup.columns:
            out[c] = found[c].to_numpy()
    out["household_id"] = out["household_id"].astype("str")
    if "member_no" in out.columns:
        out["member_no"] = pd.array(out["member_no"], dtype="Int64")
    has_hash = out["person_hash"].notna()
    dup = has_hash & out.duplicated(["person_hash", "kind", "event_month"], keep="first")
    status = np.where(~has_hash, "bad_id", np.where(dup, "duplicate",
                      np.where(out["household_id"].notna(), "matched", "not_in_roster")))
    out["status"] = pd.Series(status, index=out.index, dtype="str")
    out.attrs = {"counts": {s: int((status == s).sum()) for s in MATCH_STATUSES}, "roster_conflicts": conflicts}
    return out


def _lookup(roster: pd.DataFrame, wanted: pd.Series) -> tuple[pd.DataFrame, int]:
    """Roster columns by person hash (first row of a hash) for the hashes ``wanted``, and how many of
    them name two households.

    Only the people of the feeds are looked up: a county's roster has millions of
    members and its lists a few thousand people a month.
    """
    r = roster[roster["person_hash"].isin(pd.unique(wanted.dropna()))]
    n_households = r.groupby("person_hash")["household_id"].nunique(dropna=False)
    conflicts = int((n_households > 1).sum())
    cols = [c for c in _ROSTER_COLS if c in r.columns]
    return r.drop_duplicates("person_hash", keep="first").set_index("person_hash")[cols], conflicts


def unmatched_by_township(matches: pd.DataFrame, *, include_bad_id: bool = False) -> pd.DataFrame:
    """People of the feeds who are not in the roster, counted by the department's township, village and kind.

    Parameters
    ----------
    matches : DataFrame
        The frame of :func:`match_feeds`.
    include_bad_id : bool, default False
        Also count rows whose ID-card number could not be read (``bad_id``).

    Returns
    -------
    pandas.DataFrame
        Columns ``township, village, kind, count`` (empty places as NaN), most
        rows first: the lists to check with the townships. Never an ID.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"kind": "medical_bill", "status": ["not_in_roster", "not_in_roster", "matched"],
    ...                   "township": ["城关镇", "城关镇", "河西乡"], "village": ["东村", "东村", "西村"]})
    >>> unmatched_by_township(m)
      township village          kind  count
    0      城关镇      东村  medical_bill      2
    """
    wanted = ["not_in_roster"] + (["bad_id"] if include_bad_id else [])
    sub = matches[matches["status"].isin(wanted)]
    keys = ["township", "village", "kind"]
    frame = pd.DataFrame({k: (sub[k] if k in sub.columns else pd.Series(np.nan, index=sub.index, dtype="str"))
                          .astype("str") for k in keys})
    out = frame.groupby(keys, dropna=False, sort=True).size().rename("count").reset_index()
    out["count"] = out["count"].astype("int64")
    return out.sort_values(["count", *keys], ascending=[False, True, True, True], kind="stable",
                           na_position="last").reset_index(drop=True)
