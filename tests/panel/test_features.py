import numpy as np
import pandas as pd
import pytest

from _panel_fixture import make_panel
from fanpin_risk.errors import ModelError
from fanpin_risk.panel import PanelFeatures


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


def test_rows_blocks_and_row_order_agree(panel):
    """Features do not depend on row order, on rows= or on computing them block by block."""
    rng = np.random.default_rng(0)
    gappy = panel[~((panel["year"] == 2022) & (rng.random(len(panel)) < 0.3))]
    pf = PanelFeatures().fit(gappy)
    full = pf.transform(gappy)
    shuffled = gappy.sample(frac=1, random_state=1)
    pd.testing.assert_frame_equal(pf.transform(shuffled).loc[full.index], full)
    rows = shuffled.index[shuffled["year"].isin([2021, 2024])]
    pd.testing.assert_frame_equal(pf.transform(shuffled, rows=rows), full.loc[rows])
    plan = pf.plan(shuffled)
    pos = shuffled.index.get_indexer(rows)
    blocks = [pf.matrix(shuffled, pos[i:i + 7], plan, order="C") for i in range(0, len(pos), 7)]
    assert all(b.flags.c_contiguous for b in blocks)
    np.testing.assert_array_equal(np.vstack(blocks), full.loc[rows].to_numpy())
    # the lags really look back: a household's second record sees its first
    assert full.loc[rows, "n_prior_records"].max() >= 1 and full.loc[rows, "prev_ratio_to_line"].notna().any()


def test_text_columns_as_text(panel):
    """Category levels compare as text whatever the column's dtype; missing counts as empty."""
    df = panel.copy()
    df["monitoring_category"] = df["monitoring_category"].astype(object)
    df.loc[df.index[:5], "risk_type_1"] = ""
    pf = PanelFeatures().fit(panel)
    a, b = pf.transform(panel), pf.transform(df)
    pd.testing.assert_frame_equal(a.drop(columns=["n_risk_types", "risk_illness", "risk_disability", "risk_disaster",
                                                  "risk_job", "risk_labor"]),
                                  b.drop(columns=["n_risk_types", "risk_illness", "risk_disability", "risk_disaster",
                                                  "risk_job", "risk_labor"]))
    had = panel.loc[panel.index[:5], "risk_type_1"].notna().to_numpy()
    assert (b["n_risk_types"].iloc[:5].to_numpy() == a["n_risk_types"].iloc[:5].to_numpy() - had).all()
