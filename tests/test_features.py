import time

import numpy as np
import pandas as pd
import pytest

from _panel_fixture import make_panel
from fanpin_risk.errors import ModelError
from fanpin_risk.features import PanelFeatures


@pytest.fixture(scope="module")
def panel():
    return make_panel(150, years=range(2020, 2025), seed=2)


def test_shape_names_and_pandas_output(panel):
    pf = PanelFeatures().fit(panel)
    X = pf.transform(panel)
    assert list(X.columns) == list(pf.get_feature_names_out())
    assert X.index.equals(panel.index) and (X.dtypes == "float64").all()
    assert np.isfinite(X["ratio_to_line"]).all()
    # shuffled input: same features row by row
    sh = panel.sample(frac=1, random_state=0)
    pd.testing.assert_frame_equal(pf.transform(sh).loc[panel.index], X)


@pytest.mark.parametrize("t", [2021, 2022, 2023])
def test_no_leakage(panel, t):
    pf = PanelFeatures().fit(panel)
    base = pf.transform(panel)[panel["year"] <= t]
    # change every record after t ...
    ch = panel.copy()
    later = ch["year"] > t
    ch.loc[later, "net_income_per_capita"] = 1.0
    ch.loc[later, "shock_illness"] = True
    ch.loc[later, "monitoring_category"] = "突发严重困难户"
    ch.loc[later, "household_size"] = 9
    pd.testing.assert_frame_equal(pf.transform(ch)[ch["year"] <= t], base)
    # ... or delete them
    pd.testing.assert_frame_equal(pf.transform(panel[panel["year"] <= t]), base)


def test_gap_in_history(panel):
    hid = panel["household_id"].iloc[0]
    p = panel[~((panel["household_id"] == hid) & (panel["year"] == 2022))]
    X = PanelFeatures(max_gap=1).fit(p).transform(p)
    row = p.index[(p["household_id"] == hid) & (p["year"] == 2023)][0]
    assert X.loc[row, "years_since_prev_record"] == 2
    assert np.isnan(X.loc[row, "dlog_income_pc"])


def test_missing_column_refused(panel):
    pf = PanelFeatures().fit(panel)
    with pytest.raises(ModelError, match="expense_medical"):
        pf.transform(panel.drop(columns="expense_medical"))


def test_json_round_trip(panel):
    pf = PanelFeatures().fit(panel)
    pf2 = PanelFeatures.from_json(pf.get_params_json())
    pd.testing.assert_frame_equal(pf.transform(panel), pf2.transform(panel))


def test_fast_enough():
    big = make_panel(20000, years=range(2023, 2025))
    pf = PanelFeatures().fit(big)
    t = time.perf_counter()
    pf.transform(big)
    assert time.perf_counter() - t < 5
