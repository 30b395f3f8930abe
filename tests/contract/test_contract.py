"""The contract files in data_schema/ agree with ../shared/contract and behave as documented."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, MissingLineError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "contract"


def _shared_rows(name: str) -> list[dict]:
    rows = []
    with (SHARED / name).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            extra = r.pop(None, None)
            if extra:  # the shared file has an unquoted comma in one description
                r["description"] = ",".join([r["description"], *extra])
            rows.append(r)
    return rows


@pytest.mark.parametrize("table", ["household_year", "member"])
def test_data_schema_agrees_with_shared_contract(table):
    if not SHARED.is_dir():
        pytest.skip(f"shared contract not found at {SHARED}")
    ours = contract.fields(table).set_index("field")
    for r in _shared_rows(f"{table}.csv"):
        assert r["field"] in ours.index, f"{r['field']} missing from data_schema/{table}.csv"
        o = ours.loc[r["field"]]
        assert o["zh_header"] == r["zh_header"]
        assert o["type"] == r["type"]
        assert o["unit"] == r["unit"]
        assert bool(o["required"]) == (r["required"] == "yes")
    extra = set(ours.index) - {r["field"] for r in _shared_rows(f"{table}.csv")}
    # risk_type_2..5 are described inside risk_type_1 in the shared contract
    assert extra <= {f"risk_type_{k}" for k in range(2, 6)}


def test_data_dictionary_is_up_to_date():
    text = (contract.schema_dir() / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    assert text == contract.data_dictionary_markdown(), "run: python -m fanpin_risk.contract"


def test_data_dictionary_lists_every_feed_kind_and_its_headers():
    text = contract.data_dictionary_markdown()
    section = text.split("## Department push lists")[1].split("## Code lists")[0]
    for kind in contract.feed_kinds().itertuples():
        assert f"### `{kind.kind}` — {kind.department}·{kind.zh_name}" in section
        for f in contract.feed_fields(kind.kind).itertuples():
            assert f"| `{f.field}` | {f.zh_header} |" in section


def test_data_dictionary_lists_the_cause_rules():
    import pandas as pd

    text = contract.data_dictionary_markdown()
    section = text.split("## Cause attribution rules")[1].split("## Code lists")[0]
    removal = pd.read_csv(contract.schema_dir() / "cause_removal.csv", dtype=str)
    exposure = pd.read_csv(contract.schema_dir() / "cause_exposure.csv", dtype=str)
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| risk type")]
    assert len(rows) == len(removal) + len(exposure)
    assert "| 因务工就业不稳 | `income_wage` | usual | shock_job_loss@3 |" in section


def test_the_documented_regeneration_command_runs():
    import subprocess
    import sys

    # it rewrites the file the test above keeps up to date, so the content does not change
    p = subprocess.run([sys.executable, "-m", "fanpin_risk.contract"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "DATA_DICTIONARY.md" in p.stdout
    assert (contract.schema_dir() / "DATA_DICTIONARY.md").read_text(encoding="utf-8") == contract.data_dictionary_markdown()


def test_code_lists_cover_contract_categories():
    assert contract.code_list("household_type") == ["脱贫户", "监测户", "一般农户"]
    assert len(contract.code_list("risk_type")) == 11
    assert contract.code_names("monitoring_category")["突发严重困难户"] == "sudden_hardship"
    with pytest.raises(ContractError, match="unknown code list"):
        contract.code_list("nope")
    f = contract.fields()
    for name in f["code_list"][f["code_list"] != ""]:
        assert contract.code_list(name)


@pytest.mark.parametrize(
    "header, field",
    [("户编号", "household_id"), ("household_id", "household_id"), ("人均纯收入（元）", "net_income_per_capita"),
     ("人均纯收入(元)", "net_income_per_capita"), (" 年 度 ", "year"), ("HOUSEHOLD_SIZE", "household_size"),
     ("致贫返贫风险3", "risk_type_3"), ("风险是否已消除", "risk_eliminated")],
)
def test_header_aliases(header, field):
    assert contract.header_map()[contract.normalize_header(header)] == field


def test_member_headers():
    assert contract.header_map("member")[contract.normalize_header("务工时间（月）")] == "work_months"


def test_line_lookup_order():
    df = pd.DataFrame(
        {"year": [2021, 2023, 2023, 2023, 2023, 2024],
         "province": ["贵州省", "52", "云南", "530102", None, "广东"],
         "monitoring_line": [None, None, None, None, 9100.0, None]}
    )
    got = contract.lookup_line(df).tolist()
    # 2021 Guizhou: no provincial row → national 6000; 2023 Guizhou by code 52 → 7300;
    # Yunnan by name and by county code → 8050; own column wins; Guangdong 2024 → national 7300
    assert got == [6000.0, 7300.0, 8050.0, 8050.0, 9100.0, 7300.0]


def test_line_lookup_user_table_and_missing_year():
    user = pd.DataFrame({"省": ["贵州"], "年度": [2030], "监测标准": [9999]})
    df = pd.DataFrame({"year": [2030], "province": ["贵州"]})
    assert contract.lookup_line(df, user).tolist() == [9999.0]
    with pytest.raises(MissingLineError, match=r"year\(s\) \[2031\]"):
        contract.lookup_line(pd.DataFrame({"year": [2031, 2023]}))


def test_line_table_rejects_duplicates_and_missing_columns():
    with pytest.raises(ContractError, match="repeats"):
        contract.load_lines(pd.DataFrame({"province": ["贵州", "贵州省"], "year": [2023, 2023], "line": [1, 2]}))
    with pytest.raises(ContractError, match="line"):
        contract.load_lines(pd.DataFrame({"province": ["贵州"], "year": [2023]}))


def test_canonical_dtypes_cast_and_refuse_fractions():
    df = pd.DataFrame({"household_id": ["H1"], "year": [2021.0], "household_size": [3.0], "housing_safe": [True]})
    out = contract.to_canonical_dtypes(df)
    assert str(out["year"].dtype) == "Int64" and str(out["housing_safe"].dtype) == "boolean"
    assert str(out["household_id"].dtype) == "str"
    with pytest.raises(ContractError, match="household_size"):
        contract.to_canonical_dtypes(df.assign(household_size=[2.5]))
