"""Simulated department screening feeds (部门筛查预警): the lists departments push, keyed by ID number.

:func:`simulate_feeds` simulates a panel, keeps the records up to ``year - 1`` as
what the county holds, and derives from ``year``'s truth the events the
departments (医保局, 教育局, 应急管理局, 人社局, 民政局, 残联, 住建局) would push in
``year``, month by month, in the feed contract of ``data_schema/feeds.csv`` and
``data_schema/feeds/<kind>.csv`` (read here with pandas directly), with the noise
of real lists: people outside the roster, duplicates, ID typos, old 15-digit IDs,
IDs typed with an apostrophe or spaces, late entries. :func:`write_feeds` writes
them as a county receives them (GBK CSV or xlsx, Chinese headers, title rows).

Every ID number is synthetic: region code ``99cccc`` (no real region starts with
99), a birth date consistent with the member's age and a valid ISO 7064 MOD 11-2
check digit (:func:`synthetic_id_numbers`). Names are ``<surname>某某``. The event
model and the noise defaults are documented in docs/alerts.md ("Simulated feeds").
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from fanpin_risk import contract

from ._simulate import simulate

__all__ = ["FeedSet", "synthetic_id_numbers", "simulate_feeds", "write_feeds", "FEED_NOISE", "FEED_KINDS"]

#: Default noise of :func:`simulate_feeds` (shares; see the function's docstring).
FEED_NOISE: dict[str, float] = {
    "outsider": 0.05,         # people outside the roster, per roster event of the kind
    "duplicate": 0.03,        # a roster row pushed a second time (same list, a later list or a sister feed)
    "two_departments": 0.3,   # share of the job-loss feeds' duplicates pushed by the sister feed instead
    "typo": 0.01,             # one digit changed (the check digit no longer fits)
    "old_15": 0.02,           # old 15-digit form (century and check digit removed); people born 19xx only
    "late": 0.15,             # list_month 1–3 months after event_month
    "apostrophe": 0.05,       # ID typed as text with a leading apostrophe
    "spaces": 0.02,           # ID with surrounding or inner spaces
}
_NOISE_LABELS = ("", "outsider", "duplicate", "typo", "old_15", "late")
#: Households identified in ``year`` see their first event 0–``_LEAD`` months before the identification month.
_LEAD = 3
_SISTER = {"returned_migrant": "unemployment", "unemployment": "returned_migrant"}
_HEADS = "户主"
_LOW_THRESHOLD_TYPES = ("脱贫户", "监测户")  # exited and monitored households: the feeds' threshold_exited
_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
_SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"), dtype=object)
_PLACE_1 = np.array(list("清河柳溪石桥杨林东坪西岭南山北塘青龙白马金竹长乐新华太平永安"), dtype=object)
_PLACE_2 = np.array(list("江坝湾岗沟坪口寨岭源冲田场铺圩庄"), dtype=object)
# Relative schooling cost of each school status (as the simulator's spending step), to split
# a household's education expense over its students.
_SCHOOL_COST = {"学前教育": 1500, "小学": 350, "七年级": 600, "八年级": 600, "九年级": 600,
                "普通高中一年级": 3800, "普通高中二年级": 3800, "普通高中三年级": 3800,
                "中职": 1800, "高职高专": 11000, "本科": 14000}
_STAGE = {"普通高中一年级": "高中", "普通高中二年级": "高中", "普通高中三年级": "高中",
          "中职": "中职", "高职高专": "高职", "本科": "本科"}


# --------------------------------------------------------------------------- the feed contract
@lru_cache(maxsize=None)
def _index() -> pd.DataFrame:
    return pd.read_csv(contract.schema_dir() / "feeds.csv", dtype=str, keep_default_na=False).set_index("kind")


@lru_cache(maxsize=None)
def _fields(kind: str) -> pd.DataFrame:
    return pd.read_csv(contract.schema_dir() / "feeds" / f"{kind}.csv", dtype=str, keep_default_na=False)


def _kinds() -> list[str]:
    return _index().index.tolist()


FEED_KINDS: tuple[str, ...] = tuple(_kinds())


def _thresholds(kind: str) -> tuple[float, float] | None:
    row = _index().loc[kind]
    if not row["threshold_field"] or not row["threshold"]:
        return None
    return float(row["threshold"]), float(row["threshold_exited"] or row["threshold"])


# --------------------------------------------------------------------------- ID numbers
def _hash(keys: pd.Series, seed: int, salt: str) -> np.ndarray:
    key = f"{int(seed) % 10**10:010d}{salt:>6}"[:16]
    return pd.util.hash_array(keys.astype(str).to_numpy(dtype=object), hash_key=key).astype(np.uint64)


def _with_check(d17: np.ndarray) -> np.ndarray:
    """18-character IDs (array of str) from an ``(n, 17)`` digit array."""
    chk = _CHECK[(d17.astype(np.int64) @ _W) % 11]
    b = np.concatenate([(d17 + 48).astype(np.uint8), chk[:, None]], axis=1)
    return np.ascontiguousarray(b).view("S18").ravel().astype(str)


def _digits(text: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` digit array of equal-width digit strings."""
    raw = np.asarray(text, dtype=f"S{width}")
    return (np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, width) - 48).astype(np.int64)


def _int_digits(x: np.ndarray, width: int) -> np.ndarray:
    return (np.asarray(x, dtype=np.int64)[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10


def _compose(region: np.ndarray, ymd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """IDs from 6-digit region strings, YYYYMMDD birth dates (int) and 3-digit sequence codes."""
    d = np.concatenate([_digits(region, 6), _int_digits(ymd, 8), _int_digits(seq, 3)], axis=1)
    return _with_check(d)


def _birth_dates(birth_year: np.ndarray, h: np.ndarray) -> np.ndarray:
    """YYYYMMDD (int) of a day drawn from ``h`` in each birth year."""
    by = np.asarray(birth_year, dtype=np.int64)
    leap = ((by % 4 == 0) & (by % 100 != 0)) | (by % 400 == 0)
    days = (np.asarray(h, dtype=np.uint64) % np.where(leap, 366, 365).astype(np.uint64)).astype(np.int64)
    date = (by - 1970).astype("datetime64[Y]").astype("datetime64[D]") + days
    month = date.astype("datetime64[M]")
    day = (date - month).astype(np.int64) + 1
    return by * 10000 + (month.astype(np.int64) % 12 + 1) * 100 + day


def _isin(values: Any, among: Any) -> np.ndarray:
    """``values`` in ``among`` as a bool array (object hashing: Arrow strings' isin is slow on long lists)."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(np.asarray(among, dtype=object))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _household_regions(hids: pd.Index, members: pd.DataFrame, households: pd.DataFrame | None,
                       seed: int) -> np.ndarray:
    """Region code ``99`` + the last four digits of each household's county."""
    if households is not None:
        county = households.drop_duplicates("household_id").set_index("household_id")["county_code"]
        county = county.reindex(hids)
    elif "county_code" in members.columns:
        county = members.drop_duplicates("household_id").set_index("household_id")["county_code"].reindex(hids)
    else:
        county = pd.Series(pd.NA, index=hids, dtype=object)
    drawn = pd.Series(np.char.mod("%04d", _hash(pd.Series(hids), seed, "region") % np.uint64(10000)), index=hids)
    tail = county.astype(str).str.replace(r"\D", "", regex=True).str[-4:].str.zfill(4)
    tail = tail.where(county.notna().to_numpy() & tail.str.fullmatch(r"\d{4}").fillna(False).to_numpy(), drawn)
    return ("99" + tail).to_numpy(dtype="U6")


def _ranks(keys: list[np.ndarray]) -> np.ndarray:
    """Rank of each row within its group of equal ``keys[1:]`` values, ordered by ``keys[0]``."""
    order = np.lexsort(keys)
    grp = np.stack([k[order] for k in keys[1:]], axis=1)
    new = np.r_[True, (grp[1:] != grp[:-1]).any(axis=1)]
    start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start
    return rank


def synthetic_id_numbers(members: pd.DataFrame, seed: int = 0, *,
                         households: pd.DataFrame | None = None) -> pd.Series:
    r"""One synthetic 18-digit ID number per member, stable for the same person across years.

    The number is shaped like a resident ID card (GB 11643): a region code
    ``99`` + the last four digits of the county code (no real region starts with
    99, so it is never a real person's number), the birth date ``YYYYMMDD`` (birth
    year ``year - age``, ages being at the end of the year; month and day drawn
    per person), a 3-digit sequence code whose last digit is odd for 男 and even
    for 女, and the ISO 7064 MOD 11-2 check digit (``X`` for 10).

    A person is the household, the birth year, the sex and the rank among the
    household's members of that birth year and sex (by ``member_no``): the
    simulator renumbers members when a head dies (the successor becomes member
    1), so the same person keeps the number even when ``member_no`` changes. The
    number depends only on the person and ``seed``, not on the other rows;
    numbers are unique within the call.

    Parameters
    ----------
    members : DataFrame
        Member-year rows with ``household_id``, ``year``, ``member_no``, ``sex``
        and ``age`` (and ``county_code``, unless ``households`` is given).
    seed : int, default 0
        Seed of the per-person draws (birth month and day, sequence code).
    households : DataFrame, optional
        Rows with ``household_id`` and ``county_code`` giving each member's
        county; without it and without a ``county_code`` column the four region
        digits are drawn from the household id.

    Returns
    -------
    pandas.Series
        ID numbers (str), on the index of ``members``.

    Examples
    --------
    >>> from fanpin_risk.simulate import simulate, synthetic_id_numbers
    >>> hh, mem = simulate(30, years=[2023, 2024], seed=1, return_members=True)
    >>> ids = synthetic_id_numbers(mem, households=hh)
    >>> bool(ids.str.fullmatch(r"99\d{15}[\dX]").all())
    True
    >>> first = mem.loc[0]
    >>> ids[0][6:10] == str(first["year"] - first["age"])
    True
    >>> int(ids.groupby([mem["household_id"], mem["member_no"]]).nunique().max())
    1
    """
    m = members
    hid_code, hids = pd.factorize(m["household_id"].astype(str))
    birth_year = (m["year"].astype("int64") - m["age"].astype("int64")).to_numpy()
    male = (m["sex"].astype(str) == "男").to_numpy().astype(np.int64)
    rank = _ranks([m["member_no"].to_numpy(dtype=np.int64), male, birth_year,
                   m["year"].to_numpy(dtype=np.int64), hid_code])
    # The person key: household, birth year, sex, rank; hashed from the household id's text.
    local = (birth_year - 1800) * 64 + male * 32 + np.minimum(rank, 31)
    pk = hid_code.astype(np.int64) * 2**20 + local
    persons, first, pos = np.unique(pk, return_index=True, return_inverse=True)
    hh_hash = _hash(pd.Series(hids), seed, "person")
    with np.errstate(over="ignore"):
        x = _mix(hh_hash[hid_code[first]] ^ (local[first].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    region = _household_regions(hids, m, households, seed)[hid_code[first]]
    ymd = _birth_dates(birth_year[first], _mix(x ^ np.uint64(1)))
    half = (_mix(x ^ np.uint64(2)) % np.uint64(500)).astype(np.int64)
    ids = _unique_ids(region, ymd, half, male[first])
    return pd.Series(ids[pos.ravel()], index=members.index, name="id_number", dtype=object)


def _unique_ids(region: np.ndarray, ymd: np.ndarray, half: np.ndarray, male: np.ndarray) -> np.ndarray:
    # Two people with the same region, birth date and sequence code: move the later ones on.
    ids = _compose(region, ymd, 2 * half + male)
    for _ in range(50):
        s = pd.Series(ids)
        dup = s.duplicated().to_numpy()
        if not dup.any():
            return ids
        half = np.where(dup, (half + s.groupby(ids).cumcount().to_numpy()) % 500, half)
        ids = np.where(dup, _compose(region, ymd, 2 * half + male), ids)
    raise RuntimeError("could not make the synthetic ID numbers unique")  # pragma: no cover


def _random_ids(rng: np.random.Generator, region: np.ndarray, exclude: pd.Index) -> np.ndarray:
    """Synthetic IDs of people born 1945–2006 in the given regions, unique and not in ``exclude``."""
    n = len(region)
    ymd = _birth_dates(rng.integers(1945, 2007, n), rng.integers(0, 2**62, n).astype(np.uint64))
    ids = _compose(region, ymd, 2 * rng.integers(0, 500, n) + rng.integers(0, 2, n))
    taken = pd.Series(ids).duplicated().to_numpy() | (exclude.get_indexer(pd.Index(ids, dtype=object)) >= 0)
    if taken.any():
        ids[taken] = _random_ids(rng, region[taken], exclude.append(pd.Index(ids[~taken], dtype=object)))
    return ids


# --------------------------------------------------------------------------- the feed set
@dataclasses.dataclass
class FeedSet:
    """Department feeds of one year and what the county holds before it (from :func:`simulate_feeds`).

    Attributes
    ----------
    year : int
        The feeds' year.
    feeds : dict of str to DataFrame
        Kind (``data_schema/feeds.csv``) → the pushed rows, with the kind's canonical
        field names plus ``name`` (a synthetic 张某某, which readers must drop).
    truth : DataFrame
        One row per pushed row: ``kind``, ``row`` (position in ``feeds[kind]``),
        ``household_id`` and ``member_no`` (NA for outsiders), ``event_month``,
        ``list_month``, ``noise`` (""/outsider/duplicate/typo/old_15/late),
        ``late`` (bool) and ``id_format`` (""/apostrophe/spaces).
    households, members : DataFrame
        Household-year and member-year records up to ``year - 1`` (what the county
        has); members carry ``id_number``.
    next_year, next_members : DataFrame
        The records of ``year`` (the truth the feeds come from; label with them).
    identification_month : Series
        ``identification_month`` (YYYYMM, Int64) of each household in ``year``'s records.
    noise : dict
        The noise settings used.
    """

    year: int
    feeds: dict[str, pd.DataFrame]
    truth: pd.DataFrame
    households: pd.DataFrame
    members: pd.DataFrame
    next_year: pd.DataFrame
    next_members: pd.DataFrame
    identification_month: pd.Series
    noise: dict[str, float]

    @property
    def n_events(self) -> int:
        """Number of pushed rows over all feeds."""
        return int(sum(len(f) for f in self.feeds.values()))


def _checked_noise(noise: dict[str, float] | None) -> dict[str, float]:
    out = dict(FEED_NOISE)
    if noise:
        unknown = set(noise) - set(FEED_NOISE)
        if unknown:
            raise ValueError(f"unknown noise settings {sorted(unknown)}; known: {sorted(FEED_NOISE)}")
        out.update({k: float(v) for k, v in noise.items()})
    bad = [k for k, v in out.items() if not 0.0 <= v <= 1.0]
    if bad or out["typo"] + out["old_15"] > 1 or out["apostrophe"] + out["spaces"] > 1:
        raise ValueError(f"noise shares must lie in [0, 1] (typo + old_15 and apostrophe + spaces at most 1): {out}")
    return out


def _place_names(codes: pd.Series, suffix: np.ndarray) -> pd.Series:
    h = _hash(codes, 0, "place")
    a = _PLACE_1[(h % np.uint64(len(_PLACE_1))).astype(np.int64)]
    b = _PLACE_2[((h // np.uint64(97)) % np.uint64(len(_PLACE_2))).astype(np.int64)]
    return pd.Series(a + b + suffix[((h // np.uint64(7919)) % np.uint64(len(suffix))).astype(np.int64)],
                     index=codes.index, dtype=object)


def _places(households: pd.DataFrame) -> pd.DataFrame:
    """Household → county, township and village names (synthetic, from the codes)."""
    p = households.drop_duplicates("household_id", keep="last").set_index("household_id")
    return pd.DataFrame({"county_code": p["county_code"].astype(str),
                         "township": _place_names(p["township_code"], np.array(["镇", "镇", "乡"], dtype=object)),
                         "village": _place_names(p["village_code"], np.array(["村"], dtype=object))})


class _Ctx:
    """What the event builders read: the two years' records and the random generator."""

    def __init__(self, h0: pd.DataFrame, h1: pd.DataFrame, m0: pd.DataFrame, m1: pd.DataFrame,
                 year: int, rng: np.random.Generator) -> None:
        self.h0, self.h1, self.m0, self.m1, self.year, self.rng = h0, h1, m0, m1, year, rng
        self.h1i = h1.set_index("household_id")
        self.prev = h0.set_index("household_id").reindex(self.h1i.index)
        im = self.h1i["identification_month"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        self.ident = pd.Series(np.where(np.nan_to_num(im) // 100 == year, im % 100, np.nan), index=self.h1i.index)
        self.heads = m1[m1["relation"] == _HEADS].set_index("household_id")["member_no"]

    def months(self, hids: pd.Series, base: np.ndarray | None = None) -> np.ndarray:
        """Event months (1–12): ``base`` or uniform, but 0–3 months before the identification month when
        the household is identified in the year (alerts lead identification)."""
        n = len(hids)
        m = self.rng.integers(1, 13, n) if base is None else np.asarray(base)
        im = self.ident.reindex(hids.to_numpy()).to_numpy()
        lead = self.rng.integers(0, _LEAD + 1, n)
        return np.where(np.isnan(im), m, np.clip(np.nan_to_num(im) - lead, 1, 12)).astype(np.int64)

    def head_rows(self, hids: pd.Index) -> pd.DataFrame:
        heads = self.heads.reindex(hids).dropna()
        return pd.DataFrame({"household_id": heads.index.to_numpy(), "member_no": heads.to_numpy()})


# --------------------------------------------------------------------------- event builders
def _medical_bill(c: _Ctx) -> pd.DataFrame:
    h = c.h1i
    cand = h.index[h["shock_illness"].fillna(False).to_numpy() | (h["expense_medical"].fillna(0) > 0).to_numpy()]
    m = c.m1[_isin(c.m1["household_id"], cand)]
    hs = m["health_status"].fillna("").astype(str)
    w = np.where(hs.str.contains("大病"), 10.0, np.where(hs.str.contains("慢性病"), 1.0, 0.0))
    ill = pd.Series(w, index=m.index).groupby(m["household_id"]).transform("max").to_numpy() > 0
    w = np.where(~ill & (m["relation"] == _HEADS).to_numpy(), 1.0, w)  # nobody ill: an accident of the head
    m, w = m[w > 0], w[w > 0]
    share = w / pd.Series(w, index=m.index).groupby(m["household_id"]).transform("sum").to_numpy()
    amount = share * h["expense_medical"].fillna(0).reindex(m["household_id"]).to_numpy()
    n_bills = c.rng.choice([1, 2, 3], len(m), p=[0.5, 0.3, 0.2])
    rows = np.repeat(np.arange(len(m)), n_bills)
    split = c.rng.gamma(1.5, 1.0, len(rows))
    split = split / pd.Series(split).groupby(rows).transform("sum").to_numpy()
    hid = pd.Series(m["household_id"].to_numpy()[rows])
    nth = pd.Series(rows).groupby(rows).cumcount().to_numpy()
    first = c.months(pd.Series(m["household_id"].to_numpy()))[rows]
    gaps = pd.Series(np.where(nth > 0, 1 + c.rng.geometric(0.5, len(rows)), 0)).groupby(rows).cumsum().to_numpy()
    self_paid = np.round(amount[rows] * split, 2)
    out = pd.DataFrame({"household_id": hid, "member_no": m["member_no"].to_numpy()[rows],
                        "event_month": np.minimum(first + gaps, 12),
                        "amount_total": np.round(self_paid / c.rng.uniform(0.3, 0.5, len(rows)), 2),
                        "amount_self_paid": self_paid})
    return out[out["amount_self_paid"] > 0]


def _education_cost(c: _Ctx) -> pd.DataFrame:
    m = c.m1[c.m1["school_status"].isin(list(_SCHOOL_COST))]
    w = m["school_status"].map(_SCHOOL_COST).astype(float).to_numpy()
    share = w / pd.Series(w, index=m.index).groupby(m["household_id"]).transform("sum").to_numpy()
    amount = np.round(share * c.h1i["expense_education"].fillna(0).reindex(m["household_id"]).to_numpy())
    out = pd.DataFrame({"household_id": m["household_id"].to_numpy(), "member_no": m["member_no"].to_numpy(),
                        "event_month": np.where(c.rng.random(len(m)) < 0.75, 9, 3), "amount": amount,
                        "school_stage": m["school_status"].map(_STAGE).to_numpy()})
    return out[(out["amount"] > 0) & out["school_stage"].notna()]


def _disaster_victim(c: _Ctx) -> pd.DataFrame:
    h = c.h1i[c.h1i["shock_disaster"].fillna(False).to_numpy()]
    counties = np.sort(c.h1i["county_code"].astype(str).unique())
    # One disaster month per county hit, mostly in the rainy season; the type follows the season.
    month = pd.Series(c.rng.choice(np.arange(1, 13), len(counties),
                                   p=np.array([1, 1, 2, 4, 8, 14, 16, 14, 8, 4, 2, 1]) / 75), index=counties)
    kinds = {1: "低温冷冻", 2: "低温冷冻", 3: "干旱", 4: "冰雹", 5: "风雹", 6: "洪涝", 7: "洪涝", 8: "洪涝",
             9: "干旱", 10: "地质灾害", 11: "干旱", 12: "低温冷冻"}
    hm = month.reindex(h["county_code"].astype(str)).to_numpy()
    income = c.prev["income_business"].reindex(h.index).fillna(0).to_numpy()
    loss = np.round(c.rng.uniform(0.15, 0.6, len(h)) * (income + 4000) / 100) * 100
    hh = pd.DataFrame({"household_id": h.index.to_numpy(), "event_month": hm,
                       "disaster_type": pd.Series(hm).map(kinds).to_numpy(), "loss_amount": loss})
    everyone = c.rng.random(len(hh)) < 0.5  # the whole household listed, else the head only
    mem = c.m1[["household_id", "member_no", "relation"]].merge(hh, on="household_id")
    keep = _isin(mem["household_id"], hh["household_id"][everyone]) | (mem["relation"] == _HEADS).to_numpy()
    return mem[keep].drop(columns="relation").reset_index(drop=True)


def _job_loss(c: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    hit = c.h1i.index[c.h1i["shock_job_loss"].fillna(False).to_numpy()]
    m = c.m1[_isin(c.m1["household_id"], hit)]
    prev = c.m0.drop_duplicates("id_number").set_index("id_number")
    place = m["id_number"].map(prev["work_place"]).astype(object)
    migrant = place.isin(["省外", "省内县外"]) & m["id_number"].map(prev["work_months"]).fillna(0).gt(0)
    working = m["age"].astype(float).between(16, 59)
    score = np.where(migrant, 2.0, np.where(working, 1.0, 0.0)) + c.rng.random(len(m))
    m = m.assign(score=score, migrant=migrant.to_numpy())
    pick = m[m["score"] >= 1].sort_values("score").drop_duplicates("household_id", keep="last")
    month = c.months(pick["household_id"])
    rows = pd.DataFrame({"household_id": pick["household_id"].to_numpy(),
                         "member_no": pick["member_no"].to_numpy(), "event_month": month})
    back = pick["migrant"].to_numpy()
    # A returned migrant also registers as unemployed now and then (a true event in both feeds).
    also = back & (c.rng.random(len(pick)) < 0.3)
    unemployed = pd.concat([rows[~back], rows[also]], ignore_index=True)
    return rows[back].reset_index(drop=True), unemployed


def _dibao_change(c: _Ctx) -> pd.DataFrame:
    parts = []
    for col, name in (("receives_dibao", "低保"), ("receives_tekun", "特困")):
        now = c.h1i[col].astype("boolean").fillna(False).to_numpy()
        before = c.prev[col].astype("boolean").fillna(False).to_numpy()
        for mask, change in ((now & ~before, "新增"), (~now & before, "退出")):
            rows = c.head_rows(c.h1i.index[mask])
            new = change == "新增"
            rows["event_month"] = c.months(rows["household_id"]) if new else c.rng.integers(1, 13, len(rows))
            rows["change_type"] = change + name
            parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def _disability_certificate(c: _Ctx) -> pd.DataFrame:
    prev = c.m0.drop_duplicates("id_number").set_index("id_number")["health_status"].fillna("")
    now = c.m1["health_status"].fillna("").astype(str).str.contains("残疾")
    before = c.m1["id_number"].map(prev).fillna("").astype(str).str.contains("残疾")
    m = c.m1[now & ~before]
    n = len(m)
    return pd.DataFrame({"household_id": m["household_id"].to_numpy(), "member_no": m["member_no"].to_numpy(),
                         "event_month": c.months(m["household_id"]),
                         "disability_grade": c.rng.choice(["一级", "二级", "三级", "四级"], n, p=[0.1, 0.2, 0.3, 0.4]),
                         "disability_kind": c.rng.choice(["视力", "听力", "言语", "肢体", "智力", "精神", "多重"], n,
                                                         p=[0.12, 0.15, 0.03, 0.45, 0.08, 0.1, 0.07])})


def _unsafe_house(c: _Ctx, disasters: pd.DataFrame) -> pd.DataFrame:
    became = (c.prev["housing_safe"].astype("boolean").fillna(False).to_numpy()
              & ~c.h1i["housing_safe"].astype("boolean").fillna(True).to_numpy())
    rows = c.head_rows(c.h1i.index[became])
    month = c.months(rows["household_id"])
    # After a disaster the appraisal follows the disaster by 0–2 months.
    d_month = disasters.drop_duplicates("household_id").set_index("household_id")["event_month"]
    after = rows["household_id"].map(d_month).to_numpy(dtype=float, na_value=np.nan)
    rows["event_month"] = np.where(np.isnan(after), month,
                                   np.minimum(np.nan_to_num(after) + c.rng.integers(0, 3, len(rows)), 12)).astype(int)
    rows["appraisal"] = np.where(c.rng.random(len(rows)) < 0.6, "C级", "D级")
    return rows


def _threshold_filter(kind: str, events: pd.DataFrame, c: _Ctx) -> pd.DataFrame:
    th = _thresholds(kind)
    if th is None or th == (0.0, 0.0):
        return events
    field = _index().loc[kind, "threshold_field"]
    low = c.prev["household_type"].reindex(events["household_id"]).isin(_LOW_THRESHOLD_TYPES).to_numpy()
    return events[events[field].to_numpy() >= np.where(low, th[1], th[0])]


def _roster_events(c: _Ctx) -> dict[str, pd.DataFrame]:
    disasters = _disaster_victim(c)
    returned, unemployed = _job_loss(c)
    events = {"medical_bill": _medical_bill(c), "education_cost": _education_cost(c),
              "disaster_victim": disasters, "unemployment": unemployed, "returned_migrant": returned,
              "dibao_change": _dibao_change(c), "disability_certificate": _disability_certificate(c),
              "unsafe_house": _unsafe_house(c, disasters)}
    out = {}
    for kind in _kinds():
        e = _threshold_filter(kind, events.get(kind, pd.DataFrame(columns=["household_id", "member_no"])), c)
        e = e.reset_index(drop=True)
        e["event_month"] = c.year * 100 + e["event_month"].astype("int64") if len(e) else pd.Series(dtype="int64")
        out[kind] = e
    return out


# --------------------------------------------------------------------------- noise
def _add_months(ym: np.ndarray, k: np.ndarray) -> np.ndarray:
    t = (ym // 100) * 12 + ym % 100 - 1 + k
    return (t // 12) * 100 + t % 12 + 1


def _typo(rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
    """One digit changed (positions 3–18, so the 99 region stays): the check digit no longer fits."""
    if not len(ids):
        return ids
    d = np.frombuffer(np.asarray(ids, dtype="S18").tobytes(), dtype=np.uint8).reshape(-1, 18).copy()
    pos = rng.integers(2, 18, len(ids))
    r = np.arange(len(ids))
    old = d[r, pos].astype(np.int64) - 48
    old = np.where(old > 9, -1, old)  # an X check digit
    new = (np.maximum(old, 0) + rng.integers(1, 10, len(ids))) % 10
    new = np.where(old < 0, rng.integers(0, 10, len(ids)), new)
    d[r, pos] = (new + 48).astype(np.uint8)
    return np.ascontiguousarray(d).view("S18").ravel().astype(str)


def _noisy(kind: str, e: pd.DataFrame, c: _Ctx, noise: dict[str, float], places: pd.DataFrame,
           roster_ids: pd.Index) -> pd.DataFrame:
    """Roster events → pushed rows (outsiders, duplicates, typos, old IDs, late lists) with their truth."""
    rng = c.rng
    ids = c.m1.set_index(["household_id", "member_no"])["id_number"]
    e = e.assign(id_number=ids.reindex(pd.MultiIndex.from_arrays([e["household_id"], e["member_no"]])).to_numpy(),
                 noise="")
    n = len(e)
    # Outsiders copy the other fields of random roster rows; an ordinary resident's bill must
    # reach the general threshold, so only those rows lend theirs.
    th = _thresholds(kind)
    pool = e if th is None else e[e[_index().loc[kind, "threshold_field"]].to_numpy() >= th[0]]
    n_out = int(rng.binomial(n, noise["outsider"])) if len(pool) else 0
    out = pool.iloc[rng.integers(0, len(pool), n_out)].reset_index(drop=True) if n_out else e.iloc[:0]
    if n_out:
        # Outsiders live in the county's townships: a random household of the county lends the place.
        home = c.h0.drop_duplicates("household_id")["household_id"].to_numpy()
        lent = pd.Series(home[rng.integers(0, len(home), n_out)])
        out = out.assign(place_of=lent, household_id=pd.NA, member_no=pd.NA, noise="outsider",
                         id_number=_random_ids(rng, places["county_code"].reindex(lent).to_numpy(dtype=str),
                                               roster_ids))
    e = e.assign(place_of=e["household_id"])
    rows = pd.concat([e, out], ignore_index=True)
    ident = rows["id_number"].astype(str).to_numpy()
    roster = (rows["noise"] == "").to_numpy()
    u = rng.random(len(rows))
    typo = roster & (u < noise["typo"])
    # The 15-digit form only exists for people born in the 1900s: their rows take the whole share.
    old_ok = roster & (pd.Series(ident).str[6:8] == "19").to_numpy()
    eligible = old_ok[roster].mean() * (1 - noise["typo"]) if roster.any() else 0.0
    old = old_ok & ~typo & (rng.random(len(rows)) < min(1.0, noise["old_15"] / max(eligible, 1e-9)))
    ident = np.where(typo, _typo(rng, ident), ident).astype(object)
    ident = np.where(old, pd.Series(ident).str[:6] + pd.Series(ident).str[8:17], ident)
    rows["id_number"] = ident
    rows["noise"] = np.where(typo, "typo", np.where(old, "old_15", rows["noise"]))
    return _duplicates_and_lists(rows, rng, noise)


def _duplicates_and_lists(rows: pd.DataFrame, rng: np.random.Generator, noise: dict[str, float]) -> pd.DataFrame:
    n = len(rows)
    late = rng.random(n) < noise["late"]
    ev = rows["event_month"].to_numpy(dtype=np.int64)
    rows["list_month"] = np.where(late, _add_months(ev, rng.integers(1, 4, n)), ev)
    rows["late"] = late
    rows["noise"] = np.where(late & (rows["noise"] == ""), "late", rows["noise"])
    pool = np.flatnonzero((rows["noise"] != "outsider").to_numpy())
    n_dup = int(rng.binomial(len(pool), noise["duplicate"])) if len(pool) else 0
    dup = rows.iloc[pool[rng.integers(0, len(pool), n_dup)]].copy() if n_dup else rows.iloc[:0].copy()
    if n_dup:
        # Half pushed again in the same list, half in a list 1–2 months later.
        later = rng.random(n_dup) < 0.5
        lm = dup["list_month"].to_numpy(dtype=np.int64)
        dup["list_month"] = np.where(later, _add_months(lm, rng.integers(1, 3, n_dup)), lm)
        dup["late"] = dup["list_month"].to_numpy() > dup["event_month"].to_numpy()
        dup["noise"] = "duplicate"
        dup["sister"] = rng.random(n_dup) < noise["two_departments"]
    rows = pd.concat([rows.assign(sister=False), dup], ignore_index=True)
    u = rng.random(len(rows))
    fmt = np.where(u < noise["apostrophe"], "apostrophe",
                   np.where(u < noise["apostrophe"] + noise["spaces"], "spaces", ""))
    ident = rows["id_number"].astype(str)
    spaced = np.where(rng.random(len(rows)) < 0.5, " " + ident + " ",
                      ident.str[:6] + " " + ident.str[6:14] + " " + ident.str[14:])
    rows["id_number"] = np.where(fmt == "apostrophe", "'" + ident, np.where(fmt == "spaces", spaced, ident))
    rows["id_format"] = fmt
    return rows


def _names(rows: pd.DataFrame, seed: int) -> np.ndarray:
    key = rows["household_id"].astype(str) + "|" + rows["member_no"].astype(str) + "|" + rows["place_of"].astype(str)
    h = _hash(key.where(rows["household_id"].notna(), rows["id_number"].astype(str)), seed, "name")
    given = np.where(h % np.uint64(4) == 0, "某", "某某")
    return _SURNAMES[((h // np.uint64(4)) % np.uint64(len(_SURNAMES))).astype(np.int64)] + given


def _finish(rows_by_kind: dict[str, pd.DataFrame], places: pd.DataFrame,
            seed: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Move sister-feed duplicates, order each list, split into the feeds and the truth."""
    moved = {k: r[r["sister"].to_numpy() & (r["noise"] == "duplicate").to_numpy()] if k in _SISTER else r.iloc[:0]
             for k, r in rows_by_kind.items()}
    feeds, truths = {}, []
    for kind, r in rows_by_kind.items():
        r = r.drop(moved[kind].index)
        if kind in _SISTER.values():
            src = [s for s, t in _SISTER.items() if t == kind]
            r = pd.concat([r] + [moved[s] for s in src], ignore_index=True)
        r = r.sort_values(["list_month", "event_month"], kind="stable").reset_index(drop=True)
        pl = places.reindex(r["place_of"].astype(str))
        r["township"], r["village"] = pl["township"].to_numpy(), pl["village"].to_numpy()
        r["name"] = _names(r, seed)
        fields = _fields(kind)["field"].tolist()
        feed = r.reindex(columns=fields + ["name"])
        feed["event_month"] = feed["event_month"].astype("int64")
        feed["list_month"] = feed["list_month"].astype("int64")
        feeds[kind] = feed
        truths.append(pd.DataFrame({
            "kind": kind, "row": np.arange(len(r)), "household_id": r["household_id"].astype("string"),
            "member_no": pd.array(r["member_no"], dtype="Int64"), "event_month": feed["event_month"],
            "list_month": feed["list_month"], "noise": r["noise"].astype(str).to_numpy(),
            "late": r["late"].astype(bool).to_numpy(), "id_format": r["id_format"].astype(str).to_numpy()}))
    truth = pd.concat(truths, ignore_index=True)
    assert set(truth["noise"]) <= set(_NOISE_LABELS)
    return feeds, truth


def simulate_feeds(n_households: int = 3000, *, year: int = 2025, seed: int = 0,
                   noise: dict[str, float] | None = None, **simulate_kwargs: Any) -> FeedSet:
    """Simulate a county's roster and the department screening feeds of the following year.

    Simulates ``year - 5`` … ``year`` with :func:`simulate` (members included), keeps
    the records up to ``year - 1`` as what the county has, and derives from
    ``year``'s records the events of ``year`` the departments push:

    * ``medical_bill`` (医保局): the members with a serious or chronic illness of
      households with ``shock_illness`` or ``expense_medical > 0`` (the head when
      no member is ill: an accident) share the household's out-of-pocket cost
      (serious illness weighs 10, chronic 1), each in 1–3 bills (self-paid share
      of the total 30–50 %). Only bills at or above the threshold of
      ``data_schema/feeds.csv`` are pushed: ``threshold_exited`` (5,000) for
      脱贫户 and 监测户 (type in ``year - 1``), ``threshold`` (20,000) for others.
    * ``education_cost`` (教育局): students in high school, vocational school or
      university sharing the household's ``expense_education`` by stage cost,
      pushed from 10,000 yuan; September (75 %) or March.
    * ``disaster_victim`` (应急管理局): households with ``shock_disaster``, the whole
      household (half) or the head, one disaster month per county (mostly June–August).
    * ``returned_migrant`` / ``unemployment`` (人社局): in households with
      ``shock_job_loss``, a member who worked outside the county in ``year - 1``
      returns (30 % of them also register as unemployed); else a member aged
      16–59 registers as unemployed.
    * ``dibao_change`` (民政局): ``receives_dibao`` / ``receives_tekun`` switched on or
      off between ``year - 1`` and ``year`` (the head).
    * ``disability_certificate`` (残联): members newly disabled in ``year``.
    * ``unsafe_house`` (住建局): ``housing_safe`` became False (the head), 0–2 months
      after the household's disaster when it had one.

    Event months are uniform over the year except as said, and for a household
    identified in ``year`` its events fall 0–3 months before its identification
    month (the alert can lead the identification). Then the noise (shares, defaults
    in :data:`FEED_NOISE`): ``outsider`` rows per roster row (people outside the
    roster with random synthetic IDs and a township and village of the county),
    ``duplicate`` copies of roster rows (half in the same list, half 1–2 months
    later; for the job-loss feeds ``two_departments`` of them pushed by the sister
    feed), ``typo`` one digit changed, ``old_15`` the 15-digit form (people born in
    the 1900s), ``late`` lists 1–3 months after the event, ``apostrophe`` / ``spaces``
    in the typed ID.

    Parameters
    ----------
    n_households : int, default 3000
    year : int, default 2025
        The feeds' year.
    seed : int, default 0
        Seed of the panel and of the feeds; the same arguments give identical output.
    noise : dict, optional
        Overrides of :data:`FEED_NOISE` (each a share in [0, 1]).
    **simulate_kwargs
        Passed to :func:`simulate` (e.g. ``shock_rate``, ``n_counties``).

    Returns
    -------
    FeedSet

    Raises
    ------
    ValueError
        On an unknown or out-of-range noise setting, or ``years`` / ``return_members``
        in ``simulate_kwargs``.

    Examples
    --------
    >>> from fanpin_risk.simulate import simulate_feeds
    >>> fs = simulate_feeds(300, year=2025, seed=1)
    >>> list(fs.feeds)[:3]
    ['medical_bill', 'education_cost', 'disaster_victim']
    >>> int(fs.households["year"].max()), int(fs.next_year["year"].min())
    (2024, 2025)
    >>> bill = fs.feeds["medical_bill"]
    >>> list(bill.columns)[:3], fs.n_events == len(fs.truth)
    (['id_number', 'event_month', 'list_month'], True)
    """
    bad = {"years", "return_members", "return_causes"} & set(simulate_kwargs)
    if bad:
        raise ValueError(f"simulate_feeds sets {sorted(bad)} itself")
    noise = _checked_noise(noise)
    year = int(year)
    hh, mem = simulate(n_households, years=range(year - 5, year + 1), seed=seed, return_members=True,
                       **simulate_kwargs)
    mem = mem.assign(id_number=synthetic_id_numbers(mem, seed, households=hh))
    return _feed_set(hh, mem, year, seed, noise)


def _feed_set(hh: pd.DataFrame, mem: pd.DataFrame, year: int, seed: int, noise: dict[str, float]) -> FeedSet:
    """The feeds of ``year`` from a simulated panel whose members carry ``id_number``."""
    is_past, is_past_m = (hh["year"] < year).to_numpy(), (mem["year"] < year).to_numpy()
    h1, m1 = hh[~is_past].reset_index(drop=True), mem[~is_past_m].reset_index(drop=True)
    h0, m0 = hh[hh["year"] == year - 1], mem[mem["year"] == year - 1]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), year, 17]))
    ctx = _Ctx(h0, h1, m0, m1, year, rng)
    places = _places(hh)
    roster_ids = pd.Index(mem["id_number"].unique(), dtype=object)
    rows = {kind: _noisy(kind, e, ctx, noise, places, roster_ids) for kind, e in _roster_events(ctx).items()}
    feeds, truth = _finish(rows, places, seed)
    ident = h1.set_index("household_id")["identification_month"]
    return FeedSet(year=year, feeds=feeds, truth=truth, households=hh[is_past].reset_index(drop=True),
                   members=mem[is_past_m].reset_index(drop=True), next_year=h1, next_members=m1,
                   identification_month=ident, noise=noise)


# --------------------------------------------------------------------------- files
def _zh(kind: str) -> dict[str, str]:
    f = _fields(kind)
    return {**dict(zip(f["field"], f["zh_header"])), "name": "姓名"}


def _feed_table(fs: FeedSet, kind: str, layout: str, rng: np.random.Generator) -> pd.DataFrame:
    df = fs.feeds[kind]
    df = df[["name"] + [c for c in df.columns if c != "name"]].copy()
    if layout == "county":
        # Counties write the ID column as text with a leading apostrophe in some rows.
        ident = df["id_number"].astype(str)
        add = (rng.random(len(df)) < 0.3) & ~ident.str.startswith("'").to_numpy()
        df["id_number"] = np.where(add, "'" + ident, ident)
        df.insert(0, "序号", np.arange(1, len(df) + 1))
    return df.rename(columns=_zh(kind))


def _title(fs: FeedSet, kind: str) -> str:
    row = _index().loc[kind]
    return f"XX县{row['department']}{row['zh_name']}推送名单（{fs.year}年1-12月）"


def _write_csv(df: pd.DataFrame, path: Path, encoding: str, title: str | None) -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        if title is not None:
            fh.write(title + "," * (df.shape[1] - 1) + "\n")
        df.to_csv(fh, index=False, lineterminator="\n")


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str, title: str | None) -> None:
    from openpyxl import Workbook  # optional dependency of the xlsx layout

    wb = Workbook(write_only=title is None)
    ws = wb.create_sheet(sheet) if title is None else wb.active
    if title is not None:
        ws.title = sheet
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(df.shape[1], 1))
    ws.append([str(c) for c in df.columns])
    obj = df.astype(object).where(df.notna(), None)
    for rec in obj.itertuples(index=False, name=None):
        ws.append([v.item() if isinstance(v, np.generic) else v for v in rec])
    wb.save(path)


def _roster_tables(fs: FeedSet) -> list[tuple[str, str, pd.DataFrame]]:
    y0, y1 = int(fs.households["year"].min()), fs.year - 1
    hh = contract.export_frame(fs.households, "household_year")
    mem = contract.export_frame(fs.members.drop(columns="id_number"), "member")
    at = list(mem.columns).index(contract.zh_headers("member")["member_no"]) + 1
    mem.insert(at, "证件号码", fs.members["id_number"].to_numpy())
    return [(f"农户信息_{y0}-{y1}", "农户信息", hh), (f"家庭成员信息_{y0}-{y1}", "家庭成员信息", mem)]


def write_feeds(feedset: FeedSet, directory: str | Path, *, fmt: Literal["csv", "xlsx"] = "csv",
                encoding: str = "gbk", layout: Literal["plain", "county"] = "plain") -> list[Path]:
    """Write the feeds, the households and the members as a county's files.

    One file per feed kind named ``<zh_name>_<year>`` (e.g. ``大额医疗费用_2025.csv``)
    with the Chinese headers of ``data_schema/feeds/<kind>.csv`` and 姓名 first;
    then ``农户信息_<first>-<year-1>`` (household sheet,
    :func:`fanpin_risk.contract.export_frame`) and ``家庭成员信息_<first>-<year-1>``
    (member sheet with 证件号码 after 成员序号).

    Parameters
    ----------
    feedset : FeedSet
        From :func:`simulate_feeds`.
    directory : path
        Folder to write into (created if missing).
    fmt : {"csv", "xlsx"}, default "csv"
    encoding : str, default "gbk"
        Encoding of the CSV files (``"utf-8-sig"`` for UTF-8 with a byte-order mark).
    layout : {"plain", "county"}, default "plain"
        ``"county"``: the feeds get a title row above the header (merged over the
        columns in xlsx; ``XX县医保局大额医疗费用推送名单（2025年1-12月）``), a 序号
        column, and a leading apostrophe on the ID in about 30 % of the rows.

    Returns
    -------
    list of Path
        The files written: the feeds in the order of ``data_schema/feeds.csv``,
        then the household and member files.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from fanpin_risk.simulate import simulate_feeds, write_feeds
    >>> fs = simulate_feeds(200, seed=2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_feeds(fs, d)
    ...     first = pd.read_csv(paths[0], encoding="gbk", dtype=str)
    >>> paths[0].name, list(first.columns)[:3]
    ('大额医疗费用_2025.csv', ['姓名', '证件号码', '发生月份'])
    """
    if fmt not in ("csv", "xlsx") or layout not in ("plain", "county"):
        raise ValueError(f"fmt must be 'csv' or 'xlsx' and layout 'plain' or 'county', got {fmt!r}, {layout!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([feedset.year, 29])
    tables = [(f"{_index().loc[k, 'zh_name']}_{feedset.year}", _index().loc[k, "zh_name"],
               _feed_table(feedset, k, layout, rng), _title(feedset, k) if layout == "county" else None)
              for k in feedset.feeds]
    tables += [(stem, sheet, df, None) for stem, sheet, df in _roster_tables(feedset)]
    paths = []
    for stem, sheet, df, title in tables:
        p = out / f"{stem}.{fmt}"
        if fmt == "csv":
            _write_csv(df, p, encoding, title)
        else:
            _write_xlsx(df, p, sheet, title)
        paths.append(p)
    return paths
