"""The assistance-aware label: make_labels(definition="pre_transfer") and the amounts of data_schema/pre_transfer.csv."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.panel import (ALL_PARTS, DEFINITIONS, PRE_TRANSFER_PART, assistance_income, make_labels,
                               net_income_per_capita, pre_transfer_income_per_capita)

LINE = 6000.0


def _rec(hid, year, **kw):
    base = dict(household_id=hid, year=year, province="全国", county_code="520101", household_type="脱贫户",
                household_size=2, income_wage=8000.0, income_business=0.0, expense_business=0.0,
                income_property=0.0, income_transfer=6000.0, monitoring_line=LINE, newly_identified=False,
                identification_month=pd.NA, housing_safe=True, drinking_water_safe=True,
                compulsory_education_ok=True, medical_insured=True, receives_dibao=False, receives_tekun=False,
                public_welfare_job=False)
    return {**base, **kw}


def _panel(rows, extra=()):
    df = pd.DataFrame(rows)
    out = contract.to_canonical_dtypes(df)
    for c in extra:  # optional amount columns, not in the contract
        out[c] = pd.to_numeric(df[c]).astype("float64")
    return out


@pytest.fixture
def two_households():
    # h_dibao: 7000 a head after transfers (above the 6000 line); without the assumed
    # 3000 × 2 of dibao, 8000 / 2 = 4000 (below). h_ordinary: 7000 a head, no help.
    return _panel([_rec("h_dibao", 2020, receives_dibao=True), _rec("h_dibao", 2021, receives_dibao=True),
                   _rec("h_ordinary", 2020), _rec("h_ordinary", 2021)])


def _lab(panel, hid, year, definition="pre_transfer", **kw):
    L = make_labels(panel, definition, **kw)
    i = panel.index[(panel["household_id"] == hid) & (panel["year"] == year)][0]
    return L.loc[i]


def test_dibao_household_above_line_is_positive_only_without_the_transfer(two_households):
    p = two_households
    assert float(net_income_per_capita(p).iloc[1]) == 7000.0
    assert float(pre_transfer_income_per_capita(p).iloc[1]) == 4000.0
    rel, pre = _lab(p, "h_dibao", 2020, "relapse"), _lab(p, "h_dibao", 2020)
    assert not bool(rel["label"]) and not bool(rel["income_below_line"])  # known and False
    assert bool(pre["label"]) and bool(pre[PRE_TRANSFER_PART])
    assert pd.isna(pre["income_below_line"]) and pd.isna(rel[PRE_TRANSFER_PART])  # switched off: missing
    # the household without help is negative under both
    assert not bool(_lab(p, "h_ordinary", 2020, "relapse")["label"])
    assert not bool(_lab(p, "h_ordinary", 2020)["label"])


def test_censoring_is_unchanged(two_households):
    p = two_households
    for definition in ("relapse", "pre_transfer"):
        L = make_labels(p, definition)
        last = p["year"] == 2021
        assert L.loc[last, "label"].isna().all() and L.loc[last, "censored"].all()
        assert L.loc[last, list(ALL_PARTS)].isna().all().all()
        assert L.loc[~last, "label"].notna().all()
    # a gap: drop h_dibao's 2021 record, its 2020 row becomes missing, never 0
    cut = p[~((p["household_id"] == "h_dibao") & (p["year"] == 2021))]
    L = make_labels(cut, "pre_transfer")
    i = cut.index[(cut["household_id"] == "h_dibao") & (cut["year"] == 2020)][0]
    assert pd.isna(L.loc[i, "label"]) and bool(L.loc[i, "censored"])


def test_assistance_is_capped_at_the_income_component_that_holds_it():
    rows = _panel([
        # dibao assumed 6000 but only 1000 of transfers: 1000 taken out
        _rec("a", 2021, receives_dibao=True, income_transfer=1000.0),
        # public-welfare job assumed 6000 but wages of 2000: 2000 taken out
        _rec("b", 2021, public_welfare_job=True, income_wage=2000.0, income_transfer=0.0),
        # dibao 6000 + tekun 18000 assumed, 12000 of transfers: scaled down together to 12000
        _rec("c", 2021, receives_dibao=True, receives_tekun=True, income_transfer=12000.0),
        # every flag, every component zero: nothing taken out, income stays 0 (not negative)
        _rec("d", 2021, receives_dibao=True, receives_tekun=True, public_welfare_job=True,
             income_wage=0.0, income_transfer=0.0),
    ])
    a = assistance_income(rows)
    assert list(a.columns) == ["dibao", "tekun", "public_welfare_job"]
    np.testing.assert_allclose(a.loc[0].to_numpy(), [1000.0, 0.0, 0.0])
    np.testing.assert_allclose(a.loc[1].to_numpy(), [0.0, 0.0, 2000.0])
    np.testing.assert_allclose(a.loc[2].to_numpy(), [12000.0 * 6 / 24, 12000.0 * 18 / 24, 0.0])
    np.testing.assert_allclose(a.loc[3].to_numpy(), [0.0, 0.0, 0.0])
    pre = pre_transfer_income_per_capita(rows)
    np.testing.assert_allclose(pre.to_numpy(), [8000 / 2, 0.0, 8000 / 2, 0.0])
    assert (pre >= 0).all()
    # the cap never lets the subtraction go below the income without that component
    non_assist = (rows["income_wage"] + rows["income_business"] + rows["income_transfer"]) / 2 - pre
    assert (non_assist <= (rows["income_wage"] + rows["income_transfer"]) / 2 + 1e-9).all()


def test_own_amount_columns_override_the_assumed_amounts():
    rows = [_rec("h", 2020, receives_dibao=True, income_dibao=1000.0),
            _rec("h", 2021, receives_dibao=True, income_dibao=1000.0),  # 1000 of dibao: 6500 a head without it
            _rec("k", 2020, receives_dibao=True, income_dibao=np.nan),
            _rec("k", 2021, receives_dibao=True, income_dibao=np.nan),  # unknown: the assumed 3000 × 2
            _rec("m", 2020, income_dibao=5000.0, income_public_welfare_job=0.0),
            _rec("m", 2021, income_dibao=5000.0, income_public_welfare_job=0.0)]  # an amount counts without the flag
    p = _panel(rows, extra=("income_dibao", "income_public_welfare_job"))
    a = assistance_income(p)
    assert a["dibao"].tolist() == [1000.0, 1000.0, 6000.0, 6000.0, 5000.0, 5000.0]
    np.testing.assert_allclose(pre_transfer_income_per_capita(p).to_numpy(), [6500, 6500, 4000, 4000, 4500, 4500])
    L = make_labels(p, "pre_transfer")
    assert L.loc[p["year"] == 2020, "label"].tolist() == [False, True, True]
    d = L.attrs["definition"]["pre_transfer"]
    assert d["dibao"]["amount_field_in_panel"] and not d["tekun"]["amount_field_in_panel"]
    # an amount above the component is capped too
    q = _panel([_rec("x", 2021, income_dibao=9000.0, income_transfer=4000.0)], extra=("income_dibao",))
    assert assistance_income(q)["dibao"].tolist() == [4000.0]


def test_definition_recorded_and_parts_switch():
    p = _panel([_rec("h_dibao", y, receives_dibao=True) for y in (2020, 2021)]
               + [_rec("h_new", 2020), _rec("h_new", 2021, newly_identified=True)]
               + [_rec("h_house", 2020), _rec("h_house", 2021, housing_safe=False)])
    L = make_labels(p, "pre_transfer")
    d = L.attrs["definition"]
    assert d["definition"] == "pre_transfer" and d["horizon"] == 1 and d["rule"] is None
    assert d["parts"] == {"new_identification": True, "income_below_line": False, "guarantee_failed": True,
                          PRE_TRANSFER_PART: True}
    assert d["pre_transfer"]["dibao"]["amount"] == 3000.0 and d["pre_transfer"]["public_welfare_job"]["per"] == "household"
    json.dumps(d)  # goes into metadata.json and MLflow
    assert list(L.columns) == ["label", "target_year", "censored", *ALL_PARTS]
    first = p["year"] == 2020
    assert L.loc[first, "label"].tolist() == [True, True, True]  # each of the three parts alone makes a positive
    # "relapse" records the new part as off and keeps no amounts
    R = make_labels(p)
    assert R.attrs["definition"]["parts"][PRE_TRANSFER_PART] is False and "pre_transfer" not in R.attrs["definition"]
    assert R.loc[first, "label"].tolist() == [False, True, True]
    # parts= works with it: relapse with the income part swapped is pre_transfer
    S = make_labels(p, parts={"income_below_line": False, PRE_TRANSFER_PART: True})
    pd.testing.assert_series_equal(S["label"], L["label"])
    off = make_labels(p, "pre_transfer", parts={PRE_TRANSFER_PART: False})
    assert off.loc[first, "label"].tolist() == [False, True, True] and off[PRE_TRANSFER_PART].isna().all()
    assert not off.attrs["definition"]["parts"][PRE_TRANSFER_PART]
    only = make_labels(p, "pre_transfer", parts={"new_identification": False, "guarantee_failed": False})
    assert only.loc[first, "label"].tolist() == [True, False, False]
    with pytest.raises(ContractError, match="every label part is switched off"):
        make_labels(p, "pre_transfer", parts=dict.fromkeys(ALL_PARTS, False))
    with pytest.raises(ContractError, match="pre_transfer_below_line"):
        make_labels(p, parts={"nope": True})
    assert "pre_transfer" in DEFINITIONS


def test_own_amounts_table_and_its_checks(two_households):
    t = contract.pre_transfer_amounts()
    t.loc[t["item"] == "dibao", "amount"] = 400.0  # 800 a year for two: 6600 a head, above the line
    L = make_labels(two_households, "pre_transfer", pre_transfer_amounts=t)
    assert not bool(L["label"].iloc[0]) and L.attrs["definition"]["pre_transfer"]["dibao"]["amount"] == 400.0
    bad = contract.pre_transfer_amounts()
    bad.loc[0, "per"] = "village"
    with pytest.raises(ContractError, match="per must be"):
        make_labels(two_households, "pre_transfer", pre_transfer_amounts=bad)
    for col, value, msg in (("amount", -1.0, "amount"), ("flag_field", "income_wage", "flag_field"),
                            ("cap_field", "receives_dibao", "cap_field")):
        b = contract.pre_transfer_amounts()
        b[col] = b[col].astype(object)
        b.loc[0, col] = value
        with pytest.raises(ContractError, match=msg):
            contract.pre_transfer_amounts(b)
    with pytest.raises(ContractError, match="missing column"):
        contract.pre_transfer_amounts(t.drop(columns="cap_field"))


def test_packaged_amounts_match_help_measures():
    t = contract.pre_transfer_amounts().set_index("item")
    assert t.loc["dibao", "flag_field"] == "receives_dibao" and t.loc["dibao", "per"] == "person"
    assert t.loc["tekun", "cap_field"] == "income_transfer"
    assert t.loc["public_welfare_job", "cap_field"] == "income_wage"
    help_ = pd.read_csv(contract.schema_dir() / "help_measures.csv").set_index("measure")["effects"]
    assert f"income_transfer += {t.loc['dibao', 'amount']:g} * household_size" in help_["dibao"]
    assert f"income_wage += {t.loc['public_welfare_job', 'amount']:g}" in help_["public_welfare_job"]
    # a fresh copy each call: editing it does not change the packaged table
    t2 = contract.pre_transfer_amounts()
    t2["amount"] = 0.0
    assert contract.pre_transfer_amounts()["amount"].gt(0).all()


def test_chinese_headers_accepted(two_households):
    zh = contract.export_frame(two_households, headers="zh")  # 户编号, 享受低保 是/否, ...
    a, b = make_labels(two_households, "pre_transfer")["label"], make_labels(zh, "pre_transfer")["label"]
    assert a.tolist() == b.tolist() == [True, pd.NA, False, pd.NA]


@pytest.fixture(scope="module")
def sim():
    from fanpin_risk.simulate import simulate
    return simulate(600, seed=2)


def test_on_simulated_panel_pre_transfer_contains_relapse(sim):
    rel, pre = make_labels(sim), make_labels(sim, "pre_transfer")
    assert rel["label"].isna().equals(pre["label"].isna())  # the same censoring
    r, q = rel["label"].fillna(False).astype(bool), pre["label"].fillna(False).astype(bool)
    assert not (r & ~q).any()  # income without help is never above income with it
    helped = sim["receives_dibao"].astype("boolean").fillna(False).astype(bool)
    ok = rel["label"].notna()
    assert q[ok & helped].mean() > r[ok & helped].mean()
    reentry = make_labels(sim, "reentry")
    assert list(reentry.columns[: 3 + len(ALL_PARTS)]) == ["label", "target_year", "censored", *ALL_PARTS]
    assert reentry[PRE_TRANSFER_PART].isna().all()


def test_train_with_pre_transfer_label(sim):
    from fanpin_risk.models import train
    m = train(sim, model="scorecard", label="pre_transfer")
    assert m.metadata["label"]["definition"] == "pre_transfer"
    assert m.metadata["label"]["parts"][PRE_TRANSFER_PART] is True
    rel = train(sim, model="scorecard")
    assert m.metadata["positive_rate"] > rel.metadata["positive_rate"]
    assert m.metadata["n_train_rows"] == rel.metadata["n_train_rows"]
