"""Privacy decided per column: key columns of ID-card or phone numbers hashed whole, PII columns dropped.

Every ID-card number here is made up (``fake_id_card``: region, birth date and check
digit valid), every phone number and name invented. The cases are shaped like what
county exports hold: keys written with Excel's apostrophe, stored as numeric cells
(cut to 15 significant digits), in scientific notation, with a wrong check digit or
a lower-case x; names under headers such as 户主名称 and 帮扶干部; several numbers in
one 联系方式 cell; ID and phone numbers inside 备注; labels such as 联系人： in cells.
Each case checks what is kept, what is hashed, and that no planted string comes out.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanpin_risk import contract
from fanpin_risk.contract import _privacy
from fanpin_risk.errors import ContractError, FanpinError
from fanpin_risk.io import read_panel

from conftest import fake_id_card

SALT = "column-salt"
_HAN_NAMES = ["韦春燕", "覃国栋", "欧阳翠花", "黎明辉", "蒙小兰", "陆家宝", "莫文蔚然", "卢俊杰", "潘美玲", "罗志强"]


def ids(n: int, start: int = 0) -> list[str]:
    """n made-up ID-card numbers, distinct in their first 15 digits (birth dates differ)."""
    return [fake_id_card(region="522601", birth=f"19{50 + (start + k) % 45:02d}{1 + k % 12:02d}{1 + k % 28:02d}",
                         seq=f"{(start + 3 * k) % 1000:03d}") for k in range(n)]


def wrong_check(i: str) -> str:
    return i[:-1] + ("0" if i[-1] != "0" else "1")


def full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in s)


def phones(n: int, start: int = 0) -> list[str]:
    return [f"13{(start + k) % 10}{(start * 7919 + k * 104729 + 5) % 10**8:08d}" for k in range(n)]


def households(keys: list, **extra) -> pd.DataFrame:
    """Raw household rows (one year) with the required fields, object columns as Excel gives them."""
    n = len(keys)
    d = {"户编号": keys, "年度": [2024] * n, "县代码": ["520102"] * n, "户类型": ["脱贫户"] * n,
         "工资性收入": [9000] * n, "生产经营性收入": [1000] * n, "转移性收入": [500] * n}
    d.update(extra)
    return pd.DataFrame(d, dtype=object)


def members(keys: list, per: int = 2, **extra) -> pd.DataFrame:
    rows = [(k, j + 1) for k in keys for j in range(per)]
    d = {"户编号": [k for k, _ in rows], "年度": [2024] * len(rows), "成员序号": [j for _, j in rows]}
    d.update({c: (v * len(rows))[: len(rows)] for c, v in extra.items()})
    return pd.DataFrame(d, dtype=object)


def dump(df: pd.DataFrame, rep) -> str:
    """Everything a user of the read can see: frame, issues, notes, extras, dropped columns, str and html."""
    return "\n".join([df.to_csv(), rep.issues.to_csv(), str(rep), rep._repr_html_(), repr(rep.notes),
                      repr(rep.dropped_columns), repr(rep.unknown_columns), repr(rep.header_map),
                      "" if rep.extras is None else rep.extras.to_csv()])


def cores(secret: str) -> set[str]:
    """A planted string and the parts that still identify a person (digits kept, first 15 digits, lower case)."""
    out = {secret}
    digits = re.sub(r"\D", "", secret)
    if len(digits) >= 15:
        out |= {digits[:15], digits[:17], secret.lower()}
    elif len(digits) >= 11:
        out.add(digits[-11:])
    return out


def assert_no_leak(text: str, secrets: list[str]) -> None:
    for s in secrets:
        for v in cores(s):
            assert v not in text, f"{v!r} leaked"


def read(raw, form: str, tmp_path, members_raw=None, **kw):
    """read_panel on DataFrames, an xlsx workbook (two sheets) or GBK CSV files."""
    if form == "frame":
        return read_panel(raw, members=members_raw, salt=SALT, errors="warn", **kw)
    if form == "xlsx":
        path = tmp_path / "county.xlsx"
        with pd.ExcelWriter(path) as xw:
            raw.to_excel(xw, sheet_name="户信息", index=False)
            if members_raw is not None:
                members_raw.to_excel(xw, sheet_name="成员信息", index=False)
        return read_panel(path, member_sheet="成员信息" if members_raw is not None else None, salt=SALT,
                          errors="warn", **kw)
    hp, mp = tmp_path / "hh.csv", tmp_path / "mem.csv"
    raw.to_csv(hp, index=False, encoding="gbk")
    if members_raw is not None:
        members_raw.to_csv(mp, index=False, encoding="gbk")
    return read_panel(hp, members=mp if members_raw is not None else None, salt=SALT, errors="warn", **kw)


FORMS = ["frame", "xlsx", "gbk_csv"]


# --------------------------------------------------------------------------- key columns
@pytest.mark.parametrize("form", FORMS)
def test_key_column_of_id_numbers_is_hashed_whole_and_matches_the_members(form, tmp_path):
    base = ids(9)
    # each household's key as one county export spells it, the member sheet as another
    hh_keys = [base[0], "'" + base[1], base[2].lower(), wrong_check(base[3]), float(base[4]), int(base[5]),
               full_width(base[6]), " " + base[7] + " ", base[8][:17]]  # the last one: a digit short (a typo)
    # a number cell of a workbook holds 15 significant digits: there both sheets store the number, cut alike
    mem_keys = [base[0], base[1], base[2], wrong_check(base[3]), float(base[4]),
                int(base[5]) if form == "xlsx" else base[5], base[6], base[7], base[8][:17]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, rep = read(households(hh_keys), form, tmp_path, members(mem_keys, per=3))
    assert df["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all()
    assert df["household_id"].nunique() == 9
    # the member rows found their household under every spelling: household_size = 3 members each
    assert df["household_size"].tolist() == [3] * 9
    assert contract.hash_id(base[0], SALT) in set(df["household_id"])
    assert any("every one of its 9 distinct value(s)" in n for n in rep.notes)
    assert_no_leak(dump(df, rep), base + [wrong_check(base[3])])


def test_numeric_keys_cut_by_excel_are_hashed_and_warned_about(tmp_path):
    base = ids(4, start=20)
    cut = [float(i) for i in base]  # Excel shows 5.22601195001011E+17: digits after the 15th are 0
    sci = [f"{float(i):.5E}" for i in base]  # a CSV saved by Excel: 5.22601E+17
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, rep_a = read_panel(households(cut), members=members(cut), salt=SALT, errors="warn")
        b, rep_b = read_panel(households(sci[:1] + base[1:]), salt=SALT, errors="warn")
    assert a["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all() and a["household_size"].tolist() == [2] * 4
    assert a["household_id"].tolist() == sorted(contract.hash_id(contract.clean_key(v), SALT) for v in cut)
    assert (rep_a.warnings["rule"] == "key_cut").any() and "as text" in rep_a.warnings["message"].iloc[0]
    assert b["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all()
    assert_no_leak(dump(a, rep_a) + dump(b, rep_b), base)


def _workbook(path, keys, years):
    """An xlsx sheet of household rows as openpyxl writes the cells: numbers stay numbers, text stays text."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["户编号", "年度", "县代码", "户类型", "家庭人口数", "工资性收入", "生产经营性收入", "转移性收入"])
    for k, y in zip(keys, years):
        ws.append([k, y, "520102", "脱贫户", 3, 9000, 1000, 500])
    wb.save(path)
    return path


def test_id_keys_excel_stored_as_numbers_are_warned_about_in_a_workbook(tmp_path):
    """pandas hands a whole double of a workbook over as an int; the cut must still be seen (key_cut)."""
    base = ids(4, start=60)
    cut = [float(i[:15] + "000") for i in base]  # typed into Excel: 15 digits kept, the rest 0
    df, rep = read_panel(_workbook(tmp_path / "cut.xlsx", cut, [2024] * 4), salt=SALT, errors="warn")
    assert (rep.warnings["rule"] == "key_cut").any() and "as text" in rep.warnings["message"].iloc[0]
    assert df["household_id"].tolist() == sorted(contract.hash_id(i[:15] + "000", SALT) for i in base)
    assert_no_leak(dump(df, rep), base)


@pytest.mark.parametrize("as_number", ["typed", "double17"])
def test_a_key_stored_as_text_in_some_rows_and_as_a_number_in_others_is_one_household(tmp_path, as_number):
    """The same ID-card number as text ('5226...) in one year and as a cut number in the next: one household."""
    base = ids(5, start=80)
    num = {"typed": lambda i: float(i[:15] + "000"), "double17": float}[as_number]
    keys = ["'" + i for i in base] + [num(i) for i in base] + list(base)
    years = [2023] * 5 + [2024] * 5 + [2025] * 5
    df, rep = read_panel(_workbook(tmp_path / "mixed.xlsx", keys, years), salt=SALT, errors="warn")
    assert df["household_id"].nunique() == 5 and (df.groupby("household_id").size() == 3).all()
    assert set(df["household_id"]) == {contract.hash_id(i, SALT) for i in base}
    assert any("5 household id(s) stored as numbers" in n for n in rep.notes)
    assert not (rep.warnings["rule"] == "key_cut").any()  # every cut one was completed
    assert_no_leak(dump(df, rep), base)


def test_a_cut_number_two_whole_numbers_could_complete_stays_cut():
    a = fake_id_card("522601", "19900101", "120")
    b = fake_id_card("522601", "19900101", "125")  # the same first 15 digits
    kh = contract.key_hashes([a, b, float(a[:15] + "000")], SALT)
    assert kh.n_completed == 0 and kh.n_cut == 1
    assert kh.hashes[2] not in (kh.hashes[0], kh.hashes[1])
    one = contract.key_hashes([a, float(a[:15] + "000")], SALT)
    assert one.n_completed == 1 and one.n_cut == 0 and one.hashes[0] == one.hashes[1]


def test_mixed_key_column_keeps_its_codes_and_hashes_the_identifiers():
    base = ids(3, start=40)
    keys = [f"H{k:06d}" for k in range(7)] + [wrong_check(base[0]), "'" + base[1], float(base[2])]
    df, rep = read_panel(households(keys), salt=SALT, errors="warn")
    hashed = df["household_id"].str.fullmatch(r"h_[0-9a-f]{16}")
    assert hashed.sum() == 3 and set(df.loc[~hashed, "household_id"]) == {f"H{k:06d}" for k in range(7)}
    assert any("3 household id(s) looked like or held" in n for n in rep.notes)
    assert_no_leak(dump(df, rep), base)


def test_phone_keys_hashed_alike_however_written():
    p = phones(3, start=3)
    hh = households([f"+86 {x[:3]} {x[3:7]} {x[7:]}" for x in p[:2]] + [f"{p[2][:3]}-{p[2][3:7]}-{p[2][7:]}"])
    df, rep = read_panel(hh, members=members(p, per=2), salt=SALT, errors="warn")
    assert sorted(df["household_id"]) == sorted(contract.hash_id(x, SALT) for x in p)
    assert df["household_size"].tolist() == [2, 2, 2]
    assert_no_leak(dump(df, rep), p)


def test_the_first_table_decides_for_the_member_sheet():
    # household keys are ID numbers: the member sheet's odd key (a typo no test recognises) is hashed as well
    base = ids(4, start=60)
    df, rep = read_panel(households(base[:3] + ["52260119"]), members=members(base[:3] + ["52260119"]),
                         salt=SALT, errors="warn")
    assert df["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all()
    assert df["household_size"].tolist() == [2, 2, 2, 2]


def test_key_holding_a_label_or_number_inside_is_hashed():
    p = phones(1, start=9)[0]
    df, rep = read_panel(households(["H000001", "H000002", f"户主手机{p}"]), salt=SALT, errors="warn")
    assert df["household_id"].tolist()[:2] == ["H000001", "H000002"]
    assert df["household_id"].iloc[2].startswith("h_")
    assert_no_leak(dump(df, rep), [p])


# --------------------------------------------------------------------------- other columns
PII_HEADER_COLUMNS = {
    "户主名称": _HAN_NAMES[:3], "戶主姓名": _HAN_NAMES[3:6], "帮扶干部": _HAN_NAMES[6:9], "帮扶责任人": _HAN_NAMES[:3],
    "联系人": _HAN_NAMES[1:4], "填表人": _HAN_NAMES[2:5], "审核人": _HAN_NAMES[4:7], "*联系电话": phones(3, 1),
    "联系方式": [f"{a}，{b}" for a, b in zip(phones(3, 2), phones(3, 5))], "户主身份证号": ids(3, start=80),
    "银行卡号": ["6228480402564890018", "6228480402564890026", "6228480402564890034"],
}


@pytest.mark.parametrize("form", FORMS)
def test_pii_columns_are_dropped_and_reported_without_values(form, tmp_path):
    extra = {**PII_HEADER_COLUMNS, "帮扶责任人单位": ["县农业农村局"] * 3, "帮扶措施": ["产业帮扶", "就业帮扶", "产业帮扶"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, rep = read(households(["H1", "H2", "H3"], **extra), form, tmp_path)
    dropped = {contract.normalize_header(c) for c in rep.dropped_columns}
    assert {contract.normalize_header(c) for c in PII_HEADER_COLUMNS} <= dropped
    assert all("3 filled cell(s), none kept" in r for r in rep.dropped_columns.values())
    assert list(rep.extras.columns) == ["household_id", "year", "帮扶责任人单位", "帮扶措施"]
    secrets = [v for vals in PII_HEADER_COLUMNS.values() for v in vals]
    assert_no_leak(dump(df, rep), secrets)


def test_free_text_with_personal_data_is_dropped_from_the_extras(id_card):
    who = id_card(region="522601", birth="19900101", seq="123")
    p1, p2 = phones(2, start=7)
    raw = households(["H1", "H2", "H3"], **{
        "备注": [f"张三 身份证{who} 电话{p1}", "无", ""],  # PII inside text, in one cell of three
        "其他": [f"{p1}/{p2}", None, "—"],  # several numbers under a header that says nothing
        "情况说明": ["联系人：韦春燕", "因病", "因学"],  # a label, no digits
        "帮扶措施": ["产业帮扶，2023年发放补贴1200元", "公益岗位", "小额信贷50000元"],
    })
    df, rep = read_panel(raw, salt=SALT, errors="warn")
    assert {"备注", "其他", "情况说明"} <= set(rep.dropped_columns)
    assert "inside the text" in rep.dropped_columns["备注"]
    assert list(rep.extras.columns) == ["household_id", "year", "帮扶措施"]
    assert rep.extras["帮扶措施"].tolist()[0] == "产业帮扶，2023年发放补贴1200元"
    # no value of the extras holds an ID-card or phone number or a personal-data label
    for c in rep.extras.columns:
        assert not contract.pii_flags(rep.extras[c].astype(object).tolist()).any()
    assert_no_leak(dump(df, rep), [who, p1, p2, "张三", "韦春燕"])


def test_header_holding_a_phone_number_is_dropped_and_masked():
    p = phones(1, start=4)[0]
    raw = households(["H1", "H2"], **{f"备用{p}": ["a", "b"]})
    df, rep = read_panel(raw, salt=SALT, errors="warn")
    (name, reason), = rep.dropped_columns.items()
    assert "header itself" in reason and name == "备用" + "*" * 11
    assert_no_leak(dump(df, rep), [p])


def test_contract_text_cell_with_a_phone_is_emptied_and_flagged_row_kept():
    # one cell in ten: under the share that drops a whole column (30 %), so the column stays and the cell goes
    p = phones(2, start=11)
    raw = households([f"H{k}" for k in range(10)], 村代码=[f"5201020010{k:02d}" for k in range(10)],
                     乡镇代码=[f"52010200{k}" for k in range(10)], 家庭人口数=[3] * 10)
    raw.loc[1, "村代码"], raw.loc[2, "乡镇代码"] = p[0], f"韦春燕{p[1]}"
    df, rep = read_panel(raw, salt=SALT, errors="warn")
    assert len(df) == 10 and df["village_code"].isna().tolist() == [False, True] + [False] * 8
    assert df["township_code"].isna().tolist() == [False, False, True] + [False] * 7
    flagged = rep.issues[(rep.issues["rule"] == "parse") & rep.issues["message"].str.contains("phone or ID-card")]
    assert sorted(zip(flagged["row"], flagged["field"])) == [(1, "village_code"), (2, "township_code")]
    assert flagged["value"].isna().all()
    assert_no_leak(dump(df, rep), p + ["韦春燕"])
    with pytest.raises(ContractError) as exc:
        read_panel(raw, salt=SALT)
    assert "[parse]" in str(exc.value) and "not shown" in str(exc.value)
    assert_no_leak(str(exc.value), p)


def test_row_carrying_personal_data_labels_keeps_only_its_hashed_key(caplog):
    # a signature line pasted between the households: labels in contract cells, a name and a number beside
    p = phones(1, start=13)[0]
    raw = households(["H1", "H2", "H3"], 家庭人口数=[3] * 3, 村代码=["520102001001"] * 3, 乡镇代码=["520102001"] * 3)
    raw.loc[1, ["村代码", "乡镇代码", "户类型"]] = ["联系人：", "韦春燕", p]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df, rep = read_panel(raw, salt=SALT, errors="warn")
    real = set(df["household_id"]) & {"H1", "H3"}
    assert real == {"H1", "H3"}  # the other households are untouched
    odd = df[~df["household_id"].isin(["H1", "H3"])]
    # the labelled row never turns into a clean household: it is flagged with an error
    assert len(odd) <= 1 and all(rep.errors["row"].eq(i).any() for i in odd.index)
    assert_no_leak(dump(df, rep) + caplog.text + " ".join(str(w.message) for w in caught), [p, "韦春燕"])
    with pytest.raises(FanpinError) as exc:
        read_panel(raw, salt=SALT)
    assert_no_leak(str(exc.value), [p, "韦春燕"])


def test_member_sheet_pii_never_reaches_the_report(id_card):
    base = ids(2, start=90)
    p = phones(4, start=17)
    mem = members(base, per=2, 姓名=_HAN_NAMES[:4], 证件号码=ids(4, start=95), 手机号=p,
                  备注=[f"身份证{base[0]}", "无", "无", "无"], 村代码=["520102001001", p[0], "520102001001", None])
    df, rep = read_panel(households(base), members=mem, salt=SALT, errors="warn")
    assert df["household_size"].tolist() == [2, 2]
    assert {"member table: 姓名", "member table: 证件号码", "member table: 手机号", "member table: 备注"} <= \
        set(rep.dropped_columns)
    assert_no_leak(dump(df, rep), base + p + ids(4, start=95) + _HAN_NAMES[:4])


def test_member_ages_from_id_numbers_as_cells_hold_them():
    # 1950 (75 in 2025), 2015 (10), 1985 (40): a wrong check digit, a numeric cell and an apostrophe
    born = [fake_id_card(region="522601", birth=b, seq="321") for b in ("19500101", "20150601", "19850101")]
    mem = pd.DataFrame({"户编号": ["H1"] * 3, "年度": [2025] * 3, "成员序号": [1, 2, 3],
                        "证件号码": [wrong_check(born[0]), float(born[1]), "'" + born[2]]}, dtype=object)
    hh = households(["H1"])
    hh["年度"] = [2025]
    df, rep = read_panel(hh, members=mem, salt=SALT, errors="warn")
    assert (df.loc[0, "n_elderly"], df.loc[0, "n_children"], df.loc[0, "household_size"]) == (1, 1, 3)
    assert "member table: 证件号码" in rep.dropped_columns
    assert_no_leak(dump(df, rep), born + [wrong_check(born[0])])


# --------------------------------------------------------------------------- the contract helpers
def test_no_contract_header_or_alias_is_taken_for_personal_data():
    headers = set()
    for table in ("household_year", "member"):
        headers |= set(contract.header_map(table)) | set(contract.zh_headers(table).values())
    headers |= set(contract.field_names("household_year")) | set(contract.field_names("member"))
    found = contract.detect_pii(pd.DataFrame(columns=sorted(headers)), skip=())
    assert found == {}


def test_pii_headers_file_is_data_and_its_rows_are_valid():
    rows = pd.read_csv(contract.schema_dir() / "pii_headers.csv", dtype=str)
    assert list(rows.columns) == ["word", "match", "kind", "in_text", "description"]
    assert set(rows["match"]) == {"exact", "contains", "except"} and set(rows["in_text"]) <= {"yes", "no"}
    assert rows["word"].is_unique and rows["description"].notna().all()
    # every header word is caught by detect_pii, unless an 'except' word cancels it
    words = rows.loc[rows["match"] != "except", "word"]
    assert set(contract.detect_pii(pd.DataFrame(columns=list(words)), skip=())) == set(words)
    assert contract.PII_HEADERS["帮扶干部"] == "person name (header)"


@pytest.mark.parametrize("value,flag", [
    ("522601199001011234", contract.PII_ID), ("'522601199001011235", contract.PII_ID),
    ("52260119900101123x", contract.PII_ID), (5.22601199001011e17, contract.PII_ID), ("5.22601E+17", contract.PII_ID),
    ("＝\"522601199001011234\"", contract.PII_ID), ("522601900101123", contract.PII_ID),
    ("13912345678", contract.PII_PHONE), ("+86 139-1234-5678", contract.PII_PHONE), (13912345678, contract.PII_PHONE),
    ("0851-86801234", contract.PII_PHONE), ("１３９１２３４５６７８", contract.PII_PHONE),
    ("张三 身份证522601199001011234", contract.PII_INSIDE | contract.PII_LABEL),
    ("13912345678；13812345678", contract.PII_INSIDE), ("填表人：韦春燕", contract.PII_LABEL),
    ("联 系 电 话", contract.PII_LABEL),
    # not personal data: codes, amounts, dates, categories
    ("520102001001", 0), ("5201020010010001", 0), ("H0000001", 0), ("29554", 0), (29554.0, 0), ("2023-01-01", 0),
    ("20230101", 0), ("脱贫户", 0), ("产业帮扶，2023年发放补贴1200元", 0), (None, 0), (float("nan"), 0),
    ("12812345678", 0), ("992601199001011234", 0), ("522601199013011234", 0),
])
def test_pii_flags(value, flag):
    assert contract.pii_flags([value]).tolist() == [flag]


@pytest.mark.parametrize("value,masked", [
    ("522601199001011235", True), ("韦春燕", True), ("填表人：韦春燕", True), (5.22601199001011e17, True),
    ("脱贫户", False), ("因病", False), (3, False), (29554.5, False), ("H0000001", False), (True, False),
])
def test_mask_value(value, masked):
    assert (contract.mask_value(value) == "***") is masked


_ids = st.builds(lambda region, y, m, d, seq: fake_id_card(region=region, birth=f"{y}{m:02d}{d:02d}", seq=f"{seq:03d}"),
                 st.sampled_from(["110101", "520102", "522601", "450102", "650102"]), st.integers(1930, 2020),
                 st.integers(1, 12), st.integers(1, 28), st.integers(0, 999))


@settings(max_examples=60, deadline=None)
@given(_ids)
def test_an_id_number_hashes_the_same_however_a_table_spells_it(i):
    forms = [i, "'" + i, f'="{i}"', f" {i}\t", i.lower(), full_width(i), int(i) if i.isdigit() else i]
    assert {contract.clean_key(f) for f in forms} == {i}
    assert {contract.hash_id(contract.clean_key(f), SALT) for f in forms} == {contract.hash_id(i, SALT)}
    assert all(contract.id_card_like(f) for f in forms + [wrong_check(i), float(i[:17] + "0")])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789 -+()Xx'\"=eE.:：电话人８*＊", max_size=25),
                          st.integers(-10**19, 10**19), st.floats(allow_nan=True)), max_size=20))
def test_pii_flags_prefilters_never_change_an_answer(values):
    # the Arrow and the per-value pre-filters only skip values every exact test rejects
    exact = [_privacy._exact_flags(v) for v in values]
    assert contract.pii_flags(values).tolist() == exact == [_privacy._flags(v) for v in values]
    text = [v for v in values if isinstance(v, str)]
    assert contract.pii_flags(pd.array(text, dtype="str")).tolist() == [_privacy._exact_flags(v) for v in text]


def test_key_hashes_decides_per_column():
    base = ids(10, start=120)
    mostly = base[:8] + ["52260119", "未知"]  # 8 of 10 look like ID-card numbers: an identifier column
    kh = contract.key_hashes(mostly, SALT)
    assert kh.whole and kh.n_hashed == 10 and kh.n_like == 8
    few = [f"H{k}" for k in range(6)] + base[:4]  # 4 of 10: a mix, the codes stay
    kh = contract.key_hashes(few, SALT)
    assert not kh.whole and kh.hashed.tolist() == [False] * 6 + [True] * 4
    assert contract.key_hashes(few, SALT, whole=True).n_hashed == 10
    missing = np.array([False] * 9 + [True])
    assert contract.key_hashes(mostly, SALT, missing=missing).hashes[-1] is None


@pytest.mark.parametrize("text", [
    "户主 522601 19900101 1235",          # an ID-card number in its usual groups
    "证 5226-0119-9001-0112-35 已核",      # in groups of four with dashes
    "户主证件 522601********1235",         # masked in the middle
    "5226011990****1235",                  # masked birth day and month
    "联系 138****5678",                    # a masked mobile
    "联系 １３８＊＊＊＊５６７８",           # the same in full-width characters
])
def test_numbers_written_apart_or_masked_inside_text_are_found(text):
    assert contract.pii_flags([text])[0] != 0
    assert _privacy._exact_flags(text) == contract.pii_flags([text])[0]


@pytest.mark.parametrize("text", [
    "2023 年收入 12000 元，支出 3000 元，2024 年 15000 元",  # amounts and years side by side
    "522601 村 2023 12 31 回访",                            # a village code and a date
    "评分 **** 高风险",                                      # stars without digits
    "1*2*3*4",
])
def test_amounts_dates_and_stars_are_not_personal_numbers(text):
    assert contract.pii_flags([text])[0] == 0


def test_a_names_column_repeated_once_per_year_is_found(tmp_path):
    """A panel repeats each head's name every year: the names test counts households, not rows."""
    from fanpin_risk.simulate import simulate

    p = simulate(120, seed=3, years=range(2020, 2026))
    raw = p
    surnames = "王李张刘陈杨黄赵吴周"
    given_ = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
    hid = p["household_id"].astype(str)
    codes = pd.factorize(hid)[0]
    raw = raw.assign(户主信息=[surnames[k % 10] + given_[(k // 10) % 20] + given_[(k * 7) % 20] for k in codes],
                     村名称=[f"{surnames[k % 10]}家村" for k in pd.factorize(p["village_code"])[0]])
    path = tmp_path / "names.csv"
    raw.to_csv(path, index=False, encoding="utf-8-sig")
    panel, report = read_panel(path, salt=SALT)[:2]
    assert "户主信息" in report.dropped_columns and "person names" in report.dropped_columns["户主信息"]
    assert "村名称" not in report.dropped_columns  # place names, far fewer than the households
    extras = report.extras if report.extras is not None else pd.DataFrame()
    assert "户主信息" not in extras.columns
    assert not extras.astype(str).apply(lambda c: c.str.contains("王伟")).any().any()


def test_a_contact_number_part_is_dropped_by_its_header():
    assert "联系号码后四位" in contract.detect_pii(pd.DataFrame({"联系号码后四位": ["0375", "1234", "5678"]}))
