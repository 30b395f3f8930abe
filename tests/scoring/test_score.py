"""Scoring: every household back with a status, ranks, budgets, quotas, headers, scenarios."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from fanpin_risk.scoring import SCORE_COLUMNS, SCORE_COLUMNS_ZH, score

from _scoring_fixture import YEARS, panel, sim_panel, trained


@pytest.fixture(scope="module")
def edge_case():
    """Panel with one household missing from the last year and one that cannot be scored."""
    p = panel()
    last = p["year"] == YEARS[-1]
    ids = p.loc[last, "household_id"].tolist()
    missing_id, bad_id = ids[0], ids[1]
    p = p[~(last & (p["household_id"] == missing_id))].copy()
    p.loc[(p["year"] == YEARS[-1]) & (p["household_id"] == bad_id), "household_size"] = pd.NA
    return p, missing_id, bad_id


def test_every_household_back_with_status(edge_case):
    p, missing_id, bad_id = edge_case
    s = score(p, trained())
    assert list(s.columns) == list(SCORE_COLUMNS)
    assert {c: str(t) for c, t in s.dtypes.items()} == SCORE_COLUMNS
    assert set(s["household_id"]) == set(p["household_id"].astype(str))
    assert s["household_id"].is_unique
    assert s["status"].notna().all()
    row = s.set_index("household_id")
    assert row.loc[missing_id, "status"] == "not_in_year"
    assert row.loc[bad_id, "status"] == "unscorable"
    assert "household_size" in row.loc[bad_id, "status_reason"]
    assert pd.isna(row.loc[bad_id, "risk_score"]) and pd.isna(row.loc[bad_id, "priority_rank"])
    ok = s[s["status"] == "scored"]
    assert ok["risk_score"].between(0, 1).all()
    assert sorted(ok["priority_rank"]) == list(range(1, len(ok) + 1))
    assert (s["priority_rank"].iloc[: len(ok)].to_numpy() == np.arange(1, len(ok) + 1)).all()  # ordered by rank
    assert ok["top_factors"].notna().mean() > 0.9 and ok["risk_tier"].isin(["高", "中", "低"]).all()
    assert s.attrs["year"] == YEARS[-1]
    # no other columns than the documented ones: nothing personal leaks
    assert not set(s.columns) - set(SCORE_COLUMNS)


def test_ties_broken_deterministically():
    p = panel()
    m = trained()
    last = p[p["year"] == YEARS[-1]]
    # two identical households (same history, other ids) must tie on score and be ordered by id
    src = last["household_id"].iloc[5]
    hist = p[p["household_id"] == src]
    twins = [hist.assign(household_id=h) for h in ("ZZ-TWIN-2", "ZZ-TWIN-1")]
    p2 = pd.concat([p, *twins], ignore_index=True)
    s1 = score(p2, m, reasons="none")
    s2 = score(p2.sample(frac=1, random_state=1), m, reasons="none")
    pd.testing.assert_frame_equal(s1.reset_index(drop=True), s2.reset_index(drop=True))
    r = s1.set_index("household_id")["priority_rank"]
    assert r["ZZ-TWIN-1"] + 1 == r["ZZ-TWIN-2"] or r["ZZ-TWIN-1"] < r["ZZ-TWIN-2"]
    assert r["ZZ-TWIN-1"] < r["ZZ-TWIN-2"]


def test_budget_count_share_and_quota():
    m = trained()
    p = panel()
    s = score(p, m, budget=25, reasons="budget")
    assert int(s["in_budget"].sum()) == 25
    assert s.loc[s["in_budget"], "priority_rank"].max() == 25
    assert (s.loc[s["in_budget"], "risk_tier"] == "高").all()
    assert s.loc[s["in_budget"], "top_factors"].notna().all()
    assert s.loc[~s["in_budget"], "top_factors"].isna().all()  # reasons only for the budget
    n = int((s["status"] == "scored").sum())
    s2 = score(p, m, budget=0.1, reasons="none")
    assert int(s2["in_budget"].sum()) == int(np.ceil(0.1 * n))
    assert s2["top_factors"].isna().all()
    q = score(p, m, budget=0.05, quota_by="township_code", reasons="none")
    ok = q[q["status"] == "scored"]
    for town, g in ok.groupby("township_code"):
        k = max(1, int(np.floor(0.05 * len(g) + 0.5)))
        assert int(g["in_budget"].sum()) == k, town
        top = g.sort_values("priority_rank").head(k)
        assert top["in_budget"].all()


def test_chinese_headers():
    s = score(panel(), trained(), headers="zh", budget=10, reasons="budget")
    assert list(s.columns) == [SCORE_COLUMNS_ZH[c] for c in SCORE_COLUMNS]
    assert set(s["评分状态"]) <= {"已评分", "评分年度无记录", "无法评分"}
    # Chinese input headers work too
    from fanpin_risk.contract import export_frame

    zh_in = export_frame(panel(), headers="zh")
    s2 = score(zh_in, trained(), budget=10, reasons="none")
    assert int(s2["in_budget"].sum()) == 10


def _scenario(p: pd.DataFrame, hid: str, **changes) -> pd.DataFrame:
    i = p.index[(p["household_id"] == hid) & (p["year"] == YEARS[-1])]
    for col, val in changes.items():
        p.loc[i, col] = val(p.loc[i, col]) if callable(val) else val
    return p


def test_scenarios_main_risk_type_and_measures():
    m = trained()
    p = panel()
    last = p[p["year"] == YEARS[-1]].copy()
    calm = last[(last["n_labor"] >= 2) & (last["n_disabled"].fillna(0) == 0) & (last["n_serious_ill"].fillna(0) == 0)
                & ~last["shock_illness"].fillna(False).astype(bool) & ~last["shock_disaster"].fillna(False).astype(bool)
                & ~last["shock_job_loss"].fillna(False).astype(bool)
                & last[["housing_safe", "drinking_water_safe", "compulsory_education_ok", "medical_insured"]]
                .fillna(True).astype(bool).all(axis=1)]
    # start from households whose specific risk types push little (a clean baseline)
    import importlib
    ex = importlib.import_module("fanpin_risk.explain")

    X = m.transform(p).loc[last.index]
    _, c = ex.contributions(m, None, X)
    g = ex.group_by_risk_type(c).set_axis(last["household_id"].to_numpy())
    quiet = g.drop(columns="其他").max(axis=1).sort_values()
    # no specific risk yet and a comfortable income last year: the shock below is what makes this year's fall
    cand = g[(g.drop(columns="其他").max(axis=1) < 0.2) & g.index.isin(calm["household_id"])
             & X["ratio_to_line"].between(1.0, 3.0).to_numpy() & (X["prev_ratio_to_line"] >= 1.5).to_numpy()]
    calm_ids = list(cand["其他"].sort_values(ascending=False, kind="mergesort").index)
    ill, job = calm_ids[0], calm_ids[1]
    # a household without labour and without illness or medical bills, so the disaster is its story
    nl = set(last.loc[(last["n_labor"] == 0) & ~last["shock_disaster"].fillna(False).astype(bool)
                      & (last["n_chronic_ill"].fillna(0) == 0) & (last["n_serious_ill"].fillna(0) == 0)
                      & (last["expense_medical"].fillna(0) < 500), "household_id"])
    nolab = next(h for h in quiet.index if h in nl)
    line_ill = float(p.loc[(p["household_id"] == ill) & (p["year"] == YEARS[-1]), "monitoring_line"].iloc[0])
    p = _scenario(p, ill, net_income_per_capita=0.8 * line_ill, shock_illness=True, n_serious_ill=lambda v: v.fillna(0) + 1,
                  n_chronic_ill=lambda v: v.fillna(0) + 1, expense_medical=60_000.0, risk_type_1="因病")
    line = float(p.loc[(p["household_id"] == nolab) & (p["year"] == YEARS[-1]), "monitoring_line"].iloc[0])
    p = _scenario(p, nolab, shock_disaster=True, risk_type_1="因自然灾害", housing_safe=False,
                  income_business=lambda v: v * 0.2, net_income_per_capita=0.7 * line)  # crops and house lost
    wage = p.loc[(p["household_id"] == job) & (p["year"] == YEARS[-1]), "income_wage"].iloc[0]
    p = _scenario(p, job, shock_job_loss=True, income_wage=wage * 0.2, migrant_work_months=1.0,
                  n_migrant_workers=0, risk_type_1="因务工就业不稳",
                  net_income_per_capita=0.5 * float(p.loc[(p["household_id"] == job) & (p["year"] == YEARS[-1]),
                                                           "monitoring_line"].iloc[0]))  # wages lost: income below the line
    s = score(p, m, reasons="all").set_index("household_id")
    assert s.loc[ill, "main_risk_type"] == "因病", s.loc[ill, "risk_type_contributions"]
    assert "健康帮扶" in s.loc[ill, "suggested_measures"]
    assert s.loc[nolab, "main_risk_type"] == "因自然灾害", s.loc[nolab, "risk_type_contributions"]
    assert not s.loc[nolab, "has_labor"]
    assert "一事一议" in s.loc[nolab, "suggested_measures"] and "综合保障" in s.loc[nolab, "suggested_measures"]
    assert "住房安全保障" in s.loc[nolab, "suggested_measures"]  # the house the disaster damaged
    assert "就业帮扶" not in s.loc[nolab, "suggested_measures"]
    assert s.loc[job, "main_risk_type"] == "因务工就业不稳", s.loc[job, "risk_type_contributions"]
    assert "就业帮扶" in s.loc[job, "suggested_measures"]
    # no household without labour is ever offered employment help
    nl = s[(s["has_labor"] == False) & s["suggested_measures"].notna()]  # noqa: E712
    assert not nl["suggested_measures"].str.contains("就业帮扶").any()


def test_score_leaves_the_callers_frame_unchanged():
    p = panel()
    before = p.copy(deep=True)
    score(p, trained(), reasons="none")
    pd.testing.assert_frame_equal(p, before)


def test_blocks_and_row_order_do_not_change_the_result(monkeypatch):
    """Scoring in small feature blocks, or from shuffled rows, gives the same table."""
    df = sim_panel()
    model = trained()
    ref = score(df, model, budget=0.1, reasons="all", quota_by="township_code")
    small = score(df, model, budget=0.1, reasons="all", quota_by="township_code", block_rows=97)
    pd.testing.assert_frame_equal(small, ref)
    shuffled = score(df.sample(frac=1, random_state=4), model, budget=0.1, reasons="all", quota_by="township_code")
    pd.testing.assert_frame_equal(shuffled, ref)
    assert ref["top_factors"].notna().sum() == ref["status"].eq("scored").sum() > 97


def test_without_top_factors_the_same_reasons_and_no_factor_words():
    p = panel()
    full = score(p, trained(), reasons="all")
    lean = score(p, trained(), reasons="all", top_factors=False)
    scored = full["status"] == "scored"
    assert full.loc[scored, "top_factors"].notna().any() and lean["top_factors"].isna().all()
    cols = ["household_id", "risk_score", "main_risk_type", "risk_type_contributions", "suggested_measures",
            "reason_note"]
    pd.testing.assert_frame_equal(full[cols], lean[cols])
    assert list(lean.columns) == list(full.columns)


def test_factor_words_name_the_line_the_features_read():
    """A model judging records against next year's line says so in its words; an older one keeps this year's."""
    import copy

    from fanpin_risk.explain import top_factor_words
    from fanpin_risk.explain._explain import contributions

    m = trained()
    assert m.features_.line_ahead
    s = score(panel(), m, reasons="all")
    words = " ".join(s["top_factors"].dropna())
    assert "下年监测标准的" in words and "人均纯收入与下年监测标准之差" in words
    assert "；监测标准的" not in words and " 监测标准的" not in words
    old = copy.copy(m)
    old.features_ = copy.copy(m.features_)
    old.features_.line_ahead = False
    p = panel()
    X = m.transform(p).loc[p.index[p["year"] == YEARS[-1]][:200]]
    _, c = contributions(m, None, X)
    w_new = " ".join(top_factor_words(c, X, model=m))
    w_old = " ".join(top_factor_words(c, X, model=old))
    assert "下年监测标准" in w_new and "下年监测标准" not in w_old and "监测标准的" in w_old


def test_an_announced_next_year_line_is_what_the_scored_year_is_judged_against():
    """score(lines=) reads the province's line of the year after the scored one; without it the line is projected."""
    from fanpin_risk.reporting import summary_tables

    m, p = trained(), panel()
    line = float(p.loc[p["year"] == YEARS[-1], "monitoring_line"].median())
    base = score(p, m, reasons="none")
    (r,) = base.attrs["next_lines"]
    assert (r["province"], r["year"], r["next_year"], r["source"]) == ("全国", YEARS[-1], YEARS[-1] + 1, "projected")
    assert r["next_line"] == pytest.approx(line * m.features_.line_growth_)
    # the packaged table's national series is a reference, not an announcement: without lines= it is projected
    early = score(p[p["year"] <= YEARS[-2]], m, reasons="none").attrs["next_lines"]
    assert [e["source"] for e in early] == ["projected"]
    # a province's announced line, well above the projection: every record is further below it, so more risk
    table = pd.DataFrame({"province": ["全国"], "year": [YEARS[-1] + 1], "line": [round(line * 1.4)]})
    high = score(p, m, reasons="none", lines=table)
    (h,) = high.attrs["next_lines"]
    assert (h["source"], h["next_line"]) == ("published", round(line * 1.4))
    a = base.set_index("household_id")["risk_score"].dropna()
    b = high.set_index("household_id")["risk_score"].reindex(a.index)
    assert b.mean() > a.mean() + 0.01 and (b >= a - 1e-9).mean() > 0.75  # trees need not be monotone row by row
    # the same table changes nothing for a model that judges against this year's line
    import copy

    old = copy.copy(m)
    old.features_ = copy.copy(m.features_)
    old.features_.line_ahead = False
    pd.testing.assert_series_equal(score(p, old, reasons="none", lines=table)["risk_score"],
                                   score(p, old, reasons="none")["risk_score"])
    assert score(p, old, reasons="none").attrs["next_lines"] == []
    # the reader sees which line the list was judged against
    info = summary_tables(high)["概况"].set_index("项目")["值"]
    assert info["判断所用监测标准"] == f"全国 {YEARS[-1] + 1} 年 {round(line * 1.4):,.0f} 元（已公布的标准）"
    assert "约" in summary_tables(base)["概况"].set_index("项目")["值"]["判断所用监测标准"]
    # the explanation reads the same line as the list it explains
    from fanpin_risk.explain import explain

    exp = explain(p, m, lines=table, language="en")
    j = list(m.feature_names_).index("ratio_to_line")
    last = p[p["year"] == YEARS[-1]]
    inc = last["net_income_per_capita"].to_numpy(dtype=float)
    ok = np.abs(inc) < 20 * line
    np.testing.assert_allclose(np.asarray(exp.data)[ok, j], inc[ok] / round(line * 1.4), rtol=1e-9)
