"""Catalogue of messy county exports (docs/robustness.md lists each case and its test).

Each case asserts its outcome: either a FanpinError subclass whose message names the
field and the fix, or a row-level flag in the report with the row kept. Every case
that reads is also scored, and every input household must come back from
:func:`fanpin_risk.score` with a status (row accounting).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError, FanpinError, MissingLineError, ModelError, ReadError
from fanpin_risk.api import train
from fanpin_risk.io import read_panel
from fanpin_risk.scoring import score
from fanpin_risk.simulate import simulate

from conftest import fake_id_card

YEARS = range(2022, 2026)


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(6, years=YEARS, seed=1, province="全国", return_members=True)


@pytest.fixture
def zh(sim) -> pd.DataFrame:
    """The panel as a county export: Chinese headers, 是/否, object columns."""
    return contract.export_frame(sim[0], headers="zh").astype(object)


@pytest.fixture(scope="module")
def model(small_lightgbm):
    return small_lightgbm


def accounted(df: pd.DataFrame, model, ids=None) -> pd.DataFrame:
    """Score ``df`` and assert every household of the input comes back once, with a status."""
    s = score(df, model, reasons="none")  # row accounting only: no SHAP reasons needed
    want = set(df["household_id"].astype(str)) if ids is None else set(ids)
    assert want <= set(s["household_id"])
    assert s["household_id"].is_unique and s["status"].notna().all()
    assert len(s) == df["household_id"].nunique()
    return s


def xlsx(path, rows: list[list], merges: tuple[str, ...] = ()) -> None:
    """Write raw rows (a title, a two-row header, ...) to a one-sheet workbook with merged cells."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(list(r))
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)


def to_rows(df: pd.DataFrame) -> list[list]:
    return [[None if pd.isna(v) else v for v in r] for r in df.itertuples(index=False)]


# --------------------------------------------------------------------------- encodings
def test_gbk_file_with_invalid_bytes_is_refused_naming_the_line(zh, tmp_path):
    data = bytearray(zh.to_csv(index=False).encode("gbk"))
    lines = data.split(b"\n")
    lines[3] = lines[3] + b"\xff\xff"  # 0xFF is never valid in GBK/GB18030 nor in UTF-8
    (tmp_path / "bad.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(ReadError, match=r"line 4 .*neither UTF-8 nor GBK.*save it as UTF-8"):
        read_panel(tmp_path / "bad.csv")


def test_file_mixing_utf8_and_gbk_lines_is_decoded_per_line(zh, model, tmp_path):
    text = zh.to_csv(index=False).splitlines()
    half = len(text) // 2
    data = b"\n".join([ln.encode("utf-8") for ln in text[:half]] + [ln.encode("gbk") for ln in text[half:]])
    (tmp_path / "mixed.csv").write_bytes(data)
    df, rep = read_panel(tmp_path / "mixed.csv")
    assert len(df) == len(zh)
    # no mojibake: every code value is one of the contract's
    assert df["household_type"].isin(contract.code_list("household_type")).all()
    assert any("mixed text encodings" in n for n in rep.notes)
    accounted(df, model)


# --------------------------------------------------------------------------- Excel layouts
def test_excel_title_rows_above_the_header(zh, model, tmp_path):
    xlsx(tmp_path / "t.xlsx", [["XX县防止返贫监测对象信息表"], ["导出时间：2025-12-31"], [],
                               list(zh.columns), *to_rows(zh)])
    df, rep = read_panel(tmp_path / "t.xlsx")
    assert len(df) == len(zh) and any("header found on row 4" in n for n in rep.notes)
    accounted(df, model)


def test_excel_two_row_header_with_merged_group_cells(zh, model, tmp_path):
    # Row 1: fields merged down two rows + a group title "收入情况" merged over the income columns;
    # row 2: the income field names under the group title.
    cols = list(zh.columns)
    inc = ["工资性收入", "生产经营性收入", "转移性收入"]
    first = [c for c in cols if c not in inc]
    order = first[:8] + inc + first[8:]
    top = order[:8] + ["收入情况", None, None] + order[11:]
    second = [None] * 8 + inc + [None] * (len(order) - 11)
    from openpyxl.utils import get_column_letter as L

    merges = [f"{L(j + 1)}1:{L(j + 1)}2" for j in range(len(order)) if not 8 <= j <= 10] + ["I1:K1"]
    xlsx(tmp_path / "m.xlsx", [top, second, *to_rows(zh[order])], merges=tuple(merges))
    df, rep = read_panel(tmp_path / "m.xlsx")
    assert len(df) == len(zh)
    np.testing.assert_allclose(df["income_wage"], zh["工资性收入"].astype(float))
    assert any("merged cells" in n for n in rep.notes) and "收入情况" not in rep.unknown_columns
    accounted(df, model)


def test_excel_two_row_header_group_row_above_field_row(zh, tmp_path):
    # The upper row names only two fields (merged down); the lower row names the rest.
    cols = list(zh.columns)
    top = [cols[0], cols[1]] + ["基本情况"] + [None] * (len(cols) - 3)
    second = [None, None] + cols[2:]
    xlsx(tmp_path / "g.xlsx", [top, second, *to_rows(zh)], merges=("A1:A2", "B1:B2"))
    df, rep = read_panel(tmp_path / "g.xlsx")
    assert len(df) == len(zh)
    assert df["household_id"].tolist() == sorted(zh["户编号"].tolist())
    assert df["year"].notna().all()


def test_excel_several_sheets_picks_the_household_sheet(zh, sim, tmp_path):
    path = tmp_path / "s.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"填表说明": ["本表为测试数据"]}).to_excel(xw, sheet_name="说明", index=False)
        contract.export_frame(sim[1], "member").to_excel(xw, sheet_name="成员", index=False)
        zh.to_excel(xw, sheet_name="户信息", index=False)
    df, rep = read_panel(path)
    assert len(df) == len(zh) and any("chose sheet '户信息'" in n for n in rep.notes)


# --------------------------------------------------------------------------- columns
def test_missing_required_column_names_field_and_fix(zh):
    with pytest.raises(ContractError, match=r"income_wage \(工资性收入\) is missing; add the column"):
        read_panel(zh.drop(columns="工资性收入"))
    df, rep = read_panel(zh.drop(columns="工资性收入"), errors="warn")
    assert len(df) == len(zh) and (rep.errors["rule"] == "missing_column").any()


def test_unknown_extra_columns_kept_aside_and_reported(zh, model):
    zh["备注"] = [f"note{i}" for i in range(len(zh))]
    zh["帮扶责任人单位"] = "乡政府"
    df, rep = read_panel(zh)
    assert {"备注", "帮扶责任人单位"} <= set(rep.unknown_columns)
    assert "备注" not in df.columns
    # extras stay aligned with the sorted canonical rows
    back = zh.set_index(["户编号", "年度"])["备注"]
    got = rep.extras.set_index(["household_id", "year"])["备注"]
    assert all(back[k] == v for k, v in got.items())
    accounted(df, model)


def test_all_missing_columns(zh, model):
    zh["理赔收入"] = None  # optional: empty is fine
    df, rep = read_panel(zh)
    assert df["income_insurance_claims"].isna().all()
    zh["转移性收入"] = ""  # required: one error per row naming the field
    with pytest.raises(ContractError, match=r"income_transfer \(转移性收入\)"):
        read_panel(zh)
    df, rep = read_panel(zh, errors="warn")
    req = rep.errors[rep.errors["rule"] == "required"]
    assert set(req["field"]) == {"income_transfer"} and len(req) == len(zh)
    # the reported per-capita income still scores the rows
    accounted(df, model)


def test_mixed_english_and_chinese_headers(zh, model):
    en = {c: f for f, c in contract.zh_headers().items()}
    mixed = zh.rename(columns={c: en[c] for c in list(zh.columns)[::2]})
    df, _ = read_panel(mixed)
    ref, _ = read_panel(zh)
    pd.testing.assert_frame_equal(df, ref)
    accounted(df, model)


def test_duplicated_column_second_kept_aside(zh):
    zh["family size"] = 99
    zh = zh.rename(columns={"family size": "家庭人口"})  # an alias of household_size
    df, rep = read_panel(zh)
    assert (df["household_size"] != 99).all() and "家庭人口" in rep.unknown_columns
    assert any("repeats field 'household_size'" in n for n in rep.notes)


# --------------------------------------------------------------------------- empty or tiny files
def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(ReadError, match="empty"):
        read_panel(tmp_path / "e.csv")


def test_header_only(zh, model, tmp_path):
    zh.iloc[:0].to_csv(tmp_path / "h.csv", index=False)
    df, rep = read_panel(tmp_path / "h.csv")
    assert len(df) == 0 and list(df.columns) == contract.field_names()
    with pytest.raises(ContractError, match="no household records"):
        score(df, model)


def test_single_household(zh, model):
    one = zh[zh["户编号"] == zh["户编号"].iloc[0]]
    df, _ = read_panel(one)
    s = accounted(df, model)
    assert s["status"].tolist() == ["scored"]


def test_one_year_only_train_says_why(zh):
    df, _ = read_panel(zh[zh["年度"] == 2025])
    with pytest.raises(ModelError, match=r"two consecutive years.*\[2025\]"):
        train(df, "rule", log_to_mlflow=False)


# --------------------------------------------------------------------------- values
def test_numbers_as_text_with_units_and_commas(zh, model):
    zh["工资性收入"] = "12,345元"
    zh["转移性收入"] = "1.2万元"
    zh["家庭人口数"] = "４人"
    df, _ = read_panel(zh)
    assert (df["income_wage"] == 12345).all() and (df["income_transfer"] == 12000).all()
    assert (df["household_size"] == 4).all()
    accounted(df, model)


def test_year_as_text_with_unit(zh):
    zh["年度"] = zh["年度"].map(lambda y: f"{y}年")
    df, _ = read_panel(zh)
    assert sorted(df["year"].unique()) == list(YEARS)


def test_unreadable_number_flagged_row_kept(zh, model):
    zh.loc[2, "工资性收入"] = "约一万"
    with pytest.raises(ContractError, match=r"income_wage \(工资性收入\) \[parse\]"):
        read_panel(zh)
    df, rep = read_panel(zh, errors="warn")
    assert len(df) == len(zh)
    e = rep.errors[rep.errors["rule"] == "parse"]
    assert e["field"].tolist() == ["income_wage"] and e["value"].tolist() == ["约一万"]
    accounted(df, model)


def test_unreadable_boolean_flagged_row_kept(zh):
    zh.loc[1, "享受低保"] = "可能"
    df, rep = read_panel(zh, errors="warn")
    e = rep.errors
    assert len(df) == len(zh) and e.loc[e["rule"] == "parse", "field"].tolist() == ["receives_dibao"]
    assert "是/否" in e["message"].iloc[0]


def test_household_size_zero_flagged_and_unscorable(zh, model):
    hid = zh.loc[zh["年度"] == 2025, "户编号"].iloc[0]
    zh.loc[(zh["户编号"] == hid) & (zh["年度"] == 2025), "家庭人口数"] = 0
    with pytest.raises(ContractError, match=r"household_size \(家庭人口数\)"):
        read_panel(zh)
    df, rep = read_panel(zh, errors="warn")
    assert len(df) == len(zh) and "household_size_min" in set(rep.errors["rule"])
    s = accounted(df, model).set_index("household_id")
    assert s.loc[hid, "status"] == "unscorable" and "household_size" in s.loc[hid, "status_reason"]


def test_labour_greater_than_size(zh, model):
    zh.loc[0, "劳动力人数"] = int(zh.loc[0, "家庭人口数"]) + 3
    df, rep = read_panel(zh, errors="warn")
    e = rep.errors[rep.errors["rule"] == "count_gt_size"]
    assert e["field"].tolist() == ["n_labor"] and len(df) == len(zh)
    accounted(df, model)


def test_negative_income(zh):
    zh.loc[0, "转移性收入"] = -500
    df, rep = read_panel(zh, errors="warn")
    assert "negative_amount" in set(rep.errors.loc[rep.errors["field"] == "income_transfer", "rule"])
    assert len(df) == len(zh)


def test_member_work_months_over_12_clipped_and_flagged(sim, model):
    hh, mem = sim
    m = contract.export_frame(mem, "member").astype(object)
    m.loc[0, "务工时间（月）"] = 15
    hh_zh = contract.export_frame(hh.drop(columns=["migrant_work_months", "n_migrant_workers"]), headers="zh")
    df, rep = read_panel(hh_zh, members=m)
    w = rep.warnings[rep.warnings["rule"] == "member_work_months_range"]
    assert len(w) == 1 and w["field"].iloc[0] == "member.work_months"
    key = (m.loc[0, "户编号"], m.loc[0, "年度"])
    row = df[(df["household_id"] == key[0]) & (df["year"] == key[1])].iloc[0]
    same = m[(m["户编号"] == key[0]) & (m["年度"] == key[1])]["务工时间（月）"].astype(float).clip(0, 12).sum()
    assert row["migrant_work_months"] == same
    accounted(df, model)


def test_extremely_large_income(zh, model):
    zh.loc[0, "工资性收入"] = 9e12
    zh.loc[0, "人均纯收入"] = 2e12
    df, rep = read_panel(zh)
    assert "extreme_income" in set(rep.warnings["rule"])
    s = accounted(df, model)
    assert s["risk_score"].dropna().between(0, 1).all()


def test_code_list_typos(zh, model):
    zh.loc[0, "户类型"] = "脱贫 户"  # inner space: normalised
    zh.loc[1, "户类型"] = "脱贫戶"  # traditional 戶: kept and warned about
    key0 = (zh.loc[0, "户编号"], zh.loc[0, "年度"])
    df, rep = read_panel(zh)
    assert df.set_index(["household_id", "year"]).loc[key0, "household_type"] == "脱贫户"
    w = rep.warnings[rep.warnings["rule"] == "code_list"]
    assert w["value"].tolist() == ["脱贫戶"] and w["field"].tolist() == ["household_type"]
    assert len(df) == len(zh)
    accounted(df, model)


# --------------------------------------------------------------------------- keys and years
def test_duplicated_household_year(zh, model):
    dup = pd.concat([zh, zh.iloc[[0]]], ignore_index=True)
    with pytest.raises(ContractError, match=r"household_id \(户编号\) \[duplicate_key\]"):
        read_panel(dup)
    df, rep = read_panel(dup, errors="warn")
    assert len(df) == len(dup) and (rep.errors["rule"] == "duplicate_key").sum() == 2
    with pytest.raises(ContractError, match="one row per household and year"):
        score(df, model)


def test_household_missing_in_some_years(zh, model):
    gone = zh["户编号"].iloc[0]
    part = zh[~((zh["户编号"] == gone) & (zh["年度"].isin([2023, 2025])))]
    df, rep = read_panel(part)
    assert "year_gap" in set(rep.issues["rule"])
    s = accounted(df, model).set_index("household_id")
    assert s.loc[gone, "status"] == "not_in_year" and s.loc[gone, "year"] == 2025


def test_year_gap_for_everyone(zh, model):
    df, rep = read_panel(zh[zh["年度"] != 2024])
    gaps = rep.issues[rep.issues["rule"] == "year_gap"]
    assert len(gaps) == zh["户编号"].nunique() and (gaps["year"] == 2025).all()
    accounted(df, model)


def test_year_outside_line_table(zh):
    old = zh.drop(columns="监测标准")
    old["年度"] = old["年度"] - 10  # 2012..2015: no national line
    with pytest.raises(MissingLineError, match="2012"):
        read_panel(old)
    df, rep = read_panel(old, errors="warn")
    assert len(df) == len(zh) and (rep.errors["rule"] == "missing_line").sum() == len(zh)


def test_future_year(zh, model):
    zh["年度"] = zh["年度"] + 10  # own monitoring_line column present
    df, rep = read_panel(zh)
    fut = rep.warnings[rep.warnings["rule"] == "future_year"]
    assert len(fut) == len(zh)
    accounted(df, model)


def test_missing_year_cell(zh):
    zh.loc[3, "年度"] = None
    with pytest.raises(ContractError, match=r"year \(年度\) \[required\]"):
        read_panel(zh)
    df, rep = read_panel(zh, errors="warn")
    assert len(df) == len(zh) and df["year"].isna().sum() == 1


def test_household_id_with_leading_zeros_read_as_text(zh, model, tmp_path):
    ids = {h: f"00{k:04d}" for k, h in enumerate(zh["户编号"].unique())}
    zh["户编号"] = zh["户编号"].map(ids)
    zh.to_csv(tmp_path / "z.csv", index=False)
    df, _ = read_panel(tmp_path / "z.csv")
    assert set(df["household_id"]) == set(ids.values())
    xlsx(tmp_path / "z.xlsx", [list(zh.columns), *to_rows(zh)])  # stored as text cells
    df2, _ = read_panel(tmp_path / "z.xlsx")
    assert set(df2["household_id"]) == set(ids.values())
    accounted(df, model, ids.values())


def test_household_id_ending_in_x(zh, id_card, model):
    plain = {h: f"52010{k:04d}X" for k, h in enumerate(zh["户编号"].unique())}
    zh["户编号"] = zh["户编号"].map(plain)
    df, _ = read_panel(zh)
    assert set(df["household_id"]) == set(plain.values())  # not an ID number: kept
    card = next(c for c in (id_card(birth="19700101", seq=f"{k:03d}") for k in range(100)) if c.endswith("X"))
    zh.loc[zh["户编号"] == zh["户编号"].iloc[0], "户编号"] = card.lower()  # lower-case x too
    df2, rep = read_panel(zh, salt="s")
    assert card not in set(df2["household_id"]) and card.lower() not in set(df2["household_id"])
    accounted(df2, model)


def test_excel_dates_in_month_columns(zh, model, tmp_path):
    zh["识别监测时间"] = None
    zh.loc[0, "识别监测时间"] = datetime(2022, 3, 15)
    zh.loc[1, "识别监测时间"] = 44256  # a date cell that lost its format: Excel serial of 2021-03-01
    xlsx(tmp_path / "d.xlsx", [list(zh.columns), *to_rows(zh)])
    df, rep = read_panel(tmp_path / "d.xlsx")
    ref = zh.iloc[:2][["户编号", "年度"]].apply(tuple, axis=1).tolist()
    got = df.set_index(["household_id", "year"])["identification_month"]
    assert got[ref[0]] == 202203 and got[ref[1]] == 202103
    accounted(df, model)


def test_blank_rows_between_records(zh, model, tmp_path):
    rows = [list(zh.columns)]
    for k, r in enumerate(to_rows(zh)):
        rows.append(r)
        if k % 5 == 2:
            rows.append([None] * len(r))
    xlsx(tmp_path / "b.xlsx", rows)
    df, rep = read_panel(tmp_path / "b.xlsx")
    assert len(df) == len(zh) and any("empty row(s) skipped" in n for n in rep.notes)
    accounted(df, model)


@pytest.mark.parametrize("kind", ["xlsx", "csv", "frame"])
def test_trailing_total_row(zh, model, tmp_path, kind):
    total = ["合 计", None] + [None] * (zh.shape[1] - 2)
    total[zh.columns.get_loc("工资性收入")] = float(zh["工资性收入"].astype(float).sum())
    if kind == "xlsx":
        xlsx(tmp_path / "t.xlsx", [list(zh.columns), *to_rows(zh), total])
        src = tmp_path / "t.xlsx"
    else:
        src = pd.concat([zh, pd.DataFrame([total], columns=zh.columns)], ignore_index=True)
        if kind == "csv":
            src.to_csv(tmp_path / "t.csv", index=False, encoding="gbk")
            src = tmp_path / "t.csv"
    df, rep = read_panel(src)
    assert len(df) == len(zh) and "合计" not in set(df["household_id"])
    assert any("total row(s)" in n for n in rep.notes)
    accounted(df, model)


def test_unsupported_file_type(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ReadError, match=r"unsupported file type '\.json'; use \.xlsx"):
        read_panel(tmp_path / "x.json")


def test_all_errors_are_fanpin_errors():
    for e in (ContractError, ReadError, MissingLineError, ModelError):
        assert issubclass(e, FanpinError)


# --------------------------------------------------------------------------- county exports as they really arrive (issue 13)
def test_keys_as_apostrophe_and_numeric_id_cells_are_all_hashed(sim, model, tmp_path):
    hh, mem = (contract.export_frame(sim[0]).astype(object), contract.export_frame(sim[1], "member").astype(object))
    ids = {h: fake_id_card(birth=f"1985{(i % 12) + 1:02d}{(i % 28) + 1:02d}", seq=f"{i:03d}")
           for i, h in enumerate(sorted(hh["户编号"].unique()))}
    hh["户编号"] = ["'" + ids[h] if i % 2 else ids[h] for i, h in enumerate(hh["户编号"])]  # Excel's text marker on half
    mem["户编号"] = [ids[h] for h in mem["户编号"]]  # the member sheet types them plainly
    path = tmp_path / "ids.xlsx"
    with pd.ExcelWriter(path) as xw:
        hh.to_excel(xw, sheet_name="户", index=False)
    df, rep = read_panel(path, members=mem)
    assert df["household_id"].str.startswith("h_").all() and df["household_id"].nunique() == len(ids)
    text = df.to_csv() + str(rep) + rep.issues.to_csv()
    assert not any(v[:14] in text for v in ids.values())
    accounted(df, model)


def test_one_sheet_per_year_is_read_together_with_the_year_from_the_sheet(sim, model, tmp_path):
    ex = contract.export_frame(sim[0])
    path = tmp_path / "years.xlsx"
    with pd.ExcelWriter(path) as xw:
        for y in YEARS:
            ex[ex["年度"] == y].drop(columns=["年度"]).to_excel(xw, sheet_name=f"{y}年", index=False)
    df, rep = read_panel(path)
    assert len(df) == len(sim[0]) and sorted(df["year"].unique()) == list(YEARS)
    assert accounted(df, model).attrs["year"] == max(YEARS)  # the latest year is scored, not the first sheet's


def test_merged_household_key_cells_in_the_member_sheet_are_filled_down(sim, model, tmp_path):
    mem = contract.export_frame(sim[1], "member").astype(object)
    mem.loc[mem.duplicated(["户编号", "年度"]), "户编号"] = None  # what merged cells read as
    df, rep = read_panel(sim[0], members=mem)
    ref, _ = read_panel(sim[0], members=contract.export_frame(sim[1], "member"))
    pd.testing.assert_series_equal(df["household_size"], ref["household_size"])
    assert any("filled down" in n for n in rep.notes)
    accounted(df, model)


def test_footer_repeated_header_and_total_rows_are_flagged_not_households(zh, model, tmp_path):
    rows = [list(zh.columns)] + to_rows(zh.iloc[:10]) + [list(zh.columns)] + to_rows(zh.iloc[10:])
    rows.append(["合计", *[None] * (len(zh.columns) - 1)])
    rows.append(["填表人：王某某", None, "联系电话：13900001111", *[None] * (len(zh.columns) - 3)])
    xlsx(tmp_path / "messy.xlsx", rows)
    df, rep = read_panel(tmp_path / "messy.xlsx", errors="warn")
    assert len(df) == len(zh)
    assert {"repeated_header", "total_row", "footer_row"} <= set(rep.issues["rule"])
    text = str(rep) + rep.issues.to_csv() + " ".join(rep.notes)
    assert "王某某" not in text and "13900001111" not in text
    accounted(df, model)


def test_wan_yuan_header_scales_the_values(zh, model):
    raw = zh.copy()
    raw["工资性收入（万元）"] = raw.pop("工资性收入").astype(float) / 10000
    df, rep = read_panel(raw)
    ref, _ = read_panel(zh)
    np.testing.assert_allclose(df["income_wage"], ref["income_wage"], rtol=1e-9)
    assert any("万元" in n for n in rep.notes)


def test_cr_only_line_endings_and_semicolons_are_read(zh, model, tmp_path):
    (tmp_path / "cr.csv").write_bytes(zh.to_csv(index=False, sep=";").replace("\n", "\r").encode("gbk"))
    df, rep = read_panel(tmp_path / "cr.csv")
    assert len(df) == len(zh)
    accounted(df, model)


def test_html_table_saved_as_xls_is_read(zh, model, tmp_path):
    (tmp_path / "web.xls").write_text(zh.to_html(index=False), encoding="utf-8")
    df, rep = read_panel(tmp_path / "web.xls")
    assert len(df) == len(zh)


def test_partitioned_parquet_directory_is_read_and_a_plain_directory_refused(sim, tmp_path):
    sim[0].to_parquet(tmp_path / "ds", partition_cols=["year"])
    df, _ = read_panel(tmp_path / "ds")
    assert len(df) == len(sim[0]) and sorted(df["year"].unique()) == list(YEARS)
    (tmp_path / "empty.csv").mkdir()
    with pytest.raises(ReadError, match="empty.csv"):
        read_panel(tmp_path / "empty.csv")


def test_headers_with_traditional_characters_asterisks_and_zero_width_spaces(zh, model):
    raw = zh.rename(columns={"户编号": "*戶編號", "家庭人口数": "家庭\u200b人口數", "年度": "\ufeff年度"})
    df, _ = read_panel(raw)
    ref, _ = read_panel(zh)
    pd.testing.assert_frame_equal(df, ref)
    with pytest.raises(ContractError, match="closest headers in the file: 农户序号"):
        read_panel(zh.rename(columns={"户编号": "农户序号"}))


def test_multiindex_frame_columns_are_matched(zh, model):
    raw = zh.copy()
    raw.columns = pd.MultiIndex.from_tuples([("基本信息", c) for c in zh.columns])
    df, _ = read_panel(raw)
    assert len(df) == len(zh) and df["household_id"].notna().all()


def test_one_row_without_a_year_does_not_block_the_county(zh, model):
    raw = zh.copy()
    raw.loc[raw.index[0], "年度"] = None
    df, rep = read_panel(raw, errors="warn")
    s = accounted(df, model)
    assert (s["status"] == "scored").sum() >= zh["户编号"].nunique() - 1


def test_member_keys_that_lost_leading_zeros_get_one_message(sim):
    hh = contract.export_frame(sim[0]).astype(object)
    hh["户编号"] = "00" + hh["户编号"].astype(str)
    mem = contract.export_frame(sim[1], "member").astype(object)
    _, rep = read_panel(hh, members=mem, errors="warn")
    mismatch = rep.issues[rep.issues["rule"] == "member_key_mismatch"]
    assert len(mismatch) == 1 and "leading zeros" in mismatch["message"].iloc[0]
    assert not (rep.issues["rule"] == "required").any()
