"""Explanations add up exactly to the model's raw output and group into risk types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import importlib

ex = importlib.import_module("fanpin_risk.explain")
from _scoring_fixture import YEARS, panel, trained


@pytest.mark.parametrize("kind", ["lightgbm", "scorecard", "rule"])
def test_contributions_add_up_to_raw_output(kind):
    m = trained(kind)
    p = panel()
    X = m.transform(p)
    base, contrib = ex.contributions(m, None, X)
    raw = m.predict_raw(p).to_numpy()
    assert contrib.shape == (len(p), len(m.feature_names_)) or kind == "scorecard"
    assert np.max(np.abs(base + contrib.to_numpy().sum(axis=1) - raw)) < 1e-6


def test_lightgbm_contrib_equals_shap_tree_path_dependent():
    shap = pytest.importorskip("shap")
    m = trained("lightgbm")
    X = m.transform(panel()).iloc[:200]
    _, contrib = ex.contributions(m, None, X)
    sv = shap.TreeExplainer(m.booster, feature_perturbation="tree_path_dependent").shap_values(X.to_numpy())
    sv = sv[1] if isinstance(sv, list) else sv
    assert np.allclose(sv, contrib.to_numpy(), atol=1e-6)


def test_explanation_object_and_groups():
    m = trained("lightgbm")
    e = ex.explain(panel(), m, language="zh")
    assert e.values.shape[1] == len(e.feature_names) and len(e.base_values) == e.values.shape[0]
    assert len(set(e.feature_names)) == len(e.feature_names)
    raw = e.base_values + e.values.sum(axis=1)
    p = panel()
    last = p[p["year"] == YEARS[-1]]
    assert np.allclose(np.sort(raw), np.sort(m.predict_raw(p).loc[last.index].to_numpy()), atol=1e-6)
    X = m.transform(p).loc[last.index].reset_index(drop=True)
    g = ex.group_by_risk_type(pd.DataFrame(e.values, columns=m.feature_names_), X=X)
    assert list(g.columns) == ex.RISK_TYPES
    assert np.allclose(g.to_numpy().sum(axis=1), e.values.sum(axis=1))
    # the count of failing guarantees goes to the guarantees that fail, never to one that holds
    fails = ex.failing_guarantee_types(X)
    ok = fails.map(len) == 0
    g0 = ex.group_by_risk_type(pd.DataFrame(e.values, columns=m.feature_names_))
    if (~ok).any():
        i = int(np.flatnonzero((~ok).to_numpy())[0])
        moved = g.iloc[i] - g0.iloc[i]
        assert set(moved.index[moved.abs() > 1e-12]) <= set(fails.iloc[i]) | {"其他"}
    # every model feature has a readable name and an official risk type
    info = ex.feature_info(m.feature_names_)
    assert all((i.risk_type in ex.RISK_TYPES or i.risk_type == ex.GUARANTEES) and i.name_zh for i in info)


def test_value_words():
    assert ex.format_value(6850.4, "yuan") == "6,850 元"
    assert ex.format_value(0.9412, "ratio_line") == "监测标准的 0.94 倍"
    assert ex.format_value(1.0, "bool") == "是"
    assert ex.format_value(np.nan, "yuan") == "缺失"


def test_measures_map_rules():
    mm = ex.load_measures_map()
    for (rt, lab), ms in mm.items():
        if not lab:
            assert "就业帮扶" not in ms and ("综合保障" in ms or rt == "因安全饮水"), rt
        else:
            assert {"产业帮扶", "就业帮扶", "金融帮扶", "公益岗位帮扶"} & set(ms), rt
    assert "一事一议" in mm[("因自然灾害", True)] and "一事一议" in mm[("因意外事故", False)]
    own = pd.DataFrame({"risk_type": ["因病"], "has_labor": ["yes"], "measures": ["自定措施"]})
    out = ex.suggest_measures(pd.Series([["因病"]]), pd.Series([True]), ex.load_measures_map(own))
    assert out.iloc[0] == "自定措施"
