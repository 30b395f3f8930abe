"""Feasible help: feasibility rules, the best measure and the help-options CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fanpin_risk.planning import apply_effects, evaluate_condition, feasible_help, load_help_measures
from fanpin_risk.errors import ContractError
from fanpin_risk.api import score, train
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    p = simulate(300, seed=2)
    y = int(p["year"].max())
    cur = p.index[p["year"] == y]
    # make sure each rule is exercised: households without labour, on dibao, with unsafe housing
    p.loc[cur[:15], "n_labor"] = 0
    p.loc[cur[15:30], "receives_dibao"] = True
    p.loc[cur[30:40], "housing_safe"] = False
    return p


@pytest.fixture(scope="module")
def model(sim):
    return train(sim, model="lightgbm", params={"n_estimators": 40}, log_to_mlflow=False)


@pytest.fixture(scope="module")
def helped(sim, model):
    return feasible_help(sim, model)


def _cur(sim):
    return sim[sim["year"] == sim["year"].max()].set_index("household_id")


def test_no_labour_never_gets_work_help(sim, helped):
    cur = _cur(sim)
    h = helped.set_index("household_id")
    nolab = cur.index[cur["n_labor"] == 0]
    assert len(nolab) >= 15
    assert h.loc[nolab, ["risk_employment_3m", "risk_public_welfare_job"]].isna().all().all()
    assert not h.loc[nolab, "best_measure"].isin(["employment_3m", "public_welfare_job"]).any()
    withlab = cur.index[(cur["n_labor"] > 0) & ~cur["public_welfare_job"].astype(bool)]
    assert h.loc[withlab, "risk_public_welfare_job"].notna().all()


def test_dibao_and_housing_only_where_feasible(sim, helped):
    cur = _cur(sim)
    h = helped.set_index("household_id")
    on = cur.index[cur["receives_dibao"].astype(bool)]
    assert h.loc[on, "risk_dibao"].isna().all() and h.loc[cur.index.difference(on), "risk_dibao"].notna().all()
    unsafe = cur.index[~cur["housing_safe"].astype(bool)]
    assert h.loc[unsafe, "risk_housing_repair"].notna().all()
    assert h.loc[cur.index.difference(unsafe), "risk_housing_repair"].isna().all()


def test_best_measure_never_raises_risk(helped):
    s = helped[helped["status"] == "scored"]
    assert (s["risk_after"] <= s["risk_before"]).all()
    has = s["best_measure"].notna()
    assert has.any()
    risk_cols = [c for c in s.columns if c.startswith("risk_") and c not in ("risk_before", "risk_after")]
    np.testing.assert_allclose(s.loc[has, "risk_after"], s.loc[has, risk_cols].min(axis=1))
    assert s.loc[has, "text"].str.match(r"^风险 \d{1,3}\.\d% → \d{1,3}\.\d%：").all()
    assert (s.loc[~has, "delta"] == 0).all()
    assert len(helped) == helped["household_id"].nunique()


def test_effects_arithmetic_and_rules(sim):
    cur = sim[sim["year"] == sim["year"].max()].head(50)
    table = load_help_measures().set_index("measure")
    out = apply_effects(cur, table.loc["employment_3m", "effects"], measure="employment_3m")
    m0, w0 = cur["migrant_work_months"].astype(float), cur["income_wage"].astype(float)
    own = (m0 > 0) & (w0 > 0)
    np.testing.assert_allclose(out.loc[own, "migrant_work_months"], m0[own] + 3)
    np.testing.assert_allclose(out.loc[own, "income_wage"], w0[own] * (1 + 3 / m0[own]))
    c = cur.copy()
    c["receives_dibao"] = pd.array([pd.NA] * len(c), dtype="boolean")
    assert not evaluate_condition(c, "not receives_dibao").any()  # unknown → not offered
    with pytest.raises(ContractError, match="neither a household field"):
        evaluate_condition(cur, "n_lbor > 0")
    with pytest.raises(ContractError, match="cannot read"):
        load_help_measures(pd.DataFrame({"measure": ["x"], "name_zh": ["x"], "condition": [""], "effects": ["income_wage ++ 3"]}))
    with pytest.raises(ContractError, match="unknown help measure"):
        load_help_measures(["teleportation"])


def test_cli_help_options(tmp_path, sim, model):
    from fanpin_risk.cli import app, write_table

    src = write_table(sim, tmp_path / "panel.csv")
    mdir = model.save(tmp_path / "m")
    out = tmp_path / "help.csv"
    r = CliRunner().invoke(app, ["help-options", str(src), "--model", str(mdir), "--top", "20", "-o", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert len(df) == 20 and df["当前风险概率"].is_monotonic_decreasing
    assert {"户编号", "最有效措施", "说明", "评分状态"} <= set(df.columns)
    assert any(c.startswith("措施后风险：") for c in df.columns) and set(df["评分状态"]) <= {"已评分", "无法评分", "评分年度无记录"}
    en = tmp_path / "help_en.csv"
    r = CliRunner().invoke(app, ["help-options", str(src), "--model", str(mdir), "--top", "5", "-o", str(en), "--headers", "en"])
    assert r.exit_code == 0 and "risk_before" in pd.read_csv(en, encoding="utf-8-sig").columns


def test_cli_help_options_workbook_shows_risks_as_percentages(tmp_path, sim, model):
    import openpyxl

    from fanpin_risk.cli import app, write_table

    src = write_table(sim, tmp_path / "panel.csv")
    mdir = model.save(tmp_path / "m")
    out = tmp_path / "help.xlsx"
    r = CliRunner().invoke(app, ["help-options", str(src), "--model", str(mdir), "--top", "10", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out)["帮扶措施测算"]
    head = {c.value: c.column for c in ws[1]}
    for name in ["当前风险概率", "采取该措施后风险概率", "风险变化", *[h for h in head if h.startswith("措施后风险：")]]:
        cell = ws.cell(row=2, column=head[name])
        assert cell.number_format == "0.0%", name
    assert ws.cell(row=2, column=head["户编号"]).number_format == "General"
    assert isinstance(ws.cell(row=2, column=head["当前风险概率"]).value, float)  # a number, still sortable
    assert "%" in str(ws.cell(row=2, column=head["说明"]).value)


def test_help_judges_against_the_same_announced_line_as_the_list(sim, model):
    """lines= reaches the help measures' model as it reaches score(): the announced next-year line is read."""
    y = int(sim["year"].max())
    line = float(sim.loc[sim["year"] == y, "monitoring_line"].median())
    table = pd.DataFrame({"province": [str(sim["province"].iloc[0])], "year": [y + 1], "line": [round(line * 1.4)]})
    before = lambda h: h.set_index("household_id")["risk_before"].astype(float)  # noqa: E731
    given = before(feasible_help(sim, model, lines=table))
    ahead = before(feasible_help(sim, model.with_published_lines(table)))
    plain = before(feasible_help(sim, model))
    pd.testing.assert_series_equal(given, ahead.reindex(given.index))
    assert given.mean() > plain.reindex(given.index).mean() + 0.01  # a higher line than projected: more risk


@pytest.mark.parametrize("subset", [False, True])
def test_risk_before_is_the_listed_risk(sim, model, subset):
    """risk_before is score()'s risk: the village and county context comes from the whole panel, not from the
    households asked for or from the measure copies scored beside their originals."""
    assert model.features_.history_block  # the context block is what could make them differ
    listed = score(sim, model).set_index("household_id")["risk_score"].astype(float)
    ids = list(listed.index[::7]) if subset else None
    before = feasible_help(sim, model, households=ids).set_index("household_id")["risk_before"].astype(float)
    assert len(before) == (len(ids) if subset else len(listed))
    np.testing.assert_allclose(before.to_numpy(), listed.reindex(before.index).to_numpy(), rtol=0, atol=1e-12)
