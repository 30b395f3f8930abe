"""Cause attribution: the risk split over the official risk types by asking the model without each cause."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from fanpin_risk.errors import ModelError
from fanpin_risk.explain import (
    CAUSE_TYPES,
    NOTES,
    RISK_TYPES,
    CauseExplainer,
    attribute_causes,
    cause_main_types,
    load_cause_rules,
)
from fanpin_risk.scoring import score

from _scoring_fixture import YEARS, panel, trained


def _latest_positions(p: pd.DataFrame) -> np.ndarray:
    return np.flatnonzero((p["year"] == YEARS[-1]).to_numpy())


def test_parts_add_up_to_the_risk_and_absent_causes_change_nothing():
    p = panel()
    pos = _latest_positions(p)
    eff = CauseExplainer(trained(), p).effects(pos)
    parts = attribute_causes(eff)
    assert list(parts.columns) == RISK_TYPES
    np.testing.assert_allclose(parts.sum(axis=1), eff["p"], atol=1e-12)
    assert (parts[list(CAUSE_TYPES)] >= 0).all().all()
    last = p.iloc[pos].reset_index(drop=True)
    # safe housing, no disaster: removing the housing cause leaves the record, so the risk, as it was
    safe = last["housing_safe"].fillna(False).astype(bool) & ~last["shock_disaster"].fillna(False).astype(bool)
    registered = last.filter(like="risk_type_").eq("因安全住房").any(axis=1)
    same = (safe & ~registered).to_numpy()
    assert same.sum() > 100
    np.testing.assert_array_equal(eff["因安全住房"].to_numpy()[same], eff["p"].to_numpy()[same])
    # the model matches the scorer's probabilities
    s = score(p, trained(), reasons="none").set_index("household_id")
    np.testing.assert_allclose(eff["p"].to_numpy(), s.loc[last["household_id"], "risk_score"].to_numpy(), rtol=1e-9)


def test_a_job_loss_is_named_and_carries_the_fall():
    p = panel()
    X = trained().transform(p)
    last = p[p["year"] == YEARS[-1]]
    ok = (last["n_labor"] >= 2) & (last["income_wage"] > 20000) & ~last["shock_job_loss"].fillna(False).astype(bool)
    ok &= (X.loc[last.index, "prev_ratio_to_line"] >= 2.0)
    i = last.index[ok.to_numpy()][0]
    hid = p.loc[i, "household_id"]
    before = score(p, trained(), reasons="all").set_index("household_id").loc[hid]
    p.loc[i, ["shock_job_loss", "migrant_work_months", "n_migrant_workers"]] = [True, 1.0, 0]
    cut = 0.9 * float(p.loc[i, "income_wage"])
    p.loc[i, "income_wage"] -= cut
    p.loc[i, "net_income_per_capita"] -= cut / float(p.loc[i, "household_size"])
    after = score(p, trained(), reasons="all").set_index("household_id").loc[hid]
    assert after["risk_score"] > before["risk_score"] + 0.05
    assert after["main_risk_type"] == "因务工就业不稳", after["risk_type_contributions"]
    assert "就业帮扶" in after["suggested_measures"]
    share = float(re.search(r"因务工就业不稳 ([\d.]+)个百分点", after["risk_type_contributions"]).group(1)) / 100
    assert share >= 0.5 * (after["risk_score"] - before["risk_score"])


def test_every_listed_household_has_a_type_and_measures_and_empty_cells_a_note():
    s = score(panel(), trained(), budget=0.1, reasons="all")
    listed = s[s["in_budget"]]
    assert listed["main_risk_type"].notna().all() and listed["suggested_measures"].notna().all()
    other = listed["main_risk_type"].eq("其他")
    assert listed.loc[other, "reason_note"].isin([NOTES["unrecorded_low_income"], NOTES["unrecorded"]]).all()
    empty = s["main_risk_type"].isna()
    assert empty.any() and s.loc[empty, "reason_note"].notna().all()
    assert set(s.loc[empty & s["status"].eq("scored"), "reason_note"]) == {NOTES["no_factor"]}
    assert set(s.loc[s["status"].ne("scored"), "reason_note"]) <= {"未评分，见状态说明"}
    # the parts in the text add up to the risk (each rounded to 0.1 point)
    for text, risk in zip(listed["risk_type_contributions"].head(50), listed["risk_score"].head(50)):
        pts = [float(v) for v in re.findall(r"([\d.]+)个百分点", text)]
        assert abs(sum(pts) / 100 - risk) <= 0.0006 * len(pts) + 1e-9, text
    budget = score(panel(), trained(), budget=0.1, reasons="budget")
    assert set(budget.loc[~budget["in_budget"] & budget["status"].eq("scored"), "reason_note"]) == {"未分析原因：不在走访名单内"}


def test_shap_attribution_is_still_available_as_the_baseline():
    s = score(panel(), trained(), budget=0.1, reasons="budget", attribution="shap")
    txt = s.loc[s["in_budget"], "risk_type_contributions"].dropna()
    assert txt.str.contains(r"[+-]\d\.\d\d").all()
    with pytest.raises(Exception, match="attribution"):
        score(panel(), trained(), attribution="tree")


def test_main_type_rules():
    parts = pd.DataFrame(0.0, index=range(4), columns=RISK_TYPES)
    parts.loc[0, ["因病", "因学", "其他"]] = [0.20, 0.12, 0.1]   # second type ≥ half the main one's
    parts.loc[1, ["因病", "因学"]] = [0.20, 0.05]
    parts.loc[2, "其他"] = 0.05                                     # low risk, nothing named
    parts.loc[3, "其他"] = 0.05                                     # the same, but on the list
    main, types, note = cause_main_types(parts, listed=[False, False, False, True], ratio_to_line=[1, 1, 1, 2.5])
    assert main.tolist()[:2] == ["因病", "因病"] and pd.isna(main[2]) and main[3] == "其他"
    assert types[0] == ["因病", "因学"] and types[1] == ["因病"] and types[2] == []
    assert note[2] == NOTES["no_factor"] and note[3] == NOTES["unrecorded"]


def test_rules_are_checked():
    rules = load_cause_rules()
    assert set(rules) == set(CAUSE_TYPES) - {"因意外事故"} | {"因意外事故"}
    with pytest.raises(ModelError, match="unknown action"):
        load_cause_rules(pd.DataFrame({"risk_type": ["因病"], "field": ["x"], "action": ["halve"]}))
    with pytest.raises(ModelError, match="not a specific risk type"):
        load_cause_rules(pd.DataFrame({"risk_type": ["其他"], "field": ["x"], "action": ["zero"]}))
    with pytest.raises(ModelError, match="no condition"):
        load_cause_rules(pd.DataFrame({"risk_type": ["因病"], "field": ["risk_type_*"], "action": ["drop_code"],
                                       "when": ["shock_illness"]}))


def test_disability_gives_back_the_labour_it_takes():
    """A disabled member of working age who cannot work: removing 因残 lets them work (else it reads as 缺劳动力)."""
    from fanpin_risk.explain._causes import cause_removal_path

    p = panel()
    pos = _latest_positions(p)
    last = p.iloc[pos]
    room = last["household_size"] - last["n_children"].fillna(0) - last["n_elderly"].fillna(0) - last["n_labor"]
    pick = np.flatnonzero(((last["n_labor"] == 0) & (room >= 1) & (last["household_size"] >= 2)).to_numpy())[:40]
    assert len(pick) >= 10
    rows = last.index[pick]
    p.loc[rows, "n_disabled"] = 1  # each of them has one disabled member of working age, not working
    rules = pd.read_csv(cause_removal_path(), dtype=str)
    without_labour_rule = rules[~((rules["risk_type"] == "因残") & (rules["action"] == "disabled_workers"))]
    assert len(without_labour_rule) == len(rules) - 1
    full = CauseExplainer(trained(), p).effects(pos[pick])
    bare = CauseExplainer(trained(), p, rules=without_labour_rule).effects(pos[pick])
    gain_full = full["p"] - full["因残"]
    gain_bare = bare["p"] - bare["因残"]
    # a worker back lowers the risk more than the flag alone, for most of these households
    assert (gain_full > gain_bare + 1e-9).mean() >= 0.8, (gain_full - gain_bare).describe()
    parts = attribute_causes(full)
    assert (parts["因残"] > 0).mean() >= 0.8


def _hazard(history: pd.DataFrame, shock: str, exposed: str) -> np.ndarray:
    from fanpin_risk.explain._causes import ExposureRule, _map_rate, _rates, exposure_counts

    rule = {"_": [ExposureRule("_", shock, exposed, shock, "true")]}
    return _map_rate(_rates(exposure_counts(history, rule)).get("_"), history)


def test_hazard_is_the_countys_rate_up_to_the_year():
    h = pd.DataFrame({"county_code": ["A", "A", "A", "A", "B", "B", None],
                      "year": [2023, 2023, 2024, 2024, 2023, 2024, 2024],
                      "shock_disaster": [True, False, True, False, False, False, True],
                      "migrant_work_months": [0, 6, 8, 0, 5, 0, 3]})
    np.testing.assert_allclose(_hazard(h, "shock_disaster", ""), [0.5, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0])
    # among household-years with migrant work or the shock itself: A 2023 {T, F}, A 2024 {T} (its F has no
    # migrant work), so 2 of 3 by 2024; B 2023 {F}; the row without a county alone
    np.testing.assert_allclose(_hazard(h, "shock_disaster", "migrant_work_months"),
                               [0.5, 0.5, 2 / 3, 2 / 3, 0.0, 0.0, 1.0])
    assert (_hazard(h.drop(columns="shock_disaster"), "shock_disaster", "") == 0).all()


def test_exposure_moves_risk_from_other_and_not_beyond_it():
    from fanpin_risk.explain import EXPOSURE_PREFIX, load_exposure_rules

    p = panel()
    pos = _latest_positions(p)
    with_exp = CauseExplainer(trained(), p).effects(pos)
    without = CauseExplainer(trained(), p, exposure=False).effects(pos)
    cols = [c for c in with_exp.columns if c.startswith(EXPOSURE_PREFIX)]
    assert sorted(c[len(EXPOSURE_PREFIX):] for c in cols) == sorted(load_exposure_rules())
    assert not [c for c in without.columns if c.startswith(EXPOSURE_PREFIX)]
    pd.testing.assert_frame_equal(with_exp.drop(columns=cols), without)
    a, b = attribute_causes(with_exp), attribute_causes(without)
    np.testing.assert_allclose(a.sum(axis=1), with_exp["p"], atol=1e-12)
    assert (a["其他"] >= -1e-12).all() and (a["其他"] <= b["其他"] + 1e-12).all()
    moved = (b["其他"] - a["其他"]).sum()
    assert moved > 0
    types = sorted(load_exposure_rules())
    assert {"因病", "因自然灾害", "因务工就业不稳"} <= set(types)
    gained = (a[types] - b[types]).sum().sum()
    np.testing.assert_allclose(gained, moved, rtol=1e-9)
    # a job loss on the record is a recorded cause, not an exposure
    last = p.iloc[pos].reset_index(drop=True)
    had = last["shock_job_loss"].fillna(False).astype(bool).to_numpy()
    assert had.any() and (with_exp[EXPOSURE_PREFIX + "因务工就业不稳"].to_numpy()[had] == 0).all()
    # no migrant work: no exposure to losing it
    none = (last["migrant_work_months"].fillna(0) == 0).to_numpy()
    assert (with_exp[EXPOSURE_PREFIX + "因务工就业不稳"].to_numpy()[none] == 0).all()


def test_exposure_rules_are_checked():
    from fanpin_risk.explain import load_exposure_rules

    base = {"risk_type": "因自然灾害", "shock": "shock_disaster", "exposed": "", "field": "income_business",
            "action": "scale", "value": "0.5"}
    assert load_exposure_rules(pd.DataFrame([base]))["因自然灾害"][0].value == 0.5
    for bad, msg in (({"risk_type": "其他"}, "specific"), ({"action": "drop"}, "action"),
                     ({"value": ""}, "number")):
        with pytest.raises(ModelError, match=msg):
            load_exposure_rules(pd.DataFrame([{**base, **bad}]))
    with pytest.raises(ModelError, match="one shock"):
        load_exposure_rules(pd.DataFrame([base, {**base, "shock": "shock_job_loss"}]))


def test_a_condition_over_the_last_years():
    """``when=shock_job_loss@3``: the wage is given back only where a job loss is on one of the last three records."""
    p = panel()
    pos = _latest_positions(p)
    last = p.iloc[pos]
    ids = p["household_id"].to_numpy()
    pick = np.flatnonzero((last["migrant_work_months"].fillna(0) > 0).to_numpy())[:60]
    rows = last.index[pick]
    hh = set(ids[rows])
    p.loc[p["household_id"].isin(hh), "shock_job_loss"] = False
    # the wage of the scored year falls to a quarter for all of them; half have a job loss two years back
    p.loc[rows, "income_wage"] *= 0.25
    p.loc[rows, "migrant_work_months"] = 2.0
    lost = rows[::2]
    for i in lost:
        prev = p.index[(p["household_id"] == ids[i]) & (p["year"] == YEARS[-1] - 2)]
        p.loc[prev, "shock_job_loss"] = True
    rules = pd.DataFrame({"risk_type": ["因务工就业不稳"] * 2, "field": ["income_wage", "migrant_work_months"],
                          "action": ["usual"] * 2, "when": ["shock_job_loss@3"] * 2})
    eff = CauseExplainer(trained(), p, rules=rules, exposure=False).effects(pos[pick])
    drop = (eff["p"] - eff["因务工就业不稳"]).to_numpy()
    with_loss = np.isin(rows, lost)
    assert (drop[~with_loss] == 0).all()          # a fall with no job loss on record is not this cause's
    assert (drop[with_loss] != 0).all()           # a job loss two years back: the wage is given back
    one_year = rules.assign(when="shock_job_loss")
    eff1 = CauseExplainer(trained(), p, rules=one_year, exposure=False).effects(pos[pick])
    assert ((eff1["p"] - eff1["因务工就业不稳"]).to_numpy() == 0).all()
    for bad in ("shock_job_loss@", "shock_job_loss@x", "shock_job_loss@0"):
        with pytest.raises(ModelError, match="after @"):
            load_cause_rules(rules.assign(when=bad))


def test_income_spread_adds_up_over_parts_and_shifts_the_exposure():
    from fanpin_risk.explain import EXPOSURE_PREFIX, exposure_counts
    from fanpin_risk.explain._causes import _spread

    p = panel()
    whole = exposure_counts(p)
    ids = p["household_id"].drop_duplicates()
    parts = [exposure_counts(p[p["household_id"].isin(ids.iloc[k::3])]) for k in range(3)]
    summed = pd.concat(parts).groupby(["risk_type", "c", "y"])[["h", "e"]].sum()
    pd.testing.assert_frame_equal(summed, whole.groupby(["risk_type", "c", "y"])[["h", "e"]].sum(), rtol=1e-9)
    # the spread is the standard deviation of the clipped changes of log(income ÷ line), pooled up to each year
    srt = p.sort_values(["household_id", "year"])
    x = np.log(np.maximum(srt["net_income_per_capita"] / srt["monitoring_line"], 0.05)).to_numpy()
    same = srt["household_id"].to_numpy()[1:] == srt["household_id"].to_numpy()[:-1]
    d = np.clip(np.diff(x)[same], -1.5, 1.5)
    ok = np.isfinite(d)
    np.testing.assert_allclose(_spread(whole).iloc[-1], d[ok].std(), rtol=1e-9)
    # a wider spread makes the same loss a smaller fall: the exposure parts shrink
    pos = _latest_positions(p)
    base = CauseExplainer(trained(), p).effects(pos)
    wide = whole.copy()
    sq = wide["risk_type"] == "_income_change_sq"
    wide.loc[sq, "h"] *= 4.0
    wider = CauseExplainer(trained(), p, exposure_counts=wide).effects(pos)
    col = EXPOSURE_PREFIX + "因自然灾害"
    assert (wider[col] <= base[col] + 1e-12).all() and (wider[col] < base[col] - 1e-6).mean() > 0.3


def test_chronic_illness_gives_back_labour_only_where_labour_is_short():
    """Chronically ill members, not disabled, of a household short of labour count as kept from work by 因病."""
    p = panel()
    pos = _latest_positions(p)
    last = p.iloc[pos]
    room = last["household_size"] - last["n_children"].fillna(0) - last["n_elderly"].fillna(0) - last["n_labor"]
    short = (last["n_labor"] == 0) & (room >= 1) & (last["household_size"] >= 2)
    able = (last["n_labor"] >= 2) & (last["n_labor"] / last["household_size"] > 0.5) & (room >= 1)
    a, b = np.flatnonzero(short.to_numpy())[:30], np.flatnonzero(able.to_numpy())[:30]
    assert len(a) >= 10 and len(b) >= 10
    rows = last.index[np.r_[a, b]]
    p.loc[rows, ["n_serious_ill", "n_disabled", "shock_illness"]] = [0, 0, False]
    p.loc[rows, "expense_medical"] = 0.0
    p.loc[rows, "n_chronic_ill"] = 1
    eff = CauseExplainer(trained(), p, exposure=False).effects(pos[np.r_[a, b]])
    drop = (eff["p"] - eff["因病"]).to_numpy()
    # same record but the chronic member also disabled: the lost labour is the disability's
    p.loc[rows, "n_disabled"] = 1
    eff_d = CauseExplainer(trained(), p, exposure=False).effects(pos[np.r_[a, b]])
    drop_d = (eff_d["p"] - eff_d["因病"]).to_numpy()
    k = len(a)
    assert (drop[:k] > drop_d[:k] + 1e-9).mean() >= 0.8            # short of labour: the illness gives a worker back
    np.testing.assert_allclose(drop[k:], drop_d[k:], atol=1e-12)   # enough labour: no worker is added either way


def test_a_tie_with_lack_of_labour_names_lack_of_labour_first():
    from fanpin_risk.explain import format_cause_parts

    parts = pd.DataFrame(0.0, index=range(3), columns=RISK_TYPES)
    parts.loc[0, ["因残", "缺劳动力", "其他"]] = [0.2, 0.2, 0.1]    # the same labourer given back twice
    parts.loc[1, ["因残", "缺劳动力"]] = [0.21, 0.2]                # not a tie: the larger share first
    parts.loc[2, ["因病", "因残"]] = [0.2, 0.2]                      # a tie without 缺劳动力: code-list order
    main, types, _ = cause_main_types(parts)
    assert main.tolist() == ["缺劳动力", "因残", "因病"]
    assert types[0] == ["缺劳动力", "因残"] and types[2] == ["因病", "因残"]
    text = format_cause_parts(parts)
    assert text[0].startswith("缺劳动力 20.0个百分点；因残 20.0个百分点") and text[1].startswith("因残 21.0")


def test_usual_income_is_read_against_the_line():
    """Money back to its usual level means the usual standing against the line, not the yuan of years when the
    line was lower; counts (months, workers) keep their plain median."""
    from fanpin_risk.explain._causes import _Context, _usual

    frame = pd.DataFrame({"household_id": ["a"] * 4 + ["b"] * 2,
                          "year": [2021, 2022, 2023, 2024, 2023, 2024],
                          "monitoring_line": [6000.0, 6500.0, 7000.0, 7300.0, np.nan, np.nan],
                          "net_income_per_capita": [9000.0, 9750.0, 3500.0, 3650.0, 8000.0, 2000.0],
                          "migrant_work_months": [10.0, 11.0, 2.0, 1.0, 6.0, 0.0]})
    ctx = _Context(frame, np.array([3, 5]), np.array([0, 0, 0, 0, 1, 1]), 0.0)
    # a: earlier ratios 1.5, 1.5, 0.5 → median 1.5 × this year's 7300 (the plain median would be 9000)
    # b: no line on record → the plain median of its earlier income
    np.testing.assert_allclose(_usual(ctx, "net_income_per_capita"), [1.5 * 7300.0, 8000.0])
    np.testing.assert_allclose(_usual(ctx, "migrant_work_months"), [10.0, 6.0])
