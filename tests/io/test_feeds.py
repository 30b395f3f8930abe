"""Department feeds and the roster: reading (GBK CSV, xlsx), kind detection, matching, and privacy.

Every ID-card number here is synthetic: the fake region 990101 (no province 99), or, where the
number must look like an ID to the privacy screening (household keys), the province-level code
520000 with a 1900 birth date, which no person's number carries.
"""

import datetime as dt
import re

import openpyxl
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.io import match_feeds, read_feed, read_panel, read_roster, unmatched_by_township

SALT = "test-county-salt"


def sid(seq: int, birth: str = "19800101", region: str = "990101") -> str:
    """A synthetic 18-digit number with its right check digit."""
    head = f"{region}{birth}{seq:03d}"
    return head + contract.id_check_digit(head)


def wrong_check(n: str) -> str:
    return n[:17] + ("1" if n[17] != "1" else "2")


A, B, C, D, X, Y = (sid(k) for k in (11, 22, 33, 44, 55, 66))
B15 = B[:6] + B[8:17]  # B in the old 15-digit form
C_TYPO = wrong_check(C)
PHONE = "13912345678"
CLEAR = [A, B, C, D, X, Y, B15, C_TYPO]


@pytest.fixture(autouse=True)
def _salt_env(monkeypatch):
    monkeypatch.delenv("FANPIN_SALT", raising=False)
    monkeypatch.delenv("FANPIN_SALT_FILE", raising=False)


def roster_csv(path):
    rows = [
        "户编号,年度,成员序号,姓名,证件号码,联系电话,乡镇代码,村代码",
        f"H001,2024,1,张三,{A},{PHONE},520102101,520102101001",
        f"H001,2024,2,李四,'{B},,520102101,520102101001",
        f"H002,2024,1,王五,{C},,520102102,520102102003",
        f"H003,2024,1,赵六,{D.lower()},,520102102,520102102004",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="gbk")
    return path


def medical_csv(path):
    """A GBK list with a title row, a name, a phone, a 万元 header, apostrophe IDs and a total row."""
    rows = [
        "XX县医疗保障局2025年3月大额医疗费用名单,,,,,,,,",
        "序号,姓名,身份证号,联系电话,结算日期,医疗总费用（元）,个人自付金额（万元）,乡镇,村",
        f"1,张三,'{A},{PHONE},2025-03-14,50000,2.5,城关镇,东村",
        f"2,张三,{A},{PHONE},2025/3/20,1000,0.1,城关镇,东村",
        f"3,李四,{B15},,202503,30000,1.2,城关镇,东村",
        f"4,孙七,{X},13812345678,2025年3月2日,80000,3,城关镇,南村",
        f"5,王五,{C_TYPO},,2025.03,40000,2,河西乡,西村",
        "6,周八,,,2025-03-01,20000,2,河西乡,西村",
        "7,吴九,abc,,2025-03-01,20000,2,河西乡,西村",
        "合计,,,,,250000,15.8,,",
        "填表人：某某,,,,,,,,",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="gbk")
    return path


def migrant_xlsx(path):
    """A workbook with a merged title row, a blank row, the header on row 3 and Excel dates."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "2025年3月"
    ws["A1"] = "XX县人社局返乡人员名单"
    ws.merge_cells("A1:F1")
    ws.append([])
    ws.append(["姓名", "公民身份号码", "手机号码", "返乡时间", "所在乡镇", "所在村"])
    ws.append(["张三", A, PHONE, dt.datetime(2025, 3, 5), "城关镇", "东村"])
    ws.append(["钱十", Y, "13712345678", dt.datetime(2025, 2, 27), "河西乡", "北村"])
    ws.append(["孙七", "'" + X, None, dt.datetime(2025, 3, 1), "河西乡", "北村"])
    wb.save(path)
    return path


def test_gbk_csv_feed_with_chinese_headers_title_name_phone(tmp_path):
    df, report = read_feed(medical_csv(tmp_path / "medical.csv"), salt=SALT)
    assert df["kind"].unique().tolist() == ["medical_bill"] and report.kind_detected
    assert list(df.columns) == ["kind", "person_hash", "id_issue", "event_month", "list_month", "amount_total",
                                "amount_self_paid", "township", "village", "source_row"]
    assert len(df) == 7  # the total and the footer rows set aside
    assert df["event_month"].tolist() == [202503] * 7
    assert df["amount_self_paid"].tolist() == [25000.0, 1000.0, 12000.0, 30000.0, 20000.0, 20000.0, 20000.0]
    assert df["id_issue"].tolist() == ["", "", "old_15", "", "bad_check_digit", "missing", "bad_format"]
    assert df["person_hash"].iloc[0] == df["person_hash"].iloc[1]
    assert df["person_hash"].iloc[5:].isna().all()
    assert df["source_row"].tolist() == [3, 4, 5, 6, 7, 8, 9]  # file lines: title 1, header 2
    assert str(df["event_month"].dtype) == "Int64" and str(df["township"].dtype) == "str"
    assert {"姓名", "联系电话"} <= set(report.dropped_columns)
    assert report.id_issues == {"": 3, "old_15": 1, "bad_check_digit": 1, "missing": 1, "bad_format": 1}
    assert report.n_rows == 7 and "序号" in report.unknown_columns


def test_xlsx_feed_with_merged_title_and_excel_dates(tmp_path):
    df, report = read_feed(migrant_xlsx(tmp_path / "返乡人员.xlsx"), salt=SALT)
    assert df["kind"].unique().tolist() == ["returned_migrant"]  # headers fit unemployment alike: the file name
    assert df["event_month"].tolist() == [202503, 202502, 202503]
    assert df["source_row"].tolist() == [4, 5, 6]
    assert df["township"].tolist() == ["城关镇", "河西乡", "河西乡"]
    assert df["id_issue"].tolist() == ["", "", ""]
    assert {"姓名", "手机号码"} <= set(report.dropped_columns)
    same, _ = read_feed(tmp_path / "返乡人员.xlsx", "returned_migrant", salt=SALT)
    pd.testing.assert_frame_equal(df, same)


def test_kind_detection_and_ambiguity(tmp_path):
    house = pd.DataFrame({"证件号码": [A], "鉴定时间": ["2025-03"], "鉴定等级": ["D级"]})
    df, _ = read_feed(house, salt=SALT)
    assert df["kind"].iat[0] == "unsafe_house" and df["appraisal"].iat[0] == "D级"
    common = pd.DataFrame({"证件号码": [A], "登记月份": ["2025-03"], "乡镇": ["城关镇"]})
    with pytest.raises(ContractError, match="pass kind="):
        read_feed(common, salt=SALT)
    df, report = read_feed(common, "unemployment", salt=SALT)
    assert df["kind"].iat[0] == "unemployment" and not report.kind_detected
    with pytest.raises(ContractError, match="unknown feed kind"):
        read_feed(common, "no_such", salt=SALT)


def test_missing_required_field_is_named(tmp_path):
    with pytest.raises(ContractError, match="amount_self_paid"):
        read_feed(pd.DataFrame({"证件号码": [A], "结算月份": [202503], "医疗总费用": [1]}), "medical_bill", salt=SALT)


def test_no_salt_is_an_error(tmp_path):
    with pytest.raises(ContractError, match="no salt"):
        read_feed(medical_csv(tmp_path / "m.csv"))
    with pytest.raises(ContractError, match="no salt"):
        read_roster(roster_csv(tmp_path / "r.csv"))


def test_salt_from_file_and_env_give_the_same_hashes(tmp_path, monkeypatch):
    f = contract.new_salt_file(tmp_path / "county.salt")
    by_file, _ = read_feed(medical_csv(tmp_path / "m.csv"), salt_file=f)
    monkeypatch.setenv("FANPIN_SALT_FILE", str(f))
    by_env, _ = read_feed(tmp_path / "m.csv")
    explicit, _ = read_feed(tmp_path / "m.csv", salt=contract.resolve_salt(salt_file=f))
    other, _ = read_feed(tmp_path / "m.csv", salt="another")
    assert by_file["person_hash"].equals(by_env["person_hash"]) and by_env["person_hash"].equals(explicit["person_hash"])
    assert by_file["person_hash"].iat[0] != other["person_hash"].iat[0]


def test_roster_from_member_sheet(tmp_path):
    roster, report = read_roster(roster_csv(tmp_path / "members.csv"), salt=SALT)
    assert list(roster.columns) == ["household_id", "member_no", "person_hash", "id_issue", "township_code",
                                    "village_code", "year"]
    assert roster["household_id"].tolist() == ["H001", "H001", "H002", "H003"]
    assert roster["member_no"].tolist() == [1, 2, 1, 1]
    assert roster["id_issue"].tolist() == [""] * 4
    assert roster["person_hash"].tolist() == contract.person_hash([A, B, C, D], SALT).tolist()
    assert roster["village_code"].iat[2] == "520102102003"
    assert {"member table: 姓名", "member table: 联系电话"} <= set(report.dropped_columns)


def test_roster_places_from_households_and_latest_year(tmp_path):
    mem = pd.DataFrame({"户编号": ["H1", "H1", "H1"], "年度": [2023, 2024, 2024], "成员序号": [1, 1, 2],
                        "证件号码": [A, A, B]})
    hh = pd.DataFrame({"household_id": ["H1", "H1"], "year": [2023, 2024], "township_code": ["T-old", "T-new"],
                       "village_code": ["V-old", "V-new"]})
    roster, report = read_roster(mem, salt=SALT, households=hh)
    assert roster["year"].tolist() == [2024, 2024] and roster["township_code"].tolist() == ["T-new", "T-new"]
    assert any("several years" in n for n in report.notes)


def test_roster_household_keys_are_those_of_read_panel(tmp_path):
    # household keys that are ID-card numbers (province-level region 520000, birth year 1900: nobody's)
    k1, k2 = sid(1, "19000101", "520000"), sid(2, "19000101", "520000")
    rows = ["户编号,年度,县代码,户类型,成员序号,与户主关系,证件号码",
            f"{k1},2024,520102,脱贫户,1,户主,{A}", f",2024,520102,脱贫户,2,配偶,{B}",  # merged 户编号 cell
            f"{k2},2024,520102,脱贫户,1,户主,{C}"]
    path = tmp_path / "members.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    panel, _ = read_panel(None, members=path, salt=SALT, errors="warn")
    roster, _ = read_roster(path, salt=SALT)
    assert set(roster["household_id"]) == set(panel["household_id"])
    assert roster["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all()
    assert roster["household_id"].tolist()[:2] == [roster["household_id"].iat[0]] * 2


def test_roster_matches_read_panel_on_the_sample():
    from fanpin_risk.io import sample_paths

    households, members = sample_paths()
    panel, _ = read_panel(households, members=members, salt=SALT)
    raw = pd.read_csv(members, dtype=str) if str(members).endswith(".csv") else pd.read_excel(members, dtype=str)
    raw["证件号码"] = [sid(k % 1000, f"19{50 + k // 1000 % 40:02d}0101") for k in range(len(raw))]
    roster, _ = read_roster(raw, salt=SALT, households=panel)
    assert set(roster["household_id"]) <= set(panel["household_id"])
    assert roster["township_code"].notna().mean() > 0.9


def test_matching_rules_and_unmatched_by_township(tmp_path):
    roster, _ = read_roster(roster_csv(tmp_path / "members.csv"), salt=SALT)
    med, _ = read_feed(medical_csv(tmp_path / "medical.csv"), salt=SALT)
    mig, _ = read_feed(migrant_xlsx(tmp_path / "返乡人员.xlsx"), salt=SALT)
    m = match_feeds([med, mig], roster)
    assert len(m) == len(med) + len(mig)
    assert m["status"].tolist() == ["matched", "duplicate", "matched", "not_in_roster", "not_in_roster", "bad_id",
                                    "bad_id", "matched", "not_in_roster", "not_in_roster"]
    assert m["household_id"].tolist()[:3] == ["H001", "H001", "H001"]
    assert m["member_no"].iloc[2] == 2 and m["id_issue"].iloc[2] == "old_15"  # B's old number matched
    assert m["id_issue"].iloc[4] == "bad_check_digit" and pd.isna(m["household_id"].iloc[4])
    assert m.attrs["counts"] == {"matched": 3, "not_in_roster": 4, "duplicate": 1, "bad_id": 2}
    # X in both lists: another kind is no duplicate
    assert m.loc[m["person_hash"] == m["person_hash"].iloc[3], "status"].tolist() == ["not_in_roster"] * 2
    u = unmatched_by_township(m)
    assert list(u.columns) == ["township", "village", "kind", "count"]
    got = {(r.township, r.village, r.kind): r.count for r in u.itertuples()}
    assert got == {("城关镇", "南村", "medical_bill"): 1, ("河西乡", "西村", "medical_bill"): 1,
                   ("河西乡", "北村", "returned_migrant"): 2}
    assert unmatched_by_township(m, include_bad_id=True)["count"].sum() == 6


_HASHES = re.compile(r"P[0-9a-f]{20}|h_[0-9a-f]{16}")
_ID_RUN = re.compile(r"[0-9]{15}")


def _texts(obj):
    """Every text a returned object can show: cells, column names, index, attrs, str and the report's fields."""
    if isinstance(obj, pd.DataFrame):
        yield from (str(c) for c in obj.columns)
        yield repr(obj.attrs)
        yield from (str(v) for v in obj.index)
        for c in obj.columns:
            yield from (str(v) for v in obj[c].tolist())
    else:
        yield str(obj)
        yield repr(vars(obj))


def test_privacy_no_id_number_or_phone_anywhere(tmp_path):
    roster, r_rep = read_roster(roster_csv(tmp_path / "members.csv"), salt=SALT)
    med, m_rep = read_feed(medical_csv(tmp_path / "medical.csv"), salt=SALT)
    mig, g_rep = read_feed(migrant_xlsx(tmp_path / "返乡人员.xlsx"), salt=SALT)
    # an ID-card number in a text field and a column holding numbers without a PII header
    odd = pd.DataFrame({"证件号码": [A, B], "变动类型": ["新增低保", f"新增低保 {X}"], "备注": ["", f"原号{Y}"],
                        "发生月份": [202503, 202503], "乡镇": [X, "城关镇"]})
    dib, d_rep = read_feed(odd, "dibao_change", salt=SALT)
    matches = match_feeds([med, mig, dib], roster)
    objects = [roster, r_rep, med, m_rep, mig, g_rep, dib, d_rep, matches, unmatched_by_township(matches)]
    forms = set(CLEAR) | {n[:17] for n in CLEAR} | {n[:6] + n[8:17] for n in CLEAR} | {PHONE, "13812345678"}
    for obj in objects:
        for text in _texts(obj):
            plain = _HASHES.sub("#", text)
            assert not _ID_RUN.search(plain), (type(obj).__name__, plain[:80])
            assert not any(f in plain for f in forms), (type(obj).__name__, plain[:80])
            assert "张三" not in plain and "李四" not in plain
    assert pd.isna(dib["change_type"].iat[1]) and pd.isna(dib["township"].iat[0])


def test_roster_conflicts_counted_for_the_people_of_the_feeds():
    # Pa is given to two households (the first one is used); so is Pz, whom no list names
    roster = pd.DataFrame({"household_id": ["H1", "H2", "H3", "H4", "H5"],
                           "member_no": pd.array([1, 1, 1, 1, 2], dtype="Int64"),
                           "person_hash": ["Pa", "Pa", "Pb", "Pz", "Pz"], "id_issue": ""})
    feed = pd.DataFrame({"kind": "unemployment", "person_hash": ["Pb", "Pa", "Pc"], "id_issue": "",
                         "event_month": 202503})
    out = match_feeds(feed, roster)
    assert out["household_id"].tolist()[:2] == ["H3", "H1"] and pd.isna(out["household_id"].iloc[2])
    assert out["status"].tolist() == ["matched", "matched", "not_in_roster"]
    assert out.attrs["roster_conflicts"] == 1


def test_workbook_with_one_sheet_per_month_reads_every_sheet(tmp_path):
    """Departments that push monthly often keep one sheet per month in one workbook, each with its title row."""
    wb = openpyxl.Workbook()
    first = wb.active
    for i, (title, rows) in enumerate((("2025年3月", [["张三", A, dt.datetime(2025, 3, 5), "城关镇"]]),
                                       ("2025年4月", [["钱十", Y, dt.datetime(2025, 4, 2), "河西乡"],
                                                     ["孙七", "'" + X, "2025/4/9", "河西乡"]]))):
        ws = first if i == 0 else wb.create_sheet()
        ws.title = title
        ws["A1"] = f"XX县人社局返乡人员名单（{title}）"
        ws.merge_cells("A1:D1")
        ws.append(["姓名", "公民身份号码", "返乡时间", "所在乡镇"])
        for r in rows:
            ws.append(r)
    wb.create_sheet("说明")["A1"] = "本表由人社局每月推送"
    wb.save(tmp_path / "返乡人员2025.xlsx")
    df, report = read_feed(tmp_path / "返乡人员2025.xlsx", "returned_migrant", salt=SALT)
    assert df["event_month"].tolist() == [202503, 202504, 202504]
    assert df["township"].tolist() == ["城关镇", "河西乡", "河西乡"]
    assert df["source_sheet"].tolist() == ["2025年3月", "2025年4月", "2025年4月"] and df["source_row"].tolist() == [3, 3, 4]
    assert "report.extras" not in str(report)
    assert df["person_hash"].notna().all() and df["id_issue"].tolist() == ["", "", ""]
    assert "张三" not in str(report) and A not in str(report) and A not in df.to_csv()
