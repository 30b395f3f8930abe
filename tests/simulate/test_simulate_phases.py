"""The simulator's state and yearly phases: determinism, code positions, each phase's invariant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.simulate import _codes, simulate
from fanpin_risk.simulate._calibration import N_SLOTS, YearParams, monitoring_line_table
from fanpin_risk.simulate._phases import (
    YEAR_PHASES,
    births,
    deaths,
    elimination,
    end_year,
    identification,
    school_status,
    start_year,
    transfers,
)
from fanpin_risk.simulate._records import assemble_households, household_rows
from fanpin_risk.simulate._state import initial_state

YEARS = (2020, 2021, 2022)


def _state(n=400, seed=5, years=YEARS):
    return initial_state(n, years[0], seed, contract.NATIONAL, monitoring_line_table(), share_exited=0.5,
                         n_counties=None, share_key_county=0.3, detection=1.0)


def _run(stop_after=None, years=YEARS):
    """Run the phases by hand; stop in the last year after ``stop_after`` (all phases if None)."""
    s = _state(years=years)
    for y in years:
        yr = start_year(s, y)
        for phase in YEAR_PHASES:
            before = (s.ident_m.copy(), s.elim_m.copy())
            phase(s, yr)
            if y == years[-1] and phase is stop_after:
                return s, yr, before
        if y != years[-1]:
            end_year(s, yr)
    return s, yr, before


@pytest.fixture(scope="module")
def done():
    s, yr, _ = _run()
    return s, yr


def test_same_seed_same_panel_different_seed_differs():
    a, am = simulate(120, years=range(2021, 2024), seed=4, return_members=True)
    b, bm = simulate(120, years=range(2021, 2024), seed=4, return_members=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(am, bm, check_exact=True)
    c = simulate(120, years=range(2021, 2024), seed=5)
    assert not a["net_income_per_capita"].equals(c["net_income_per_capita"])


def test_panel_pinned_to_reference_values():
    # Values of the panel before the simulator was split into phases: the split kept every draw.
    hh, mem = simulate(300, years=range(2021, 2025), seed=5, return_members=True)
    assert hh.shape == (1200, 52) and mem.shape == (4196, 15)
    assert int(hh["newly_identified"].sum()) == 43
    assert int(hh["identification_month"].notna().sum()) == 103
    assert int(hh["receives_dibao"].sum()) == 102
    assert hh["net_income_per_capita"].iloc[:3].tolist() == [19463.5, 9172.0, 5218.0]
    assert float(hh["net_income_per_capita"].sum()) == pytest.approx(18925468.15, abs=0.01)


def test_phases_by_hand_equal_simulate():
    s = _state(n=150, seed=2)
    rows = []
    for y in YEARS:
        yr = start_year(s, y)
        for phase in YEAR_PHASES:
            phase(s, yr)
        rows.append(household_rows(s, yr))
        end_year(s, yr)
    expected = simulate(150, years=YEARS, seed=2)
    pd.testing.assert_frame_equal(assemble_households(rows, contract.NATIONAL), expected, check_exact=True)


def test_code_positions_the_rules_rely_on():
    # Rules and draws index into the tables by position; pin the positions by English name.
    def names(table, list_name):
        en = contract.code_names(list_name)
        return [None if v is None else en[v] for v in table]

    assert names(_codes.LABOR, "labor_skill") == ["skilled_labor", "ordinary_labor", "weak_labor", "lost_labor",
                                                  "no_labor"]
    assert names(_codes.RISK_TYPES, "risk_type")[0] == "illness"
    assert names(_codes.RISK_TYPES, "risk_type")[7] == "lack_of_labor"
    assert names(_codes.RISK_TYPES, "risk_type")[10] == "other"
    assert names(_codes.CATEGORIES, "monitoring_category") == [None, "unstable", "marginal", "sudden_hardship"]
    assert names(_codes.HOUSEHOLD_TYPES, "household_type") == ["poverty_exited", "monitored", "ordinary"]
    assert names(_codes.SEXES, "sex") == ["male", "female"]
    assert names(_codes.RELATIONS, "relation")[2:4] == ["son", "daughter"]
    assert names(_codes.RELATIONS, "relation")[6:10] == ["grandson", "granddaughter", "father", "mother"]
    assert names(_codes.PLACES, "work_place") == [None, "outside_province", "in_province_outside_county",
                                                  "in_county"]
    assert names(_codes.SCHOOL, "school_status")[10:] == ["secondary_vocational", "higher_vocational",
                                                          "undergraduate"]
    assert len(_codes.EDUCATION) == 7 and _codes.EDUCATION[0] is None
    parts = {p for h in _codes.HEALTH for p in h.split(",")}
    assert parts == set(contract.code_list("health_status"))
    assert _codes.HEALTH[0] == "健康" and _codes.HEALTH[7].count(",") == 2


def test_year_params_extrapolate_beyond_the_series():
    lines = monitoring_line_table()
    p = YearParams.of(2027, 2026, lines, contract.NATIONAL)
    q = YearParams.of(2026, 2026, lines, contract.NATIONAL)
    assert p.later and not q.later
    assert p.wage_index > q.wage_index > 0 and p.dibao_std_prev == q.dibao_std
    assert p.line == round(lines[(contract.NATIONAL, 2025)] * 1.04 ** 2, -1)


def test_initial_state_shapes_and_households():
    s = _state()
    assert s.active.shape == s.age.shape == (400, N_SLOTS)
    assert s.active[:, 0].all() and s.hh_alive.all()
    assert (s.rel[:, 0] == 0).all()
    kids = s.active[:, 2:5]
    assert (s.rel[:, 2:5][kids] == 2 + s.sex[:, 2:5][kids]).all()
    assert (s.exited | ~s.relocated).all()  # only registered-poor households were relocated
    assert set(np.unique(s.micro_amt)) <= {0.0, 30000.0, 40000.0, 50000.0}


def test_births_and_deaths_keep_a_head_in_slot_0():
    s, yr, _ = _run(stop_after=deaths)
    alive = s.hh_alive
    assert s.active[alive, 0].all() and (s.rel[alive, 0] == 0).all()
    assert not s.active[~alive].any()
    assert not s.active[~s.born, 10].any()  # the birth slot fills only on a birth
    assert (s.age[s.active[:, 10], 10] <= len(YEARS) - 2).all()  # no birth in the first year


def test_births_need_a_later_year():
    s = _state()
    births(s, start_year(s, YEARS[0]))
    assert not s.born.any()


def test_school_status_by_age_and_track():
    age = np.array([0, 4, 8, 14, 16, 16, 19, 20, 25])
    track = np.array([0, 0, 0, 0, 0, 1, 3, 5, 5])
    assert school_status(age, track).tolist() == [1, 2, 3, 6, 0, 8, 11, 12, 0]


def test_capacity_work_and_income_invariants(done):
    s, yr = done
    act = s.active
    assert (yr.lab[s.age < 16] == 4).all()
    assert np.array_equal(yr.student, yr.stat >= 2)
    assert (yr.n_lab <= yr.size).all() and (yr.size == act.sum(axis=1)).all()
    assert ((yr.months >= 0) & (yr.months <= 12)).all()
    assert np.array_equal(yr.workplace > 0, yr.months > 0)
    assert not (yr.months[~act] > 0).any()
    assert not (s.dibao & s.tekun).any()
    assert np.allclose(yr.pc * yr.size_safe, yr.net)
    assert (yr.expense_medical >= 0).all() and (yr.claims <= 30000).all()
    assert np.array_equal(yr.guarantees_ok, s.housing_ok & s.water_ok & yr.med_ok & yr.edu_ok)


def test_elimination_only_of_tracked_households_over_the_line():
    s, yr, (ident0, elim0) = _run(stop_after=elimination)
    e = yr.do_elim
    assert e.any()
    assert (yr.monitored_now[e] & (yr.ratio[e] >= 1.0) & yr.guarantees_ok[e]).all()
    months_tracked = (s.elim_m[e] // 100 * 12 + s.elim_m[e] % 100) - (ident0[e] // 100 * 12 + ident0[e] % 100)
    assert (months_tracked >= 6).all()
    assert (s.elim_m[~e] == elim0[~e]).all()


def test_identification_marks_new_objects_in_this_year():
    s, yr, (ident0, _) = _run(stop_after=identification)
    new = yr.new
    assert new.any()
    assert not yr.monitored_now[new].any()
    assert (s.ident_m[new] // 100 == YEARS[-1]).all() and (s.elim_m[new] == 0).all()
    assert (s.category[new] > 0).all()
    assert (s.ident_m[~new] == ident0[~new]).all()


def test_risk_types_and_assistance(done):
    s, yr = done
    obj = s.ident_m > 0
    assert (s.risks[obj, 0] >= 0).all()
    assert ((s.risks >= -1) & (s.risks < len(_codes.RISK_TYPES))).all()
    # Recorded risks come first, empty places (-1) after them.
    assert not ((s.risks[:, 1:] >= 0) & (s.risks[:, :-1] < 0)).any()
    assert not s.pwj_months[~s.active].any()
    assert ((s.pwj_months >= 0) & (s.pwj_months <= 12)).all()


def test_a_phase_run_too_early_fails_loudly():
    s = _state()
    with pytest.raises(AttributeError):
        transfers(s, start_year(s, YEARS[0]))
