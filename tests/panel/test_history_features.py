"""The whole-history and village/county context block of PanelFeatures."""

import numpy as np
import pandas as pd
import pytest

from _panel_fixture import make_panel
from fanpin_risk.panel import PanelFeatures


def _tiny() -> pd.DataFrame:
    """Three households of one village over three years; household C is hit by a disaster in 2022."""
    p = make_panel(3, years=range(2020, 2023), seed=1).sort_values(["household_id", "year"]).reset_index(drop=True)
    ids = sorted(p["household_id"].unique())
    for c in ("county_code", "township_code", "village_code"):
        p[c] = p[c].iloc[0]
    p["monitoring_line"] = 6000.0
    p["household_size"] = 2
    p["net_income_per_capita"] = np.nan
    p["shock_disaster"] = False
    a = p["household_id"] == ids[0]
    p.loc[a, "net_income_per_capita"] = [4800.0, 7200.0, 12000.0]  # ratios 0.8, 1.2, 2.0
    p.loc[~a, "net_income_per_capita"] = 9000.0
    p.loc[(p["household_id"] == ids[2]) & (p["year"] == 2022), "shock_disaster"] = True
    return p


def test_running_statistics_over_the_whole_history():
    p = _tiny()
    X = PanelFeatures().fit(p).transform(p)
    a = (p["household_id"] == p["household_id"].min()).to_numpy()
    np.testing.assert_allclose(X.loc[a, "hist_mean_ratio"], [0.8, 1.0, 4.0 / 3.0])
    np.testing.assert_allclose(X.loc[a, "hist_min_ratio"], [0.8, 0.8, 0.8])
    np.testing.assert_allclose(X.loc[a, "hist_share_below_line"], [1.0, 0.5, 1.0 / 3.0])
    assert np.isnan(X.loc[a, "hist_trend_ratio"].iloc[0])
    np.testing.assert_allclose(X.loc[a, "hist_trend_ratio"].iloc[1:], [0.4, 0.6])  # least-squares slope per year


def test_context_leaves_the_household_out():
    p = _tiny()
    X = PanelFeatures().fit(p).transform(p)
    y22 = (p["year"] == 2022).to_numpy()
    hit = p["shock_disaster"].to_numpy().astype(bool)
    # the two others see one of their two neighbours hit; the hit household sees none
    np.testing.assert_allclose(X.loc[y22 & ~hit, "ctx_village_disaster"], [0.5, 0.5])
    np.testing.assert_allclose(X.loc[y22 & hit, "ctx_village_disaster"], [0.0])
    # last year's context is the household's own previous record's
    np.testing.assert_allclose(X.loc[y22, "ctx_village_disaster_prev"], [0.0, 0.0, 0.0])
    # changing a household's own record does not move its own context
    q = p.copy()
    q.loc[y22 & hit, "shock_disaster"] = False
    Xq = PanelFeatures().fit(q).transform(q)
    np.testing.assert_allclose(Xq.loc[y22 & hit, "ctx_village_disaster"], [0.0])
    np.testing.assert_allclose(Xq.loc[y22 & ~hit, "ctx_village_disaster"], [0.0, 0.0])


def test_context_totals_of_parts_add_up_to_the_panel():
    panel = make_panel(120, years=range(2020, 2024), seed=4)
    pf = PanelFeatures().fit(panel)
    ids = panel["household_id"].unique()
    parts = [panel[panel["household_id"].isin(ids[i::3])] for i in range(3)]
    totals = pd.concat([pf.context_totals(x) for x in parts]).groupby(["level", "code", "year"], as_index=False).sum()
    whole = pf.context(panel)
    for x in parts:
        pd.testing.assert_frame_equal(pf.context(x, totals), whole.loc[x.index])


def test_block_can_be_switched_off_and_old_models_load_without_it():
    panel = make_panel(40, years=range(2020, 2023), seed=3)
    on, off = PanelFeatures().fit(panel), PanelFeatures(history_block=False).fit(panel)
    names_on, names_off = list(on.get_feature_names_out()), list(off.get_feature_names_out())
    assert set(names_off) < set(names_on) and "hist_mean_ratio" not in names_off
    pd.testing.assert_frame_equal(on.transform(panel)[names_off], off.transform(panel))
    saved = off.get_params_json()
    del saved["params"]["history_block"]  # as written before the block existed
    assert PanelFeatures.from_json(saved).history_block is False
    with pytest.raises(ValueError, match="history_block"):
        PanelFeatures(history_block="yes").fit(panel)


def test_a_level_without_any_code_gives_no_context():
    """A panel with village codes but every county code missing: county context missing, no crash (found by hypothesis)."""
    p = make_panel(5, years=range(2020, 2022), seed=2)
    p["county_code"] = pd.Series(pd.NA, index=p.index, dtype="str")
    X = PanelFeatures().fit(p).transform(p)
    assert X["ctx_county_disaster"].isna().all() and X["ctx_village_disaster"].notna().any()
