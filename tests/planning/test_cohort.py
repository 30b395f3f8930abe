"""Follow-up after risk elimination: re-entry label, cohort backtest, follow-up list and CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from fanpin_risk.api import cohort_backtest
from fanpin_risk.panel import eliminated_cohort
from fanpin_risk.planning import score_followup
from fanpin_risk.panel import make_labels
from fanpin_risk.api import score, train
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(1200, seed=4)


def test_reentry_label_definition_and_censoring(sim):
    lab = make_labels(sim, "reentry")
    coh = eliminated_cohort(sim)
    assert lab.loc[~coh, "label"].isna().all()
    assert lab.loc[coh & ~lab["censored"], "label"].notna().all()
    # a cohort row's label is the re-identification seen in the next record
    key = sim.set_index(["household_id", "year"])
    rows = sim[coh & ~lab["censored"]]
    nxt = key.loc[list(zip(rows["household_id"], rows["year"] + 1))]
    expect = nxt["newly_identified"].astype(bool).to_numpy() | (
        (nxt["identification_month"] // 100 == rows["year"].to_numpy() + 1).fillna(False).to_numpy())
    assert (lab.loc[rows.index, "label"].astype(bool).to_numpy() == expect).all()
    assert lab.loc[rows.index, "label"].sum() > 0
    # drop the next-year record of one positive: its label becomes missing, not 0
    i = lab.index[lab["label"].fillna(False).astype(bool)][0]
    h, y = sim.loc[i, "household_id"], int(sim.loc[i, "year"])
    cut = sim[~((sim["household_id"] == h) & (sim["year"] == y + 1))]
    lab2 = make_labels(cut, "reentry")
    assert pd.isna(lab2.loc[i, "label"]) and bool(lab2.loc[i, "censored"])


def test_reentry_by_category_after_elimination(sim):
    coh = eliminated_cohort(sim)
    lab = make_labels(sim, "reentry")
    i = lab.index[coh & (lab["label"] == False)][0]  # noqa: E712 - nullable boolean
    h, y = sim.loc[i, "household_id"], int(sim.loc[i, "year"])
    p = sim.copy()
    j = p.index[(p["household_id"] == h) & (p["year"] == y + 1)][0]
    p.loc[j, "risk_eliminated"] = False
    p.loc[j, "monitoring_category"] = "脱贫不稳定户"
    assert bool(make_labels(p, "reentry").loc[i, "label"])


def test_cohort_backtest_per_year(sim):
    res = cohort_backtest(sim, models=("rule",), n_boot=0, log_to_mlflow=False, progress=False, figures=False)
    py = res.per_year
    assert len(py) >= 2 and set(py["model"]) == {"rule", "persistence", "lightgbm_raw"}  # with the baselines
    assert res.settings["cohort"] == "eliminated" and res.settings["label"] == "reentry"
    n_cohort = make_labels(sim, "reentry").assign(year=sim["year"]).query("label.notna()", engine="python").groupby("year").size()
    for r in py.itertuples():
        assert r.n == n_cohort.loc[r.year]  # only the cohort is tested


def test_followup_list_and_cli(tmp_path, sim):
    rm = train(sim, model="rule", label="reentry", log_to_mlflow=False)
    lst = score_followup(sim, rm, budget=0.2)
    y = int(sim["year"].max())
    cur = sim[sim["year"] == y]
    assert set(lst["household_id"]) == set(cur.loc[eliminated_cohort(cur), "household_id"])
    assert lst["priority_rank"].dropna().tolist() == list(range(1, int(lst["priority_rank"].max()) + 1))
    assert (lst["years_since_elimination"].dropna() >= 0).all()

    from fanpin_risk.cli import app

    out = tmp_path / "fu.csv"
    r = CliRunner().invoke(app, ["cohort", "--simulate", "800", "--models", "rule", "--model", "rule", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "pooled" in r.output and out.exists()
    fu = pd.read_csv(out, encoding="utf-8-sig")
    assert {"户编号", "优先排序", "消除监测时间", "风险消除年数", "评分状态"} <= set(fu.columns)
    xl = tmp_path / "fu.xlsx"
    r = CliRunner().invoke(app, ["cohort", "--simulate", "800", "--models", "rule", "--model", "rule", "-o", str(xl)])
    assert r.exit_code == 0 and list(pd.read_excel(xl, sheet_name=None)) == ["跟踪回访名单"]
    r2 = CliRunner().invoke(app, ["cohort"])
    assert r2.exit_code != 0


def test_followup_risk_is_the_whole_panels_risk(sim):
    """A model with the context block scores the cohort as score() scores it within the whole panel."""
    m = train(sim, model="lightgbm", params={"n_estimators": 30}, log_to_mlflow=False)
    assert m.features_.history_block
    lst = score_followup(sim, m, budget=0.2).set_index("household_id")
    whole = score(sim, m).set_index("household_id")["risk_score"].astype(float)
    assert len(lst) > 20
    got = lst["risk_score"].astype(float)
    pd.testing.assert_series_equal(got, whole.reindex(got.index), check_names=False, rtol=0, atol=1e-12)
