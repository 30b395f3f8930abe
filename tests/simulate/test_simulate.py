"""The embedded panel simulator: determinism, contract shape, consistency, plausibility, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.simulate import simulate, write_sample

GUARANTEES = ["housing_safe", "drinking_water_safe", "compulsory_education_ok", "medical_insured"]


@pytest.fixture(scope="module")
def small():
    return simulate(600, seed=3, return_members=True)


@pytest.fixture(scope="module")
def big():
    # The calibration panel: 20,000 households, 2020–2025, seed 0 (as in docs/calibration.md).
    return simulate(20_000, seed=0)


def test_same_seed_identical_different_seed_differs():
    a1, m1 = simulate(150, seed=11, return_members=True)
    a2, m2 = simulate(150, seed=11, return_members=True)
    pd.testing.assert_frame_equal(a1, a2)
    pd.testing.assert_frame_equal(m1, m2)
    b = simulate(150, seed=12)
    assert not a1["net_income_per_capita"].equals(b["net_income_per_capita"])


def test_contract_columns_and_dtypes(small):
    hh, mem = small
    for df, table in ((hh, "household_year"), (mem, "member")):
        assert list(df.columns) == contract.field_names(table)
        for col, dt in contract.canonical_dtypes(table).items():
            assert str(df[col].dtype) == dt, (table, col, df[col].dtype)
    # A round trip through the canonical caster changes nothing.
    pd.testing.assert_frame_equal(contract.to_canonical_dtypes(hh), hh)
    assert not hh.duplicated(["household_id", "year"]).any()
    assert not mem.duplicated(["household_id", "year", "member_no"]).any()
    key = list(zip(hh["household_id"], hh["year"]))
    assert key == sorted(key)
    assert hh.index.equals(pd.RangeIndex(len(hh)))


def test_code_values_are_canonical(small):
    hh, mem = small
    for col, lst in [("household_type", "household_type"), ("monitoring_category", "monitoring_category"),
                     *[(f"risk_type_{i}", "risk_type") for i in range(1, 6)]]:
        assert set(hh[col].dropna()) <= set(contract.code_list(lst)), col
    for col in ["relation", "sex", "education", "school_status", "labor_skill", "work_place"]:
        assert set(mem[col].dropna()) <= set(contract.code_list(col)), col
    parts = {p for s in mem["health_status"] for p in s.split(",")}
    assert parts <= set(contract.code_list("health_status"))
    assert not (mem["education"].notna() & mem["school_status"].notna() & mem["school_status"].ne("学龄前儿童")).any()
    # Ids are synthetic, never shaped like an 18-digit ID card.
    assert hh["household_id"].str.fullmatch(r"H\d{7}").all()
    assert hh["county_code"].str.fullmatch(r"99\d{4}").all()
    assert (hh["village_code"].str.len() == 12).all()


def test_value_ranges(small):
    hh, mem = small
    size = hh["household_size"]
    assert (size >= 1).all()
    for col in ["n_labor", "n_migrant_workers", "n_elderly", "n_children", "n_students", "n_disabled",
                "n_chronic_ill", "n_serious_ill"]:
        assert ((hh[col] >= 0) & (hh[col] <= size)).all(), col
    assert mem["work_months"].between(0, 12).all()
    assert mem["public_welfare_job_months"].between(0, 12).all()
    # All money fields are >= 0; only net business income (income - expense) may be negative.
    for col in ["income_wage", "income_business", "expense_business", "income_property", "income_transfer",
                "income_insurance_claims", "expense_medical", "expense_education", "microcredit"]:
        assert (hh[col] >= 0).all(), col
    derived = (hh.income_wage + hh.income_business - hh.expense_business + hh.income_property
               + hh.income_transfer) / hh.household_size.astype(float)
    assert np.allclose(derived, hh.net_income_per_capita, atol=0.01)
    assert (hh["monitoring_line"] > 0).all()


def test_household_counts_equal_member_aggregation(small):
    hh, mem = small
    m = mem.copy()
    hs = m["health_status"]
    m["lab"] = m["labor_skill"].isin(["技能劳动力", "普通劳动力"])
    m["mig"] = m["work_months"] > 0
    m["eld"] = m["age"] >= 65
    m["chi"] = m["age"] < 16
    m["stu"] = m["school_status"].notna() & m["school_status"].ne("学龄前儿童")
    m["dis"] = hs.str.contains("残疾")
    m["chr"] = hs.str.contains("长期慢性病")
    m["ser"] = hs.str.contains("患有大病")
    m["pwj"] = m["public_welfare_job_months"] > 0
    g = m.groupby(["household_id", "year"])
    agg = pd.DataFrame({
        "household_size": g.size(), "n_labor": g["lab"].sum(), "n_migrant_workers": g["mig"].sum(),
        "migrant_work_months": g["work_months"].sum(), "n_elderly": g["eld"].sum(), "n_children": g["chi"].sum(),
        "n_students": g["stu"].sum(), "n_disabled": g["dis"].sum(), "n_chronic_ill": g["chr"].sum(),
        "n_serious_ill": g["ser"].sum(), "medical_insured": g["medical_insured"].all(),
        "public_welfare_job": g["pwj"].any(),
    })
    h = hh.set_index(["household_id", "year"]).loc[agg.index]
    assert len(agg) == len(hh)
    for col in agg.columns:
        assert (h[col].astype(float).to_numpy() == agg[col].astype(float).to_numpy()).all(), col


def test_plausibility_rules(small):
    hh, mem = small
    age, lab, hs = mem["age"], mem["labor_skill"], mem["health_status"]
    assert lab[age < 16].eq("无劳动力").all()
    healthy_adult = (age >= 16) & (age <= 60) & hs.eq("健康") & mem["school_status"].isna()
    assert lab[healthy_adult].isin(["技能劳动力", "普通劳动力"]).all()
    assert (mem.loc[(age < 16) | (age >= 70), "public_welfare_job_months"] == 0).all()
    el = hh[hh["elimination_month"].notna()]
    gap = (el.elimination_month // 100 * 12 + el.elimination_month % 100) - (
        el.identification_month // 100 * 12 + el.identification_month % 100)
    assert (gap >= 6).all()
    done = hh[hh["elimination_month"].notna() & (hh["elimination_month"] // 100 == hh["year"])]
    assert len(done) > 0
    assert (done.net_income_per_capita >= done.monitoring_line).all()
    ill = hh["risk_type_1"].eq("因病") | hh[[f"risk_type_{i}" for i in range(2, 6)]].eq("因病").any(axis=1)
    assert ((hh.n_chronic_ill + hh.n_serious_ill)[ill] > 0).all() and (hh.expense_medical[ill] > 0).all()
    obj = hh["identification_month"].notna()
    assert hh.loc[obj, "monitoring_category"].notna().all() and hh.loc[~obj, "monitoring_category"].isna().all()
    assert hh.loc[obj, "risk_type_1"].notna().all()
    assert hh.loc[~obj, "risk_eliminated"].isna().all()
    assert (hh.loc[hh.newly_identified, "identification_month"] // 100 == hh.loc[hh.newly_identified, "year"]).all()
    # An ordinary household once identified is 监测户; exited households stay 脱贫户.
    assert hh.loc[hh.household_type.eq("一般农户"), "identification_month"].isna().all()


def _label(df: pd.DataFrame) -> pd.Series:
    fail = ~df[GUARANTEES].all(axis=1)
    part = (df["newly_identified"] | (df["net_income_per_capita"] < df["monitoring_line"]) | fail).astype(float)
    g = df.groupby("household_id")
    nxt, nyr = part.groupby(df["household_id"]).shift(-1), g["year"].shift(-1)
    return nxt[nyr == df["year"] + 1]


def test_label_rate_and_signal(big):
    lab = _label(big)
    assert 0.04 <= lab.mean() <= 0.12
    x = big.loc[lab.index]
    low = x.net_income_per_capita < 1.2 * x.monitoring_line
    # Year-t history carries signal (low income, serious illness without labour), and the label is
    # not just a restatement of low income at t.
    assert lab[low].mean() > lab[~low].mean()
    frail = (x.n_serious_ill > 0) & (x.n_labor == 0)
    assert lab[frail].mean() > lab[~frail].mean()
    assert lab[~low].sum() > 0.3 * lab.sum()


def _next_year(df: pd.DataFrame, values: pd.Series) -> pd.Series:
    # Value of the household's next-year row, aligned on year t (missing when no t + 1 row).
    nxt = values.groupby(df["household_id"]).shift(-1)
    nyr = df.groupby("household_id")["year"].shift(-1)
    return nxt[nyr == df["year"] + 1]


def test_income_poverty_is_persistent(big):
    # Poverty persists: a household below the line this year is often below it next year (dibao fills
    # only part of the gap, earnings have a persistent component), far more often than others.
    d = big[big.year >= 2021]
    ratio = d.net_income_per_capita / d.monitoring_line
    below = ratio < 1.0
    nxt = _next_year(d, below.astype(float))
    now = below.loc[nxt.index]
    p_stay = nxt[now].mean()
    assert 0.3 <= p_stay <= 0.6
    assert p_stay > 4 * nxt[~now].mean()
    # Log income relative to the line is strongly correlated year to year, but not frozen.
    lr = np.log(ratio.clip(lower=0.05))
    nlr = _next_year(d, lr)
    corr = np.corrcoef(lr.loc[nlr.index], nlr)[0, 1]
    assert 0.55 <= corr <= 0.85
    # Households on dibao stay close to the line: dibao does not lift them far above it.
    dib = d.receives_dibao.astype(bool)
    assert 0.8 <= ratio[dib].median() <= 1.6


def test_label_steeply_decreasing_in_income(big):
    lab = _label(big)
    x = big.loc[lab.index]
    ratio = x.net_income_per_capita / x.monitoring_line
    low, mid, high = lab[ratio < 0.8].mean(), lab[(ratio >= 1.2) & (ratio < 2.0)].mean(), lab[ratio > 3.0].mean()
    assert low >= 3 * high
    assert low > mid > high
    assert low >= 0.25


def test_tracked_households_not_newly_identified_again(big):
    # A household identified and not yet eliminated is never newly identified the next year.
    tracked = big.identification_month.notna() & ~big.risk_eliminated.astype("boolean").fillna(False).astype(bool)
    nxt = _next_year(big, big.newly_identified.astype(float))
    assert nxt[tracked.loc[nxt.index]].sum() == 0


def _share(df, year, col, value):
    d = df[df.year.eq(year)]
    return d[col].eq(value).mean()


def test_calibration(big):
    ex = big[big.household_type.eq("脱贫户")]
    for year, target in {2020: 10740, 2021: 12550, 2022: 14342}.items():
        assert ex.loc[ex.year.eq(year), "net_income_per_capita"].mean() == pytest.approx(target, rel=0.15)
    d = ex[ex.year.eq(2021)]
    total = d.income_wage.sum() + (d.income_business - d.expense_business).sum() + d.income_property.sum() + d.income_transfer.sum()
    assert d.income_wage.sum() / total == pytest.approx(0.679, rel=0.15)
    y21 = big[big.year.eq(2021)]
    obj21 = y21[y21.identification_month.notna()]
    assert len(obj21) / y21.household_type.eq("脱贫户").sum() == pytest.approx(0.14, rel=0.15)
    mix = obj21.monitoring_category.value_counts(normalize=True)
    for cat, target in {"脱贫不稳定户": 0.307, "边缘易致贫户": 0.298, "突发严重困难户": 0.396}.items():
        assert mix[cat] == pytest.approx(target, rel=0.15)
    y23 = big[big.year.eq(2023) & big.identification_month.notna()]
    assert y23.risk_eliminated.astype(bool).mean() == pytest.approx(0.635, rel=0.15)
    assert (ex.groupby("year").net_income_per_capita.mean().diff().dropna() > 0).all()


def test_province_line_and_members_flag():
    hh = simulate(50, years=range(2022, 2024), seed=1, province="云南")
    assert set(zip(hh.year, hh.monitoring_line)) == {(2022, 6500.0), (2023, 8050.0)}
    assert (hh.province == "云南").all()
    assert isinstance(hh, pd.DataFrame)


def test_write_sample(tmp_path):
    hp, mp = write_sample(tmp_path, n_households=30, seed=7)
    raw = hp.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    h = pd.read_csv(hp, encoding="utf-8-sig", dtype=str)
    assert list(h.columns) == list(contract.zh_headers("household_year").values())
    assert set(h["当年新识别"].dropna()) <= {"是", "否"}
    m = pd.read_csv(mp, encoding="utf-8-sig", dtype=str)
    assert list(m.columns) == list(contract.zh_headers("member").values())
