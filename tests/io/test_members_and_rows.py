"""Member sheets as counties make them (merged key cells) and rows that cannot be placed in the panel.

A county's member sheet usually merges 户编号, 户主姓名, 年度 and the household-level
cells over the rows of each household: only the first member row holds them, the
cells below read as empty. Those rows are filled down (and said so); a row no key
above can claim is flagged, never dropped silently. Keys that do not meet between
the two tables give one message, not one error per household row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate

from conftest import fake_id_card

YEARS = (2024, 2025)
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = ("建国", "秀英", "志强", "桂兰", "德明", "春梅", "小军", "玉兰")


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(12, years=YEARS, seed=4, province="全国", return_members=True)


def county_tables(sim) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated panel as a county would export it: household sheet without 家庭人口数, member sheet with PII.

    Member rows carry invented names, synthetic ID-card numbers and phones, as the
    real exports do; the household head's name and the phone sit on the head's row.
    """
    p, m = sim
    hh = contract.export_frame(p).drop(columns=["家庭人口数"]).astype(object)
    mem = contract.export_frame(m, "member").astype(object)
    k = np.arange(len(mem))
    mem.insert(1, "户主姓名", [SURNAMES[int(h[-2:]) % 10] + GIVEN[int(h[-2:]) % 8] for h in mem["户编号"]])
    mem.insert(3, "姓名", [SURNAMES[i % 10] + GIVEN[(i * 3) % 8] for i in k])
    mem.insert(4, "证件号码", [fake_id_card(birth=f"19{60 + i % 30}0{1 + i % 9}1{i % 9}", seq=f"{i % 1000:03d}")
                           for i in k])
    mem["联系电话"] = [f"139{i:08d}" for i in k]
    return hh, mem


def write_workbook(path, hh: pd.DataFrame, mem: pd.DataFrame, merged: tuple[str, ...] = ("户编号", "户主姓名", "年度"),
                   blank_only: bool = False) -> None:
    """Household sheet and member sheet; ``merged`` columns merged (or left blank) below each household's first row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "户信息"
    ws.append(list(hh.columns))
    for r in hh.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in r])
    wm = wb.create_sheet("家庭成员")
    wm.append(["家庭成员信息表"])  # a title row above the header, as exports have
    wm.append(list(mem.columns))
    cols = [list(mem.columns).index(c) + 1 for c in merged]
    row = 3
    for _, g in mem.groupby(["户编号", "年度"], sort=False):
        for j, r in enumerate(g.itertuples(index=False)):
            vals = [None if pd.isna(v) else v for v in r]
            if j and blank_only:
                for c in cols:
                    vals[c - 1] = None
            wm.append(vals)
        if len(g) > 1 and not blank_only:
            for c in cols:
                wm.merge_cells(start_row=row, end_row=row + len(g) - 1, start_column=c, end_column=c)
        row += len(g)
    wb.save(path)


def no_pii_anywhere(rep, mem: pd.DataFrame, *texts: str) -> None:
    """No name, ID-card or phone number of ``mem`` in the report (notes, issues, extras, maps) or ``texts``."""
    blob = " ".join([*rep.notes, rep.issues.to_csv(), str(rep.dropped_columns), str(rep.header_map),
                     rep.extras.to_csv() if rep.extras is not None else "", *texts])
    for col in ("户主姓名", "姓名", "证件号码", "联系电话"):
        for v in pd.unique(mem[col].dropna()):
            assert str(v) not in blob, f"{col} value leaked"


# --------------------------------------------------------------------------- merged key cells
@pytest.mark.parametrize("blank_only", [False, True], ids=["merged_cells", "blank_cells"])
def test_merged_member_keys_filled_down(sim, tmp_path, blank_only):
    hh, mem = county_tables(sim)
    path = tmp_path / "county.xlsx"
    write_workbook(path, hh, mem, blank_only=blank_only)
    df, rep = read_panel(path, sheet="户信息", member_sheet="家庭成员", salt="t")
    ref, _ = read_panel(hh, members=mem, salt="t")
    pd.testing.assert_frame_equal(df, ref)  # every member counted in its own household
    sizes = sim[1].groupby(["household_id", "year"]).size()
    assert df.set_index(["household_id", "year"])["household_size"].astype(int).to_dict() == sizes.to_dict()
    n_filled = len(mem) - mem.groupby(["户编号", "年度"]).ngroups
    assert n_filled > 0
    assert any(f"户编号 (household_id) empty on {n_filled} member row(s)" in n for n in rep.notes)
    assert any(f"年度 (year) empty on {n_filled} member row(s)" in n for n in rep.notes)
    assert rep.ok and not (rep.issues["rule"] == "member_key_missing").any()
    no_pii_anywhere(rep, mem)


def test_merged_keys_in_a_csv_member_table(sim, tmp_path):
    """The same layout saved as CSV (GBK, keys written once per household): the Arrow text path fills too."""
    hh, mem = county_tables(sim)
    blank = mem.copy()
    later = blank.duplicated(["户编号", "年度"])
    blank.loc[later, ["户编号", "户主姓名", "年度"]] = None
    blank.to_csv(tmp_path / "members.csv", index=False, encoding="gbk")
    df, rep = read_panel(hh, members=tmp_path / "members.csv", salt="t")
    ref, _ = read_panel(hh, members=mem, salt="t")
    pd.testing.assert_frame_equal(df, ref)
    assert any(f"empty on {int(later.sum())} member row(s)" in n for n in rep.notes)


def test_member_rows_above_the_first_key_are_flagged_not_dropped(sim, tmp_path):
    hh, mem = county_tables(sim)
    first = mem["户编号"].iloc[0]
    stray = mem.iloc[[1, 2]].copy()
    stray["户编号"] = None  # two members pasted above the first household, without key
    bad = pd.concat([stray, mem], ignore_index=True)
    with pytest.raises(ContractError, match=r"member_key_missing.*2 member row\(s\) have no 户编号") as exc:
        read_panel(hh, members=bad, salt="t")
    df, rep = read_panel(hh, members=bad, salt="t", errors="warn")
    err = rep.errors[rep.errors["rule"] == "member_key_missing"]
    assert len(err) == 1 and "data row(s) 1, 2 under the header" in err["message"].iloc[0]
    assert "above the first filled 户编号" in err["message"].iloc[0]
    ref, _ = read_panel(hh, members=mem, salt="t")
    pd.testing.assert_frame_equal(df, ref)  # the stray rows are not counted in the first household
    assert df.loc[df["household_id"] == first, "household_size"].notna().all()
    no_pii_anywhere(rep, mem, str(exc.value))


@pytest.mark.parametrize("order", ["by_household", "by_year"])
def test_a_head_without_key_starts_a_household_of_its_own(sim, order):
    """A household whose key cell is empty is flagged, never counted into the household above it."""
    hh, mem = county_tables(sim)
    if order == "by_year":  # one year's households, then the next year's
        mem = mem.sort_values(["年度", "户编号", "成员序号"], kind="stable", ignore_index=True)
    blank = mem.copy()
    blank.loc[blank.duplicated(["户编号", "年度"]), ["户编号", "年度"]] = None
    heads = blank.index[blank["户编号"].notna()]
    keys = list(zip(mem.loc[heads, "户编号"], mem.loc[heads, "年度"]))
    k = next(i for i in range(1, len(keys)) if keys[i][0] != keys[i - 1][0])  # the head of another household
    victim, above = heads[k], (keys[k - 1][0], int(keys[k - 1][1]))
    n_victim = int((mem["户编号"].eq(keys[k][0]) & mem["年度"].eq(keys[k][1])).sum())
    assert blank.at[victim, "与户主关系"] == "户主"
    blank.loc[victim, "户编号"] = None
    df, rep = read_panel(hh, members=blank, salt="t", errors="warn")
    err = rep.errors[rep.errors["rule"] == "member_key_missing"]
    assert len(err) == 1 and f"{n_victim} member row(s) have no 户编号" in err["message"].iloc[0]
    assert "of another household" in err["message"].iloc[0]
    size = df.set_index(["household_id", "year"])["household_size"]
    want = sim[1].groupby(["household_id", "year"]).size()
    assert size[above] == want[above]  # not inflated by the keyless household below it
    assert pd.isna(size[(keys[k][0], int(keys[k][1]))])  # its own members were not counted anywhere


def test_a_key_merged_over_two_years_fills_both(sim):
    """One merged 户编号 cell over both years of a household: the second year's rows are that household's."""
    hh, mem = county_tables(sim)
    blank = mem.copy()
    blank.loc[mem.duplicated(["户编号"]), "户编号"] = None
    blank.loc[mem.duplicated(["户编号", "年度"]), "年度"] = None
    df, rep = read_panel(hh, members=blank, salt="t")
    ref, _ = read_panel(hh, members=mem, salt="t")
    pd.testing.assert_frame_equal(df, ref)
    assert not (rep.issues["rule"] == "member_key_missing").any()


def test_member_rows_with_a_key_but_no_year_are_flagged(sim):
    hh, mem = county_tables(sim)
    bad = mem.copy()
    heads = bad.index[~bad.duplicated(["户编号", "年度"])]
    bad.loc[heads[0], "年度"] = None  # the first row of a household-year: nothing above to take it from
    df, rep = read_panel(hh, members=bad, salt="t", errors="warn")
    err = rep.errors[rep.errors["rule"] == "member_year_missing"]
    assert len(err) == 1 and "1 member row(s) have no 年度" in err["message"].iloc[0]
    assert len(df) == len(hh)


def test_merged_household_cells_build_households_without_a_household_sheet(sim, tmp_path):
    """source=None: households built from the member sheet, household-level cells merged over their members."""
    hh, mem = county_tables(sim)
    hh_cols = ["户类型", "县代码", "工资性收入", "生产经营性收入", "转移性收入"]
    mem = mem.merge(hh[["户编号", "年度", *hh_cols]], on=["户编号", "年度"], how="left")
    path = tmp_path / "members_only.xlsx"
    write_workbook(path, hh.iloc[:0], mem, merged=("户编号", "户主姓名", "年度", *hh_cols))
    df, rep = read_panel(None, members=path, member_sheet="家庭成员", salt="t")
    assert len(df) == len(hh)
    ref, _ = read_panel(hh, members=mem.drop(columns=hh_cols), salt="t")
    for c in ("household_size", "household_type", "income_wage", "n_labor"):
        assert df[c].tolist() == ref[c].tolist(), c


# --------------------------------------------------------------------------- keys that do not meet
def test_leading_zeros_lost_in_the_member_sheet_one_message(sim):
    hh, mem = county_tables(sim)
    ids = {h: f"00{k + 1201:05d}" for k, h in enumerate(pd.unique(hh["户编号"]))}
    hh["户编号"] = hh["户编号"].map(ids)
    mem["户编号"] = mem["户编号"].map(ids).str.lstrip("0")  # the member sheet stored them as numbers
    with pytest.raises(ContractError) as exc:
        read_panel(hh, members=mem, salt="t")
    msg = str(exc.value)
    assert msg.startswith("1 error(s) in the input") and "[member_key_mismatch]" in msg
    assert "the member keys do not match the household keys" in msg and "leading zeros?" in msg
    assert "household table e.g. 0001201, 0001202, 0001203; member table e.g. 1201, 1202, 1203" in msg
    df, rep = read_panel(hh, members=mem, salt="t", errors="warn")
    assert len(df) == len(hh)
    assert rep.errors["rule"].tolist() == ["member_key_mismatch"]  # not one household_size error per row
    assert f"household_size (家庭人口数) therefore empty on {len(hh)} row(s)" in rep.errors["message"].iloc[0]


def test_other_key_mismatch_without_the_zeros_hint(sim):
    hh, mem = county_tables(sim)
    mem["户编号"] = "HH-" + mem["户编号"].str[-3:]
    df, rep = read_panel(hh, members=mem, salt="t", errors="warn")
    mis = rep.errors[rep.errors["rule"] == "member_key_mismatch"]
    assert len(mis) == 1 and "leading zeros?" not in mis["message"].iloc[0]
    assert "member table e.g. HH-000, HH-001, HH-002" in mis["message"].iloc[0]


def test_identifier_keys_that_do_not_meet_are_shown_hashed(sim):
    """Keys that are ID-card numbers appear in the message only as their salted hashes."""
    hh, mem = county_tables(sim)
    keys = pd.unique(hh["户编号"])
    hh_ids = {h: fake_id_card(birth=f"1970{1 + k % 9:02d}15", seq=f"{k:03d}") for k, h in enumerate(keys)}
    mem_ids = {h: fake_id_card(region="522601", birth=f"1971{1 + k % 9:02d}15", seq=f"{k:03d}") for k, h in enumerate(keys)}
    hh["户编号"] = hh["户编号"].map(hh_ids)
    mem["户编号"] = mem["户编号"].map(mem_ids)
    df, rep = read_panel(hh, members=mem, salt="t", errors="warn")
    msg = rep.errors.loc[rep.errors["rule"] == "member_key_mismatch", "message"].iloc[0]
    assert re.search(r"household table e\.g\. h_[0-9a-f]{16}, h_", msg) and re.search(r"member table e\.g\. h_", msg)
    assert not re.search(r"\d{15}", msg)
    no_pii_anywhere(rep, mem)
    blob = " ".join([*rep.notes, rep.issues.to_csv(), df.to_csv()])
    assert not any(v in blob for v in [*hh_ids.values(), *mem_ids.values()])


def test_households_without_member_rows_alone_are_not_a_mismatch(sim):
    hh, mem = county_tables(sim)
    gone = hh["户编号"].iloc[0]
    mem = mem[mem["户编号"] != gone]  # one household's members missing; every member key has a household
    df, rep = read_panel(hh, members=mem, salt="t", errors="warn")
    assert not (rep.issues["rule"] == "member_key_mismatch").any()
    assert any("have no member rows" in n for n in rep.notes)
    assert df.loc[df["household_id"] == gone, "household_size"].isna().all()
    assert (rep.errors["rule"] == "required").sum() == (hh["户编号"] == gone).sum()


# --------------------------------------------------------------------------- rows without year or key; no rows
def test_rows_without_year_or_key_kept_flagged_and_named(sim):
    hh = contract.export_frame(sim[0]).astype(object)
    hh.loc[4, "年度"] = None
    hh.loc[9, "年度"] = "20225"  # a typo: outside the contract's years
    hh.loc[13, "户编号"] = "  "
    df, rep = read_panel(hh, salt="t", errors="warn")
    assert len(df) == len(hh)
    note = next(n for n in rep.notes if "cannot be placed in the panel" in n)
    no_id = df.index[df["household_id"].isna() | df["household_id"].astype("str").str.strip().eq("")]
    no_year = df.index[df["year"].isna() | (df["year"] > 2100)]
    assert len(no_id) == 1 and len(no_year) == 2
    assert f"1 without a household id (户编号) (row(s) {no_id[0]})" in note
    assert f"2 without a usable year (年度) (row(s) {', '.join(str(i) for i in no_year)})" in note
    assert set(rep.errors["row"].dropna().astype(int)) >= {*no_id, *no_year}
    with pytest.raises(ContractError, match=r"year \(年度\)"):
        read_panel(hh, salt="t")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_header_only_file_warns_no_data_rows(sim, tmp_path, kind):
    hh = contract.export_frame(sim[0])
    path = tmp_path / f"empty.{kind}"
    if kind == "csv":
        hh.iloc[:0].to_csv(path, index=False, encoding="gbk")
    else:
        hh.iloc[:0].to_excel(path, index=False)
    for errors in ("raise", "warn"):
        df, rep = read_panel(path, errors=errors)
        assert len(df) == 0 and list(df.columns) == contract.field_names()
        assert {c: str(t) for c, t in df.dtypes.items()} == contract.canonical_dtypes()
        w = rep.warnings
        assert (w["rule"] == "no_data_rows").sum() == 1 and "no data rows" in w["message"].iloc[0]
        assert any("no data rows" in n for n in rep.notes)


def test_header_only_member_table_warns(sim):
    hh, mem = county_tables(sim)
    df, rep = read_panel(hh, members=mem.iloc[:0], salt="t", errors="warn")
    assert len(df) == len(hh)
    w = rep.warnings[rep.warnings["rule"] == "no_data_rows"]
    assert len(w) == 1 and w["field"].iloc[0] == "member.household_id" and "member table" in w["message"].iloc[0]
