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


# ---------------------------------------------------------------- the line ahead
def _lines_panel():
    p = make_panel(60, years=range(2020, 2025), seed=5)
    return p.assign(monitoring_line=p["year"].map({2020: 4000.0, 2021: 6000.0, 2022: 6360.0, 2023: 6741.6, 2024: 7146.1}))


def test_line_ahead_judges_each_record_against_the_next_line():
    p = _lines_panel()
    pc = p["net_income_per_capita"]
    pf = PanelFeatures(line_ahead=True, history_block=False).fit(p[p["year"] <= 2023])
    assert pf.lines_[("全国", 2021)] == 6000.0 and ("全国", 2024) not in pf.lines_
    # growth of the schedule without the change of standard (4000 → 6000): 6 % a year
    assert pf.line_growth_ == pytest.approx(1.06)
    X = pf.transform(p)
    for y, nxt in ((2020, 6000.0), (2021, 6360.0), (2023, 7146.1)):  # the records' own next line
        m = (p["year"] == y) & (pc.abs() < 20 * nxt)
        np.testing.assert_allclose(X.loc[m, "ratio_to_line"], pc[m] / nxt)
        np.testing.assert_allclose(X.loc[m, "gap_to_line"], pc[m] - nxt)
    # the last year of the records: projected with the schedule's growth
    m = (p["year"] == 2024) & (pc.abs() < 20 * 7146.1)
    np.testing.assert_allclose(X.loc[m, "ratio_to_line"], pc[m] / (7146.1 * 1.06))
    # without it: this year's line
    X0 = PanelFeatures(line_ahead=False, history_block=False).fit(p).transform(p)
    m = (p["year"] == 2020) & (pc.abs() < 20 * 4000)
    np.testing.assert_allclose(X0.loc[m, "ratio_to_line"], pc[m] / 4000.0)


def test_line_ahead_keeps_a_record_s_own_line_and_the_province():
    p = _lines_panel()
    q = p[p["year"] <= 2022].copy()
    hh = q["household_id"].unique()[:20]
    gz = q["household_id"].isin(hh)
    q.loc[gz, "province"] = "贵州"
    q.loc[gz & (q["year"] == 2022), "monitoring_line"] = 7300.0
    row = q.index[~gz & (q["year"] == 2021)][0]
    q.loc[row, "monitoring_line"] = 5000.0  # a county's own line: its difference from the province carries over
    X = PanelFeatures(history_block=False).fit(q).transform(q)
    pc = q["net_income_per_capita"]
    m = gz & (q["year"] == 2021)
    np.testing.assert_allclose(X.loc[m, "ratio_to_line"], np.clip(pc[m] / 7300.0, -20, 20))
    m = ~gz & (q["year"] == 2021) & (q.index != row)
    np.testing.assert_allclose(X.loc[m, "ratio_to_line"], np.clip(pc[m] / 6360.0, -20, 20))
    assert X.loc[row, "ratio_to_line"] == pytest.approx(np.clip(pc[row] / (5000.0 * 6360.0 / 6000.0), -20, 20))


def test_line_ahead_does_not_depend_on_which_households_are_scored():
    """One household alone gets the features it gets in the whole panel (the schedule is fitted)."""
    p = _lines_panel()
    pf = PanelFeatures(history_block=False).fit(p[p["year"] <= 2023])
    ids = p["household_id"].unique()[:5]
    p = p[~(p["household_id"].isin(ids) & (p["year"] == 2022))]  # with a gap in their own records
    full = pf.transform(p)
    for hid in ids:
        own = p[p["household_id"] == hid]
        pd.testing.assert_frame_equal(pf.transform(own), full.loc[own.index])


def test_line_ahead_round_trip_and_older_models():
    p = _lines_panel()
    pf = PanelFeatures().fit(p[p["year"] <= 2023])
    d = pf.get_params_json()
    back = PanelFeatures.from_json(d)
    assert back.line_ahead and back.lines_ == pf.lines_ and back.line_growth_ == pf.line_growth_
    pd.testing.assert_frame_equal(back.transform(p), pf.transform(p))
    # a model saved before the line ahead existed: judged against its own year's line, as it was trained
    old = {**d, "params": {k: v for k, v in d["params"].items() if k != "line_ahead"}}
    old.pop("lines")
    legacy = PanelFeatures.from_json(old)
    assert not legacy.line_ahead
    pd.testing.assert_frame_equal(legacy.transform(p), PanelFeatures(line_ahead=False).fit(p[p["year"] <= 2023]).transform(p))


def test_published_next_line_is_read_where_the_records_lack_it():
    p = _lines_panel()
    pc = p["net_income_per_capita"]
    pf = PanelFeatures(history_block=False).fit(p[p["year"] <= 2023])
    last = (p["year"] == 2024) & (pc.abs() < 20 * 7146.1)
    # the province's announced line for 2025, in a county's own headers and spelling
    table = pd.DataFrame({"省份": ["全国", "贵州省"], "年度": [2025, 2025], "监测标准": [7800.0, 9999.0]})
    pub = pf.with_published_lines(table)
    assert pub is not pf and not hasattr(pf, "published_lines_")  # a copy: the fitted transformer is unchanged
    X, X0 = pub.transform(p), pf.transform(p)
    np.testing.assert_allclose(X.loc[last, "ratio_to_line"], pc[last] / 7800.0)
    np.testing.assert_allclose(X0.loc[last, "ratio_to_line"], pc[last] / (7146.1 * 1.06))  # projected without it
    # the earlier years hold their next year in the records: the table does not change them
    earlier = p["year"] < 2024
    pd.testing.assert_frame_equal(X.loc[earlier], X0.loc[earlier])
    # the records' own next-year line comes before the table's
    clash = pf.with_published_lines(pd.DataFrame({"province": ["全国"], "year": [2022], "line": [9000.0]}))
    pd.testing.assert_frame_equal(clash.transform(p), X0)
    # the projection, the table and the records, as next_year_lines reports them
    from fanpin_risk.panel import next_year_lines

    r0, r1 = next_year_lines(pf, p).iloc[0], next_year_lines(pub, p).iloc[0]
    assert (r0["source"], r1["source"]) == ("projected", "published")
    assert r0["next_line"] == pytest.approx(7146.1 * 1.06) and r1["next_line"] == 7800.0
    assert next_year_lines(pub, p, year=2022).iloc[0][["next_line", "source"]].tolist() == [6741.6, "records"]
    # a province the table does not name, and a model without the line ahead: nothing changes
    other = pf.with_published_lines(pd.DataFrame({"province": ["云南"], "year": [2025], "line": [7800.0]}))
    pd.testing.assert_frame_equal(other.transform(p), X0)
    flat = PanelFeatures(line_ahead=False, history_block=False).fit(p)
    assert flat.with_published_lines(table) is flat and next_year_lines(flat, p).empty
