"""One bad row never blocks a county: rows without a usable year or household id are set aside, the rest scored.

A frame read with ``errors="warn"`` keeps such rows (flagged in the report);
:func:`fanpin_risk.score` leaves them out, gives a household whose only rows they
are the status ``unscorable``, counts the rows in ``.attrs`` and scores every
other household exactly as it would without them.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.io import read_panel
from fanpin_risk.panel import as_panel, select_year
from fanpin_risk.scoring import SCORE_COLUMNS, score
from fanpin_risk.simulate import simulate

YEARS = range(2022, 2026)
NO_YEAR = "年度缺失 (no usable year)"


@pytest.fixture(scope="module")
def model(small_lightgbm):
    return small_lightgbm


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    """A county export (Chinese headers, 是/否) of 30 households over four years."""
    return contract.export_frame(simulate(30, years=YEARS, seed=8, province="全国")).astype(object)


def spoil(export: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The export with the bad rows counties send: a history row without year, a household whose every
    year cell is empty, a row without 户编号 and a year typo (20250)."""
    raw = export.copy()
    ids = list(pd.unique(raw["户编号"]))
    hist = raw.index[(raw["户编号"] == ids[0]) & (raw["年度"] == 2023)][0]
    raw.loc[hist, "年度"] = None
    raw.loc[raw["户编号"] == ids[1], "年度"] = None
    keyless = raw.index[(raw["户编号"] == ids[2]) & (raw["年度"] == 2024)][0]
    raw.loc[keyless, "户编号"] = None
    typo = raw.index[(raw["户编号"] == ids[3]) & (raw["年度"] == 2022)][0]
    raw.loc[typo, "年度"] = 20220
    return raw, {"history_gap": ids[0], "all_years_empty": ids[1], "keyless": ids[2], "typo": ids[3],
                 "n_all_years_empty": int((raw["户编号"] == ids[1]).sum())}


def test_warn_mode_frame_is_scored_with_every_household_accounted(export, model):
    raw, who = spoil(export)
    df, rep = read_panel(raw, errors="warn")
    assert len(df) == len(raw) and not rep.ok  # nothing dropped on reading, the rows flagged
    s = score(df, model, reasons="none")
    assert list(s.columns) == list(SCORE_COLUMNS) and {c: str(t) for c, t in s.dtypes.items()} == SCORE_COLUMNS
    assert set(s["household_id"]) == set(df["household_id"].dropna()) == set(export["户编号"])
    assert s["household_id"].is_unique and s["status"].notna().all()
    assert s.attrs["year"] == 2025  # the typo 20220 did not become the scored year
    row = s.set_index("household_id")
    assert row.loc[who["all_years_empty"], "status"] == "unscorable"
    assert row.loc[who["all_years_empty"], "status_reason"] == NO_YEAR
    assert pd.isna(row.loc[who["all_years_empty"], "priority_rank"])
    county = export.loc[export["户编号"] == who["all_years_empty"], "县代码"].iloc[0]
    assert row.loc[who["all_years_empty"], "county_code"] == county  # places kept for the visit list
    for h in ("history_gap", "keyless", "typo"):
        assert row.loc[who[h], "status"] == "scored", h
    assert (s["status"] == "scored").sum() == export["户编号"].nunique() - 1
    assert s.attrs["rows_left_out"] == who["n_all_years_empty"] + 3
    assert s.attrs["rows_left_out_by_reason"] == {NO_YEAR: who["n_all_years_empty"] + 2,
                                                  "户编号缺失 (no household id)": 1}


def test_other_households_score_as_without_the_bad_rows(export, model):
    """Setting rows aside changes nothing for the others: same risks, same ranks as the frame without them."""
    raw, who = spoil(export)
    df, _ = read_panel(raw, errors="warn")
    s = score(df, model, reasons="none").set_index("household_id")
    keep = df["household_id"].notna() & df["year"].between(2000, 2100)
    clean = score(df[keep].reset_index(drop=True), model, reasons="none").set_index("household_id")
    common = clean.index[clean["status"] == "scored"]
    assert len(common) > 20 and who["all_years_empty"] not in clean.index
    np.testing.assert_allclose(s.loc[common, "risk_score"].astype(float), clean.loc[common, "risk_score"].astype(float))
    assert (s.loc[common, "priority_rank"] == clean.loc[common, "priority_rank"]).all()
    assert clean.attrs["rows_left_out"] == 0 and clean.attrs["rows_left_out_by_reason"] == {}


def test_chinese_headers_keep_the_status_and_the_counts(export, model):
    raw, who = spoil(export)
    df, _ = read_panel(raw, errors="warn")
    zh = score(df, model, reasons="none", headers="zh")
    row = zh.set_index("户编号")
    assert row.loc[who["all_years_empty"], "评分状态"] == "无法评分"
    assert zh.attrs["rows_left_out"] == who["n_all_years_empty"] + 3


def test_score_of_a_file_read_in_warn_mode_end_to_end(export, model, tmp_path):
    """From a GBK CSV on disk through read_panel(errors='warn') to score(): no household lost."""
    raw, who = spoil(export)
    path = tmp_path / "county.csv"
    raw.to_csv(path, index=False, encoding="gbk")
    df, rep = read_panel(path, errors="warn")
    assert any("cannot be placed in the panel" in n for n in rep.notes)
    s = score(df, model, reasons="none")
    assert set(s["household_id"]) == set(export["户编号"])
    assert s.set_index("household_id").loc[who["all_years_empty"], "status"] == "unscorable"


def test_select_year_lists_the_rows_left_out(export):
    raw, who = spoil(export)
    df, _ = read_panel(raw, errors="warn")
    sel = select_year(df)
    assert len(sel.left_out) == who["n_all_years_empty"] + 3 and len(sel.panel) == len(df) - len(sel.left_out)
    assert set(sel.left_out["reason"]) == {NO_YEAR, "户编号缺失 (no household id)"}
    assert sel.panel["year"].notna().all() and sel.panel["household_id"].notna().all()
    assert sel.year == 2025


def test_as_panel_still_refuses_such_rows_by_default_naming_them(export):
    raw, _ = spoil(export)
    df, _ = read_panel(raw, errors="warn")
    with pytest.raises(ContractError, match=r"cannot be placed in the panel: .*年度缺失 \(no usable year\).*"
                                            r"errors='warn'"):
        as_panel(df)
    kept = as_panel(df, unusable="keep")
    assert len(kept) == len(df) and kept.loc[df["year"].notna() & (df["year"] < 2100), "monitoring_line"].notna().all()


def test_no_usable_year_at_all_is_a_clear_error(export, model):
    df, _ = read_panel(export)
    blank = df.assign(year=pd.array([pd.NA] * len(df), dtype="Int64"))
    with pytest.raises(ContractError, match=r"no household records to score: .*no usable year"):
        score(blank, model)
    with pytest.raises(ContractError, match=r"required field year \(年度\) is missing"):
        read_panel(export.drop(columns=["年度"]))


def test_header_only_frame_cannot_be_scored(export, model):
    df, rep = read_panel(export.iloc[:0])
    assert len(df) == 0 and (rep.warnings["rule"] == "no_data_rows").any()
    with pytest.raises(ContractError, match="no household records to score"):
        score(df, model)


def test_merged_member_workbook_with_bad_rows_scored_without_loss(model, tmp_path):
    """A workbook as a county makes it: member keys merged, a member row above the first key, a household
    row without year: read in warn mode, every household of the household sheet comes back from score()."""
    from openpyxl import Workbook

    p, m = simulate(25, years=YEARS, seed=9, province="全国", return_members=True)
    hh = contract.export_frame(p).drop(columns=["家庭人口数"]).astype(object)
    hh.loc[5, "年度"] = None
    mem = contract.export_frame(m, "member")
    wb = Workbook()
    ws = wb.active
    ws.title = "户"
    ws.append(list(hh.columns))
    for r in hh.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in r])
    wm = wb.create_sheet("成员")
    wm.append(list(mem.columns))
    wm.append([None, 2025, 9, "之子"])  # a stray member row above the first household
    row = 3
    for _, g in mem.groupby(["户编号", "年度"], sort=False):
        for r in g.itertuples(index=False):
            wm.append([None if pd.isna(v) else v for v in r])
        if len(g) > 1:
            wm.merge_cells(start_row=row, end_row=row + len(g) - 1, start_column=1, end_column=1)
        row += len(g)
    wb.save(tmp_path / "county.xlsx")
    df, rep = read_panel(tmp_path / "county.xlsx", sheet="户", member_sheet="成员", errors="warn")
    assert set(rep.errors["rule"]) == {"member_key_missing", "required"}
    sizes = m.groupby(["household_id", "year"]).size()
    got = df.dropna(subset=["year"]).set_index(["household_id", "year"])["household_size"].astype(int)
    assert got.to_dict() == sizes.reindex(got.index).to_dict()
    s = score(df, model, reasons="none")
    assert set(s["household_id"]) == set(hh["户编号"]) and s["status"].notna().all()
    assert s.attrs["rows_left_out"] == 1
