"""The simulator's world settings (shock_rate, assistance, wage_growth, line_growth) and the named WORLDS."""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.panel import make_labels
from fanpin_risk.simulate import WORLDS, monitoring_line_table, simulate, simulate_world
from fanpin_risk.simulate._calibration import WAGE_INDEX, YearParams

SHOCKS = ["shock_illness", "shock_disaster", "shock_accident", "shock_job_loss", "shock_industry_failure"]
N, SEED = 800, 4


@functools.lru_cache(maxsize=None)
def _panel(**kwargs) -> pd.DataFrame:
    return simulate(N, seed=SEED, **kwargs)


def _run(**kwargs) -> pd.DataFrame:
    return _panel(**kwargs).copy()


def test_explicit_defaults_are_the_default_world_byte_for_byte():
    defaults = {"shock_rate": 1.0, "assistance": 1.0, "wage_growth": None, "line_growth": None}
    pd.testing.assert_frame_equal(simulate(N, seed=SEED, **defaults), _run())
    # integer spellings of the defaults too, and the member table and cause record
    ref = simulate(300, years=[2023, 2024], seed=1, return_members=True, return_causes=True, cause_draws=2)
    got = simulate(300, years=[2023, 2024], seed=1, return_members=True, return_causes=True, cause_draws=2,
                   shock_rate=1, assistance=1)
    for a, b in zip(ref, got):
        pd.testing.assert_frame_equal(a, b)
    assert simulate_world("baseline", N, seed=SEED).equals(_run())


def test_settings_change_the_world():
    base = _run()
    for kw in ({"shock_rate": 1.5}, {"assistance": 0.5}, {"wage_growth": 0.1}, {"line_growth": 0.1}):
        assert not simulate(N, seed=SEED, **kw).equals(base), kw


def test_higher_shock_rate_gives_more_shocks():
    low, base, high = _run(shock_rate=0.5), _run(), _run(shock_rate=2.0)
    for col in SHOCKS:
        lo, mid, hi = (df[col].astype(float).mean() for df in (low, base, high))
        assert lo < mid < hi, (col, lo, mid, hi)
    # the frequency roughly scales (rare shocks, so close to proportional)
    assert 1.6 < high["shock_accident"].mean() / base["shock_accident"].mean() < 2.5
    none = _run(shock_rate=0.0)
    assert not none[SHOCKS].to_numpy(dtype=bool).any()


def test_lower_assistance_gives_lower_transfers_to_dibao_households():
    def dibao_transfer(df: pd.DataFrame) -> float:
        return df.loc[df["receives_dibao"].fillna(False).astype(bool), "income_transfer"].mean()

    lean, base, generous = _run(assistance=0.5), _run(), _run(assistance=1.5)
    assert dibao_transfer(lean) < dibao_transfer(base) < dibao_transfer(generous)
    assert lean["income_insurance_claims"].sum() < base["income_insurance_claims"].sum()
    # first year: the same households get dibao; their payment (transfer above the non-dibao items) halves
    y0 = [df[df["year"] == 2020].set_index("household_id") for df in (lean, base)]
    both = y0[0]["receives_dibao"].astype(bool) & y0[1]["receives_dibao"].astype(bool)
    assert both.sum() >= 20
    assert (y0[0].loc[both, "income_transfer"] <= y0[1].loc[both, "income_transfer"] + 1).all()
    # shocks and income before transfers are the same draws in the first year
    pd.testing.assert_series_equal(y0[0]["shock_disaster"], y0[1]["shock_disaster"])


def test_poverty_rises_when_assistance_falls():
    def below(df: pd.DataFrame) -> float:
        return float((df["net_income_per_capita"] < df["monitoring_line"]).mean())

    assert below(_run(assistance=0.3)) > below(_run()) + 0.005


@pytest.mark.parametrize("province", [contract.NATIONAL, "云南"])
def test_line_growth_sets_the_monitoring_line_path(province):
    years = range(2021, 2026)
    df = simulate(60, years=years, seed=2, province=province, line_growth=0.05)
    got = df.groupby("year")["monitoring_line"].agg(["min", "max"])
    assert (got["min"] == got["max"]).all()
    table = monitoring_line_table()
    line0 = table.get((province, 2021), table[(contract.NATIONAL, 2021)])
    want = [line0] + [round(line0 * 1.05 ** k, -1) for k in range(1, 5)]
    assert got["min"].tolist() == want
    flat = simulate(60, years=years, seed=2, province=province, line_growth=0.0)
    assert set(flat["monitoring_line"]) == {line0}
    # the default follows the province's table
    default = simulate(60, years=years, seed=2, province=province).groupby("year")["monitoring_line"].first()
    assert default.tolist() == [table.get((province, y), table[(contract.NATIONAL, y)]) for y in years]


def test_wage_growth_sets_the_wage_index_path():
    lines = monitoring_line_table()
    for g in (0.0, 0.07):
        idx = [YearParams.of(y, 2020, lines, contract.NATIONAL, wage_growth=g).wage_index for y in range(2020, 2026)]
        assert idx == pytest.approx([WAGE_INDEX[2020] * (1 + g) ** k for k in range(6)])
    assert YearParams.of(2023, 2020, lines, contract.NATIONAL).wage_index == WAGE_INDEX[2023]
    slow, fast = _run(wage_growth=0.0), _run(wage_growth=0.15)
    last = lambda df: df.loc[df["year"] == 2025, "income_wage"].mean()  # noqa: E731
    first = lambda df: df.loc[df["year"] == 2020, "income_wage"].mean()  # noqa: E731
    assert first(slow) == first(fast)  # same first-year wage index
    assert last(fast) > 1.5 * last(slow)


@pytest.mark.parametrize("kwargs", [
    {"shock_rate": -0.1}, {"assistance": -1}, {"shock_rate": math.nan}, {"assistance": math.inf},
    {"shock_rate": "high"}, {"assistance": True}, {"shock_rate": None},
    {"wage_growth": 0.6}, {"wage_growth": -0.8}, {"line_growth": math.nan}, {"line_growth": "3%"},
])
def test_invalid_world_settings_raise(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        simulate(10, years=[2024], seed=0, **kwargs)


def test_named_worlds():
    params = inspect.signature(simulate).parameters
    assert len(WORLDS) >= 4 and WORLDS["baseline"] == {}
    for name, settings in WORLDS.items():
        assert set(settings) <= {"shock_rate", "assistance", "wage_growth", "line_growth"}, name
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in settings)
    with pytest.raises(ValueError, match="unknown world"):
        simulate_world("utopia", 10)
    # keyword settings override the world's
    pd.testing.assert_frame_equal(simulate_world("shocks", 200, seed=3, shock_rate=1.0), simulate(200, seed=3))


def test_every_world_has_a_plausible_label_rate():
    for name in WORLDS:
        panel = simulate_world(name, 1500, seed=0)
        rate = make_labels(panel)["label"].astype(float).mean()
        assert 0.04 < rate < 0.30, (name, rate)


def test_cause_record_runs_in_the_world():
    kw = {"shock_rate": 0.0, "assistance": 0.7, "wage_growth": 0.02, "line_growth": 0.1}
    panel, causes = simulate(400, years=range(2021, 2024), seed=6, return_causes=True, cause_years=[2022],
                             cause_draws=3, **kw)
    pd.testing.assert_frame_equal(panel, simulate(400, years=range(2021, 2024), seed=6, **kw))
    assert causes["p_relapse"].between(0, 1).all() and len(causes) > 300
    # without shocks, switching them off changes nothing: exactly 0 (the variants share the world)
    for cause in ("因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳"):
        assert (causes[cause] == 0.0).all(), cause
    _, with_shocks = simulate(400, years=range(2021, 2024), seed=6, return_causes=True, cause_years=[2022],
                              cause_draws=3, **{**kw, "shock_rate": 1.0})
    assert (with_shocks[["因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳"]] != 0).any().all()
    assert not np.allclose(with_shocks["p_relapse"], causes["p_relapse"])
