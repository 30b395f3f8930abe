import numpy as np
import pandas as pd
import pytest

from _panel_fixture import make_panel
from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.panel import as_panel, make_labels


@pytest.fixture(scope="module")
def panel():
    return make_panel(120, years=range(2020, 2024), seed=1)


def test_censoring_last_year_and_gaps(panel):
    # drop one household's 2022 record: its 2021 row is censored (NA, never 0)
    hid = panel["household_id"].iloc[0]
    p = panel[~((panel["household_id"] == hid) & (panel["year"] == 2022))]
    L = make_labels(p)
    assert L.loc[p["year"] == 2023, "label"].isna().all()
    row = p.index[(p["household_id"] == hid) & (p["year"] == 2021)][0]
    assert pd.isna(L.loc[row, "label"]) and bool(L.loc[row, "censored"])
    assert L.loc[p["year"] < 2023, "label"].notna().sum() == len(p[p["year"] < 2023]) - 1


def _one_household(**next_year):
    p = make_panel(1, years=range(2020, 2022), seed=3)
    base = {"newly_identified": False, "identification_month": pd.NA, "net_income_per_capita": 50000.0,
            "housing_safe": True, "drinking_water_safe": True, "compulsory_education_ok": True, "medical_insured": True}
    for k, v in {**base, **next_year}.items():
        p.loc[p["year"] == 2021, k] = v
    return contract.to_canonical_dtypes(p)


def test_each_part_and_switch():
    assert not make_labels(_one_household())["label"].iloc[0]
    cases = {"new_identification": {"newly_identified": True},
             "income_below_line": {"net_income_per_capita": 100.0},
             "guarantee_failed": {"housing_safe": False}}
    for part, change in cases.items():
        p = _one_household(**change)
        assert make_labels(p)["label"].iloc[0], part
        assert not make_labels(p, parts={part: False})["label"].iloc[0], part
    # identification month in t+1 counts even when the flag is missing
    p = _one_household(newly_identified=pd.NA, identification_month=202105)
    assert make_labels(p)["label"].iloc[0]
    assert make_labels(p, definition="income")["label"].iloc[0] is np.False_ or not make_labels(p, definition="income")["label"].iloc[0]


def test_user_rule_and_errors(panel):
    L = make_labels(panel, rule=lambda rows: rows["shock_illness"])
    nxt = panel.set_index(["household_id", "year"])["shock_illness"]
    r = panel[panel["year"] == 2020].iloc[0]
    assert L.loc[r.name, "label"] == nxt[(r["household_id"], 2021)]
    with pytest.raises(ContractError):
        make_labels(panel, parts={"nope": False})
    with pytest.raises(ContractError):
        make_labels(panel, parts={p: False for p in ("new_identification", "income_below_line", "guarantee_failed")})


def test_chinese_headers_accepted(panel):
    zh = contract.export_frame(panel, headers="zh")
    a = make_labels(panel)["label"]
    b = make_labels(zh)["label"]
    assert a.fillna(False).equals(b.fillna(False)) and a.isna().equals(b.isna())
    assert as_panel(zh)["housing_safe"].dtype == "boolean"
