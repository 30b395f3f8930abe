from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from fanpin_risk.contract import RULES, ValidationReport, build_schema, validate

R = 3  # the row each case edits


def _edit(panel: pd.DataFrame, **values) -> pd.DataFrame:
    df = panel.copy()
    base = dict(household_size=4, n_labor=2, n_children=1, n_elderly=0, n_students=0, n_disabled=0,
                n_chronic_ill=0, n_serious_ill=0, n_migrant_workers=1, migrant_work_months=6.0)
    for k, v in {**base, **values}.items():
        df.loc[R, k] = v
    return df


def _rules_at(rep: ValidationReport, row: int = R) -> dict[str, str]:
    sub = rep.issues[rep.issues["row"] == row]
    return dict(zip(sub["rule"], sub["level"]))


def test_clean_panel_has_no_issue(panel):
    rep = validate(panel)
    assert rep.ok and rep.issues.empty and rep.n_rows == len(panel)
    assert validate(_edit(panel)).issues.empty  # the edit baseline itself is clean


@pytest.mark.parametrize("values,rule,level", [
    (dict(n_elderly=5), "count_gt_size", "error"),
    (dict(n_students=5), "count_gt_size", "error"),
    (dict(household_size=0, n_labor=0, n_children=0, n_migrant_workers=0, migrant_work_months=0.0), "household_size_min", "error"),
    (dict(n_children=3, n_labor=2), "children_labor_gt_size", "warning"),
    (dict(household_size=1, n_labor=1, n_children=0, migrant_work_months=13.0), "migrant_months_gt_size", "error"),
    (dict(n_migrant_workers=0, migrant_work_months=5.0), "migrant_months_gt_workers", "warning"),
    (dict(income_wage=-1.0), "negative_amount", "error"),
    (dict(expense_medical=-5.0), "negative_amount", "error"),
    (dict(identification_month=202301, elimination_month=202303), "elimination_too_soon", "warning"),
    (dict(year=2023, risk_eliminated=True, net_income_per_capita=100.0), "eliminated_below_line", "warning"),
    (dict(risk_type_1="因病", expense_medical=5000.0), "illness_without_ill_member", "warning"),
    (dict(risk_type_2="因病", n_serious_ill=1, expense_medical=0.0), "illness_without_medical_spending", "warning"),
    (dict(risk_type_3="缺劳动力"), "lack_labor_with_labor", "warning"),
    (dict(year=2023, identification_month=202305, net_income_per_capita=25000.0), "identified_high_income", "warning"),
    (dict(net_income_per_capita=2_000_000.0), "extreme_income", "warning"),
    (dict(net_income_per_capita=20_000.0, income_wage=450_000_000.0), "income_formula_mismatch", "warning"),  # 万元 × 10⁴ twice
    (dict(net_income_per_capita=90_000.0, household_size=3, income_wage=3.0, income_business=1.0, expense_business=0.0,
          income_property=0.0, income_transfer=0.5), "income_formula_mismatch", "warning"),  # components left in 万元
    (dict(household_type="一般农户", monitoring_category="脱贫不稳定户"), "category_type_mismatch", "warning"),
    (dict(household_type="脱贫户", monitoring_category="边缘易致贫户"), "category_type_mismatch", "warning"),
    (dict(household_type="贫困户"), "code_list", "warning"),
    (dict(risk_type_1="因懒"), "code_list", "warning"),
    (dict(county_code=np.nan), "required", "error"),
    (dict(identification_month=202313), "month_invalid", "error"),
    (dict(year=1990), "range", "error"),
    (dict(n_labor=31, household_size=40), "range", "error"),
])
def test_each_rule_fails_once(panel, values, rule, level):
    rep = validate(_edit(panel, **values))
    got = _rules_at(rep)
    assert got.get(rule) == level, got
    assert rep.ok is (level != "error")


def test_clean_counterparts_do_not_fire(panel):
    ok = _edit(panel, risk_type_1="因病", n_chronic_ill=1, expense_medical=300.0, identification_month=202301,
               elimination_month=202307, household_type="脱贫户", monitoring_category="脱贫不稳定户")
    assert _rules_at(validate(ok)) == {}
    lab = _edit(panel, risk_type_1="缺劳动力", household_size=4, n_labor=1)
    assert "lack_labor_with_labor" not in _rules_at(validate(lab))


def test_duplicate_household_year(panel):
    df = pd.concat([panel, panel.iloc[[R]]], ignore_index=True)
    rep = validate(df)
    dup = rep.errors[rep.errors["rule"] == "duplicate_key"]
    assert sorted(dup["row"].tolist()) == [R, len(panel)]


def test_future_year_and_year_gap(panel):
    counts = panel.groupby("household_id")["year"].count()
    hid = counts[counts >= 3].index[0]
    rows = panel.index[panel["household_id"] == hid]
    df = panel.drop(index=rows[1]).reset_index(drop=True)
    rep = validate(df)
    gap = rep.issues[rep.issues["rule"] == "year_gap"]
    assert gap["row"].tolist() == [rows[1]] and gap["level"].tolist() == ["info"] and rep.ok
    fut = panel.copy()
    fut.loc[rows[-1], "year"] = datetime.now().year + 1
    assert _rules_at(validate(fut), rows[-1]).get("future_year") == "warning"


def test_missing_column_and_dtype(panel):
    rep = validate(panel.drop(columns=["county_code"]))
    assert rep.errors["rule"].tolist() == ["missing_column"] and "县代码" in rep.errors.loc[0, "message"]
    rep = validate(panel.assign(household_size=panel["household_size"].astype("float64")))
    assert "dtype" in set(rep.errors["rule"])


def test_report_api(panel):
    df = _edit(panel, n_migrant_workers=0, migrant_work_months=5.0, net_income_per_capita=2_000_000.0, n_elderly=9)
    rep = validate(df)
    assert not rep.ok and len(rep.errors) == 1 and len(rep.warnings) == 2
    s = rep.summary()
    assert set(s.columns) >= {"rule", "level", "count", "description"} and s["count"].sum() == len(rep.issues)
    flags = rep.row_flags()
    assert len(flags) == len(df) and flags[R] == ["extreme_income", "migrant_months_gt_workers"] and flags[0] == []
    assert rep.row_flags(levels=("error", "warning"))[R] == ["count_gt_size", "extreme_income", "migrant_months_gt_workers"]
    text = str(rep)
    assert "1 error" in text and "65岁以上人数" in text
    assert "<div>" in rep._repr_html_()
    assert list(rep.to_frame().columns) == ["row", "household_id", "year", "field", "value", "rule", "level", "message"]
    assert rep.issues.loc[0, "household_id"] == df.loc[R, "household_id"]


def test_pii_values_masked_in_issues(panel):
    df = panel.copy()
    df["household_id"] = "13812345678"  # every row the same phone number: duplicates
    rep = validate(df)
    assert (rep.issues["rule"] == "duplicate_key").any()
    assert not rep.issues["value"].astype(str).str.contains("13812345678").any()


def test_rules_table_and_schema():
    assert RULES["rule"].is_unique and set(RULES["level"]) == {"error", "warning", "info"}
    assert RULES["description"].str.len().gt(10).all()
    schema = build_schema()
    assert "household_size" in schema.columns and not schema.columns["household_size"].nullable


def test_income_formula_mismatch_ignores_rounding_and_small_incomes(panel):
    """Components a little off the reported income (rounding, a term the export adds) or tiny incomes do not fire."""
    row = panel.iloc[R]
    size = float(row["household_size"])
    parts = (row["income_wage"] + row["income_business"] - row["expense_business"] + row["income_property"]
             + row["income_transfer"]) / size
    assert "income_formula_mismatch" not in _rules_at(validate(_edit(panel, net_income_per_capita=float(parts) * 1.8)))
    assert "income_formula_mismatch" not in _rules_at(validate(_edit(panel, net_income_per_capita=300.0)))
