"""Workbooks and sheets shaped as counties make them (issue 13, "Layouts").

One sheet per year or per township read together, side sheets skipped with a
note, years taken from sheet names and checked against the rows; totals, footers,
repeated headers and block titles recognised wherever they stand, flagged with
their row number, never turned into households, and a footer's names and phone
numbers copied nowhere. Every case that reads is scored: each household comes
back from ``score()`` with a status.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from openpyxl import Workbook

from fanpin_risk import contract
from fanpin_risk.api import train
from fanpin_risk.errors import ReadError
from fanpin_risk.io import read_panel
from fanpin_risk.scoring import score
from fanpin_risk.simulate import simulate

YEARS = (2022, 2023, 2024, 2025)
SKIP_RULES = {"total_row", "footer_row", "repeated_header", "title_row"}
# Invented people on the footers: none of these may reach any output.
FOOTER_PII = ("王小明", "李春华", "13900001111", "0851-86001234")


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(8, years=YEARS, seed=5, province="全国", return_members=True)


@pytest.fixture
def zh(sim) -> pd.DataFrame:
    return contract.export_frame(sim[0], headers="zh").astype(object)


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(simulate(80, years=range(2021, 2025), seed=2, province="全国"), "rule", log_to_mlflow=False)


def rows(df: pd.DataFrame) -> list[list]:
    return [[None if pd.isna(v) else v for v in r] for r in df.itertuples(index=False)]


def workbook(path, sheets: dict[str, list[list]]) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for name, content in sheets.items():
        ws = wb.create_sheet(name)
        for r in content:
            ws.append(list(r))
    wb.save(path)


def accounted(df: pd.DataFrame, model) -> pd.DataFrame:
    s = score(df, model, reasons="none")
    assert set(df["household_id"]) == set(s["household_id"]) and s["status"].notna().all()
    return s


def skipped(rep) -> pd.DataFrame:
    return rep.issues[rep.issues["rule"].isin(SKIP_RULES)]


def assert_nowhere(df, rep, *secrets: str) -> None:
    text = "\n".join([df.to_csv(), str(rep), "\n".join(rep.notes), rep.issues.to_csv(),
                      "" if rep.extras is None else rep.extras.to_csv(), repr(rep.dropped_columns)])
    for s in secrets:
        assert s not in text, s


# --------------------------------------------------------------------------- one sheet per year / township
def test_one_sheet_per_year_without_year_column_is_read_whole(zh, sim, model, tmp_path):
    title = ["XX县防止返贫监测对象信息表"]
    sheets = {"填表说明": [["1. 本表由乡镇填报"], ["2. 金额单位：元"]]}
    for y in YEARS:
        part = zh[zh["年度"] == y].drop(columns="年度")
        sheets[f"{y}年"] = [title, [f"导出时间：{y}-12-31"], list(part.columns), *rows(part)]
    sheets["汇总"] = [["村代码", "户数", "家庭人口数", "工资性收入"], ["990001001001", 12, 40, 300000]]
    sheets["家庭成员"] = [list(contract.export_frame(sim[1], "member").columns),
                      *rows(contract.export_frame(sim[1], "member").head(5))]
    workbook(tmp_path / "years.xlsx", sheets)
    df, rep = read_panel(tmp_path / "years.xlsx", salt="s")
    assert len(df) == len(zh) and sorted(df["year"].unique()) == list(YEARS)
    # each row keeps its sheet; the year came from the sheet's name
    ex = rep.extras.set_index(["household_id", "year"])["_sheet"]
    assert all(sheet == f"{y}年" for (_, y), sheet in ex.items())
    notes = " ".join(rep.notes)
    assert "read 4 sheets" in notes and "taken from the sheet name" in notes
    for side in ("'填表说明'", "'汇总'", "'家庭成员'"):
        assert side in notes
    s = accounted(df, model)
    assert (s.loc[s["status"] == "scored", "year"] == 2025).all()  # the latest year, not the first sheet


def test_sheet_picks_one_and_takes_its_year_from_the_name(zh, tmp_path):
    sheets = {f"{y}年": [list(zh.columns.drop("年度")), *rows(zh[zh["年度"] == y].drop(columns="年度"))]
              for y in YEARS}
    workbook(tmp_path / "y.xlsx", sheets)
    df, rep = read_panel(tmp_path / "y.xlsx", sheet="2023年", salt="s")
    assert len(df) == (zh["年度"] == 2023).sum() and set(df["year"]) == {2023}
    df1, _ = read_panel(tmp_path / "y.xlsx", sheet=1, salt="s")
    pd.testing.assert_frame_equal(df, df1)
    assert rep.extras is None or "_sheet" not in rep.extras


def test_year_column_checked_against_the_sheet_name(zh, model, tmp_path):
    sheets = {}
    for y in YEARS:
        part = zh[zh["年度"] == y].copy()
        if y == 2024:
            part.iloc[0, part.columns.get_loc("年度")] = 2021  # typed wrong in the 2024 sheet
            part.iloc[1, part.columns.get_loc("年度")] = None  # left empty
            wrong, empty = part.iloc[0]["户编号"], part.iloc[1]["户编号"]
        sheets[f"{y}年度"] = [list(part.columns), *rows(part)]
    workbook(tmp_path / "check.xlsx", sheets)
    df, rep = read_panel(tmp_path / "check.xlsx", errors="warn", salt="s")
    assert len(df) == len(zh)
    w = rep.warnings[rep.warnings["rule"] == "sheet_year"]
    assert len(w) == 1 and w["household_id"].iloc[0] == wrong and w["year"].iloc[0] == 2021
    assert "2024年度" in w["message"].iloc[0]
    assert ((df["household_id"] == empty) & (df["year"] == 2024)).sum() == 1  # the empty cell got the sheet's year
    accounted(df, model)


def test_township_sheets_with_other_spellings_and_order_are_matched_by_field(zh, model, tmp_path):
    ids = sorted(zh["户编号"].unique())
    a, b = zh[zh["户编号"].isin(ids[:4])], zh[zh["户编号"].isin(ids[4:])]
    cols = list(b.columns)
    order = [cols[1], cols[0], *reversed(cols[2:])]  # another column order
    b = b[order].rename(columns={"家庭人口数": "家庭人口", "工资性收入": "工资性收入（元）"})
    workbook(tmp_path / "towns.xlsx", {"城关镇": [list(a.columns), *rows(a)], "新华乡": [list(b.columns), *rows(b)]})
    df, rep = read_panel(tmp_path / "towns.xlsx", salt="s")
    ref, _ = read_panel(zh, salt="s")
    pd.testing.assert_frame_equal(df, ref)
    got = rep.extras.groupby("_sheet")["household_id"].nunique().to_dict()
    assert got == {"城关镇": 4, "新华乡": 4}
    accounted(df, model)


def test_sheet_lacking_a_field_is_stacked_with_a_note(zh, tmp_path):
    old = zh[zh["年度"] == 2022].drop(columns=["理赔收入"])
    new = zh[zh["年度"] != 2022]
    workbook(tmp_path / "gap.xlsx", {"2022": [list(old.columns), *rows(old)],
                                     "2023-2025": [list(new.columns), *rows(new)]})
    df, rep = read_panel(tmp_path / "gap.xlsx", salt="s")
    assert len(df) == len(zh)
    assert df.loc[df["year"] == 2022, "income_insurance_claims"].isna().all()
    assert any("sheet '2022' lacks 1 field(s)" in n and "income_insurance_claims" in n for n in rep.notes)


def test_member_sheets_per_year_are_stacked_too(sim, tmp_path):
    hh, mem = sim
    m = contract.export_frame(mem, "member")
    sheets = {f"{y}年": [list(m.columns.drop("年度")), *rows(m[m["年度"] == y].drop(columns="年度"))] for y in YEARS}
    workbook(tmp_path / "mem.xlsx", sheets)
    base = contract.export_frame(hh.drop(columns=["household_size"]), headers="zh")
    df, rep = read_panel(base, members=tmp_path / "mem.xlsx", salt="s")
    sizes = mem.groupby(["household_id", "year"]).size()
    got = df.set_index(["household_id", "year"])["household_size"]
    assert (got == sizes.reindex(got.index)).all()


def test_workbook_without_any_household_sheet_says_so(tmp_path):
    workbook(tmp_path / "none.xlsx", {"说明": [["本表为空"]], "汇总": [["村名", "户数"], ["一村", 3]]})
    with pytest.raises(ReadError, match="none of the sheets"):
        read_panel(tmp_path / "none.xlsx")


# --------------------------------------------------------------------------- rows that are no households
def _messy_sheet(zh: pd.DataFrame) -> tuple[list[list], dict[int, str], pd.DataFrame]:
    """A county sheet: titles, a total under the header, a subtotal, a second block pasted below with its own
    title and header in another order, a grand total and a footer. Returns the rows, the Excel row number of
    each stray row with its rule, and the data rows."""
    width = zh.shape[1]
    cols = list(zh.columns)
    first, second = zh[zh["年度"] <= 2023], zh[zh["年度"] > 2023]
    order = [*cols[:2], *cols[2:][::-1]]
    second = second[order].rename(columns={"家庭人口数": "家庭人口"})
    total = ["合计", None, None] + [None] * (width - 3)
    out = [["XX县防止返贫监测对象台账"], ["填报单位：XX县乡村振兴局"], cols, total]
    stray = {4: "total_row"}
    out += rows(first)
    out.append(["城关镇小计"] + [None] * (width - 1))
    stray[len(out)] = "total_row"
    out.append([None] * width)
    out.append(["2024—2025年监测户信息（续表）"])
    stray[len(out)] = "title_row"
    out.append(list(second.columns))
    stray[len(out)] = "repeated_header"
    out += rows(second)
    out.append(["总 计：", None, None, 16])
    stray[len(out)] = "total_row"
    out.append(["填表人：", "王小明", None, "审核人：", "李春华", None, "联系电话：", "13900001111"])
    stray[len(out)] = "footer_row"
    out.append([None] * 10 + ["制表日期：2025年12月31日", "单位负责人（签字）："])
    stray[len(out)] = "footer_row"
    out.append(["注：本表金额单位为元；咨询电话 0851-86001234"])
    stray[len(out)] = "footer_row"
    return out, stray, zh


def test_totals_footers_repeated_header_and_titles_flagged_with_their_rows(zh, model, tmp_path):
    content, stray, data = _messy_sheet(zh)
    workbook(tmp_path / "messy.xlsx", {"监测户": content})
    df, rep = read_panel(tmp_path / "messy.xlsx", salt="s")
    ref, _ = read_panel(data, salt="s")
    pd.testing.assert_frame_equal(df, ref)  # the pasted block's cells went back under their own headers
    got = skipped(rep)
    assert dict(zip(got["value"], got["rule"])) == {f"row {k}": r for k, r in stray.items()}
    assert got["row"].isna().all() and (got["level"] == "info").all()
    assert_nowhere(df, rep, *FOOTER_PII)
    assert any("another column order" in n for n in rep.notes)
    accounted(df, model)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_same_rows_in_a_csv_are_flagged_alike(zh, tmp_path, encoding):
    content, stray, data = _messy_sheet(zh)
    text = "\n".join(",".join("" if v is None else str(v) for v in r) for r in content)
    (tmp_path / "messy.csv").write_bytes(text.encode(encoding))
    df, rep = read_panel(tmp_path / "messy.csv", salt="s")
    ref, _ = read_panel(data, salt="s")
    pd.testing.assert_frame_equal(df, ref)
    got = skipped(rep)
    assert dict(zip(got["value"], got["rule"])) == {f"row {k}": r for k, r in stray.items()}
    assert_nowhere(df, rep, *FOOTER_PII)


def test_stray_rows_in_a_dataframe(zh, model):
    foot = pd.DataFrame([["汇总", None], ["填表人：王小明 联系电话：13900001111", None]], columns=["户编号", "年度"])
    raw = pd.concat([foot.iloc[[0]], zh, foot.iloc[[1]]], ignore_index=True)
    df, rep = read_panel(raw, salt="s")
    assert len(df) == len(zh)
    got = skipped(rep)
    assert got["rule"].tolist() == ["total_row", "footer_row"]
    assert got["value"].tolist() == ["DataFrame row 0", f"DataFrame row {len(zh) + 1}"]
    assert_nowhere(df, rep, *FOOTER_PII)
    accounted(df, model)


def test_sparse_household_rows_are_kept_not_taken_for_titles(zh, model):
    # a household typed in with only its key and type: a household with errors, never a title
    lone = pd.DataFrame([{"户编号": "H9990001", "户类型": "脱贫户"}, {"户编号": "H9990002"},
                         {"户编号": "H9990003", "帮扶措施": "说明：待核实"}])  # a note that reads like a footer label
    raw = pd.concat([zh, lone], ignore_index=True)
    df, rep = read_panel(raw, errors="warn", salt="s")
    assert len(df) == len(zh) + 3 and {"H9990001", "H9990002", "H9990003"} <= set(df["household_id"])
    assert skipped(rep).empty
    assert set(rep.errors.loc[rep.errors["household_id"] == "H9990002", "rule"]) >= {"required"}
    accounted(df, model)


def test_household_ids_that_look_like_labels_inside_text_are_kept(zh):
    # 小计/合计 inside a longer key or another column is data, not a total row
    zh.loc[0, "户编号"] = "小计村001"
    zh.loc[1, "监测对象类别"] = "合计"  # a wrong code value stays a warning on a kept row
    df, rep = read_panel(zh, errors="warn", salt="s")
    assert len(df) == len(zh) and "小计村001" in set(df["household_id"])
