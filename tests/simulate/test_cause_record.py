"""The simulator's cause record: next-year relapse probability and its fall when each cause is removed."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from fanpin_risk.panel import make_labels
from fanpin_risk.simulate import CAUSE_MIN_DROP, CAUSES, simulate


@functools.lru_cache(maxsize=None)
def _run(n: int = 1500, draws: int = 8):
    return simulate(n, range(2020, 2026), seed=5, return_causes=True, cause_years=[2024], cause_draws=draws)


def test_the_panel_is_the_same_with_or_without_the_record():
    panel, _ = _run()
    pd.testing.assert_frame_equal(panel, simulate(1500, range(2020, 2026), seed=5))


def test_columns_and_absent_causes():
    panel, c = _run()
    assert list(c.columns) == ["household_id", "year", "p_relapse", *CAUSES, "main_cause", "second_cause", "max_drop"]
    assert (c["year"] == 2024).all() and c["household_id"].is_unique
    assert c["p_relapse"].between(0, 1).all()
    rec = panel[panel["year"] == 2024].set_index("household_id").loc[c["household_id"]]
    # removing what a household does not have changes nothing (common random numbers): exactly 0
    never_project = ~rec["shock_industry_failure"].fillna(False).to_numpy(dtype=bool) & (rec["income_business"] < 4000).to_numpy()
    assert (c["因安全住房"].to_numpy()[rec["housing_safe"].fillna(True).to_numpy(dtype=bool)] >= -1e-12).all()
    unsafe = ~rec["housing_safe"].fillna(True).to_numpy(dtype=bool)
    assert unsafe.sum() >= 5 and c["因安全住房"].to_numpy()[unsafe].mean() > 0.2
    assert (c.loc[c["max_drop"] < CAUSE_MIN_DROP, "main_cause"] == "其他").all()
    top = c[c["max_drop"] >= CAUSE_MIN_DROP]
    assert (top["main_cause"].to_numpy() == np.array(CAUSES)[top[list(CAUSES)].to_numpy().argmax(axis=1)]).all()
    assert never_project.any()


def test_deterministic_and_close_to_the_realised_rate():
    _, c = _run()
    _, again = simulate(1500, range(2020, 2026), seed=5, return_causes=True, cause_years=[2024], cause_draws=8)
    pd.testing.assert_frame_equal(c, again)
    panel, _ = _run()
    lab = make_labels(panel)["label"]
    y = lab[(panel["year"] == 2024).to_numpy()]
    y = y[y.notna()].astype(float)
    # one realisation of 1,500 households: its rate has a standard error of about 0.8 points
    assert abs(float(c["p_relapse"].mean()) - float(y.mean())) < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match="cause_years"):
        simulate(50, range(2020, 2023), return_causes=True, cause_years=[2030])
    with pytest.raises(ValueError, match="cause_draws"):
        simulate(50, range(2020, 2023), return_causes=True, cause_draws=0)
