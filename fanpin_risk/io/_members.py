"""The member sheet: one row per person and year, aggregated to household counts.

Member rows give household_size, n_labor, n_elderly, ... (the rules are listed in
the :mod:`fanpin_risk.io` docstring); household fields repeated on each member row
give or complete the household rows.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError

from ._columns import _clean
from ._context import _Ctx
from ._headers import _birth_column, _map_headers
from ._pii import _Salt, _scrub_table
from ._values import _isna

#: Member labour-skill values that count as labour (弱劳动力或半劳动力 only with ``count_weak_labor``).
LABOR_VALUES = ("技能劳动力", "普通劳动力")
WEAK_LABOR = "弱劳动力或半劳动力"

_MULTI_SPLIT = re.compile(r"[,，、;；]")
_KEY = ["household_id", "year"]
_LABEL = "member table"


def _with_members(hh: pd.DataFrame | None, mem_raw: pd.DataFrame, salt: _Salt, count_weak_labor: bool,
                  ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household rows completed from the member rows (or built from them when ``hh`` is None), and the counts."""
    m, mmap, birth_id, birth = _member_rows(mem_raw, salt, ctx)
    m, hh_cols = _clean_member_rows(m, mmap, ctx)
    if birth_id is not None:
        birth_id = birth_id.reindex(m.index)
    if birth is not None:
        m["_birth"] = birth
    agg = _aggregate_members(m, birth_id, "_birth" if birth is not None else None, count_weak_labor, ctx)
    hh_vals = _household_values(m, hh_cols) if hh_cols else None
    if hh is None:
        hh = m[_KEY].drop_duplicates().reset_index(drop=True)
        if hh_vals is not None:
            hh = hh.join(hh_vals, on=_KEY)
        ctx.notes.append(f"no household table: {len(hh)} household-year row(s) built from the member rows")
    elif hh_vals is not None and len(hh_vals.columns):
        _fill_from_member_rows(hh, hh_vals, ctx)
    return hh, agg


def _member_rows(mem_raw: pd.DataFrame, salt: _Salt, ctx: _Ctx) -> tuple[pd.DataFrame, dict, Any, Any]:
    """Contract columns of the member sheet renamed (household fields as ``hh__f``), PII screened.

    Returns the rows, the header mapping, birth dates read from ID-card numbers and
    the raw birth-date column (each None when absent).
    """
    mmap, munknown = _map_headers(mem_raw, "member", _LABEL, ctx, extra_table="household_year")
    birth_col = _birth_column(munknown)
    mem_raw, mmap, birth_id = _scrub_table(mem_raw, mmap, _LABEL, salt, ctx, keep_id_birth=True)
    munknown = [c for c in munknown if c in mem_raw.columns and c != birth_col]
    ctx.unknown += [f"member table: {c}" for c in munknown]
    ctx.header_map.update({f"member table: {c}": (f if f.startswith("hh:") else "member." + f) for c, f in mmap.items()})
    m = mem_raw[list(mmap)].copy()
    m.columns = [("hh__" + f[3:].lstrip("!")) if f.startswith("hh:") else f for f in mmap.values()]
    for need in _KEY:
        if need not in m.columns and "hh__" + need in m.columns:
            m = m.rename(columns={"hh__" + need: need})
    missing = [f for f in _KEY if f not in m.columns]
    if missing:
        raise ContractError(
            f"member table lacks {', '.join(f'{f} ({contract.zh_headers()[f]})' for f in missing)}; "
            "each member row needs the household id and the year to be aggregated"
        )
    return m, mmap, birth_id, (mem_raw[birth_col] if birth_col is not None else None)


def _clean_member_rows(m: pd.DataFrame, mmap: dict[str, str], ctx: _Ctx) -> tuple[pd.DataFrame, list[str]]:
    """Member fields parsed as the member contract, ``hh__`` fields as the household contract."""
    m = _clean(m, "member", _LABEL, ctx, member=True)
    hh_cols = [c for c in m.columns if c.startswith("hh__")]
    if hh_cols:
        sub = m[hh_cols].copy()
        sub.columns = [c[4:] for c in hh_cols]
        sub = _clean(sub, "household_year", _LABEL, ctx)
        for c in hh_cols:
            m[c] = sub[c[4:]]
        for c, f in mmap.items():
            if f.startswith("hh:!"):
                m["hh__" + f[4:]] = ~m["hh__" + f[4:]].astype("boolean")
    return m, hh_cols


def _household_values(m: pd.DataFrame, hh_cols: list[str]) -> pd.DataFrame:
    """Household fields of the member rows per (household_id, year): the first value, any for 低保/特困."""
    grp = m.groupby(_KEY, sort=False, dropna=False)
    hh_vals = grp[hh_cols].first()
    for c in ("hh__receives_dibao", "hh__receives_tekun"):
        if c in hh_cols:  # a member receiving it makes the household a recipient
            hh_vals[c] = m[c].astype("boolean").fillna(False).groupby(
                [m["household_id"], m["year"]], sort=False, dropna=False).any().astype("boolean")
    hh_vals.columns = [c[4:] for c in hh_cols]
    return hh_vals.drop(columns=[c for c in _KEY if c in hh_vals.columns])


def _fill_from_member_rows(hh: pd.DataFrame, hh_vals: pd.DataFrame, ctx: _Ctx) -> None:
    """Household fields absent from ``hh``, or empty in it, taken from the member rows (in place)."""
    idx = pd.MultiIndex.from_arrays([hh["household_id"], hh["year"]])
    for f in hh_vals.columns:
        vals = hh_vals[f].reindex(idx)
        vals.index = hh.index
        if f not in hh.columns:
            hh[f] = vals
            ctx.notes.append(f"{f} ({contract.zh_headers()[f]}) taken from the member rows (absent from the household table)")
        else:
            miss = hh[f].isna() & vals.notna()
            if miss.any():
                hh[f] = hh[f].where(~miss, vals)
                ctx.notes.append(f"{f} ({contract.zh_headers()[f]}): {int(miss.sum())} empty cell(s) taken from the member rows")


# --------------------------------------------------------------------------- aggregation
def _birth_years(s: pd.Series) -> pd.Series:
    def one(v: Any) -> float:
        if _isna(v):
            return np.nan
        if isinstance(v, datetime | date | pd.Timestamp):
            return float(v.year)
        t = unicodedata.normalize("NFKC", str(v)).strip()
        m = re.match(r"(19\d{2}|20\d{2})", t)
        return float(m.group(1)) if m else np.nan
    return s.map(one).astype("float64")


def _by_household(m: pd.DataFrame, values: pd.Series):
    return values.groupby([m["household_id"], m["year"]], sort=False, dropna=False)


def _count(m: pd.DataFrame, flag: pd.Series, known: pd.Series | None = None) -> pd.Series:
    """Members per household with ``flag``; NaN for a household whose members are all unknown."""
    known = pd.Series(True, index=m.index) if known is None else known
    return _by_household(m, flag.astype("float64").where(known)).sum(min_count=1)


def _aggregate_members(m: pd.DataFrame, birth_from_id: pd.Series | None, birth_col: str | None,
                       count_weak_labor: bool, ctx: _Ctx) -> pd.DataFrame:
    """Household counts from member rows, keyed by (household_id, year)."""
    g = m.groupby(_KEY, sort=False, dropna=False)
    out = pd.DataFrame({"household_size": g.size().astype("float64")})
    age = _member_ages(m, birth_from_id, birth_col, ctx)
    if age.notna().any():
        out["n_elderly"] = _count(m, age >= 65, age.notna())
        out["n_children"] = _count(m, age < 16, age.notna())
    if "labor_skill" in m.columns:
        labor = set(LABOR_VALUES) | ({WEAK_LABOR} if count_weak_labor else set())
        out["n_labor"] = _count(m, m["labor_skill"].isin(labor))
    if "work_months" in m.columns:
        _work(m, out, ctx)
    if "school_status" in m.columns:
        ss = m["school_status"]
        out["n_students"] = _count(m, ss.notna() & (ss != "学龄前儿童"))
    if "health_status" in m.columns:
        _health(m, out, ctx)
    if "medical_insured" in m.columns:
        out["medical_insured"] = _all_insured(m)
    if "public_welfare_job_months" in m.columns:
        pw = m["public_welfare_job_months"].astype("float64")
        out["public_welfare_job"] = _by_household(m, pw.fillna(0) > 0).any()
    _warn_codes(m, ctx)
    return out


def _member_ages(m: pd.DataFrame, birth_from_id: pd.Series | None, birth_col: str | None, ctx: _Ctx) -> pd.Series:
    """Member ages: the age column, else year − birth year from 出生日期, else from the ID-card number."""
    year = pd.to_numeric(m["year"], errors="coerce").astype("float64")
    age = m["age"].astype("float64") if "age" in m.columns else pd.Series(np.nan, index=m.index)
    src = []
    if birth_col is not None and age.isna().any():
        by = _birth_years(m[birth_col])
        fill = age.isna() & by.notna()
        age = age.where(~fill, year - by)
        if fill.any():
            src.append(f"{int(fill.sum())} from 出生日期")
    if birth_from_id is not None and age.isna().any():
        by = birth_from_id.map(lambda d: d.year if d is not None and not _isna(d) else np.nan).astype("float64")
        fill = age.isna() & by.notna()
        age = age.where(~fill, year - by)
        if fill.any():
            src.append(f"{int(fill.sum())} from ID-card birth dates")
    if src:
        ctx.notes.append("member ages derived as year − birth year: " + ", ".join(src))
    return age


def _work(m: pd.DataFrame, out: pd.DataFrame, ctx: _Ctx) -> None:
    """n_migrant_workers and migrant_work_months, each member's months clipped to 0..12 (flagged)."""
    wm = m["work_months"].astype("float64")
    bad = wm.notna() & ((wm < 0) | (wm > 12))
    for idx in m.index[bad]:
        ctx.issue(field="member.work_months", value=wm[idx], rule="member_work_months_range", level="warning",
                  message=f"member {m.at[idx, 'member_no'] if 'member_no' in m.columns else idx}: work_months "
                          f"(务工时间（月）) outside 0..12, clipped", key=(m.at[idx, "household_id"], m.at[idx, "year"]))
    wmc = wm.clip(0, 12)
    out["n_migrant_workers"] = _count(m, wmc > 0)
    out["migrant_work_months"] = _by_household(m, wmc.fillna(0)).sum()


def _health(m: pd.DataFrame, out: pd.DataFrame, ctx: _Ctx) -> None:
    """n_disabled / n_chronic_ill / n_serious_ill from the (multi-select) health status; odd values warned."""
    hs = m["health_status"].astype(object)
    allowed = set(contract.code_list("health_status"))
    odd = {u for u in pd.unique(hs.dropna())
           if {t.strip() for t in _MULTI_SPLIT.split(str(u)) if t.strip()} - allowed}
    for idx in hs.index[hs.isin(list(odd))]:
        toks = {t.strip() for t in _MULTI_SPLIT.split(str(hs[idx])) if t.strip()}
        for t in toks - allowed:
            ctx.issue(field="member.health_status", value=t, rule="code_list", level="warning",
                      message="health_status (健康状况): value outside the code list, kept",
                      key=(m.at[idx, "household_id"], m.at[idx, "year"]))
    hs_txt = hs.where(hs.notna(), "").astype(str)
    for f, word in (("n_disabled", "残疾"), ("n_chronic_ill", "长期慢性病"), ("n_serious_ill", "患有大病")):
        out[f] = _count(m, hs_txt.str.contains(word, regex=False))


def _all_insured(m: pd.DataFrame) -> pd.Series:
    """True when every member is insured, False when one is not, else missing."""
    mi = m["medical_insured"].astype("boolean")
    any_false = _by_household(m, (mi == False).fillna(False)).any()  # noqa: E712
    all_known = _by_household(m, mi.notna()).all()
    val = pd.Series(pd.NA, index=any_false.index, dtype="boolean")
    val[any_false] = False
    val[~any_false & all_known] = True
    return val


def _warn_codes(m: pd.DataFrame, ctx: _Ctx) -> None:
    """Warn about member code values outside the code lists (the values are kept)."""
    for cat in ("labor_skill", "school_status", "relation", "sex", "education", "work_place"):
        if cat in m.columns:
            allowed = set(contract.code_list(cat))
            off = m[cat].notna() & ~m[cat].isin(allowed)
            for idx in m.index[off]:
                ctx.issue(field=f"member.{cat}", value=m.at[idx, cat], rule="code_list", level="warning",
                          message=f"{cat} ({contract.zh_headers('member')[cat]}): member value outside the code list, kept",
                          key=(m.at[idx, "household_id"], m.at[idx, "year"]))


def _merge_members(hh: pd.DataFrame, agg: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """Member counts into the household rows: absent fields added, empty cells filled, disagreements warned."""
    keys = list(zip(hh["household_id"], hh["year"]))
    idx = pd.MultiIndex.from_tuples(keys, names=_KEY) if keys else None
    zh = contract.zh_headers()
    in_members = pd.Series([k in agg.index for k in keys], index=hh.index, dtype=bool)
    if len(hh) and not in_members.all():
        ctx.notes.append(f"{int((~in_members).sum())} household row(s) have no member rows; their member-derived values stay as given")
    n_orphan = len(set(agg.index) - set(keys))
    if n_orphan:
        ctx.notes.append(f"{n_orphan} household-year(s) in the member sheet have no household row and are ignored")
    for f in agg.columns:
        vals = agg[f].reindex(idx)
        vals.index = hh.index
        if f not in hh.columns:
            hh[f] = vals
            ctx.notes.append(f"{f} ({zh[f]}) derived from the member sheet for all rows")
            continue
        _merge_field(hh, f, vals, zh, ctx)
    return hh


def _merge_field(hh: pd.DataFrame, f: str, vals: pd.Series, zh: dict[str, str], ctx: _Ctx) -> None:
    cur = hh[f]
    miss = cur.isna() & vals.notna()
    both = cur.notna() & vals.notna()
    flag = f in ("medical_insured", "public_welfare_job")
    if flag:
        differ = both & (cur.astype("boolean") != vals.astype("boolean")).fillna(False)
    else:
        differ = both & (pd.to_numeric(cur, errors="coerce").astype("float64") - vals.astype("float64")).abs().gt(1e-6)
    for i in hh.index[differ]:
        ctx.issue(field=f, value=cur[i], rule="member_mismatch", level="warning", row=i,
                  message=f"{f} ({zh[f]}) = {cur[i]} in the household table but {vals[i]} from the member sheet; household value kept")
    if miss.any():
        if cur.dtype == "boolean" or flag:
            hh[f] = cur.astype("boolean").where(~miss, vals.astype("boolean"))
        else:
            hh[f] = cur.astype("float64").where(~miss, vals.astype("float64"))
        ctx.notes.append(f"{f} ({zh[f]}): {int(miss.sum())} empty cell(s) filled from the member sheet")
