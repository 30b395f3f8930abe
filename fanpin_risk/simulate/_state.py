"""State of a simulation run and its initial draws (year 0: counties, households, members).

:class:`SimState` holds what carries over from one year to the next: the random
generator, the county and household attributes, the ``(household × member-slot)``
member arrays and the monitoring status. :class:`Year` holds what one year's
phases compute (see :mod:`._phases`). Both declare their arrays as fields that
start unset, so a phase that reads a field before the phase that sets it fails
with ``AttributeError`` instead of using a stale value.

The draws happen in a fixed order; changing it changes every simulated panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._calibration import BIRTH_SLOT, MICROCREDIT_AMOUNTS, N_SLOTS, SD_PERM, YearParams


def _drawn() -> Any:
    return field(init=False, repr=False)


@dataclass(eq=False)
class SimState:
    """Everything that carries over between simulated years (arrays set by :func:`initial_state`)."""

    rng: np.random.Generator
    n: int                  # households
    n_counties: int
    first_year: int
    province: str
    detection: float
    lines: dict[tuple[str, int], float] = field(repr=False)
    # Causes (RISK_TYPES names, see _causes.CAUSES) whose effects the phases suppress after their
    # draws; only the cause record's Monte Carlo variants set it, the panel's own run keeps it empty.
    removed: frozenset[str] = field(default=frozenset(), repr=False)
    # The world (see simulate's docstring and WORLDS): 1.0 / None reproduce the calibrated world.
    shock_rate: float = 1.0          # multiplier on the yearly probability of each shock
    assistance: float = 1.0          # multiplier on the amounts of the targeted assistance payments
    wage_growth: float | None = None  # yearly growth of the wage index (None: calibrated path)
    line_growth: float | None = None  # yearly growth of the monitoring line (None: the line table)

    # counties (length n_counties) and the household's place
    key_c: np.ndarray = _drawn()      # key assistance county (重点帮扶县)
    cap_c: np.ndarray = _drawn()      # cadre capacity of the county (visits)
    lvl_c: np.ndarray = _drawn()      # county income level
    dis_c: np.ndarray = _drawn()      # disaster proneness
    county: np.ndarray = _drawn()
    town: np.ndarray = _drawn()
    vill: np.ndarray = _drawn()
    key: np.ndarray = _drawn()
    hid: np.ndarray = _drawn()        # household ids H0000000…
    c_code: np.ndarray = _drawn()     # county / township / village codes of each household
    t_code: np.ndarray = _drawn()
    v_code: np.ndarray = _drawn()

    # households: fixed traits and assets
    exited: np.ndarray = _drawn()
    relocated: np.ndarray = _drawn()
    ability: np.ndarray = _drawn()
    land: np.ndarray = _drawn()
    has_project: np.ndarray = _drawn()
    project_scale: np.ndarray = _drawn()
    elder_support: np.ndarray = _drawn()
    claim_cover: np.ndarray = _drawn()   # anti-poverty insurance (防贫保)
    micro_amt: np.ndarray = _drawn()     # outstanding microcredit
    micro_left: np.ndarray = _drawn()    # its remaining years

    # members (n × N_SLOTS)
    active: np.ndarray = _drawn()
    age: np.ndarray = _drawn()
    rel: np.ndarray = _drawn()
    sex: np.ndarray = _drawn()
    track: np.ndarray = _drawn()         # schooling track, see _phases.school_status
    dropout: np.ndarray = _drawn()
    old_edu: np.ndarray = _drawn()
    fixed_edu: np.ndarray = _drawn()
    chronic: np.ndarray = _drawn()
    serious: np.ndarray = _drawn()
    disabled: np.ndarray = _drawn()
    u_skill: np.ndarray = _drawn()
    skilled: np.ndarray = _drawn()
    u_work: np.ndarray = _drawn()
    place: np.ndarray = _drawn()
    wage_eff: np.ndarray = _drawn()
    insured: np.ndarray = _drawn()
    pension_ins: np.ndarray = _drawn()
    pwj_months: np.ndarray = _drawn()    # public-welfare job months granted for the coming year
    returned: np.ndarray = _drawn()      # came home after losing work: stays home more
    months_eff: np.ndarray = _drawn()    # persistent member effect on migrant months
    u_main: np.ndarray = _drawn()        # (n,) persistent propensity of the main earner to stay home
    born: np.ndarray = _drawn()          # (n,) the birth slot is taken

    # households: status that changes every year
    e_shock: np.ndarray = _drawn()       # AR(1) earning shock
    loss_prev: np.ndarray = _drawn()
    housing_ok: np.ndarray = _drawn()
    water_ok: np.ndarray = _drawn()
    dibao: np.ndarray = _drawn()
    tekun: np.ndarray = _drawn()
    prev_base_pc: np.ndarray = _drawn()  # last year's per-capita income without dibao / tekun
    prev_pc: np.ndarray = _drawn()
    ident_m: np.ndarray = _drawn()       # YYYYMM of the latest identification, 0 = never
    elim_m: np.ndarray = _drawn()        # YYYYMM of its elimination, 0 = not eliminated
    category: np.ndarray = _drawn()
    monitored_ord: np.ndarray = _drawn()  # ordinary household turned 监测户
    risks: np.ndarray = _drawn()         # (n, 5) risk-type codes, -1 = none
    emp_help: np.ndarray = _drawn()
    hh_alive: np.ndarray = _drawn()


# Member arrays that follow a member when the head's slot 0 is handed to a successor.
MEMBER_ARRAYS = ("active", "age", "rel", "sex", "track", "dropout", "old_edu", "fixed_edu", "chronic",
                 "serious", "disabled", "u_skill", "skilled", "u_work", "months_eff", "place", "wage_eff",
                 "insured", "pension_ins", "pwj_months", "returned")


@dataclass(eq=False)
class Year:
    """One year's parameters and the arrays its phases compute, in phase order."""

    p: YearParams
    # health
    onset_s: np.ndarray = _drawn()       # (n, S) serious illness began this year
    shock_illness: np.ndarray = _drawn()
    accident: np.ndarray = _drawn()
    acc_member: np.ndarray = _drawn()
    # schooling and labour capacity
    stat: np.ndarray = _drawn()          # school-status codes (SCHOOL)
    edu: np.ndarray = _drawn()           # education codes (EDUCATION)
    student: np.ndarray = _drawn()
    lab: np.ndarray = _drawn()           # labour-skill codes (LABOR)
    labour: np.ndarray = _drawn()
    n_lab: np.ndarray = _drawn()
    size: np.ndarray = _drawn()
    # shocks
    disaster: np.ndarray = _drawn()
    loss: np.ndarray = _drawn()
    # wage work
    months: np.ndarray = _drawn()
    workplace: np.ndarray = _drawn()
    pwj: np.ndarray = _drawn()           # public-welfare job months worked this year
    wage: np.ndarray = _drawn()
    shock_job: np.ndarray = _drawn()
    # production and business
    farmer: np.ndarray = _drawn()
    farm_gross: np.ndarray = _drawn()
    fail: np.ndarray = _drawn()
    income_business: np.ndarray = _drawn()
    expense_business: np.ndarray = _drawn()
    income_property: np.ndarray = _drawn()
    # transfers
    size_safe: np.ndarray = _drawn()
    no_lab: np.ndarray = _drawn()
    base_pc: np.ndarray = _drawn()
    monitored_now: np.ndarray = _drawn()  # monitoring object at the start of the year
    income_transfer: np.ndarray = _drawn()
    net: np.ndarray = _drawn()
    pc: np.ndarray = _drawn()
    # spending
    covered: np.ndarray = _drawn()
    expense_medical: np.ndarray = _drawn()
    expense_education: np.ndarray = _drawn()
    claims: np.ndarray = _drawn()
    # guarantees
    med_ok: np.ndarray = _drawn()
    edu_ok: np.ndarray = _drawn()
    guarantees_ok: np.ndarray = _drawn()
    # monitoring
    rigid: np.ndarray = _drawn()
    ratio: np.ndarray = _drawn()
    do_elim: np.ndarray = _drawn()
    new: np.ndarray = _drawn()
    p_new: np.ndarray = _drawn()         # probability identification flags the household (before its draw)
    # assistance
    micro_rec: np.ndarray = _drawn()     # microcredit outstanding during the year (recorded)


def initial_state(
    n: int, first_year: int, seed: int, province: str, lines: dict[tuple[str, int], float], *,
    share_exited: float, n_counties: int | None, share_key_county: float, detection: float,
    shock_rate: float = 1.0, assistance: float = 1.0, wage_growth: float | None = None,
    line_growth: float | None = None,
) -> SimState:
    """Draw counties, households and members as at the end of the year before ``first_year``.

    The world settings (``shock_rate`` … ``line_growth``) are only stored: the initial
    draws do not depend on them, the yearly phases read them.
    """
    rng = np.random.default_rng(seed)
    k = int(n_counties) if n_counties else int(np.clip(n // 500, 4, 200))
    s = SimState(rng=rng, n=n, n_counties=k, first_year=first_year, province=province,
                 detection=detection, lines=lines, shock_rate=shock_rate, assistance=assistance,
                 wage_growth=wage_growth, line_growth=line_growth)
    draw_counties(s, share_key_county)
    draw_households(s, share_exited)
    draw_members(s)
    draw_member_traits(s)
    init_status(s)
    return s


def draw_counties(s: SimState, share_key_county: float) -> None:
    """County traits and each household's county, township and village (codes ``99cccc`` + 3 + 3 digits)."""
    rng, n, k = s.rng, s.n, s.n_counties
    s.key_c = rng.random(k) < share_key_county
    s.cap_c = rng.beta(5, 2.5, k)
    s.lvl_c = rng.normal(0.0, 0.10, k) - 0.10 * s.key_c
    s.dis_c = 0.07 + 0.08 * s.key_c + rng.uniform(0, 0.06, k)
    s.county = rng.integers(0, k, n)
    s.town = rng.integers(0, 12, n)
    s.vill = rng.integers(0, 15, n)
    s.key = s.key_c[s.county]
    s.hid = np.array([f"H{i:07d}" for i in range(n)], dtype=object)
    s.c_code = np.array([f"99{c + 1:04d}" for c in range(k)], dtype=object)[s.county]
    s.t_code = s.c_code + np.char.mod("%03d", s.town + 1).astype(object)
    s.v_code = s.t_code + np.char.mod("%03d", s.vill + 1).astype(object)


def draw_households(s: SimState, share_exited: float) -> None:
    """Registered-poor status, earning ability, land, projects, insurance and microcredit."""
    rng, n = s.rng, s.n
    exited = s.exited = rng.random(n) < share_exited
    s.relocated = exited & (rng.random(n) < 0.10)
    # Registered-poor households were selected on low earning ability.
    s.ability = rng.normal(0.0, 0.30, n) + s.lvl_c[s.county] - 0.40 * exited
    s.land = np.exp(rng.normal(np.log(4.0), 0.6, n)).clip(0.3, 60.0) * np.where(s.relocated, 0.3, 1.0)
    s.has_project = rng.random(n) < np.where(exited, 0.32, 0.18)
    s.project_scale = np.exp(rng.normal(np.log(8000.0), 0.5, n))
    s.elder_support = rng.random(n) < 0.7
    s.claim_cover = rng.random(n) < np.where(exited, 0.7, 0.1)
    s.micro_amt = np.where(exited & (rng.random(n) < 0.15), rng.choice(MICROCREDIT_AMOUNTS, n), 0.0)
    s.micro_left = np.where(s.micro_amt > 0, rng.integers(1, 4, n), 0)


def draw_members(s: SimState) -> None:
    """Household composition by slot: head, spouse, children, a child's family, the head's parents."""
    rng, n = s.rng, s.n
    head_age = np.clip(rng.normal(52, 13, n), 22, 88).round().astype(int)
    active = s.active = np.zeros((n, N_SLOTS), dtype=bool)
    age = s.age = np.zeros((n, N_SLOTS), dtype=int)
    rel = s.rel = np.zeros((n, N_SLOTS), dtype=np.int8)
    sex = s.sex = np.zeros((n, N_SLOTS), dtype=np.int8)
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
    rel[:, BIRTH_SLOT] = 2  # set again on a birth
    # Ages are kept at the end of the year before the first year: each year starts by ageing.
    age -= 1


def draw_member_traits(s: SimState) -> None:
    """Schooling tracks, adult education, health, skills, work propensities and insurance."""
    rng, n, age, exited = s.rng, s.n, s.age, s.exited
    shape = (n, N_SLOTS)
    track = rng.choice(6, shape, p=[0.18, 0.14, 0.28, 0.12, 0.14, 0.14])
    # Richer households keep children in school longer (costlier tracks).
    up = (rng.random(shape) < np.clip(0.25 + 0.5 * s.ability[:, None], 0, 0.6)) & (track < 5)
    s.track = np.where(up, track + 1, track)
    s.dropout = np.zeros(shape, dtype=bool)
    u_cohort = rng.random(shape)
    s.old_edu = np.select(
        [age >= 60, age >= 40],
        [np.digitize(u_cohort, [0.32, 0.78, 0.96, 0.995]) + 1, np.digitize(u_cohort, [0.08, 0.45, 0.88, 0.97]) + 1],
        np.digitize(u_cohort, [0.02, 0.15, 0.68, 0.88, 0.96]) + 1,
    ).astype(np.int8)
    s.fixed_edu = age >= 22  # education of adults already out of school is a fixed draw
    age_f = np.maximum(age, 0)
    poor_h = np.where(exited, 1.6, 1.0)[:, None]
    s.chronic = rng.random(shape) < poor_h * np.select([age_f >= 60, age_f >= 40], [0.22, 0.09], 0.015)
    s.serious = rng.random(shape) < poor_h * np.select([age_f >= 60, age_f >= 40], [0.035, 0.018], 0.004)
    s.disabled = rng.random(shape) < poor_h * np.select([age_f >= 60, age_f >= 16], [0.06, 0.03], 0.01)
    s.u_skill = rng.random(shape)
    s.skilled = rng.random(shape) < 0.12 + 0.25 * (s.old_edu >= 4)
    s.u_work = rng.random(shape)
    s.place = rng.choice([1, 2, 3], shape, p=[0.42, 0.26, 0.32]).astype(np.int8)
    s.wage_eff = rng.normal(0.0, 0.18, shape)
    s.insured = ~(rng.random(shape) < np.where(exited, 0.0015, 0.004)[:, None])
    s.pension_ins = rng.random(shape) < 0.93
    s.pwj_months = np.zeros(shape, dtype=int)
    s.returned = np.zeros(shape, dtype=bool)
    s.months_eff = rng.normal(0.0, 1.0, shape)
    s.u_main = rng.random(n)
    s.born = np.zeros(n, dtype=bool)


def init_status(s: SimState) -> None:
    """Earning shock, housing and water safety, and an empty monitoring history."""
    rng, n, exited = s.rng, s.n, s.exited
    s.e_shock = rng.normal(0.0, SD_PERM, n)
    s.loss_prev = np.zeros(n)
    s.housing_ok = ~(rng.random(n) < np.where(exited, 0.002, 0.006))
    s.water_ok = ~(rng.random(n) < np.where(exited, 0.002, 0.004))
    s.dibao = np.zeros(n, dtype=bool)
    s.tekun = np.zeros(n, dtype=bool)
    s.prev_base_pc = np.full(n, np.nan)
    s.prev_pc = np.full(n, np.nan)
    s.ident_m = np.zeros(n, dtype=int)
    s.elim_m = np.zeros(n, dtype=int)
    s.category = np.zeros(n, dtype=np.int8)
    s.monitored_ord = np.zeros(n, dtype=bool)
    s.risks = np.full((n, 5), -1, dtype=np.int8)
    s.emp_help = np.zeros(n, dtype=bool)
    s.hh_alive = np.ones(n, dtype=bool)
