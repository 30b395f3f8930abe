"""Embedded simulator of the anti-relapse monitoring panel (防止返贫动态监测).

:func:`simulate` draws a synthetic panel of rural households, member by member and
year by year, in the data contract (canonical English names, canonical dtypes,
Chinese code values). It is the project's default data set: it lets the whole
pipeline (read → validate → label → features → model → backtest) run without a
real export, which cannot be shipped because it holds personal data.

The structural model is documented in ``docs/calibration.md``; the calibration
targets come from ``shared/domain/POLICY_FACTS.md``. Everything is vectorised
over (household × member-slot) arrays, one pass per year.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import contract

__all__ = ["simulate", "write_sample", "monitoring_line_table"]

_PKG = Path(__file__).resolve().parent

# --------------------------------------------------------------------------- code tables
HOUSEHOLD_TYPES = np.array(["脱贫户", "监测户", "一般农户"], dtype=object)
CATEGORIES = np.array([None, "脱贫不稳定户", "边缘易致贫户", "突发严重困难户"], dtype=object)
RISK_TYPES = np.array(
    ["因病", "因学", "因残", "因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳",
     "缺劳动力", "因安全住房", "因安全饮水", "其他"], dtype=object)
RELATIONS = np.array(["户主", "配偶", "之子", "之女", "之儿媳", "之女婿", "之孙子", "之孙女", "之父", "之母"],
                     dtype=object)
SEXES = np.array(["男", "女"], dtype=object)
EDUCATION = np.array([None, "文盲或半文盲", "小学", "初中", "高中", "大专", "本科及以上"], dtype=object)
SCHOOL = np.array([None, "学龄前儿童", "学前教育", "小学", "七年级", "八年级", "九年级", "普通高中一年级",
                   "普通高中二年级", "普通高中三年级", "中职", "高职高专", "本科"], dtype=object)
LABOR = np.array(["技能劳动力", "普通劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力"], dtype=object)
PLACES = np.array([None, "省外", "省内县外", "县内"], dtype=object)

# Member slots: 0 head, 1 spouse, 2-4 children, 5 child-in-law, 6-7 grandchildren,
# 8-9 parents of the head, 10 reserved for a birth during the panel.
_S = 11

# Rural dibao standard (yuan/person/year), national average, approximate: it sits
# near the monitoring line, which is why dibao alone lifts few households over it.
_DIBAO = {2019: 5300.0, 2020: 5962.0, 2021: 6362.0, 2022: 6985.0, 2023: 7300.0, 2024: 7600.0, 2025: 7900.0}
# Money-wage level by year (2021 = 1); 2020 and 2022 also lose migrant months (COVID).
_WAGE_INDEX = {2019: 0.84, 2020: 0.88, 2021: 0.95, 2022: 1.17, 2023: 1.24, 2024: 1.30, 2025: 1.36}
_COVID_MONTHS = {2020: (0.85, 0.90, 0.95), 2022: (0.94, 0.96, 0.98)}  # 省外 / 省内县外 / 县内
_JOB_LOSS = {2020: 0.08, 2022: 0.06}
# Persistent earning component (AR(1)) and dibao / tekun gap filling.
_RHO = 0.88            # year-to-year persistence of the household earning shock
_SD_PERM = 0.20        # its stationary standard deviation (log wage)
_DIBAO_FILL = 0.75     # dibao pays this share of the gap between the standard and assessed income
_TEKUN_FILL = 0.7      # tekun: share of the gap to 1.2 × the dibao standard
_PRICE_INDEX = {2019: 0.95, 2020: 1.0, 2021: 1.05, 2022: 1.10, 2023: 1.13, 2024: 1.16, 2025: 1.19}


def _year_value(table: dict[int, float], year: int, growth: float) -> float:
    # Years outside the table continue the nearest known value at a constant growth rate.
    if year in table:
        return table[year]
    lo, hi = min(table), max(table)
    ref = hi if year > hi else lo
    return table[ref] * (1.0 + growth) ** (year - ref)


# --------------------------------------------------------------------------- monitoring lines
def monitoring_line_table() -> dict[tuple[str, int], float]:
    """The packaged monitoring-line table (:func:`fanpin_risk.contract.load_lines`) as ``{(province, year): line}``."""
    t = contract.load_lines()
    return {(p, int(y)): float(v) for p, y, v in zip(t["province"], t["year"], t["line"])}


def _line_for(table: dict[tuple[str, int], float], province: str, year: int) -> float:
    province = str(contract.normalize_province(province))
    if (province, year) in table:
        return table[(province, year)]
    nat = {y: v for (p, y), v in table.items() if p == contract.NATIONAL}
    if year in nat:
        return nat[year]
    # Outside the reference series: carry the nearest national line, +4 %/year after it.
    return round(_year_value(nat, year, 0.04), -1)


# --------------------------------------------------------------------------- helpers
def _b(rng: np.random.Generator, p, shape=None) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return rng.random(shape if shape is not None else p.shape) < p


def _school_status(age: np.ndarray, track: np.ndarray) -> np.ndarray:
    """School-status code (index into SCHOOL) from age and a persistent schooling track.

    Tracks: 0 leaves after 九年级, 1 普高 only, 2 中职 only, 3 中职 + 高职, 4 普高 + 高职, 5 普高 + 本科.
    Ages are at the end of the year, so 九年级 is age 14.
    """
    s = np.zeros(age.shape, dtype=np.int8)
    s[age <= 2] = 1
    s[(age >= 3) & (age <= 5)] = 2
    s[(age >= 6) & (age <= 11)] = 3
    s[age == 12] = 4
    s[age == 13] = 5
    s[age == 14] = 6
    hs = (age >= 15) & (age <= 17)
    gen = np.isin(track, (1, 4, 5))
    s[hs & gen] = (7 + (age - 15))[hs & gen]
    s[hs & np.isin(track, (2, 3))] = 10
    s[(age >= 18) & (age <= 20) & np.isin(track, (3, 4))] = 11
    s[(age >= 18) & (age <= 21) & (track == 5)] = 12
    return s


def _track_education(track: np.ndarray) -> np.ndarray:
    return np.array([3, 4, 4, 5, 5, 6], dtype=np.int8)[track]


def _to_int64(values: np.ndarray, mask: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    v = np.asarray(values)
    if mask is None:
        mask = np.zeros(v.shape, dtype=bool)
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np.int64), mask.copy())


def _to_bool(values: np.ndarray, mask: np.ndarray | None = None) -> pd.arrays.BooleanArray:
    v = np.asarray(values, dtype=bool)
    if mask is None:
        mask = np.zeros(v.shape, dtype=bool)
    return pd.arrays.BooleanArray(v.copy(), mask.copy())


def _to_str(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    # Code arrays index into an object table whose None entries become NaN in a str column.
    return pd.Series(labels[codes], dtype="str")


# --------------------------------------------------------------------------- the simulator
def simulate(
    n_households: int = 20_000,
    years: Iterable[int] = range(2020, 2026),
    seed: int = 0,
    province: str = "全国",
    *,
    share_exited: float = 0.5,
    n_counties: int | None = None,
    share_key_county: float = 0.3,
    detection: float = 1.0,
    return_members: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a household-year monitoring panel in the data contract.

    Parameters
    ----------
    n_households : int, default 20000
        Households in the panel (a household whose last member dies leaves it).
    years : iterable of int, default 2020–2025
        Consecutive monitoring years.
    seed : int, default 0
        Seed of the random generator; the same arguments give identical output.
    province : str, default "全国"
        Written to the ``province`` column and used to pick the monitoring line:
        the province's row of ``monitoring_lines.csv`` for that year if present,
        else the national (全国) reference row.
    share_exited : float, default 0.5
        Share of households registered as exited from poverty (脱贫户); the rest
        start as ordinary rural households (一般农户).
    n_counties : int, optional
        Number of synthetic counties; default one per 500 households (4 to 200).
    share_key_county : float, default 0.3
        Share of counties that are key assistance counties (重点帮扶县).
    detection : float, default 1.0
        Multiplier on the identification channels' detection probabilities
        (< 1 gives a sloppier monitoring system, more undetected poverty).
    return_members : bool, default False
        Also return the member table.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, pandas.DataFrame)
        Household-year rows sorted by ``(household_id, year)`` with every field of
        the household contract in canonical dtypes; with ``return_members`` also
        the member-year rows (member contract fields), sorted by
        ``(household_id, year, member_no)``. Household counts equal the
        aggregation of the member table.
    """
    years = [int(y) for y in years]
    if not years or any(b - a != 1 for a, b in zip(years, years[1:])):
        raise ValueError("years must be a non-empty run of consecutive years")
    if n_households < 1:
        raise ValueError("n_households must be >= 1")
    if not 0.0 <= share_exited <= 1.0:
        raise ValueError("share_exited must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    lines = monitoring_line_table()
    n = int(n_households)
    y0 = years[0]

    # ---------------------------------------------------------------- counties
    K = int(n_counties) if n_counties else int(np.clip(n // 500, 4, 200))
    key_c = rng.random(K) < share_key_county
    cap_c = rng.beta(5, 2.5, K)                         # cadre capacity of the county (visits)
    lvl_c = rng.normal(0.0, 0.10, K) - 0.10 * key_c      # county income level
    dis_c = 0.07 + 0.08 * key_c + rng.uniform(0, 0.06, K)  # disaster proneness
    county = rng.integers(0, K, n)
    town = rng.integers(0, 12, n)
    vill = rng.integers(0, 15, n)
    key = key_c[county]

    # ---------------------------------------------------------------- households
    exited = rng.random(n) < share_exited
    relocated = exited & (rng.random(n) < 0.10)
    # Persistent earning ability; registered-poor households were selected on low ability.
    ability = rng.normal(0.0, 0.30, n) + lvl_c[county] - 0.40 * exited
    land = np.exp(rng.normal(np.log(4.0), 0.6, n)).clip(0.3, 60.0) * np.where(relocated, 0.3, 1.0)
    has_project = rng.random(n) < np.where(exited, 0.32, 0.18)
    project_scale = np.exp(rng.normal(np.log(8000.0), 0.5, n))
    elder_support = rng.random(n) < 0.7
    claim_cover = rng.random(n) < np.where(exited, 0.7, 0.1)   # anti-poverty insurance (防贫保)
    micro_amt = np.where(exited & (rng.random(n) < 0.15), rng.choice([30000.0, 40000.0, 50000.0], n), 0.0)
    micro_left = np.where(micro_amt > 0, rng.integers(1, 4, n), 0)

    # ---------------------------------------------------------------- members (n × _S)
    head_age = np.clip(rng.normal(52, 13, n), 22, 88).round().astype(int)
    active = np.zeros((n, _S), dtype=bool)
    age = np.zeros((n, _S), dtype=int)
    rel = np.zeros((n, _S), dtype=np.int8)
    sex = np.zeros((n, _S), dtype=np.int8)
    active[:, 0] = True
    age[:, 0] = head_age
    sex[:, 0] = (rng.random(n) < 0.12).astype(np.int8)
    active[:, 1] = rng.random(n) < np.where(head_age < 70, 0.88, 0.62)
    age[:, 1] = np.clip(head_age + rng.integers(-5, 3, n), 20, 95)
    rel[:, 1] = 1
    sex[:, 1] = 1 - sex[:, 0]
    for k, p in zip((2, 3, 4), (0.88, 0.62, 0.22)):
        a = head_age - rng.integers(22, 33, n) - 3 * (k - 2)
        live = np.where(a < 18, 1.0, np.where(a <= 28, 0.55, np.where(k == 2, 0.45, 0.08)))
        active[:, k] = (rng.random(n) < p) & (a >= 0) & (rng.random(n) < live)
        age[:, k] = np.maximum(a, 0)
        sex[:, k] = (rng.random(n) < 0.47).astype(np.int8)
        rel[:, k] = 2 + sex[:, k]
    # An adult first child living at home brings a spouse and children.
    adult_child = active[:, 2] & (age[:, 2] >= 24)
    active[:, 5] = adult_child & (rng.random(n) < 0.8)
    age[:, 5] = np.clip(age[:, 2] + rng.integers(-3, 3, n), 20, 90)
    sex[:, 5] = 1 - sex[:, 2]
    rel[:, 5] = np.where(sex[:, 2] == 0, 4, 5)
    for k, p in zip((6, 7), (0.75, 0.4)):
        a = age[:, 2] - rng.integers(22, 32, n) - 3 * (k - 6)
        active[:, k] = adult_child & (rng.random(n) < p) & (a >= 0)
        age[:, k] = np.maximum(a, 0)
        sex[:, k] = (rng.random(n) < 0.47).astype(np.int8)
        rel[:, k] = 6 + sex[:, k]
    for k, p in zip((8, 9), (0.2, 0.3)):
        a = head_age + rng.integers(24, 33, n)
        active[:, k] = (head_age < 58) & (rng.random(n) < p) & (a <= 95)
        age[:, k] = np.minimum(a, 95)
        sex[:, k] = k - 8
        rel[:, k] = k
    rel[:, 10] = 2  # filled on birth
    # Ages in this array are ages at the end of the year before the first year.
    age -= 1

    track = rng.choice(6, (n, _S), p=[0.18, 0.14, 0.28, 0.12, 0.14, 0.14])
    # Richer households keep children in school longer (costlier tracks).
    up = (rng.random((n, _S)) < np.clip(0.25 + 0.5 * ability[:, None], 0, 0.6)) & (track < 5)
    track = np.where(up, track + 1, track)
    dropout = np.zeros((n, _S), dtype=bool)
    u_cohort = rng.random((n, _S))
    old_edu = np.select(
        [age >= 60, age >= 40],
        [np.digitize(u_cohort, [0.32, 0.78, 0.96, 0.995]) + 1, np.digitize(u_cohort, [0.08, 0.45, 0.88, 0.97]) + 1],
        np.digitize(u_cohort, [0.02, 0.15, 0.68, 0.88, 0.96]) + 1,
    ).astype(np.int8)
    fixed_edu = age >= 22  # education of adults already out of school is a fixed draw

    age_f = np.maximum(age, 0)
    poor_h = np.where(exited, 1.6, 1.0)[:, None]
    chronic = rng.random((n, _S)) < poor_h * np.select([age_f >= 60, age_f >= 40], [0.22, 0.09], 0.015)
    serious = rng.random((n, _S)) < poor_h * np.select([age_f >= 60, age_f >= 40], [0.035, 0.018], 0.004)
    disabled = rng.random((n, _S)) < poor_h * np.select([age_f >= 60, age_f >= 16], [0.06, 0.03], 0.01)
    u_skill = rng.random((n, _S))
    skilled = rng.random((n, _S)) < 0.12 + 0.25 * (old_edu >= 4)
    u_work = rng.random((n, _S))
    place = rng.choice([1, 2, 3], (n, _S), p=[0.42, 0.26, 0.32]).astype(np.int8)
    wage_eff = rng.normal(0.0, 0.18, (n, _S))
    insured = ~(rng.random((n, _S)) < np.where(exited, 0.0015, 0.004)[:, None])
    pension_ins = rng.random((n, _S)) < 0.93
    pwj_months = np.zeros((n, _S), dtype=int)
    returned = np.zeros((n, _S), dtype=bool)   # came home after losing work: stays home more
    months_eff = rng.normal(0.0, 1.0, (n, _S))  # persistent member effect on migrant months
    u_main = rng.random(n)                     # persistent propensity of the main earner to stay home
    born = np.zeros(n, dtype=bool)

    # ---------------------------------------------------------------- household state
    e_shock = rng.normal(0.0, _SD_PERM, n)
    loss_prev = np.zeros(n)
    housing_ok = ~(rng.random(n) < np.where(exited, 0.002, 0.006))
    water_ok = ~(rng.random(n) < np.where(exited, 0.002, 0.004))
    dibao = np.zeros(n, dtype=bool)
    tekun = np.zeros(n, dtype=bool)
    prev_base_pc = np.full(n, np.nan)          # last year's per-capita income without dibao / tekun
    prev_pc = np.full(n, np.nan)
    ident_m = np.zeros(n, dtype=int)            # YYYYMM of the latest identification, 0 = never
    elim_m = np.zeros(n, dtype=int)             # YYYYMM of its elimination, 0 = not eliminated
    category = np.zeros(n, dtype=np.int8)
    monitored_ord = np.zeros(n, dtype=bool)     # ordinary household turned 监测户
    risks = np.full((n, 5), -1, dtype=np.int8)
    emp_help = np.zeros(n, dtype=bool)
    hh_alive = np.ones(n, dtype=bool)

    hh_rows: list[dict[str, np.ndarray]] = []
    mem_rows: list[dict[str, np.ndarray]] = []
    hid_all = np.array([f"H{i:07d}" for i in range(n)], dtype=object)
    c_code = np.array([f"99{c + 1:04d}" for c in range(K)], dtype=object)[county]
    t_code = c_code + np.char.mod("%03d", town + 1).astype(object)
    v_code = t_code + np.char.mod("%03d", vill + 1).astype(object)

    for y in years:
        line = _line_for(lines, province, y)
        wi = _year_value(_WAGE_INDEX, y, 0.045)
        pi = _year_value(_PRICE_INDEX, y, 0.025)
        dstd = _year_value(_DIBAO, y, 0.04)
        dstd_prev = _year_value(_DIBAO, y - 1, 0.04)

        # ------------------------------------------------ members: ageing, births, deaths, health
        age = age + 1
        mothers = active & (sex == 1) & (age >= 22) & (age <= 38) & np.isin(rel, (1, 4))
        can_birth = mothers.any(axis=1) & ~born & hh_alive & (y > y0)
        birth = can_birth & (rng.random(n) < 0.07)
        born |= birth
        active[birth, 10] = True
        age[birth, 10] = 0
        sex[birth, 10] = (rng.random(birth.sum()) < 0.47).astype(np.int8)
        grand = birth & (mothers[:, 5] | ~mothers[:, 1])
        rel[birth, 10] = np.where(grand[birth], 6, 2) + sex[birth, 10]
        chronic[birth, 10] = serious[birth, 10] = disabled[birth, 10] = dropout[birth, 10] = False
        fixed_edu[birth, 10] = False

        q = np.where(age >= 50, 0.004 * np.exp(0.095 * (age - 60)), 0.0005) * np.where(serious, 3.0, 1.0)
        died = active & (y > y0) & (rng.random((n, _S)) < q)
        active &= ~died
        head_dead = died[:, 0] | (~active[:, 0] & hh_alive)
        if head_dead.any():
            # The spouse, else the oldest adult, takes over as household head (户主).
            cand = np.where(active, age, -1)
            cand[:, 1] = np.where(active[:, 1], 200, -1)
            new_head = cand.argmax(axis=1)
            hd = np.flatnonzero(head_dead & (cand.max(axis=1) >= 0))
            rel[hd, new_head[hd]] = 0
            # Slot 0 must stay the head for the flattening order; swap member attributes.
            for arr in (active, age, rel, sex, track, dropout, old_edu, fixed_edu, chronic, serious, disabled,
                        u_skill, skilled, u_work, months_eff, place, wage_eff, insured, pension_ins, pwj_months, returned):
                tmp = arr[hd, 0].copy()
                arr[hd, 0] = arr[hd, new_head[hd]]
                arr[hd, new_head[hd]] = tmp
        hh_alive &= active.any(axis=1)

        if y > y0:
            onset_s = active & (rng.random((n, _S)) < np.select([age >= 65, age >= 45, age >= 16], [0.030, 0.016, 0.005], 0.002))
        else:
            onset_s = active & (rng.random((n, _S)) < np.select([age >= 65, age >= 45, age >= 16], [0.024, 0.013, 0.004], 0.0015))
        recover = serious & (rng.random((n, _S)) < 0.35)
        chronic |= recover & (rng.random((n, _S)) < 0.6)
        serious = (serious & ~recover) | onset_s
        chronic |= active & (rng.random((n, _S)) < np.select([age >= 60, age >= 40], [0.025, 0.012], 0.002))
        chronic &= ~(rng.random((n, _S)) < 0.03)
        shock_illness = onset_s.any(axis=1)

        accident = hh_alive & (rng.random(n) < 0.012)
        acc_member = np.where(active & (age >= 16), rng.random((n, _S)), -1.0).argmax(axis=1)
        acc_dis = accident & (rng.random(n) < 0.2)
        disabled[acc_dis, acc_member[acc_dis]] = True

        # ------------------------------------------------ schooling and labour capacity
        stat = _school_status(age, track)
        drop_new = active & (age >= 7) & (age <= 14) & (rng.random((n, _S)) < 0.0008 + 0.002 * (ability[:, None] < -0.4))
        dropout |= drop_new
        dropout &= ~((age <= 14) & (rng.random((n, _S)) < 0.5))  # control-dropout campaigns bring children back
        stat = np.where(dropout & (age >= 7) & (age <= 14), 0, stat).astype(np.int8)
        edu = np.where(fixed_edu, old_edu, np.where(stat == 0, _track_education(track), 0)).astype(np.int8)
        edu = np.where(dropout & (stat == 0) & (age <= 16), 2, edu).astype(np.int8)
        student = (stat >= 2)

        lab = np.where(skilled, 0, 1).astype(np.int8)
        lab = np.where((age >= 61) & (age <= 64) & (u_skill < 0.35), 2, lab)
        lab = np.where(chronic & (u_skill < 0.45), 2, lab)
        lab = np.where((age >= 65) & (age <= 74), np.where(u_skill < 0.7, 2, 4), lab)
        lab = np.where(age >= 75, 4, lab)
        lab = np.where(disabled, np.where(u_skill < 0.5, 2, 3), lab)
        lab = np.where(serious, np.where(u_skill < 0.7, 3, 2), lab)
        lab = np.where(student & (age >= 16), 4, lab)
        lab = np.where(age < 16, 4, lab).astype(np.int8)
        labour = active & (lab <= 1)
        n_lab = labour.sum(axis=1)
        size = active.sum(axis=1)

        # ------------------------------------------------ shocks
        c_hit = rng.random(K) < dis_c
        c_sev = rng.uniform(0.2, 0.7, K) * c_hit
        disaster = hh_alive & (((c_hit[county]) & (rng.random(n) < 0.55)) | (rng.random(n) < 0.01))
        loss = np.where(disaster, np.maximum(c_sev[county], 0.25) * rng.uniform(0.5, 1.0, n), 0.0)
        e_shock = _RHO * e_shock + rng.normal(0.0, _SD_PERM * np.sqrt(1 - _RHO ** 2), n)

        # ------------------------------------------------ wage work
        care = (active & (serious | (lab == 3))).any(axis=1)
        can_work = active & ((labour & (age <= 64)) | ((lab == 2) & (age >= 16) & (age <= 69) & ~student))
        base_p = np.select([age <= 19, age <= 45, age <= 55, age <= 64], [0.25, 0.45, 0.3, 0.15], 0.05)
        base_p = np.where(lab == 2, 0.22, base_p)
        # Employment policy aims at one worker in every household with labour: the member
        # most inclined to work (lowest u_work) is the household's main earner.
        main = np.where(can_work & labour, u_work, 9.0).argmin(axis=1)
        is_main = np.zeros((n, _S), dtype=bool)
        is_main[np.arange(n), main] = (can_work & labour)[np.arange(n), main]
        base_p = np.where(is_main, np.where(age <= 55, 0.98, 0.9), base_p)
        p_work = base_p * np.where(care[:, None], np.where(is_main, 0.95, 0.6), 1.0) + 0.3 * emp_help[:, None] - 0.35 * returned
        # Whether a member works is mostly a persistent trait (the main earner's too).
        u_now = np.where(is_main, 0.95 * u_main[:, None], 0.9 * u_work) + np.where(is_main, 0.05, 0.1) * rng.random((n, _S))
        works = can_work & (u_now < p_work)
        # Returned migrants work locally, fewer months, until they leave again.
        plc = np.where((lab == 2) | returned, 3, place)
        months = np.clip(np.choose(plc - 1, [10.5, 10.0, 8.5]) + months_eff + rng.normal(0, 0.7, (n, _S)), 1, 12)
        months = np.where(returned, 0.75 * months, months)
        if y in _COVID_MONTHS:
            months = months * np.choose(plc - 1, list(_COVID_MONTHS[y]))
        lost = works & (rng.random((n, _S)) < _JOB_LOSS.get(y, 0.035))
        months = np.where(lost, months * rng.uniform(0.2, 0.6, (n, _S)), months)
        months = np.where(works, np.clip(np.round(months), 1, 12), 0).astype(int)
        # Job loss sends some workers home; they recover over one to two years.
        returned = (lost & (rng.random((n, _S)) < 0.6)) | (returned & ~lost & (rng.random((n, _S)) < 0.5))
        shock_job = lost.any(axis=1)
        mwage = (np.choose(plc - 1, [4050.0, 3330.0, 2500.0]) * wi * np.where(skilled, 1.3, 1.0)
                 * np.where(lab == 2, 0.6, 1.0) * np.exp(0.35 * ability[:, None] + e_shock[:, None] - _SD_PERM ** 2 / 2 + wage_eff))
        mwage = np.clip(mwage, 800.0, 30000.0)
        pwj = np.where(active & (age >= 16) & (age < 70), pwj_months, 0)
        wage = (months * mwage).sum(axis=1) + (pwj * 800.0 * wi).sum(axis=1)
        workplace = np.where(months > 0, plc, 0).astype(np.int8)

        # ------------------------------------------------ production and business
        farmer = (active & (lab <= 2) & (age >= 16) & (age <= 79) & (months < 9)).any(axis=1)
        farm_gross = np.where(farmer, land * 1250.0 * pi * np.exp(0.2 * ability + rng.normal(0, 0.15, n)), 0.0)
        farm_exp = np.where(farmer, land * 500.0 * pi, 0.0)
        proj = has_project & hh_alive & (farmer | (n_lab > 0))
        fail = proj & (rng.random(n) < 0.03 + 0.10 * disaster + 0.03 * (micro_amt > 0))
        scale = project_scale + 0.3 * micro_amt
        proj_gross = np.where(proj, scale * pi * np.exp(0.3 * ability + rng.normal(0, 0.2, n)), 0.0)
        proj_gross *= np.where(fail, rng.uniform(0.05, 0.4, n), 1.0) * (1 - 0.6 * loss)
        proj_exp = np.where(proj, 0.55 * scale * pi, 0.0)
        # Labour at home keeps livestock and courtyard crops (庭院经济), so idle labour is not zero income.
        home_lab = (active & (lab <= 2) & (age >= 16) & (age <= 74) & (months <= 6) & ~student).sum(axis=1)
        home_gross = np.minimum(home_lab, 2) * 4400.0 * pi * np.exp(0.25 * ability + rng.normal(0, 0.2, n))
        home_exp = np.minimum(home_lab, 2) * 1700.0 * pi
        # A disaster also hurts the next year's output (lost livestock, damaged fields).
        dmg = np.clip(loss + 0.35 * loss_prev, 0.0, 0.95)
        income_business = (farm_gross + home_gross) * (1 - dmg) + proj_gross
        expense_business = farm_exp + home_exp + proj_exp
        # Land nobody farms is rented out; exited households get dividends from assistance assets.
        income_property = (np.where(farmer, 0.0, land * 350.0 * pi) + np.where(exited, rng.uniform(200, 800, n), 0.0)
                           + rng.exponential(150.0, n))

        # ------------------------------------------------ transfers
        pre_total = wage + income_business - expense_business + income_property
        size_safe = np.maximum(size, 1)
        pension = (active & (age >= 60) & pension_ins).sum(axis=1) * 2000.0 * 1.05 ** (y - 2020)
        subsidies = 110.0 * land * farmer + 250.0 + np.where(exited, 700.0, 0.0)
        dis_sub = (active & disabled & (lab >= 2)).sum(axis=1) * 1100.0
        support = elder_support * (active & (age >= 65)).sum(axis=1) * 2300.0 * wi
        yulu = np.where(exited | (ident_m > 0), (active & np.isin(stat, (10, 11))).sum(axis=1) * 3000.0, 0.0)
        no_lab = n_lab == 0
        # 特困: nobody able to work or to support, no children; take-up is partial.
        frail = (active & (lab >= 3) & ((age >= 60) | disabled)).sum(axis=1) == size
        tekun = hh_alive & frail & (size <= 2) & np.where(tekun, rng.random(n) < 0.97, rng.random(n) < 0.3)
        # Dibao is assessed on last year's income without dibao/tekun (pensions and support count;
        # a means test with a lag) and fills only part of the gap to the standard, so households on
        # dibao stay close to the line. Not every eligible household takes it up.
        base_pc = (pre_total + pension + subsidies + dis_sub + support + yulu) / size_safe
        ref_pc = np.where(np.isnan(prev_base_pc), base_pc * np.exp(rng.normal(0, 0.2, n)), prev_base_pc)
        monitored_now = (ident_m > 0) & (elim_m == 0)
        under = ref_pc < dstd_prev
        take = np.where(monitored_now & no_lab, 0.95, np.where(dibao, 0.9, np.where(exited, 0.8, 0.65)))
        dibao = hh_alive & ~tekun & under & (rng.random(n) < take)
        dibao_amt = np.where(dibao, size_safe * np.clip(_DIBAO_FILL * (dstd_prev - ref_pc), 0.1 * dstd, 0.6 * dstd), 0.0)
        tekun_amt = np.where(tekun, size_safe * np.clip(_TEKUN_FILL * (1.2 * dstd_prev - ref_pc), 0.3 * dstd, 1.3 * dstd), 0.0)
        income_transfer = pension + subsidies + dis_sub + support + yulu + dibao_amt + tekun_amt
        net = pre_total + income_transfer
        pc = net / size_safe

        # ------------------------------------------------ rigid spending and insurance claims
        covered = exited | (ident_m > 0) | dibao | tekun
        reimb = np.where(insured, np.where(covered[:, None], 0.85, 0.68), 0.0)
        cost = (np.where(active & chronic, rng.gamma(2.0, 900.0, (n, _S)), 0.0)
                + np.where(active & serious, rng.gamma(2.0, np.where(onset_s, 38000.0, 16000.0)), 0.0))
        acc_cost = np.where(accident, rng.gamma(2.0, 9000.0, n), 0.0)
        oop_m = cost * (1 - reimb)
        expense_medical = oop_m.sum(axis=1) + acc_cost * (1 - reimb[np.arange(n), acc_member])
        edu_cost = np.choose(stat, [0, 0, 1500, 350, 600, 600, 600, 3800, 3800, 3800, 1800, 11000, 14000])
        expense_education = (np.where(active, edu_cost, 0) * rng.uniform(0.7, 1.3, (n, _S))).sum(axis=1)
        claims = np.where(claim_cover & (shock_illness | accident), 0.3 * expense_medical, 0.0)
        claims += np.where(claim_cover & disaster, 0.2 * loss * farm_gross, 0.0)
        claims = np.minimum(claims, 30000.0)

        # ------------------------------------------------ guarantees (两不愁三保障)
        poor = pc < line
        housing_ok = np.where(housing_ok, ~(rng.random(n) < 0.001 + 0.05 * loss + 0.006 * poor),
                              rng.random(n) < np.where(monitored_now, 0.85, 0.45))
        water_ok = np.where(water_ok, ~(rng.random(n) < 0.001 + 0.03 * loss + 0.002 * poor),
                            rng.random(n) < np.where(monitored_now, 0.9, 0.5))
        lapse = active & (rng.random((n, _S)) < np.where(covered, 0.0008, 0.0018)[:, None] * (1 + 4 * poor[:, None]))
        insured = np.where(insured, ~lapse, rng.random((n, _S)) < 0.75)
        insured[~active] = True
        med_ok = (insured | ~active).all(axis=1)
        edu_ok = ~(active & dropout & (age >= 7) & (age <= 14)).any(axis=1)
        guarantees_ok = housing_ok & water_ok & med_ok & edu_ok

        # ------------------------------------------------ monitoring: elimination
        rigid = expense_medical + expense_education - claims
        ratio = pc / line
        was_monitored = monitored_now
        bottom = no_lab & (dibao | tekun)
        elig = (was_monitored & (ratio >= 1.0) & guarantees_ok
                & (rigid < 0.8 * np.maximum(net, 1.0)))
        p_elim = np.where(bottom, 0.25, np.where(ratio >= 1.3, 0.97, 0.88)) * (0.9 + 0.1 * cap_c[county])
        do_elim = elig & (rng.random(n) < p_elim)
        id_y, id_mo = ident_m // 100, ident_m % 100
        earliest = np.where(id_y * 12 + id_mo + 6 > y * 12 + 0, (id_y * 12 + id_mo + 6) - y * 12, 1)
        earliest = np.clip(earliest, 1, 12)
        ok_time = (id_y * 12 + id_mo + 6) <= y * 12 + 12
        do_elim &= ok_time
        e_mo = earliest + np.floor(rng.random(n) * (13 - earliest)).astype(int)
        e_mo = np.maximum(e_mo, np.where(rng.random(n) < 0.6, np.maximum(earliest, 10), earliest))
        elim_m = np.where(do_elim, y * 100 + np.minimum(e_mo, 12), elim_m)

        # ------------------------------------------------ monitoring: identification
        prev_total = np.where(np.isnan(prev_pc), pc, prev_pc)
        drop = (pc < 0.6 * prev_total) & (ratio < 2.0)
        hardship = (rigid >= 5000) & (rigid > 0.6 * np.maximum(net, 1.0))
        sudden = hardship | drop
        below, near = ratio < 1.0, (ratio >= 1.0) & (ratio < 1.2)
        med_flag = expense_medical >= np.where(exited, 5000.0, 20000.0)
        edu_flag = expense_education > 10000.0
        warn_flag = disaster & (ratio < 1.5)
        cap = cap_c[county]
        p_none = ((1 - np.where(sudden, 0.22, np.where(below, 0.15, np.where(near, 0.07, 0.0))) * np.where(exited, 1.1, 1.0))
                  * (1 - cap * np.where(sudden, 0.25, np.where(below, 0.28, np.where(near, 0.18, 0.0))))
                  * (1 - np.where(med_flag & (sudden | below | near), 0.55, 0.0))
                  * (1 - np.where(edu_flag & (sudden | below | near), 0.4, 0.0))
                  * (1 - np.where(warn_flag & (below | near | sudden), 0.35, 0.0)))
        p_id = np.clip((1 - p_none) * 0.68 * detection, 0, 1)
        candidate = hh_alive & (~was_monitored) & ~(do_elim) & ((elim_m == 0) | (elim_m // 100 < y)) & (pc <= 20000)
        new = candidate & (below | near | sudden) & (rng.random(n) < p_id)
        sudden_cat = sudden & (~below | (rng.random(n) < np.where(exited, 0.7, 0.75)))
        cat_new = np.where(sudden_cat, 3, np.where(exited, 1, 2)).astype(np.int8)
        category = np.where(new, cat_new, category).astype(np.int8)
        monitored_ord |= new & ~exited
        i_mo = np.where(sudden_cat, rng.integers(1, 13, n), np.clip(rng.integers(4, 16, n), 1, 12))
        ident_m = np.where(new, y * 100 + i_mo, ident_m)
        elim_m = np.where(new, 0, elim_m)

        # Risk types from the causes present, ordered by how heavily each weighs this year.
        lack = (n_lab / size_safe) <= 0.25
        ill_ok = (active & (serious | chronic)).any(axis=1) & (expense_medical > 0)
        causes = np.stack([
            np.where(ill_ok, 1.0 + expense_medical / 1000.0, 0.0),
            np.where(expense_education > 3000, 0.5 + expense_education / 1500.0, 0.0),
            np.where((active & disabled).any(axis=1), 2.0, 0.0),
            np.where(disaster, 3.0 + 10 * loss, 0.0),
            np.where(accident, 4.0, 0.0),
            np.where(fail, 4.5, 0.0),
            np.where(shock_job, 3.5, 0.0),
            np.where(lack, 2.5, 0.0),
            np.where(~housing_ok, 6.0, 0.0),
            np.where(~water_ok, 5.5, 0.0),
            np.zeros(n),
        ], axis=1)
        order = np.argsort(-causes, axis=1, kind="stable")[:, :5]
        top = np.where(np.take_along_axis(causes, order, axis=1) > 0, order, -1).astype(np.int8)
        top[:, 0] = np.where(top[:, 0] < 0, 10, top[:, 0])
        risks = np.where(new[:, None], top, risks)
        # Later years keep the recorded risks that are still true (checking rules reject stale ones).
        valid = np.ones((n, 5), dtype=bool)
        valid &= ~((risks == 0) & ~ill_ok[:, None])
        valid &= ~((risks == 7) & ~lack[:, None])
        kept = np.where(valid, risks, -1)
        kept = np.take_along_axis(kept, np.argsort(kept < 0, axis=1, kind="stable"), axis=1)
        empty = (ident_m > 0) & (kept[:, 0] < 0)
        kept[empty, 0] = 10
        risks = kept.astype(np.int8)

        # ------------------------------------------------ help for next year
        monitored_end = (ident_m > 0) & (elim_m == 0)
        lab_or_weak = (active & (lab <= 2) & (age >= 16) & (age < 70)).any(axis=1)
        # Development help follows identification; households still tracked are topped up.
        dev = lab_or_weak & (new | (monitored_end & (rng.random(n) < 0.35)))
        pwj_new = dev & (rng.random(n) < 0.6)
        # The public-welfare job goes to the adult with the fewest migrant months.
        score = np.where(active & (lab <= 2) & (age >= 16) & (age < 70), -months + rng.random((n, _S)), -99)
        who = score.argmax(axis=1)
        pwj_months[pwj_new, who[pwj_new]] = np.maximum(pwj_months[pwj_new, who[pwj_new]], rng.integers(6, 13, pwj_new.sum()))
        pwj_months[do_elim] = np.where(rng.random((do_elim.sum(), 1)) < 0.5, pwj_months[do_elim], 0)
        pwj_months[~active] = 0
        emp_help = (emp_help & monitored_end) | (dev & (rng.random(n) < 0.4))
        ind = dev & (rng.random(n) < 0.4)
        has_project |= ind
        project_scale = np.where(ind, np.maximum(project_scale, rng.uniform(6000, 12000, n)), project_scale)
        loan = dev & (micro_amt == 0) & (rng.random(n) < 0.25)
        micro_amt_rec = micro_amt.copy()
        micro_left = np.where(micro_amt > 0, micro_left - 1, micro_left)
        micro_amt = np.where(micro_left <= 0, 0.0, micro_amt)
        micro_amt = np.where(loan, rng.choice([30000.0, 40000.0, 50000.0], n), micro_amt)
        micro_left = np.where(loan, 3, micro_left)

        # ------------------------------------------------ record year y
        alive = np.flatnonzero(hh_alive)
        is_obj = ident_m > 0
        r = {
            "hid": hid_all[alive], "year": np.full(alive.size, y), "county": c_code[alive], "town": t_code[alive],
            "vill": v_code[alive],
            "htype": np.where(exited, 0, np.where(monitored_ord, 1, 2))[alive],
            "cat": np.where(is_obj, category, 0)[alive], "ident": ident_m[alive], "new": new[alive],
            "obj": is_obj[alive], "elim": (elim_m > 0)[alive], "elim_m": elim_m[alive], "risks": risks[alive],
            "line": np.full(alive.size, line), "size": size[alive], "n_lab": n_lab[alive],
            "n_mig": (months > 0).sum(axis=1)[alive], "mig_m": months.sum(axis=1)[alive],
            "n_eld": (active & (age >= 65)).sum(axis=1)[alive], "n_chi": (active & (age < 16)).sum(axis=1)[alive],
            "n_stu": (active & student).sum(axis=1)[alive], "n_dis": (active & disabled).sum(axis=1)[alive],
            "n_chr": (active & chronic).sum(axis=1)[alive], "n_ser": (active & serious).sum(axis=1)[alive],
            "wage": np.round(wage)[alive], "bus": np.round(income_business)[alive],
            "bus_exp": np.round(expense_business)[alive], "prop": np.round(income_property)[alive],
            "transfer": np.round(income_transfer)[alive], "claims": np.round(claims)[alive],
            "med": np.round(expense_medical)[alive], "edu": np.round(expense_education)[alive],
            "housing": housing_ok[alive], "water": water_ok[alive], "edu_ok": edu_ok[alive], "med_ok": med_ok[alive],
            "dibao": dibao[alive], "tekun": tekun[alive], "pwj": (pwj > 0).any(axis=1)[alive],
            "micro": micro_amt_rec[alive], "s_ill": shock_illness[alive], "s_dis": disaster[alive],
            "s_acc": accident[alive], "s_job": shock_job[alive], "s_fail": fail[alive],
            "key": key[alive], "reloc": relocated[alive],
        }
        hh_rows.append(r)
        if return_members:
            hh_idx, slot = np.nonzero(active & hh_alive[:, None])
            mem_rows.append({
                "hid": hid_all[hh_idx], "year": np.full(hh_idx.size, y), "no": slot + 1, "rel": rel[hh_idx, slot],
                "sex": sex[hh_idx, slot], "age": age[hh_idx, slot], "edu": edu[hh_idx, slot], "stat": stat[hh_idx, slot],
                "chr": chronic[hh_idx, slot], "ser": serious[hh_idx, slot], "dis": disabled[hh_idx, slot],
                "lab": lab[hh_idx, slot], "place": workplace[hh_idx, slot], "months": months[hh_idx, slot],
                "pwj": pwj[hh_idx, slot], "ins": insured[hh_idx, slot], "pens": pension_ins[hh_idx, slot],
            })
        prev_base_pc = base_pc
        loss_prev = loss
        prev_pc = pc

    households = _assemble_households(hh_rows, province)
    if not return_members:
        return households
    return households, _assemble_members(mem_rows)


def _cat(rows: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([r[key] for r in rows])


def _assemble_households(rows: list[dict[str, np.ndarray]], province: str) -> pd.DataFrame:
    c = {k: _cat(rows, k) for k in rows[0]}
    order = np.lexsort((c["year"], c["hid"]))
    c = {k: v[order] for k, v in c.items()}
    m = c["hid"].size
    obj = c["obj"]
    ident = c["ident"]
    risks = c["risks"]
    risk_lab = np.append(RISK_TYPES, None)  # index -1 → None
    risk_idx = np.where(obj[:, None] & (risks >= 0), risks, -1)
    df = pd.DataFrame({
        "household_id": pd.Series(c["hid"], dtype="str"),
        "year": _to_int64(c["year"]),
        "province": pd.Series(np.full(m, province, dtype=object), dtype="str"),
        "county_code": pd.Series(c["county"], dtype="str"),
        "township_code": pd.Series(c["town"], dtype="str"),
        "village_code": pd.Series(c["vill"], dtype="str"),
        "household_type": _to_str(HOUSEHOLD_TYPES, c["htype"]),
        "monitoring_category": _to_str(CATEGORIES, c["cat"]),
        "identification_month": _to_int64(ident, ident == 0),
        "newly_identified": _to_bool(c["new"]),
        "risk_eliminated": _to_bool(c["elim"], ~obj),
        "elimination_month": _to_int64(c["elim_m"], c["elim_m"] == 0),
        **{f"risk_type_{i + 1}": _to_str(risk_lab, risk_idx[:, i]) for i in range(5)},
        "monitoring_line": c["line"].astype("float64"),
        "household_size": _to_int64(c["size"]),
        "n_labor": _to_int64(c["n_lab"]),
        "n_migrant_workers": _to_int64(c["n_mig"]),
        "migrant_work_months": c["mig_m"].astype("float64"),
        "n_elderly": _to_int64(c["n_eld"]),
        "n_children": _to_int64(c["n_chi"]),
        "n_students": _to_int64(c["n_stu"]),
        "n_disabled": _to_int64(c["n_dis"]),
        "n_chronic_ill": _to_int64(c["n_chr"]),
        "n_serious_ill": _to_int64(c["n_ser"]),
        "income_wage": c["wage"].astype("float64"),
        "income_business": c["bus"].astype("float64"),
        "expense_business": c["bus_exp"].astype("float64"),
        "income_property": c["prop"].astype("float64"),
        "income_transfer": c["transfer"].astype("float64"),
        "income_insurance_claims": c["claims"].astype("float64"),
        "net_income_per_capita": np.round(
            (c["wage"] + c["bus"] - c["bus_exp"] + c["prop"] + c["transfer"]) / c["size"], 2),
        "expense_medical": c["med"].astype("float64"),
        "expense_education": c["edu"].astype("float64"),
        "housing_safe": _to_bool(c["housing"]),
        "drinking_water_safe": _to_bool(c["water"]),
        "compulsory_education_ok": _to_bool(c["edu_ok"]),
        "medical_insured": _to_bool(c["med_ok"]),
        "receives_dibao": _to_bool(c["dibao"]),
        "receives_tekun": _to_bool(c["tekun"]),
        "public_welfare_job": _to_bool(c["pwj"]),
        "microcredit": c["micro"].astype("float64"),
        "shock_illness": _to_bool(c["s_ill"]),
        "shock_disaster": _to_bool(c["s_dis"]),
        "shock_accident": _to_bool(c["s_acc"]),
        "shock_job_loss": _to_bool(c["s_job"]),
        "shock_industry_failure": _to_bool(c["s_fail"]),
        "is_key_county": _to_bool(c["key"]),
        "is_relocated": _to_bool(c["reloc"]),
    })
    return df[contract.field_names("household_year")]


def _assemble_members(rows: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    c = {k: _cat(rows, k) for k in rows[0]}
    order = np.lexsort((c["no"], c["year"], c["hid"]))
    c = {k: v[order] for k, v in c.items()}
    # Health codes: bit 0 serious, 1 chronic, 2 disabled → the multi-select text.
    hcode = c["ser"].astype(int) + 2 * c["chr"].astype(int) + 4 * c["dis"].astype(int)
    health = np.array(["健康", "患有大病", "长期慢性病", "患有大病,长期慢性病", "残疾", "残疾,患有大病",
                       "残疾,长期慢性病", "残疾,患有大病,长期慢性病"], dtype=object)
    df = pd.DataFrame({
        "household_id": pd.Series(c["hid"], dtype="str"),
        "year": _to_int64(c["year"]),
        "member_no": _to_int64(c["no"]),
        "relation": _to_str(RELATIONS, c["rel"]),
        "sex": _to_str(SEXES, c["sex"]),
        "age": _to_int64(c["age"]),
        "education": _to_str(EDUCATION, c["edu"]),
        "school_status": _to_str(SCHOOL, c["stat"]),
        "health_status": _to_str(health, hcode),
        "labor_skill": _to_str(LABOR, c["lab"]),
        "work_place": _to_str(PLACES, c["place"]),
        "work_months": c["months"].astype("float64"),
        "public_welfare_job_months": c["pwj"].astype("float64"),
        "medical_insured": _to_bool(c["ins"]),
        "pension_insured": _to_bool(c["pens"]),
    })
    return df[contract.field_names("member")]


# --------------------------------------------------------------------------- sample export
def write_sample(directory: str | Path, n_households: int = 500, seed: int = 7) -> tuple[Path, Path]:
    """Write the shipped sample export: household and member CSVs shaped like a county export.

    Chinese headers (the contract's ``zh_header``), booleans as 是/否, UTF-8 with a
    byte-order mark, years 2020–2025.

    Parameters
    ----------
    directory : path
        Folder to write ``sample_households.csv`` and ``sample_members.csv`` into.
    n_households : int, default 500
    seed : int, default 7

    Returns
    -------
    (Path, Path)
        Paths of the household and member files.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    hh, mem = simulate(n_households, range(2020, 2026), seed=seed, return_members=True)
    paths = []
    for df, table, name in ((hh, "household_year", "sample_households.csv"), (mem, "member", "sample_members.csv")):
        d = df.copy()
        for col in d.columns:
            if str(d[col].dtype) == "boolean":
                d[col] = d[col].map({True: "是", False: "否"}).astype("str")
        d = d.rename(columns=contract.zh_headers(table))
        p = out / name
        d.to_csv(p, index=False, encoding="utf-8-sig", lineterminator="\n")
        paths.append(p)
    return paths[0], paths[1]
