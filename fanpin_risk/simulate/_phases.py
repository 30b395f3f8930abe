"""The yearly phases of the simulator, in the order :data:`YEAR_PHASES` runs them.

Each phase reads the carried-over :class:`~._state.SimState` and what earlier
phases of the year put on the :class:`~._state.Year`, draws from the state's
generator, updates the state and sets its own ``Year`` fields. Everything is
vectorised over households or ``(household × member-slot)`` arrays.

The draws happen in a fixed order, also inside each expression (Python evaluates
operands left to right); reordering them changes every simulated panel.
"""

from __future__ import annotations

import numpy as np

from ._calibration import (
    BIRTH_SLOT,
    COVID_MONTHS,
    DIBAO_FILL,
    JOB_LOSS,
    JOB_LOSS_USUAL,
    MICROCREDIT_AMOUNTS,
    N_SLOTS,
    RHO,
    SD_PERM,
    TEKUN_FILL,
    YearParams,
)
from ._state import MEMBER_ARRAYS, SimState, Year

# Risk-type codes (positions in RISK_TYPES) that the rules below refer to.
_RISK_ILLNESS, _RISK_LACK_OF_LABOR, _RISK_OTHER = 0, 7, 10


def start_year(s: SimState, year: int) -> Year:
    """An empty :class:`~._state.Year` for ``year`` with its parameters."""
    return Year(YearParams.of(year, s.first_year, s.lines, s.province,
                              wage_growth=s.wage_growth, line_growth=s.line_growth))


def _more(p: float | np.ndarray, s: SimState) -> np.ndarray:
    """A shock's yearly probability ``p`` in the state's world: × ``shock_rate``, at most 1.

    The draws stay the same, only the threshold they are compared with moves, so the default
    world (``shock_rate`` 1.0) gives exactly the calibrated panel.
    """
    return np.minimum(p * s.shock_rate, 1.0)


# --------------------------------------------------------------------------- members
def births(s: SimState, yr: Year) -> None:
    """Age everyone by a year; a household with a mother aged 22–38 may have one birth in the panel."""
    s.age = s.age + 1
    age, sex, rel = s.age, s.sex, s.rel
    mothers = s.active & (sex == 1) & (age >= 22) & (age <= 38) & np.isin(rel, (1, 4))
    can_birth = mothers.any(axis=1) & ~s.born & s.hh_alive & yr.p.later
    birth = can_birth & (s.rng.random(s.n) < 0.07)
    s.born |= birth
    b = BIRTH_SLOT
    s.active[birth, b] = True
    age[birth, b] = 0
    sex[birth, b] = (s.rng.random(birth.sum()) < 0.47).astype(np.int8)
    # The child of the head's child (slot 5 is the child-in-law) is a grandchild.
    grand = birth & (mothers[:, 5] | ~mothers[:, 1])
    rel[birth, b] = np.where(grand[birth], 6, 2) + sex[birth, b]
    s.chronic[birth, b] = s.serious[birth, b] = s.disabled[birth, b] = s.dropout[birth, b] = False
    s.fixed_edu[birth, b] = False


def deaths(s: SimState, yr: Year) -> None:
    """Gompertz-like mortality; a successor takes slot 0 when the head dies; empty households leave."""
    age = s.age
    q = np.where(age >= 50, 0.004 * np.exp(0.095 * (age - 60)), 0.0005) * np.where(s.serious, 3.0, 1.0)
    died = s.active & yr.p.later & (s.rng.random((s.n, N_SLOTS)) < q)
    s.active &= ~died
    head_dead = died[:, 0] | (~s.active[:, 0] & s.hh_alive)
    if head_dead.any():
        _hand_over_headship(s, head_dead)
    s.hh_alive &= s.active.any(axis=1)


def _hand_over_headship(s: SimState, head_dead: np.ndarray) -> None:
    # The spouse, else the oldest member, becomes household head (户主).
    cand = np.where(s.active, s.age, -1)
    cand[:, 1] = np.where(s.active[:, 1], 200, -1)
    new_head = cand.argmax(axis=1)
    hd = np.flatnonzero(head_dead & (cand.max(axis=1) >= 0))
    s.rel[hd, new_head[hd]] = 0
    # Slot 0 must stay the head for the flattening order, so the members swap slots.
    for name in MEMBER_ARRAYS:
        arr = getattr(s, name)
        tmp = arr[hd, 0].copy()
        arr[hd, 0] = arr[hd, new_head[hd]]
        arr[hd, new_head[hd]] = tmp


# Serious-illness onset by age (65+, 45+, 16+, younger). The first year draws lower
# rates because the initial draw already holds that year's prevalence.
_ONSET_LATER = ([0.030, 0.016, 0.005], 0.002)
_ONSET_FIRST = ([0.024, 0.013, 0.004], 0.0015)


def health(s: SimState, yr: Year) -> None:
    """Serious-illness onset and recovery, chronic illness, accidents (some disabling)."""
    rng, n, active, age = s.rng, s.n, s.active, s.age
    shape = (n, N_SLOTS)
    rates, rest = _ONSET_LATER if yr.p.later else _ONSET_FIRST
    onset_s = active & (rng.random(shape) < _more(np.select([age >= 65, age >= 45, age >= 16], rates, rest), s))
    if "因病" in s.removed:  # counterfactual years suppress effects after the draws, so draws stay aligned
        onset_s &= False
    recover = s.serious & (rng.random(shape) < 0.35)
    # Some recover from a serious illness into a chronic one.
    s.chronic |= recover & (rng.random(shape) < 0.6)
    s.serious = (s.serious & ~recover) | onset_s
    s.chronic |= active & (rng.random(shape) < _more(np.select([age >= 60, age >= 40], [0.025, 0.012], 0.002), s))
    s.chronic &= ~(rng.random(shape) < 0.03)
    if "因病" in s.removed:
        s.serious &= False
        s.chronic &= False
    yr.onset_s = onset_s
    yr.shock_illness = onset_s.any(axis=1)
    yr.accident = s.hh_alive & (rng.random(n) < _more(0.012, s)) & ("因意外事故" not in s.removed)
    yr.acc_member = np.where(active & (age >= 16), rng.random(shape), -1.0).argmax(axis=1)
    acc_dis = yr.accident & (rng.random(n) < 0.2)
    s.disabled[acc_dis, yr.acc_member[acc_dis]] = True
    if "因残" in s.removed:
        s.disabled &= False


def school_status(age: np.ndarray, track: np.ndarray) -> np.ndarray:
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
    # Highest education (EDUCATION code) a track ends with.
    return np.array([3, 4, 4, 5, 5, 6], dtype=np.int8)[track]


def schooling(s: SimState, yr: Year) -> None:
    """School status and education; compulsory-school dropouts (mostly brought back)."""
    rng, active, age = s.rng, s.active, s.age
    shape = (s.n, N_SLOTS)
    stat = school_status(age, s.track)
    drop_new = (active & (age >= 7) & (age <= 14)
                & (rng.random(shape) < 0.0008 + 0.002 * (s.ability[:, None] < -0.4)))
    s.dropout |= drop_new
    # Control-dropout campaigns (控辍保学) bring children back.
    s.dropout &= ~((age <= 14) & (rng.random(shape) < 0.5))
    out = s.dropout & (age >= 7) & (age <= 14)
    stat = np.where(out, 0, stat).astype(np.int8)
    edu = np.where(s.fixed_edu, s.old_edu, np.where(stat == 0, _track_education(s.track), 0)).astype(np.int8)
    yr.edu = np.where(s.dropout & (stat == 0) & (age <= 16), 2, edu).astype(np.int8)
    yr.stat = stat
    yr.student = stat >= 2


def labour_capacity(s: SimState, yr: Year) -> None:
    """Labour-skill code of each member from age, health, schooling; household size and labour."""
    age, u = s.age, s.u_skill
    lab = np.where(s.skilled, 0, 1).astype(np.int8)
    lab = np.where((age >= 61) & (age <= 64) & (u < 0.35), 2, lab)
    lab = np.where(s.chronic & (u < 0.45), 2, lab)
    lab = np.where((age >= 65) & (age <= 74), np.where(u < 0.7, 2, 4), lab)
    lab = np.where(age >= 75, 4, lab)
    lab = np.where(s.disabled, np.where(u < 0.5, 2, 3), lab)
    lab = np.where(s.serious, np.where(u < 0.7, 3, 2), lab)
    lab = np.where(yr.student & (age >= 16), 4, lab)
    yr.lab = np.where(age < 16, 4, lab).astype(np.int8)
    yr.labour = s.active & (yr.lab <= 1)
    yr.n_lab = yr.labour.sum(axis=1)
    yr.size = s.active.sum(axis=1)


# --------------------------------------------------------------------------- income
def shocks(s: SimState, yr: Year) -> None:
    """County disasters (hitting most of the county's households) and the AR(1) earning shock."""
    rng, n, county = s.rng, s.n, s.county
    c_hit = rng.random(s.n_counties) < _more(s.dis_c, s)
    c_sev = rng.uniform(0.2, 0.7, s.n_counties) * c_hit
    yr.disaster = s.hh_alive & ((c_hit[county] & (rng.random(n) < 0.55)) | (rng.random(n) < _more(0.01, s)))
    yr.loss = np.where(yr.disaster, np.maximum(c_sev[county], 0.25) * rng.uniform(0.5, 1.0, n), 0.0)
    if "因自然灾害" in s.removed:
        yr.disaster = yr.disaster & False
        yr.loss = yr.loss * 0.0
    s.e_shock = RHO * s.e_shock + rng.normal(0.0, SD_PERM * np.sqrt(1 - RHO ** 2), n)


def _main_earner(can_work: np.ndarray, labour: np.ndarray, u_work: np.ndarray) -> np.ndarray:
    # Employment policy aims at one worker in every household with labour: the member
    # most inclined to work (lowest u_work) is the household's main earner.
    n = can_work.shape[0]
    main = np.where(can_work & labour, u_work, 9.0).argmin(axis=1)
    is_main = np.zeros(can_work.shape, dtype=bool)
    is_main[np.arange(n), main] = (can_work & labour)[np.arange(n), main]
    return is_main


def wage_work(s: SimState, yr: Year) -> None:
    """Who works, where and how many months (job loss, COVID years), wages and public-welfare jobs."""
    rng, active, age, lab, student = s.rng, s.active, s.age, yr.lab, yr.student
    shape = (s.n, N_SLOTS)
    care = (active & (s.serious | (lab == 3))).any(axis=1)
    can_work = active & ((yr.labour & (age <= 64)) | ((lab == 2) & (age >= 16) & (age <= 69) & ~student))
    base_p = np.select([age <= 19, age <= 45, age <= 55, age <= 64], [0.25, 0.45, 0.3, 0.15], 0.05)
    base_p = np.where(lab == 2, 0.22, base_p)
    is_main = _main_earner(can_work, yr.labour, s.u_work)
    base_p = np.where(is_main, np.where(age <= 55, 0.98, 0.9), base_p)
    p_work = (base_p * np.where(care[:, None], np.where(is_main, 0.95, 0.6), 1.0)
              + 0.3 * s.emp_help[:, None] - 0.35 * s.returned)
    # Whether a member works is mostly a persistent trait (the main earner's too).
    u_now = (np.where(is_main, 0.95 * s.u_main[:, None], 0.9 * s.u_work)
             + np.where(is_main, 0.05, 0.1) * rng.random(shape))
    works = can_work & (u_now < p_work)
    # Returned migrants work locally, fewer months, until they leave again.
    plc = np.where((lab == 2) | s.returned, 3, s.place)
    months = np.clip(np.choose(plc - 1, [10.5, 10.0, 8.5]) + s.months_eff + rng.normal(0, 0.7, shape), 1, 12)
    months = np.where(s.returned, 0.75 * months, months)
    if yr.p.year in COVID_MONTHS:
        months = months * np.choose(plc - 1, list(COVID_MONTHS[yr.p.year]))
    lost = (works & (rng.random(shape) < _more(JOB_LOSS.get(yr.p.year, JOB_LOSS_USUAL), s))
            & ("因务工就业不稳" not in s.removed))
    months = np.where(lost, months * rng.uniform(0.2, 0.6, shape), months)
    months = np.where(works, np.clip(np.round(months), 1, 12), 0).astype(int)
    # Job loss sends some workers home; they recover over one to two years.
    s.returned = (lost & (rng.random(shape) < 0.6)) | (s.returned & ~lost & (rng.random(shape) < 0.5))
    wi = yr.p.wage_index
    mwage = (np.choose(plc - 1, [4050.0, 3330.0, 2500.0]) * wi * np.where(s.skilled, 1.3, 1.0)
             * np.where(lab == 2, 0.6, 1.0)
             * np.exp(0.35 * s.ability[:, None] + s.e_shock[:, None] - SD_PERM ** 2 / 2 + s.wage_eff))
    mwage = np.clip(mwage, 800.0, 30000.0)
    yr.pwj = np.where(active & (age >= 16) & (age < 70), s.pwj_months, 0)
    yr.wage = (months * mwage).sum(axis=1) + (yr.pwj * 800.0 * wi * s.assistance).sum(axis=1)
    if "缺劳动力" in s.removed:  # one more able worker at an in-province migrant's month wage
        short = (yr.n_lab / np.maximum(yr.size, 1)) <= 0.25
        yr.wage = yr.wage + np.where(short & s.hh_alive, 10 * 3330.0 * wi * np.exp(0.35 * s.ability), 0.0)
    yr.months = months
    yr.workplace = np.where(months > 0, plc, 0).astype(np.int8)
    yr.shock_job = lost.any(axis=1)


def production(s: SimState, yr: Year) -> None:
    """Farming, the household's project (may fail), courtyard economy, rent and dividends."""
    rng, n, active, age, lab, pi = s.rng, s.n, s.active, s.age, yr.lab, yr.p.price_index
    farmer = (active & (lab <= 2) & (age >= 16) & (age <= 79) & (yr.months < 9)).any(axis=1)
    farm_gross = np.where(farmer, s.land * 1250.0 * pi * np.exp(0.2 * s.ability + rng.normal(0, 0.15, n)), 0.0)
    farm_exp = np.where(farmer, s.land * 500.0 * pi, 0.0)
    proj = s.has_project & s.hh_alive & (farmer | (yr.n_lab > 0))
    fail = (proj & (rng.random(n) < _more(0.03 + 0.10 * yr.disaster + 0.03 * (s.micro_amt > 0), s))
            & ("因产业项目失败" not in s.removed))
    scale = s.project_scale + 0.3 * s.micro_amt
    proj_gross = np.where(proj, scale * pi * np.exp(0.3 * s.ability + rng.normal(0, 0.2, n)), 0.0)
    proj_gross *= np.where(fail, rng.uniform(0.05, 0.4, n), 1.0) * (1 - 0.6 * yr.loss)
    proj_exp = np.where(proj, 0.55 * scale * pi, 0.0)
    # Labour at home keeps livestock and courtyard crops (庭院经济), so idle labour is not zero income.
    home_lab = (active & (lab <= 2) & (age >= 16) & (age <= 74) & (yr.months <= 6) & ~yr.student).sum(axis=1)
    home_gross = np.minimum(home_lab, 2) * 4400.0 * pi * np.exp(0.25 * s.ability + rng.normal(0, 0.2, n))
    home_exp = np.minimum(home_lab, 2) * 1700.0 * pi
    # A disaster also hurts the next year's output (lost livestock, damaged fields).
    dmg = np.clip(yr.loss + 0.35 * s.loss_prev, 0.0, 0.95)
    yr.farmer, yr.farm_gross, yr.fail = farmer, farm_gross, fail
    yr.income_business = (farm_gross + home_gross) * (1 - dmg) + proj_gross
    yr.expense_business = farm_exp + home_exp + proj_exp
    # Land nobody farms is rented out; exited households get dividends from assistance assets.
    yr.income_property = (np.where(farmer, 0.0, s.land * 350.0 * pi) + np.where(s.exited, rng.uniform(200, 800, n), 0.0)
                          + rng.exponential(150.0, n))


def transfers(s: SimState, yr: Year) -> None:
    """Pensions, subsidies, family support, 雨露计划, then 特困 and 低保; net income per capita."""
    rng, n, active, age, p = s.rng, s.n, s.active, s.age, yr.p
    pre_total = yr.wage + yr.income_business - yr.expense_business + yr.income_property
    size_safe = np.maximum(yr.size, 1)
    pension = (active & (age >= 60) & s.pension_ins).sum(axis=1) * 2000.0 * 1.05 ** (p.year - 2020)
    subsidies = 110.0 * s.land * yr.farmer + 250.0 + np.where(s.exited, 700.0, 0.0)
    dis_sub = (active & s.disabled & (yr.lab >= 2)).sum(axis=1) * 1100.0
    support = s.elder_support * (active & (age >= 65)).sum(axis=1) * 2300.0 * p.wage_index
    a = s.assistance  # the world's generosity of the targeted payments (dibao, tekun, 雨露计划)
    yulu = np.where(s.exited | (s.ident_m > 0), (active & np.isin(yr.stat, (10, 11))).sum(axis=1) * (3000.0 * a), 0.0)
    no_lab = yr.n_lab == 0
    # 特困: nobody able to work or to support, no children; take-up is partial.
    frail = (active & (yr.lab >= 3) & ((age >= 60) | s.disabled)).sum(axis=1) == yr.size
    s.tekun = s.hh_alive & frail & (yr.size <= 2) & np.where(s.tekun, rng.random(n) < 0.97, rng.random(n) < 0.3)
    # Dibao is assessed on last year's income without dibao/tekun (pensions and support count;
    # a means test with a lag) and fills only part of the gap to the standard, so households on
    # dibao stay close to the line. Not every eligible household takes it up.
    base_pc = (pre_total + pension + subsidies + dis_sub + support + yulu) / size_safe
    ref_pc = np.where(np.isnan(s.prev_base_pc), base_pc * np.exp(rng.normal(0, 0.2, n)), s.prev_base_pc)
    monitored_now = (s.ident_m > 0) & (s.elim_m == 0)
    under = ref_pc < p.dibao_std_prev
    take = np.where(monitored_now & no_lab, 0.95, np.where(s.dibao, 0.9, np.where(s.exited, 0.8, 0.65)))
    s.dibao = s.hh_alive & ~s.tekun & under & (rng.random(n) < take)
    gap, std = p.dibao_std_prev - ref_pc, p.dibao_std
    dibao_amt = np.where(s.dibao, size_safe * np.clip(DIBAO_FILL * gap, 0.1 * std, 0.6 * std) * a, 0.0)
    tekun_amt = np.where(s.tekun, size_safe * np.clip(TEKUN_FILL * (1.2 * p.dibao_std_prev - ref_pc),
                                                      0.3 * std, 1.3 * std) * a, 0.0)
    yr.income_transfer = pension + subsidies + dis_sub + support + yulu + dibao_amt + tekun_amt
    yr.net = pre_total + yr.income_transfer
    yr.pc = yr.net / size_safe
    yr.size_safe, yr.no_lab, yr.base_pc, yr.monitored_now = size_safe, no_lab, base_pc, monitored_now


def spending(s: SimState, yr: Year) -> None:
    """Out-of-pocket medical and education costs, and anti-poverty insurance claims."""
    rng, n, active = s.rng, s.n, s.active
    shape = (n, N_SLOTS)
    covered = s.exited | (s.ident_m > 0) | s.dibao | s.tekun
    # Covered groups also get critical-illness insurance and medical assistance on top.
    # The world's assistance scales their top-up over basic insurance (0.68 + (0.85 - 0.68) == 0.85 exactly).
    reimb_covered = min(0.68 + (0.85 - 0.68) * s.assistance, 1.0)
    reimb = np.where(s.insured, np.where(covered[:, None], reimb_covered, 0.68), 0.0)
    cost = (np.where(active & s.chronic, rng.gamma(2.0, 900.0, shape), 0.0)
            + np.where(active & s.serious, rng.gamma(2.0, np.where(yr.onset_s, 38000.0, 16000.0)), 0.0))
    acc_cost = np.where(yr.accident, rng.gamma(2.0, 9000.0, n), 0.0)
    oop_m = cost * (1 - reimb)
    yr.expense_medical = oop_m.sum(axis=1) + acc_cost * (1 - reimb[np.arange(n), yr.acc_member])
    edu_cost = np.choose(yr.stat, [0, 0, 1500, 350, 600, 600, 600, 3800, 3800, 3800, 1800, 11000, 14000])
    yr.expense_education = (np.where(active, edu_cost, 0) * rng.uniform(0.7, 1.3, shape)).sum(axis=1)
    if "因学" in s.removed:
        yr.expense_education = yr.expense_education * 0.0
    claims = np.where(s.claim_cover & (yr.shock_illness | yr.accident), 0.3 * yr.expense_medical, 0.0)
    claims += np.where(s.claim_cover & yr.disaster, 0.2 * yr.loss * yr.farm_gross, 0.0)
    yr.claims = np.minimum(claims, 30000.0) * s.assistance
    yr.covered = covered


def guarantees(s: SimState, yr: Year) -> None:
    """两不愁三保障: housing and water safety (lost in disasters, fixed faster when monitored), insurance."""
    rng, n, active, age = s.rng, s.n, s.active, s.age
    poor = yr.pc < yr.p.line
    s.housing_ok = np.where(s.housing_ok, ~(rng.random(n) < 0.001 + 0.05 * yr.loss + 0.006 * poor),
                            rng.random(n) < np.where(yr.monitored_now, 0.85, 0.45))
    s.water_ok = np.where(s.water_ok, ~(rng.random(n) < 0.001 + 0.03 * yr.loss + 0.002 * poor),
                          rng.random(n) < np.where(yr.monitored_now, 0.9, 0.5))
    lapse = active & (rng.random((n, N_SLOTS)) < np.where(yr.covered, 0.0008, 0.0018)[:, None]
                      * (1 + 4 * poor[:, None]))
    insured = np.where(s.insured, ~lapse, rng.random((n, N_SLOTS)) < 0.75)
    # Empty slots are marked insured, so a child born into one starts insured.
    insured[~active] = True
    s.insured = insured
    yr.med_ok = (insured | ~active).all(axis=1) | ("因病" in s.removed)
    yr.edu_ok = ~(active & s.dropout & (age >= 7) & (age <= 14)).any(axis=1) | ("因学" in s.removed)
    if "因安全住房" in s.removed:
        s.housing_ok = s.housing_ok | True
    if "因安全饮水" in s.removed:
        s.water_ok = s.water_ok | True
    yr.guarantees_ok = s.housing_ok & s.water_ok & yr.med_ok & yr.edu_ok


# --------------------------------------------------------------------------- monitoring
def elimination(s: SimState, yr: Year) -> None:
    """Risk elimination (消除风险) of tracked households: income over the line, guarantees met, six months on."""
    rng, n, y = s.rng, s.n, yr.p.year
    yr.rigid = yr.expense_medical + yr.expense_education - yr.claims
    yr.ratio = yr.pc / yr.p.line
    bottom = yr.no_lab & (s.dibao | s.tekun)
    elig = (yr.monitored_now & (yr.ratio >= 1.0) & yr.guarantees_ok
            & (yr.rigid < 0.8 * np.maximum(yr.net, 1.0)))
    # Households kept on the social-protection floor (兜底) are rarely eliminated.
    p_elim = np.where(bottom, 0.25, np.where(yr.ratio >= 1.3, 0.97, 0.88)) * (0.9 + 0.1 * s.cap_c[s.county])
    do_elim = elig & (rng.random(n) < p_elim)
    # Elimination needs six months of monitoring: the earliest month this year.
    id_y, id_mo = s.ident_m // 100, s.ident_m % 100
    earliest = np.where(id_y * 12 + id_mo + 6 > y * 12 + 0, (id_y * 12 + id_mo + 6) - y * 12, 1)
    earliest = np.clip(earliest, 1, 12)
    do_elim &= (id_y * 12 + id_mo + 6) <= y * 12 + 12
    e_mo = earliest + np.floor(rng.random(n) * (13 - earliest)).astype(int)
    # Most eliminations happen in the year-end review.
    e_mo = np.maximum(e_mo, np.where(rng.random(n) < 0.6, np.maximum(earliest, 10), earliest))
    s.elim_m = np.where(do_elim, y * 100 + np.minimum(e_mo, 12), s.elim_m)
    yr.do_elim = do_elim


def _p_identified(s: SimState, yr: Year, sudden: np.ndarray) -> np.ndarray:
    # Chance that at least one channel (self-report, cadre visit, sector data on medical
    # or education costs, disaster warning) catches a household in difficulty.
    ratio, exited, cap = yr.ratio, s.exited, s.cap_c[s.county]
    below, near = ratio < 1.0, (ratio >= 1.0) & (ratio < 1.2)
    at_risk = sudden | below | near
    med_flag = yr.expense_medical >= np.where(exited, 5000.0, 20000.0)
    edu_flag = yr.expense_education > 10000.0
    warn_flag = yr.disaster & (ratio < 1.5)
    p_none = ((1 - np.where(sudden, 0.22, np.where(below, 0.15, np.where(near, 0.07, 0.0)))
               * np.where(exited, 1.1, 1.0))
              * (1 - cap * np.where(sudden, 0.25, np.where(below, 0.28, np.where(near, 0.18, 0.0))))
              * (1 - np.where(med_flag & at_risk, 0.55, 0.0))
              * (1 - np.where(edu_flag & at_risk, 0.4, 0.0))
              * (1 - np.where(warn_flag & at_risk, 0.35, 0.0)))
    return np.clip((1 - p_none) * 0.68 * s.detection, 0, 1)


def identification(s: SimState, yr: Year) -> None:
    """New monitoring objects: below or near the line, or a sudden hardship; category and month."""
    rng, n, y, ratio = s.rng, s.n, yr.p.year, yr.ratio
    prev_total = np.where(np.isnan(s.prev_pc), yr.pc, s.prev_pc)
    drop = (yr.pc < 0.6 * prev_total) & (ratio < 2.0)
    hardship = (yr.rigid >= 5000) & (yr.rigid > 0.6 * np.maximum(yr.net, 1.0))
    sudden = hardship | drop
    below, near = ratio < 1.0, (ratio >= 1.0) & (ratio < 1.2)
    p_id = _p_identified(s, yr, sudden)
    # Households just eliminated are not identified again in the same year.
    candidate = (s.hh_alive & ~yr.monitored_now & ~yr.do_elim & ((s.elim_m == 0) | (s.elim_m // 100 < y))
                 & (yr.pc <= 20000))
    new = candidate & (below | near | sudden) & (rng.random(n) < p_id)
    sudden_cat = sudden & (~below | (rng.random(n) < np.where(s.exited, 0.7, 0.75)))
    cat_new = np.where(sudden_cat, 3, np.where(s.exited, 1, 2)).astype(np.int8)
    s.category = np.where(new, cat_new, s.category).astype(np.int8)
    s.monitored_ord |= new & ~s.exited
    # Sudden hardship is identified in any month; the other channels from April, many in December.
    i_mo = np.where(sudden_cat, rng.integers(1, 13, n), np.clip(rng.integers(4, 16, n), 1, 12))
    s.ident_m = np.where(new, y * 100 + i_mo, s.ident_m)
    s.elim_m = np.where(new, 0, s.elim_m)
    yr.new = new


def risk_types(s: SimState, yr: Year) -> None:
    """Up to five risk types: set on identification, later years drop those no longer true."""
    n, active = s.n, s.active
    lack = (yr.n_lab / yr.size_safe) <= 0.25
    ill_ok = (active & (s.serious | s.chronic)).any(axis=1) & (yr.expense_medical > 0)
    # One column per risk type (RISK_TYPES order), weighted by how heavily it weighs this year.
    causes = np.stack([
        np.where(ill_ok, 1.0 + yr.expense_medical / 1000.0, 0.0),
        np.where(yr.expense_education > 3000, 0.5 + yr.expense_education / 1500.0, 0.0),
        np.where((active & s.disabled).any(axis=1), 2.0, 0.0),
        np.where(yr.disaster, 3.0 + 10 * yr.loss, 0.0),
        np.where(yr.accident, 4.0, 0.0),
        np.where(yr.fail, 4.5, 0.0),
        np.where(yr.shock_job, 3.5, 0.0),
        np.where(lack, 2.5, 0.0),
        np.where(~s.housing_ok, 6.0, 0.0),
        np.where(~s.water_ok, 5.5, 0.0),
        np.zeros(n),
    ], axis=1)
    order = np.argsort(-causes, axis=1, kind="stable")[:, :5]
    top = np.where(np.take_along_axis(causes, order, axis=1) > 0, order, -1).astype(np.int8)
    top[:, 0] = np.where(top[:, 0] < 0, _RISK_OTHER, top[:, 0])
    risks = np.where(yr.new[:, None], top, s.risks)
    # Checking rules reject stale risks: illness without an ill member, lack of labour with labour.
    valid = np.ones((n, 5), dtype=bool)
    valid &= ~((risks == _RISK_ILLNESS) & ~ill_ok[:, None])
    valid &= ~((risks == _RISK_LACK_OF_LABOR) & ~lack[:, None])
    kept = np.where(valid, risks, -1)
    kept = np.take_along_axis(kept, np.argsort(kept < 0, axis=1, kind="stable"), axis=1)
    empty = (s.ident_m > 0) & (kept[:, 0] < 0)
    kept[empty, 0] = _RISK_OTHER
    s.risks = kept.astype(np.int8)


def assistance(s: SimState, yr: Year) -> None:
    """Help for next year: public-welfare jobs, employment help, projects and microcredit."""
    rng, n, active, age, lab = s.rng, s.n, s.active, s.age, yr.lab
    monitored_end = (s.ident_m > 0) & (s.elim_m == 0)
    adult_able = active & (lab <= 2) & (age >= 16) & (age < 70)
    # Development help follows identification; households still tracked are topped up.
    dev = adult_able.any(axis=1) & (yr.new | (monitored_end & (rng.random(n) < 0.35)))
    pwj_new = dev & (rng.random(n) < 0.6)
    # The public-welfare job goes to the adult with the fewest migrant months.
    score = np.where(adult_able, -yr.months + rng.random((n, N_SLOTS)), -99)
    who = score.argmax(axis=1)
    pwj = s.pwj_months
    pwj[pwj_new, who[pwj_new]] = np.maximum(pwj[pwj_new, who[pwj_new]], rng.integers(6, 13, pwj_new.sum()))
    # Half of the eliminated households keep the job another year.
    pwj[yr.do_elim] = np.where(rng.random((yr.do_elim.sum(), 1)) < 0.5, pwj[yr.do_elim], 0)
    pwj[~active] = 0
    s.emp_help = (s.emp_help & monitored_end) | (dev & (rng.random(n) < 0.4))
    ind = dev & (rng.random(n) < 0.4)
    s.has_project |= ind
    s.project_scale = np.where(ind, np.maximum(s.project_scale, rng.uniform(6000, 12000, n)), s.project_scale)
    loan = dev & (s.micro_amt == 0) & (rng.random(n) < 0.25)
    yr.micro_rec = s.micro_amt.copy()
    s.micro_left = np.where(s.micro_amt > 0, s.micro_left - 1, s.micro_left)
    s.micro_amt = np.where(s.micro_left <= 0, 0.0, s.micro_amt)
    s.micro_amt = np.where(loan, rng.choice(MICROCREDIT_AMOUNTS, n), s.micro_amt)
    s.micro_left = np.where(loan, 3, s.micro_left)


def end_year(s: SimState, yr: Year) -> None:
    """Carry this year's incomes and disaster loss into next year's means test and output."""
    s.prev_base_pc = yr.base_pc
    s.loss_prev = yr.loss
    s.prev_pc = yr.pc


#: The phases of a simulated year, in the order they run (and draw).
YEAR_PHASES = (births, deaths, health, schooling, labour_capacity, shocks, wage_work, production,
               transfers, spending, guarantees, elimination, identification, risk_types, assistance)
