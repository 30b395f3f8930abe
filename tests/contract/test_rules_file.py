"""The rule table as data: data_schema/plausibility_rules.csv against the checks in code."""

from __future__ import annotations

import re
import string
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fanpin_risk.io
from fanpin_risk.contract import RULES, field_names, schema_dir, validate
from fanpin_risk.contract._validate import CHECKS, RULES_FILE, _schema_parts

COLUMNS = ["rule", "level", "stage", "fields", "message", "description"]
PLACEHOLDERS = {"field", "zh", "dtype", "canonical", "lo", "hi", "code_list"}
# Raised by validate() outside the pandera column checks: the table-level and type checks.
SCHEMA_EXTRA = {"missing_column", "dtype", "required"}

# One deliberately broken row per case; every schema and plausibility rule fires somewhere.
BASE = dict(household_size=4, n_labor=2, n_children=1, n_elderly=0, n_students=0, n_disabled=0,
            n_chronic_ill=0, n_serious_ill=0, n_migrant_workers=1, migrant_work_months=6.0)
CASES = [
    dict(n_elderly=5),
    dict(household_size=0, n_labor=0, n_children=0, n_migrant_workers=0, migrant_work_months=0.0),
    dict(n_children=3, n_labor=2),
    dict(household_size=1, n_labor=1, n_children=0, migrant_work_months=13.0),
    dict(n_migrant_workers=0, migrant_work_months=5.0),
    dict(income_wage=-1.0),
    dict(identification_month=202301, elimination_month=202303),
    dict(year=2023, risk_eliminated=True, net_income_per_capita=100.0),
    dict(risk_type_1="因病", expense_medical=5000.0),
    dict(risk_type_2="因病", n_serious_ill=1, expense_medical=0.0),
    dict(risk_type_3="缺劳动力"),
    dict(year=2023, identification_month=202305, net_income_per_capita=25000.0),
    dict(net_income_per_capita=2_000_000.0),
    dict(household_type="一般农户", monitoring_category="脱贫不稳定户"),
    dict(risk_type_1="因懒"),
    dict(county_code=np.nan),
    dict(identification_month=202313),
    dict(year=1990),
    dict(year=datetime.now().year + 1),
]


def _file() -> pd.DataFrame:
    return pd.read_csv(schema_dir() / RULES_FILE, dtype=str, keep_default_na=False, encoding="utf-8")


def _broken_reports(panel: pd.DataFrame) -> list:
    df = panel.copy()
    for row, values in enumerate(CASES):
        for k, v in {**BASE, **values}.items():
            df.loc[row, k] = v
    gap = df.drop(index=len(CASES) + 1).reset_index(drop=True)  # a year gap in some household
    dup = pd.concat([gap, gap.iloc[[len(CASES) + 3]]], ignore_index=True)
    return [validate(dup), validate(panel.drop(columns=["county_code"])),
            validate(panel.assign(household_size=panel["household_size"].astype("float64")))]


@pytest.fixture
def issues(panel) -> pd.DataFrame:
    return pd.concat([r.issues for r in _broken_reports(panel)], ignore_index=True)


def test_file_format():
    f = _file()
    assert list(f.columns) == COLUMNS
    assert f["rule"].is_unique and f["rule"].str.fullmatch(r"[a-z_]+").all()
    assert set(f["level"]) <= {"error", "warning", "info"}
    assert set(f["stage"]) == {"schema", "plausibility", "read"}
    assert f["description"].str.len().gt(10).all()
    # the reader writes its own messages; every rule raised by validate() takes its message from here
    assert (f["message"].eq("") == f["stage"].eq("read")).all()
    for msg in f["message"]:
        used = {name for _, name, _, _ in string.Formatter().parse(msg) if name is not None}
        assert used <= PLACEHOLDERS, msg


def test_fields_are_contract_fields():
    known = set(field_names()) | {f"member.{f}" for f in field_names("member")}
    for r in _file().itertuples():
        names = r.fields.split(";")
        assert names == ["*"] or set(names) <= known, (r.rule, set(names) - known)


def test_rules_frame_is_the_file():
    pd.testing.assert_frame_equal(RULES, _file(), check_exact=True)


def test_every_plausibility_rule_has_one_check_and_every_check_a_row():
    f = _file()
    rows = set(f.loc[f["stage"] == "plausibility", "rule"])
    assert rows == set(CHECKS), {"no check": rows - set(CHECKS), "no row": set(CHECKS) - rows}


def test_schema_rules_are_the_schema_checks():
    f = _file()
    rows = set(f.loc[f["stage"] == "schema", "rule"])
    assert rows == set(_schema_parts()[1].values()) | SCHEMA_EXTRA


def test_read_rules_are_raised_by_the_reader():
    src = "".join(p.read_text(encoding="utf-8") for p in Path(fanpin_risk.io.__file__).parent.rglob("*.py"))
    raised = set(re.findall(r'rule="([a-z_]+)"', src))
    f = _file()
    assert set(f.loc[f["stage"] == "read", "rule"]) <= raised
    assert raised <= set(f["rule"]), raised - set(f["rule"])


def test_every_validate_rule_fires_with_its_level_fields_and_message(issues):
    f = _file().set_index("rule")
    assert set(issues["rule"]) == set(f.index[f["stage"] != "read"])
    assert (issues["level"] == f.loc[issues["rule"], "level"].to_numpy()).all()
    for r in issues.drop_duplicates(["rule", "field"]).itertuples():
        names = f.at[r.rule, "fields"].split(";")
        assert names == ["*"] or r.field in names, (r.rule, r.field)


def test_messages_keep_their_wording(issues):
    got = dict(zip(zip(issues["rule"], issues["field"]), issues["message"]))
    assert got[("count_gt_size", "n_elderly")] == "n_elderly (65岁以上人数) exceeds household_size (家庭人口数)"
    assert got[("household_size_min", "household_size")] == "household_size (家庭人口数): value outside 1..30"
    assert got[("negative_amount", "income_wage")] == "income_wage (工资性收入): value outside 0.."
    assert got[("code_list", "risk_type_1")] == "risk_type_1 (致贫返贫风险1): value outside the code list risk_type (kept)"
    assert got[("required", "county_code")] == "county_code (县代码) is required but empty on this row"
    assert got[("missing_column", "county_code")] == "required field county_code (县代码) is missing; add the column"
    assert got[("dtype", "household_size")] == (
        "household_size (家庭人口数): column dtype float64 is not the canonical Int64; "
        "read the data with read_panel or contract.to_canonical_dtypes")
    assert got[("extreme_income", "net_income_per_capita")] == (
        "per-capita net income above 1,000,000 yuan; check the unit (元 vs 万元) and household_size")
