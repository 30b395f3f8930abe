from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, MissingLineError, ReadError
from fanpin_risk.io import parse_bool, parse_month, parse_number, read_panel


def minimal(n: int = 2, **over) -> pd.DataFrame:
    """A raw household table with only the required fields (Chinese headers)."""
    d = {
        "户编号": [f"52010{i:05d}" for i in range(n)],
        "年度": [2023] * n,
        "县代码": ["520102"] * n,
        "户类型": ["脱贫户"] * n,
        "家庭人口数": [3] * n,
        "工资性收入": [12000] * n,
        "生产经营性收入": [3000] * n,
        "转移性收入": [900] * n,
    }
    d.update(over)
    return pd.DataFrame(d)


# --------------------------------------------------------------------------- value parsers
@pytest.mark.parametrize("raw,expected", [
    ("是", True), ("否", False), (" 是 ", True), ("否\u3000", False), ("true", True), ("FALSE", False),
    ("1", True), ("0", False), (1, True), (0.0, False), ("Y", True), ("n", False), ("√", True), ("×", False),
    (True, True),
])
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "是否"])
def test_parse_bool_rejects(raw):
    with pytest.raises(ValueError):
        parse_bool(raw)


@pytest.mark.parametrize("raw,expected", [
    ("1,200", 1200.0), ("1,200元", 1200.0), ("3人", 3.0), ("１２００", 1200.0), ("1.5万元", 15000.0),
    (" 12 345.5 ", 12345.5), ("-300", -300.0), (7, 7.0), ("6个月", 6.0), ("1，200", 1200.0), ("2022年", 2022.0),
])
def test_parse_number(raw, expected):
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "元"])
def test_parse_number_rejects(raw):
    with pytest.raises(ValueError):
        parse_number(raw)


@pytest.mark.parametrize("raw", [202103, "202103", "2021-03", "2021/3", "2021年3月", "2021年03月15日", "2021.3",
                                 date(2021, 3, 15), datetime(2021, 3, 1), 202103.0, "20210315", "2021-03-01 00:00:00"])
def test_parse_month(raw):
    assert parse_month(raw) == 202103


@pytest.mark.parametrize("raw", ["202113", "2021", "March"])
def test_parse_month_rejects(raw):
    with pytest.raises(ValueError):
        parse_month(raw)


# --------------------------------------------------------------------------- headers and values
def test_headers_chinese_english_alias_unit_fullwidth():
    raw = pd.DataFrame({
        "household_id": ["A1"], "年份": [2023], "县（市、区）": ["520102"], "户类别": ["脱贫户"],
        "家庭 人口数": ["3人"], "工资性收入（元）": ["12,000元"], "ｉｎｃｏｍｅ＿ｂｕｓｉｎｅｓｓ": ["3000"],
        "转移性收入(元/人/年)": [900], "人均纯收入（元）": ["5,000"], "村名": ["某村"],
    })
    df, rep = read_panel(raw)
    assert rep.header_map["年份"] == "year"
    assert rep.header_map["县（市、区）"] == "county_code"
    assert rep.header_map["户类别"] == "household_type"
    assert rep.header_map["家庭 人口数"] == "household_size"
    assert rep.header_map["ｉｎｃｏｍｅ＿ｂｕｓｉｎｅｓｓ"] == "income_business"
    assert rep.header_map["转移性收入(元/人/年)"] == "income_transfer"
    assert df.loc[0, "household_size"] == 3 and df.loc[0, "income_wage"] == 12000.0
    assert df.loc[0, "net_income_per_capita"] == 5000.0
    assert list(df.columns) == contract.field_names()
    assert rep.unknown_columns == ["村名"]
    assert "村名" not in df.columns and list(rep.extras["村名"]) == ["某村"]


def test_output_dtypes_and_all_fields():
    df, rep = read_panel(minimal())
    assert list(df.columns) == contract.field_names()
    assert df.dtypes.astype(str).to_dict() == contract.canonical_dtypes()
    assert df["risk_type_1"].isna().all() and df["housing_safe"].isna().all()


def test_booleans_in_table_and_inverse_header():
    raw = minimal(6, **{"享受低保": ["是", " 否 ", "√", "×", "Y", "0"], "是否危房户": ["是", "否", "", "否", "是", "否"]})
    df, rep = read_panel(raw)
    assert df["receives_dibao"].tolist() == [True, False, True, False, True, False]
    assert df["housing_safe"].tolist() == [False, True, pd.NA, True, False, True]
    assert rep.header_map["是否危房户"] == "housing_safe"


def test_months_in_table_and_newly_identified_derived():
    raw = minimal(4, **{"识别监测时间": ["2023-03", "2022年5月", "202311", ""], "年度": [2023] * 4})
    df, rep = read_panel(raw)
    assert df["identification_month"].tolist() == [202303, 202205, 202311, pd.NA]
    assert df["newly_identified"].tolist() == [True, False, True, False]
    assert any("newly_identified" in n for n in rep.notes)


def test_category_spaces_and_out_of_list_warning():
    raw = minimal(2, **{"户类型": ["脱贫 户", "贫困户"], "致贫返贫风险1": ["因 病", None]})
    df, rep = read_panel(raw, errors="warn")
    assert df["household_type"].tolist() == ["脱贫户", "贫困户"]
    assert df.loc[0, "risk_type_1"] == "因病"
    w = rep.warnings
    assert ((w["rule"] == "code_list") & (w["field"] == "household_type") & (w["value"] == "贫困户")).sum() == 1
    assert rep.ok


def test_unparseable_number_is_an_error_kept_row():
    raw = minimal(2, **{"工资性收入": ["12000", "abc"]})
    with pytest.raises(ContractError, match="income_wage"):
        read_panel(raw)
    df, rep = read_panel(raw, errors="warn")
    assert len(df) == 2 and pd.isna(df.loc[1, "income_wage"])
    assert rep.errors.loc[0, "rule"] == "parse" and rep.errors.loc[0, "row"] == 1


def test_net_income_derived_per_row():
    raw = minimal(2, **{"人均纯收入": [None, 5000], "生产经营性支出": [600, 600], "财产性收入": [300, None]})
    df, rep = read_panel(raw)
    assert df.loc[0, "net_income_per_capita"] == pytest.approx((12000 + 3000 - 600 + 300 + 900) / 3)
    assert df.loc[1, "net_income_per_capita"] == 5000.0
    assert any("derived for 1 row" in n for n in rep.notes)


def test_missing_required_column_message():
    raw = minimal().drop(columns=["家庭人口数"])
    with pytest.raises(ContractError, match=r"household_size \(家庭人口数\) is missing.*members="):
        read_panel(raw)
    df, rep = read_panel(raw, errors="warn")
    assert not rep.ok and "missing_column" in set(rep.errors["rule"])


def test_duplicated_household_year_raises_or_warns():
    raw = minimal(2, **{"户编号": ["X1", "X1"]})
    with pytest.raises(ContractError, match="duplicate_key"):
        read_panel(raw)
    df, rep = read_panel(raw, errors="warn")
    assert len(df) == 2 and (rep.errors["rule"] == "duplicate_key").sum() == 2


def test_sorted_and_issue_rows_follow_sorting():
    raw = minimal(3, **{"户编号": ["C", "A", "B"], "工资性收入": ["1", "2", "bad"]})
    df, rep = read_panel(raw, errors="warn")
    assert df["household_id"].tolist() == ["A", "B", "C"]
    err = rep.errors.iloc[0]
    assert err["row"] == 1 and err["household_id"] == "B"


# --------------------------------------------------------------------------- lines
def test_line_lookup_order():
    raw = minimal(4, **{"户编号": list("ABCD"), "省": ["贵州", "贵州", "湖南", "贵州"],
                        "年度": [2023, 2023, 2023, 2021], "监测标准": [9999, None, None, None]})
    df, _ = read_panel(raw)
    assert df["monitoring_line"].tolist() == [9999.0, 7300.0, 7000.0, 6000.0]  # own, province, national, national


def test_line_missing_year_error():
    raw = minimal(1, **{"年度": [2030]})
    with pytest.raises(MissingLineError, match="2030"):
        read_panel(raw)
    df, rep = read_panel(raw, errors="warn")
    assert "missing_line" in set(rep.errors["rule"])


def test_lines_table_and_province_argument():
    lines = pd.DataFrame({"province": ["湖南"], "year": [2023], "line": [7777]})
    df, _ = read_panel(minimal(1), lines=lines, province="湖南省")
    assert df.loc[0, "monitoring_line"] == 7777.0 and df.loc[0, "province"] == "湖南"  # one spelling per province


@pytest.mark.parametrize("spelling", ["贵州", "贵州省", "52", "贵州 省", " 贵州省\u3000", "５２"])
def test_every_spelling_of_a_province_gets_its_line_and_one_name(spelling):
    df, rep = read_panel(minimal(2, province=[spelling, "贵州省"]))
    assert df["province"].tolist() == ["贵州", "贵州"]
    assert df["monitoring_line"].tolist() == [7300.0, 7300.0]  # Guizhou 2023, not the national 7000
    assert "unknown_province" not in set(rep.issues["rule"])


def test_a_province_that_names_none_is_warned_and_takes_the_national_line():
    df, rep = read_panel(minimal(2, province=["黔东南", "贵州"]))
    assert df["monitoring_line"].tolist() == [7000.0, 7300.0]
    warn = rep.issues[rep.issues["rule"] == "unknown_province"]
    assert len(warn) == 1 and warn["level"].iloc[0] == "warning" and "'黔东南'" in warn["message"].iloc[0]


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("encoding,headers", [("utf-8", "zh"), ("utf-8-sig", "zh"), ("gbk", "zh"), ("utf-8", "en"), ("gb18030", "en")])
def test_csv_round_trip(panel, tmp_path, encoding, headers):
    path = tmp_path / "hh.csv"
    contract.export_frame(panel, headers=headers).to_csv(path, index=False, encoding=encoding)
    df, rep = read_panel(path)
    pd.testing.assert_frame_equal(df, panel)
    want = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "gbk": "GBK/GB18030", "gb18030": "GBK/GB18030"}[encoding]
    assert f"text encoding {want}" in " ".join(rep.notes)


def test_csv_not_mangled_invalid_bytes(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x81\x30\xff\xfe\xff,a\n")
    with pytest.raises(ReadError):
        read_panel(path)


def test_csv_title_rows(tmp_path):
    path = tmp_path / "t.csv"
    body = minimal(2).to_csv(index=False)
    path.write_text("某县防止返贫监测对象信息表\n导出时间：2024-01-05,,\n" + body, encoding="gbk")
    df, rep = read_panel(path)
    assert len(df) == 2 and "header found on row 3" in " ".join(rep.notes)


@pytest.mark.parametrize("headers", ["zh", "en"])
def test_xlsx_round_trip(panel, tmp_path, headers):
    path = tmp_path / "hh.xlsx"
    contract.export_frame(panel, headers=headers).to_excel(path, index=False)
    df, _ = read_panel(path)
    pd.testing.assert_frame_equal(df, panel)


@pytest.mark.parametrize("headers", ["zh", "en"])
def test_parquet_round_trip(panel, tmp_path, headers):
    path = tmp_path / "hh.parquet"
    contract.export_frame(panel, headers=headers, booleans="bool").to_parquet(path)
    df, _ = read_panel(path)
    pd.testing.assert_frame_equal(df, panel)


def test_dataframe_round_trip_with_members(panel, members):
    df, rep = read_panel(panel, members=members)
    pd.testing.assert_frame_equal(df, panel)
    assert rep.ok and (rep.issues["rule"] != "member_mismatch").all()


def test_xlsx_title_row_and_sheet_choice(tmp_path):
    path = tmp_path / "wb.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"说明": ["本表仅供测试"]}).to_excel(xw, sheet_name="说明", index=False)
        pd.DataFrame([["监测对象信息表"]]).to_excel(xw, sheet_name="户信息", index=False, header=False)
        minimal(3).to_excel(xw, sheet_name="户信息", index=False, startrow=2)
    df, rep = read_panel(path)
    notes = " ".join(rep.notes)
    assert len(df) == 3 and "chose sheet '户信息'" in notes and "header found on row 3" in notes
    df2, _ = read_panel(path, sheet=1)
    pd.testing.assert_frame_equal(df, df2)
    with pytest.raises(ReadError, match="no sheet named"):
        read_panel(path, sheet="nope")
    with pytest.raises(ReadError, match="no header row"):
        read_panel(path, sheet="说明")


def test_member_sheet_in_same_workbook(tmp_path):
    path = tmp_path / "wb.xlsx"
    hh = minimal(1, **{"户编号": ["A"]}).drop(columns=["家庭人口数"])
    mem = pd.DataFrame({"户编号": ["A", "A"], "年度": [2023, 2023], "成员序号": [1, 2], "年龄": [40, 70]})
    with pd.ExcelWriter(path) as xw:
        hh.to_excel(xw, sheet_name="户", index=False)
        mem.to_excel(xw, sheet_name="成员", index=False)
    df, rep = read_panel(path, sheet="户", member_sheet="成员")
    assert df.loc[0, "household_size"] == 2 and df.loc[0, "n_elderly"] == 1


def test_unsupported_and_missing_file(tmp_path):
    with pytest.raises(ReadError, match="not found"):
        read_panel(tmp_path / "none.csv")
    p = tmp_path / "x.json"
    p.write_text("{}")
    with pytest.raises(ReadError, match="unsupported"):
        read_panel(p)


# --------------------------------------------------------------------------- member aggregation
def _mem(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"户编号": ["A"] * n, "年度": [2023] * n, "成员序号": list(range(1, n + 1))}
    base.update(cols)
    return pd.DataFrame(base)


def _hh_without(*drop: str) -> pd.DataFrame:
    return minimal(1, **{"户编号": ["A"]}).drop(columns=list(drop))


def test_members_household_size():
    df, rep = read_panel(_hh_without("家庭人口数"), members=_mem(年龄=[30, 31, 5, 2]))
    assert df.loc[0, "household_size"] == 4
    assert any("household_size" in n for n in rep.notes)


@pytest.mark.parametrize("weak,expected", [(False, 2), (True, 3)])
def test_members_n_labor(weak, expected):
    m = _mem(劳动技能=["技能劳动力", "普通劳动力", "弱劳动力或半劳动力", "丧失劳动力", "无劳动力"])
    df, _ = read_panel(_hh_without("家庭人口数"), members=m, count_weak_labor=weak)
    assert df.loc[0, "n_labor"] == expected


def test_members_work_months_clipped_and_flagged():
    m = _mem(**{"务工时间（月）": [10, 14, 0, None]})
    df, rep = read_panel(_hh_without("家庭人口数"), members=m)
    assert df.loc[0, "n_migrant_workers"] == 2
    assert df.loc[0, "migrant_work_months"] == 22.0
    w = rep.warnings
    assert (w["rule"] == "member_work_months_range").sum() == 1 and w.loc[0, "row"] == 0


def test_members_age_counts_students_and_health():
    m = _mem(年龄=[70, 65, 64, 15, 16, 3],
             在校生状况=[None, None, None, "九年级", "普通高中一年级", "学龄前儿童"],
             健康状况=["残疾,长期慢性病", "患有大病", "长期慢性病、残疾", "健康", "残疾；患有大病", None])
    df, _ = read_panel(_hh_without("家庭人口数"), members=m)
    r = df.iloc[0]
    assert (r.household_size, r.n_elderly, r.n_children, r.n_students) == (6, 2, 2, 2)
    assert (r.n_disabled, r.n_chronic_ill, r.n_serious_ill) == (3, 2, 2)


def test_members_age_from_birth_date():
    m = _mem(出生日期=["1950-03-02", "2010年1月1日", "19900101"])
    df, rep = read_panel(_hh_without("家庭人口数"), members=m)
    assert (df.loc[0, "n_elderly"], df.loc[0, "n_children"]) == (1, 1)  # ages 73, 13, 33
    assert any("出生日期" in n for n in rep.notes)


def test_members_age_from_id_number(id_card):
    m = _mem(证件号码=[id_card(birth="19500101"), id_card(birth="20150601"), id_card(birth="19850101")])
    df, rep = read_panel(_hh_without("家庭人口数"), members=m)
    assert (df.loc[0, "n_elderly"], df.loc[0, "n_children"]) == (1, 1)
    assert any("证件号码" in k for k in rep.dropped_columns)


def test_members_insured_and_public_welfare():
    m = pd.concat([
        _mem(是否参加城乡居民基本医疗保险=["是", "是"], **{"公益性岗位（月数）": [0, 6]}),
        _mem(是否参加城乡居民基本医疗保险=["是", "否"], **{"公益性岗位（月数）": [0, 0]}).assign(户编号="B"),
    ])
    hh = pd.concat([_hh_without("家庭人口数"), _hh_without("家庭人口数").assign(户编号="B")])
    df, _ = read_panel(hh, members=m)
    assert df["medical_insured"].tolist() == [True, False]
    assert df["public_welfare_job"].tolist() == [True, False]


def test_members_disagreement_keeps_household_value():
    hh = minimal(1, **{"户编号": ["A"], "劳动力人数": [3], "家庭人口数": [3]})
    m = _mem(劳动技能=["普通劳动力", "无劳动力", "无劳动力"])
    df, rep = read_panel(hh, members=m)
    assert df.loc[0, "n_labor"] == 3
    mm = rep.warnings[rep.warnings["rule"] == "member_mismatch"]
    assert mm["field"].tolist() == ["n_labor"]


def test_members_only_with_repeated_household_fields():
    hh = minimal(1, **{"户编号": ["A"]}).drop(columns=["家庭人口数", "户编号", "年度"])
    m = _mem(年龄=[30, 8]).join(pd.concat([hh] * 2, ignore_index=True))
    df, rep = read_panel(None, members=m)
    assert len(df) == 1 and df.loc[0, "household_size"] == 2 and df.loc[0, "income_wage"] == 12000.0
    assert df.loc[0, "net_income_per_capita"] == pytest.approx(15900 / 2)


def test_household_fields_on_member_rows_fill_household_table():
    m = _mem(年龄=[40, 12], 享受低保=["否", "是"], 乡镇代码=["520102001", "520102001"])
    df, rep = read_panel(_hh_without("家庭人口数"), members=m)
    assert df.loc[0, "receives_dibao"] == True  # noqa: E712 - any member
    assert df.loc[0, "township_code"] == "520102001"


def test_member_row_with_unreadable_year_is_flagged_not_a_crash():
    m = _mem(年龄=[30, 31, 5])
    m["年度"] = m["年度"].astype(object)
    m.loc[m.index[0], "年度"] = "abc"
    df, rep = read_panel(_hh_without("家庭人口数"), members=m, errors="warn")
    assert len(df) == 1
    bad = rep.issues[rep.issues["field"] == "member.year"]
    assert len(bad) == 1 and bad["value"].iloc[0] == "abc" and bad["level"].iloc[0] == "error"
    with pytest.raises(ContractError, match="member.year"):
        read_panel(_hh_without("家庭人口数"), members=m)


@pytest.mark.parametrize("as_csv", [False, True])
def test_repeated_header_first_one_used(tmp_path, as_csv):
    base = minimal(3)
    d = pd.concat([base, base[["家庭人口数"]].assign(家庭人口数=9)], axis=1)
    assert d.columns.duplicated().sum() == 1
    if as_csv:
        path = tmp_path / "dup.csv"
        d.to_csv(path, index=False)
        d = path
    df, rep = read_panel(d, errors="warn")
    assert len(df) == 3
    assert df["household_size"].tolist() == pd.to_numeric(base["家庭人口数"]).tolist()
    assert "家庭人口数.1" in rep.unknown_columns


def test_ids_differing_only_in_letter_case_are_warned_about():
    raw = pd.concat([minimal(2).assign(户编号=["H0001", "H0002"]),
                     minimal(2).assign(户编号=["h0001", "H0002"], 年度=[2024, 2024])], ignore_index=True)
    df, rep = read_panel(raw, errors="warn")
    warn = rep.issues[rep.issues["rule"] == "key_case"]
    assert len(warn) == 1 and "'H0001' and 'h0001'" in warn["message"].iloc[0]
    assert df["household_id"].nunique() == 3  # kept apart: said, not guessed
    df, rep = read_panel(minimal(2).assign(户编号=["H0001", "H0002"]))
    assert "key_case" not in set(rep.issues["rule"])


@pytest.mark.parametrize("cell", ["2023", "2023年", "2023年度", "２０２３", " 2023 ", "2023.0"])
def test_a_year_cell_as_counties_write_it(cell):
    df, _ = read_panel(minimal(1, 年度=[cell]))
    assert df["year"].tolist() == [2023]
