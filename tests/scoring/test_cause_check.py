"""The named main risk type against the simulator's cause record: scoring.cause_accuracy and backtest(causes=)."""

import pandas as pd
import pytest

import fanpin_risk as fr
from fanpin_risk.errors import ContractError
from fanpin_risk.scoring import cause_accuracy, score
from fanpin_risk.simulate import simulate


def test_counts_per_cause_confusion_and_the_threshold():
    ranked = pd.DataFrame({
        "household_id": ["a", "b", "c", "d", "e"], "in_budget": [True, True, True, True, False],
        "main_risk_type": ["因病", "缺劳动力", "其他", "因病", "因病"],
        "risk_type_contributions": ["因病 9个百分点", "缺劳动力 5个百分点；因病 4个百分点", "其他 7个百分点",
                                    "因病 3个百分点", "因病 9个百分点"]})
    causes = pd.DataFrame({"household_id": ["a", "b", "c", "d", "e"], "year": 2025,
                           "main_cause": ["因病", "因病", "因自然灾害", "因病", "因病"],
                           "max_drop": [0.3, 0.2, 0.1, 0.01, 0.4]})
    r = cause_accuracy(ranked, causes)
    # d's cause does not matter (0.01 < 0.05), e is not listed
    assert r.summary == {"listed": 4, "with_cause": 3, "main_is_true": 1 / 3, "true_in_first_two": 2 / 3,
                         "other_named": 0.25}
    per = r.per_cause.set_index("cause")
    assert per.loc["因病", "households"] == 2 and per.loc["因病", "main_is_true"] == 0.5
    assert per.loc["因病", "true_in_first_two"] == 1.0 and per.loc["因自然灾害", "main_is_true"] == 0.0
    assert r.confusion.loc["因病", "缺劳动力"] == 1 and r.confusion.loc["因自然灾害", "其他"] == 1
    assert cause_accuracy(ranked, causes, min_drop=0.0).summary["with_cause"] == 4
    with pytest.raises(ContractError, match="one year"):
        cause_accuracy(ranked, pd.concat([causes, causes.assign(year=2024)]))
    with pytest.raises(ContractError, match="return_causes"):
        cause_accuracy(ranked, causes.drop(columns="max_drop"))


def test_backtest_reports_the_named_cause_against_the_record():
    p, c = simulate(1500, range(2021, 2026), seed=11, return_causes=True, cause_years=[2024, 2025], cause_draws=4)
    res = fr.backtest(p, models=("rule",), n_boot=0, log_to_mlflow=False, progress=False, figures=False, causes=c)
    t = res.cause_accuracy.set_index("year")
    assert t.index.tolist() == [2024, 2025] and set(res.cause_confusion) == {2024, 2025}
    assert "cause_accuracy" in res.tables()
    # the same as training on the years before 2025 and scoring 2025 by hand
    m = fr.train(p[p["year"] < 2025], "lightgbm", log_to_mlflow=False)
    ranked = score(p, m, year=2025, budget=0.1, reasons="budget")
    want = cause_accuracy(ranked, c[c["year"] == 2025]).summary
    assert t.loc[2025].to_dict() == pytest.approx(want)
    assert 0 < t.loc[2025, "with_cause"] <= t.loc[2025, "listed"] and 0 <= t.loc[2025, "main_is_true"] <= 1
