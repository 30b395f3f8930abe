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
from ._values import _isna, _na_mask

#: Member labour-skill values that count as labour (弱劳动力或半劳动力 only with ``count_weak_labor``).
LABOR_VALUES = ("技能劳动力", "普通劳动力")
WEAK_LABOR = "弱劳动力或半劳动力"

_MULTI_SPLIT = re.compile(r"[,，、;；]")
_KEY = ["household_id", "year"]
_LABEL = "member table"


def _with_members(hh: pd.DataFrame | None, mem_raw: pd.DataFrame, salt: _Salt, count_weak_labor: bool,
                  ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household rows completed from the member rows (or built from them when ``hh`` is None), and the counts."""
    if not len(mem_raw):
        ctx.issue(field="member.household_id", value=None, rule="no_data_rows", level="warning",
                  message=f"{_LABEL}: no data rows (a header only); nothing is derived from the member sheet")
    m, mmap, birth_id, birth = _member_rows(mem_raw, salt, ctx)
    m = _fill_merged_keys(m, ctx)
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


# --------------------------------------------------------------------------- merged key cells
def _fill_merged_keys(m: pd.DataFrame, ctx: _Ctx) -> pd.DataFrame:
    """Member rows with 户编号 (and 年度) filled down where a household's cells were merged or written once.

    A merged cell is read as its first row's value and empty cells below it, so
    the rows under a filled key belong to that household. A row that cannot take a
    key from above (see :func:`_unclaimed`: before the first key, or a household
    whose own key cell is empty) and a row left without a year are flagged, one
    error per kind naming the data rows, and left out of the counts.
    """
    key_empty = _na_mask(m["household_id"]).to_numpy(dtype=bool)
    year_empty = _na_mask(m["year"]).to_numpy(dtype=bool)
    if not (key_empty.any() or year_empty.any()):
        return m  # the usual file: two vectorised tests and nothing else
    block = np.cumsum(~key_empty)  # rows under the same filled key; 0 before the first
    lost = key_empty & _unclaimed(m, block, key_empty, year_empty)
    fill = key_empty & ~lost
    if fill.any():
        m["household_id"] = m["household_id"].where(~key_empty).ffill().where(~lost)
        ctx.notes.append(f"{_LABEL}: 户编号 (household_id) empty on {int(fill.sum())} member row(s) under a filled one "
                         "(merged cells, or the key written once per household): filled down from the row above")
    year_empty = _fill_year(m, year_empty & ~lost, ctx)
    gone = lost | (year_empty & ~lost)
    if gone.any():
        _flag_lost_rows(lost, year_empty & ~lost, block, ctx)
        m = m[~gone]
    return m


def _unclaimed(m: pd.DataFrame, block: np.ndarray, key_empty: np.ndarray, year_empty: np.ndarray) -> np.ndarray:
    """Rows no filled key above can claim: a household whose own key cell is empty, not the one above it.

    Before the first key; from a second 户主 of one year under a key on; from a
    row whose (key above, year) another block already holds (the household above
    has its rows of that year elsewhere) on. Past such a row the whole block is unclaimed.
    """
    year = m["year"].astype(object).where(~year_empty).groupby(block).ffill()  # a merged 年度 covers the rows below
    ycode = pd.factorize(year.astype(str).where(year.notna(), "\x00"))[0]
    out = np.zeros(len(m), dtype=bool)
    if "relation" in m.columns:
        rel = m["relation"].astype(object)
        heads = [u for u in pd.unique(rel.dropna())
                 if re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(u))) == "户主"]
        head = rel.isin(heads).to_numpy(dtype=np.int64)
        out |= pd.Series(head).groupby([block, ycode]).cumsum().to_numpy() >= 2
    kcode = pd.factorize(m["household_id"].where(~key_empty).ffill().astype(str))[0]
    pair = kcode.astype(np.int64) * (int(ycode.max()) + 2) + ycode
    owner = pd.Series(block[~key_empty]).groupby(pair[~key_empty]).min()
    own = pd.Series(pair).map(owner).to_numpy(dtype="float64")
    out |= key_empty & ~np.isnan(own) & (own != block)
    out = pd.Series(out).groupby(block).cummax().to_numpy(dtype=bool)
    return out | (block == 0)


def _fill_year(m: pd.DataFrame, year_empty: np.ndarray, ctx: _Ctx) -> np.ndarray:
    """年度 filled down within each household's run of rows (in place); the rows still without a year."""
    if not year_empty.any():
        return year_empty
    key = m["household_id"]
    run = np.cumsum(np.r_[True, (key.iloc[1:].to_numpy() != key.iloc[:-1].to_numpy())
                          | key.iloc[1:].isna().to_numpy()])
    yr = m["year"].where(~year_empty)
    filled = yr.groupby(run).ffill()
    done = year_empty & filled.notna().to_numpy()
    if done.any():
        m["year"] = yr.where(~done, filled).where(~year_empty | done)
        ctx.notes.append(f"{_LABEL}: 年度 (year) empty on {int(done.sum())} member row(s): filled down from the "
                         "row above of the same household (merged cells)")
    return year_empty & ~done


def _flag_lost_rows(no_key: np.ndarray, no_year: np.ndarray, block: np.ndarray, ctx: _Ctx) -> None:
    """One error per kind of member row that no household can take: which data rows, why and the fix."""
    def rows(mask: np.ndarray) -> str:
        pos = np.flatnonzero(mask) + 1
        return ", ".join(str(int(p)) for p in pos[:10]) + (", ..." if len(pos) > 10 else "")

    if no_key.any():
        why = []
        if (no_key & (block == 0)).any():
            why.append("above the first filled 户编号")
        if (no_key & (block > 0)).any():
            why.append("under a filled key but of another household (a second 户主 of one year, or a year the "
                       "household above has elsewhere): a household whose own key cell is empty")
        ctx.issue(field="member.household_id", value=None, rule="member_key_missing", level="error",
                  message=f"{_LABEL}: {int(no_key.sum())} member row(s) have no 户编号 (household_id) and none to take "
                          f"from the rows above ({'; '.join(why)}; data row(s) {rows(no_key)} under the header): they "
                          "are not counted in any household; fill 户编号 on these rows")
    if no_year.any():
        ctx.issue(field="member.year", value=None, rule="member_year_missing", level="error",
                  message=f"{_LABEL}: {int(no_year.sum())} member row(s) have no 年度 (year) (data row(s) "
                          f"{rows(no_year)} under the header): they are not counted in any household; fill 年度")


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
    agg_keys = set(agg.index)  # a set: a MultiIndex lookup per row cost a second at 50,000 households
    in_members = pd.Series([k in agg_keys for k in keys], index=hh.index, dtype=bool)
    if len(hh) and not in_members.all():
        ctx.notes.append(f"{int((~in_members).sum())} household row(s) have no member rows; their member-derived values stay as given")
    n_orphan = len(agg_keys - set(keys))
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
    if len(hh) and len(agg) and not in_members.all():
        _key_mismatch(hh, agg, in_members, ctx)
    return hh


def _key_mismatch(hh: pd.DataFrame, agg: pd.DataFrame, in_members: pd.Series, ctx: _Ctx) -> None:
    """One issue when household ids of the two tables do not meet, with examples of each side.

    Without it a key mismatch (leading zeros lost in one sheet, another coding)
    shows as one "household_size empty" error per row, blaming the wrong thing.
    The issue lists the (row, field) cells it explains under ``_covers``; the
    report then drops the per-row ``required`` errors on them.
    """
    mem_ids = set(agg.index.get_level_values(0).dropna())
    lonely = hh["household_id"][~in_members.to_numpy()]
    hh_only = sorted({h for h in lonely.dropna() if h not in mem_ids}, key=str)
    if not hh_only:
        return  # the ids meet: only some years lack member rows (the notes say so)
    hh_ids = set(hh["household_id"].dropna())
    mem_only = sorted((h for h in mem_ids if h not in hh_ids), key=str)
    if not mem_only:
        return  # households without member rows, but no member rows without a household
    zero = {_no_zeros(h) for h in hh_only} & {_no_zeros(h) for h in mem_only}
    hint = (f" — leading zeros? {len(zero)} of them match once leading zeros are ignored (a sheet that stores "
            "户编号 as a number drops them: format the column as text in both sheets)" if zero else "")
    affected = hh.index[hh["household_id"].isin(hh_only).to_numpy()]
    covers = [(i, f) for f in agg.columns if f in contract.required_fields()
              for i in affected[hh.loc[affected, f].isna().to_numpy()]]
    zh = contract.zh_headers()
    empty = sorted({f for _, f in covers})
    ctx.issue(field="household_id", value=None, rule="member_key_mismatch", level="error" if covers else "warning",
              message=f"the member keys do not match the household keys: {len(hh_only)} household id(s) have no member "
                      f"rows and {len(mem_only)} member-table id(s) have no household row (household table e.g. "
                      f"{_examples(hh_only)}; member table e.g. {_examples(mem_only)}){hint}. "
                      + (f"{', '.join(f'{f} ({zh[f]})' for f in empty)} therefore empty on {len(covers)} row(s). "
                         if covers else "")
                      + "Use the same 户编号 (household_id) in both tables")
    ctx.issues[-1]["_covers"] = covers


def _no_zeros(v: Any) -> str:
    return str(v).strip().lstrip("0")


def _examples(ids: list) -> str:
    """Up to three ids for a message: hashed ids as they are, anything that looks personal masked."""
    return ", ".join(str(contract.mask_value(v)) if not re.search(r"\d{11}", str(v)) else "***" for v in ids[:3])


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
