"""Shock scenarios: shock arithmetic, area selection, re-scoring and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fanpin_risk.errors import ContractError
from fanpin_risk.api import train
from fanpin_risk.planning import apply_shock, expected_relapses, load_shock, scenario
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(400, seed=1)


@pytest.fixture(scope="module")
def rule_model(sim):
    # the rule model's score only rises as income falls or hardship grows: a clean check of the plumbing
    return train(sim, model="rule", log_to_mlflow=False)


def _last(panel):
    return int(panel["year"].max())


def test_migrant_cut_is_proportional_and_leaves_history(sim):
    y = _last(sim)
    out, info = apply_shock(sim, {"type": "migrant_work", "share": 0.25}, year=y)
    cur0, cur1 = sim[sim["year"] == y], out[out["year"] == y]
    m0 = cur0["migrant_work_months"].astype(float)
    w0, w1 = cur0["income_wage"].astype(float), cur1["income_wage"].astype(float)
    np.testing.assert_allclose(cur1["migrant_work_months"].astype(float), m0 * 0.75)
    worked = m0 > 0
    np.testing.assert_allclose(w1[worked], w0[worked] * 0.75)
    np.testing.assert_allclose(w1[~worked], w0[~worked])
    dpc = cur0["net_income_per_capita"].astype(float) - cur1["net_income_per_capita"].astype(float)
    np.testing.assert_allclose(dpc, (w0 - w1) / cur0["household_size"].astype(float), atol=1e-6)
    assert cur1.loc[worked, "shock_job_loss"].all()
    assert set(info["household_id"]) == set(cur0.loc[worked, "household_id"])
    pd.testing.assert_frame_equal(out[out["year"] < y], sim[sim["year"] < y])


def test_removing_all_migrant_work_raises_expected_relapses(sim, rule_model):
    res = scenario(sim, [{"type": "migrant_work", "share": 1.0}], rule_model, reasons="none", n_draws=300)
    e = res.expected
    assert e.loc["after", "expected"] > e.loc["before", "expected"]
    assert e.loc["increase", "lo"] >= 0
    h = res.households
    assert (h["status"] == "scored").sum() > 0
    h = h[h["status"] == "scored"]  # households without a record in the year keep a row, unscored
    assert h["delta"].min() >= -1e-9  # no household's risk falls
    assert (h.loc[~h["affected"], "delta"].abs() < 1e-12).all()
    assert h["affected"].sum() > 0 and len(res.households) == sim["household_id"].nunique()


def test_flood_raises_risk_in_named_townships_only(sim, rule_model):
    y = _last(sim)
    towns = sorted(sim.loc[sim["year"] == y, "township_code"].astype(str).unique())[:2]
    shock = {"name": "flood", "steps": [{"type": "business_loss", "share": 0.6, "housing_unsafe_share": 0.5,
                                         "area": {"townships": towns}}]}
    res = scenario(sim, shock, rule_model, reasons="none", n_draws=200)
    h = res.households
    h = h[h["status"] == "scored"]
    inside = h["township_code"].isin(towns)
    assert (h.loc[~inside, "delta"].abs() < 1e-12).all()
    assert h.loc[inside, "affected"].all() and not h.loc[~inside, "affected"].any()
    t = res.by_township.set_index("township_code")
    assert (t.loc[towns, "expected_after"] > t.loc[towns, "expected_before"]).all()
    out, _ = apply_shock(sim, shock, year=y)
    hit = (out["year"] == y) & out["township_code"].isin(towns)
    assert out.loc[hit, "shock_disaster"].all()
    assert 0 < (~out.loc[hit, "housing_safe"]).sum() <= hit.sum()


def test_first_townships_rule_and_bad_shocks(sim):
    y = _last(sim)
    cur = sim[sim["year"] == y]
    county = str(cur["county_code"].iloc[0])
    step = {"type": "business_loss", "share": 0.3, "county": county, "first_townships": 2}
    out, info = apply_shock(sim, step, year=y)
    want = sorted(cur.loc[cur["county_code"] == county, "township_code"].unique())[:2]
    got = set(out.loc[(out["year"] == y) & out["household_id"].isin(info["household_id"]), "township_code"])
    assert got == set(want)
    with pytest.raises(ContractError, match="unknown type"):
        load_shock({"type": "locusts"})
    with pytest.raises(ContractError, match="share must be"):
        load_shock({"type": "migrant_work", "share": 1.5})
    with pytest.raises(ContractError, match="not in the scored year"):
        apply_shock(sim, {"type": "business_loss", "share": 0.5, "townships": ["000000000"]}, year=y)
    with pytest.raises(ContractError, match="unknown key"):
        load_shock({"type": "medical", "share": 0.2, "townshps": ["1"]})


def test_example_shocks_load_and_name_existing_townships():
    from fanpin_risk.contract import schema_dir

    covid = load_shock(schema_dir() / "scenarios" / "covid_employment.yaml")
    flood = load_shock(schema_dir() / "scenarios" / "county_flood.yaml")
    assert covid["steps"][0]["type"] == "migrant_work"
    towns = flood["steps"][0]["area"]["townships"]
    p = simulate(600, seed=0, years=range(2024, 2026))
    assert set(towns) <= set(p.loc[p["year"] == 2025, "township_code"])


def test_expected_relapses_matches_poisson_binomial():
    p0 = np.full(400, 0.1)
    p1 = np.full(400, 0.2)
    e = expected_relapses(p0, p1, n_draws=2000, seed=1)
    assert e.loc["before", "expected"] == pytest.approx(40.0)
    sd = np.sqrt(400 * 0.1 * 0.9)
    assert e.loc["before", "normal_hi"] == pytest.approx(40 + 1.959964 * sd, rel=1e-4)
    assert e.loc["before", "lo"] == pytest.approx(40 - 1.96 * sd, abs=3)
    assert e.loc["increase", "lo"] > 0  # common draws: the shock's own effect, not two independent noises


def test_cli_scenario(tmp_path, sim, rule_model):
    from fanpin_risk.cli import app, write_table

    src = write_table(sim, tmp_path / "panel.csv")
    mdir = rule_model.save(tmp_path / "m")
    shock = tmp_path / "s.yaml"
    shock.write_text("name: t\nsteps:\n  - type: medical\n    amount: 30000\n    hit_share: 0.5\n", encoding="utf-8")
    out = tmp_path / "o.xlsx"
    r = CliRunner().invoke(app, ["scenario", str(src), str(shock), "--model", str(mdir), "-o", str(out), "--draws", "100"])
    assert r.exit_code == 0, r.output
    assert "expected relapses" in r.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert {"概况", "各户冲击前后", "按乡镇", "按主要风险类型", "预计返贫致贫户数"} <= set(sheets)
    assert len(sheets["各户冲击前后"]) == sim["household_id"].nunique()
    assert {"户编号", "冲击前风险概率", "冲击后风险概率", "风险等级上升"} <= set(sheets["各户冲击前后"].columns)
    assert set(sheets["各户冲击前后"]["风险等级上升"].dropna()) <= {"是", "否"}
    en = tmp_path / "o_en.xlsx"
    r = CliRunner().invoke(app, ["scenario", str(src), str(shock), "--model", str(mdir), "-o", str(en), "--draws", "50",
                                 "--headers", "en"])
    assert r.exit_code == 0 and {"summary", "households"} <= set(pd.read_excel(en, sheet_name=None))


def test_removing_all_migrant_work_raises_expected_relapses_with_the_default_model(sim):
    # the packaged LightGBM is monotone in income, so losing all wage work cannot make households look safer
    res = scenario(sim, [{"type": "migrant_work", "share": 1.0}], None, reasons="none", n_draws=300)
    e = res.expected
    assert e.loc["after", "expected"] > e.loc["before", "expected"]
    assert e.loc["increase", "lo"] > 0
    h = res.households[res.households["status"] == "scored"]
    assert h.loc[h["affected"], "delta"].mean() > 0
