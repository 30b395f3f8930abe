"""Headers as people write them, and units in headers scaled to the contract's unit (issue 13, points 3 and 5)."""

from __future__ import annotations

import csv
import shutil

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, FanpinError
from fanpin_risk.io import read_panel
from fanpin_risk.io import _values
from fanpin_risk.io._headers import _closest_headers, _closest_hint, _match_header

_BASE = {"户编号": ["H001", "H002"], "年度": ["2023", "2023"], "县代码": "520102", "户类型": "脱贫户",
         "家庭人口数": ["3", "4"], "工资性收入": ["12000", "8000"], "生产经营性收入": ["2000", "0"],
         "转移性收入": ["1500", "2600"]}


def _frame(**renamed) -> pd.DataFrame:
    """The base export with some headers renamed (``old=new``) and columns added (``new=[values]``)."""
    d = dict(_BASE)
    for old, new in renamed.items():
        if old in d and isinstance(new, str):
            d[new] = d.pop(old)
        else:
            d[old] = new
    return pd.DataFrame(d)


# --------------------------------------------------------------------------- header spelling
@pytest.mark.parametrize("header, key, unit", [
    ("戶編號", "户编号", None),                       # traditional characters
    ("家庭人口數", "家庭人口数", None),
    ("工資性收入（萬元）", "工资性收入", "万元"),       # traditional unit too
    ("*户编号", "户编号", None),                       # required-field markers, either end
    ("户编号*", "户编号", None),
    ("※户编号", "户编号", None),
    ("＊户编号", "户编号", None),
    ("户编号(必填)", "户编号", None),
    ("\ufeff户编号", "户编号", None),                  # BOM / zero-width characters anywhere
    ("户\u200b编号", "户编号", None),
    ("户编\u200c号\u200d", "户编号", None),
    ("\u2060年度", "年度", None),
    ("家庭\n人口数", "家庭人口数", None),              # line break inside a header (Alt+Enter in Excel)
    ("家庭_x000D_\n人口数", "家庭人口数", None),
    ("家庭  人口 数", "家庭人口数", None),
    ("县（市、区）", "县(市、区)", None),               # full-width brackets are the contract's own
    ("户编号：", "户编号", None),                      # full-width colon after a header
    ("工资性收入（万元）", "工资性收入", "万元"),        # units, every way counties write them
    ("工资性收入(万元)", "工资性收入", "万元"),
    ("工资性收入（单位：万元）", "工资性收入", "万元"),
    ("工资性收入 单位：千元", "工资性收入", "千元"),
    ("工资性收入/万元", "工资性收入", "万元"),
    ("工资性收入【万元】", "工资性收入", "万元"),
    ("工资性收入［元］", "工资性收入", "元"),
    ("工资性收入（万）", "工资性收入", "万"),
    ("人均纯收入（元/人·年）", "人均纯收入", "元/人·年"),
    ("监测标准(元/人/年)", "监测标准", "元/人/年"),
    ("*工资性收入（万元）*", "工资性收入", "万元"),
    ("家庭人口数（人）", "家庭人口数", "人"),
    ("年龄（周岁）", "年龄", "周岁"),
    ("与户主关系（户主为本人）", "与户主关系(户主为本人)", None),  # a bracket that is no unit stays
    ("元", "元", None),                                           # a header that is only a unit stays
])
def test_normalize_header_reads_headers_as_written(header, key, unit):
    assert contract.normalize_header(header, unit=True) == (key, unit)
    assert contract.normalize_header(header) == key


def test_every_contract_header_is_unchanged_by_the_new_rules():
    # contract headers are simplified, unmarked and visible already: normalising them again changes nothing
    for table in ("household_year", "member"):
        for key in contract.header_map(table):
            assert contract.normalize_header(key) == key


@pytest.mark.parametrize("header, field", [
    ("戶編號", "household_id"), ("家庭人口數", "household_size"), ("勞動力人數", "n_labor"),
    ("轉移性收入", "income_transfer"), ("*户编号", "household_id"), ("户编号\u200b", "household_id"),
    ("家庭人口", "household_size"), ("家庭人口数", "household_size"),      # two years' spellings
    ("劳动力人", "n_labor"), ("务工人", "n_migrant_workers"),               # a trailing 数 is optional
    ("残疾人口", "n_disabled"),
])
def test_headers_match_their_field(header, field):
    assert _match_header(header, "household_year") == field


@pytest.mark.parametrize("header", ["低保户数", "特困户数", "户编号数"])
def test_optional_trailing_shu_never_turns_a_count_into_a_yes_no_or_key_field(header):
    assert _match_header(header, "household_year") is None


def test_read_panel_with_headers_written_every_way(tmp_path):
    headers = ["\ufeff*戶編號", "年\u200b度", "县代码\n", "※户类型", "家庭人口數", "工资性收入（元）",
               "生產經營性收入", "转移性收入：", "村名"]
    rows = [["H001", "2023", "520102", "脱贫户", "3", "12000", "2000", "1500", "某村"],
            ["H002", "2023", "520102", "监测户", "4", "8000", "0", "2600", "某村"]]
    path = tmp_path / "traditional_marked.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([headers, *rows])
    df, rep = read_panel(path, salt="s")
    assert len(df) == 2 and rep.ok
    assert df["household_id"].tolist() == ["H001", "H002"]
    assert df["household_size"].tolist() == [3, 4]
    assert df["income_business"].tolist() == [2000.0, 0.0]
    assert df["income_transfer"].tolist() == [1500.0, 2600.0]
    assert rep.header_map["家庭人口數"] == "household_size"
    assert rep.unknown_columns == ["村名"]


def test_two_years_with_slightly_different_headers_read_as_one_field():
    y22 = _frame(家庭人口数="家庭人口", 年度=["2022", "2022"])
    y23 = _frame()
    # pasted side by side by a county: the same household, two years, two spellings
    for frame in (y22, y23):
        df, rep = read_panel(frame, salt="s")
        assert df["household_size"].tolist() == [3, 4]


# --------------------------------------------------------------------------- MultiIndex columns
def test_two_level_header_from_read_excel(tmp_path):
    path = tmp_path / "two_rows.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["基本情况", None, None, None, None, "收入情况（元）", None, None, "致贫返贫风险", None])
    ws.append(["户编号", "年度", "县代码", "户类型", "家庭人口数", "工资性收入", "生产经营性收入", "转移性收入", "1", "2"])
    ws.append(["H001", 2023, "520102", "脱贫户", 3, 12000, 2000, 1500, "因病", "因学"])
    ws.append(["H002", 2023, "520102", "监测户", 4, 8000, 0, 2600, "因残", None])
    wb.save(path)
    raw = pd.read_excel(path, header=[0, 1])
    assert isinstance(raw.columns, pd.MultiIndex)
    df, rep = read_panel(raw, salt="s")
    assert df["household_id"].tolist() == ["H001", "H002"]
    assert df["income_wage"].tolist() == [12000.0, 8000.0]
    assert df["risk_type_1"].tolist() == ["因病", "因残"]
    assert df["risk_type_2"].iloc[0] == "因学"
    assert any("several levels" in n for n in rep.notes)


def test_multiindex_frame_with_year_blocks_keeps_both_columns():
    cols = pd.MultiIndex.from_tuples([("", "户编号"), ("", "年度"), ("", "县代码"), ("", "户类型"),
                                      ("", "家庭人口数"), ("2023年", "工资性收入"), ("2023年", "生产经营性收入"),
                                      ("2023年", "转移性收入"), ("2022年", "工资性收入")])
    raw = pd.DataFrame([["H001", "2023", "520102", "脱贫户", "3", "12000", "0", "0", "9000"]], columns=cols)
    df, rep = read_panel(raw, salt="s")
    assert df["income_wage"].tolist() == [12000.0]  # the first is used, the repeat set aside with a note
    assert "工资性收入.1" in rep.unknown_columns
    assert raw.columns.nlevels == 2  # the caller's frame is not changed


# --------------------------------------------------------------------------- closest headers
def test_closest_headers_name_what_the_file_has():
    headers = ["户 主编码", "农户编号", "姓名", "年度", "户主姓名"]
    near = _closest_headers("household_id", headers)
    assert near[:2] == ["户 主编码", "农户编号"] or set(near[:2]) == {"户 主编码", "农户编号"}
    assert "姓名" not in near and "年度" not in near
    assert _closest_hint("household_id", headers).startswith("; closest headers in the file: ")
    assert _closest_hint("household_id", ["姓名", "性别"]) == ""


def test_closest_headers_strip_the_member_table_prefix():
    assert _closest_headers("household_size", ["member table: 家庭总人口"]) == ["家庭总人口"]


# --------------------------------------------------------------------------- units
@pytest.mark.parametrize("header, values, expected, factor", [
    ("工资性收入（万元）", ["2.9554", "0.8"], [29554.0, 8000.0], "10000"),
    ("工资性收入(千元)", ["29.554", "8"], [29554.0, 8000.0], "1000"),
    ("工资性收入（单位：万元）", ["2.9554", "0.8"], [29554.0, 8000.0], "10000"),
    ("工资性收入/万元", ["2.9554", "0.8"], [29554.0, 8000.0], "10000"),
    ("工资性收入【万元】", [2.9554, 0.8], [29554.0, 8000.0], "10000"),     # numeric cells
    ("工资性收入（万）", ["0.07", "0.8"], [700.0, 8000.0], "10000"),       # exactly 700, no float dust
    ("工資性收入（萬元）", ["2.9554", "0.8"], [29554.0, 8000.0], "10000"),
    ("工资性收入（元/月）", ["1000", "500"], [12000.0, 6000.0], "12"),
])
def test_money_units_are_scaled_to_yuan_with_a_note(header, values, expected, factor):
    df, rep = read_panel(_frame(工资性收入=header).assign(**{header: values}), salt="s")
    assert df["income_wage"].tolist() == expected
    note = next(n for n in rep.notes if header in n)
    assert f"multiplied by {factor}" in note and "income_wage" in note


def test_cells_with_their_own_unit_are_read_as_written():
    raw = _frame(工资性收入="工资性收入（万元）").assign(**{"工资性收入（万元）": ["1.2万", "29554元"]})
    df, rep = read_panel(raw, salt="s")
    assert df["income_wage"].tolist() == [12000.0, 29554.0]
    assert any("2 value(s) written with their own unit" in n for n in rep.notes)


def test_units_of_the_contract_unit_change_nothing_and_say_nothing():
    raw = _frame(工资性收入="工资性收入（元）", 家庭人口数="家庭人口数（人）")
    df, rep = read_panel(raw, salt="s")
    assert df["income_wage"].tolist() == [12000.0, 8000.0] and df["household_size"].tolist() == [3, 4]
    assert not any("multiplied" in n for n in rep.notes)


def test_scaled_values_go_through_validation_in_yuan():
    # 2.9 read as yuan would be a plausibility problem; 29,000 yuan is not
    raw = _frame(工资性收入="工资性收入（万元）", 生产经营性收入="生产经营性收入（千元）",
                 转移性收入="转移性收入（万元）").assign(**{"工资性收入（万元）": ["2.9", "1.1"],
                                                         "生产经营性收入（千元）": ["1.5", "0"],
                                                         "转移性收入（万元）": ["0.3", "0.26"]})
    df, rep = read_panel(raw, salt="s")
    assert df["net_income_per_capita"].round(2).tolist() == [round((29000 + 1500 + 3000) / 3, 2),
                                                             round((11000 + 0 + 2600) / 4, 2)]
    assert sum("multiplied" in n for n in rep.notes) == 3


@pytest.mark.parametrize("header, unit", [("工资性收入（亩）", "亩"), ("工资性收入(人)", "人"),
                                          ("家庭人口数（万元）", "万元"), ("家庭人口数（月）", "月")])
@pytest.mark.parametrize("errors", ["raise", "warn"])
def test_a_unit_that_cannot_measure_the_field_is_a_contract_error_naming_the_column(header, unit, errors):
    old = "工资性收入" if header.startswith("工资") else "家庭人口数"
    with pytest.raises(ContractError) as exc:
        read_panel(_frame(**{old: header}), salt="s", errors=errors)
    msg = str(exc.value)
    assert header in msg and unit in msg and "household table" in msg
    assert isinstance(exc.value, FanpinError)


def test_per_person_unit_on_a_household_total_is_read_with_a_note():
    raw = _frame(转移性收入="转移性收入(元/人/年)")
    df, rep = read_panel(raw, salt="s")
    assert df["income_transfer"].tolist() == [1500.0, 2600.0]
    assert any("转移性收入(元/人/年)" in n and "yuan/year" in n for n in rep.notes)


def test_units_on_member_rows_and_on_household_fields_of_member_rows():
    members = pd.DataFrame({
        "户编号": ["H001"] * 3 + ["H002"] * 4, "年度": "2023", "成员序号": [1, 2, 3, 1, 2, 3, 4],
        "务工时间（年）": ["0.5", "1", "", "0.25", "", "", ""],     # months of wage work, written in years
        "年龄（周岁）": ["40", "38", "10", "70", "66", "30", "5"],
        "小额信贷金额（万元）": ["5", "5", "5", "", "", "", ""],   # a household field repeated on member rows
    })
    df, rep = read_panel(_frame(), members=members, salt="s")
    assert df["migrant_work_months"].tolist() == [18.0, 3.0]
    assert df["n_elderly"].tolist() == [0, 2] and df["n_children"].tolist() == [1, 1]
    assert df["microcredit"].iloc[0] == 50000.0
    assert any("务工时间（年）" in n and "multiplied by 12" in n for n in rep.notes)
    assert any("小额信贷金额（万元）" in n and "multiplied by 10000" in n for n in rep.notes)


def test_unit_on_a_member_field_that_cannot_be_is_named():
    members = pd.DataFrame({"户编号": ["H001"], "年度": "2023", "成员序号": [1], "年龄（万元）": ["40"]})
    with pytest.raises(ContractError, match="member table: column '年龄（万元）' is in 万元"):
        read_panel(_frame(), members=members, salt="s", errors="warn")


# --------------------------------------------------------------------------- units.csv
def _units_file():
    with (contract.schema_dir() / "units.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_units_file_has_every_unit_of_the_issue_and_each_row_is_read_from_a_header():
    rows = _units_file()
    assert {"元", "万元", "千元", "亩", "月", "人", "万"} <= {r["unit"] for r in rows}
    for r in rows:
        assert contract.normalize_header(f"工资性收入（{r['unit']}）", unit=True)[1] == r["unit"].lower(), r
        assert float(r["factor"]) > 0


def test_every_contract_unit_accepts_some_header_unit():
    for table in ("household_year", "member"):
        for u in set(contract.fields(table)["unit"]) - {"", "YYYYMM"}:
            assert _values._fitting_units(u), u


def test_a_broken_units_file_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "data_schema"
    shutil.copytree(contract.schema_dir(), folder)
    with (folder / "units.csv").open("a", encoding="utf-8") as fh:
        fh.write("斤,0.5,kilograms,a unit of weight no base knows\n")
    monkeypatch.setattr(contract, "schema_dir", lambda: folder)
    _values._unit_rows.cache_clear()
    try:
        with pytest.raises(ContractError, match="units.csv: row '斤'"):
            _values._unit_rows()
    finally:
        monkeypatch.undo()
        _values._unit_rows.cache_clear()
    assert "万元" in _values._unit_rows()


# --------------------------------------------------------------------------- properties
_CONTRACT_HEADERS = sorted({h for t in ("household_year", "member")
                            for h in [*contract.zh_headers(t).values()]})
_NOISE = st.sampled_from(["\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", " ", "\u3000", "\n", "\r\n", "\t"])


@settings(max_examples=200, deadline=None)
@given(header=st.sampled_from(_CONTRACT_HEADERS), noise=st.lists(st.tuples(st.integers(0, 20), _NOISE), max_size=4),
       marker=st.sampled_from(["", "*", "※", "＊"]))
def test_invisible_characters_spaces_and_markers_never_change_the_key(header, noise, marker):
    noisy = header
    for pos, ch in noise:
        noisy = noisy[:pos] + ch + noisy[pos:]
    assert contract.normalize_header(marker + noisy) == contract.normalize_header(header)
