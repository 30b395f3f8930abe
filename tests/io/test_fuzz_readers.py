"""Fuzzing the CSV and xlsx readers (hypothesis): a messy export reads with every row accounted for, or ends in
a FanpinError; nothing else ever comes out.

Files are built from a simulated export the way counties mangle them: encodings
(UTF-8, BOM, GBK, GB18030, UTF-16), delimiters (comma, tab, semicolon), line
endings (LF, CRLF, CR, mixed), quoting, title rows, blank rows, total rows,
repeated headers, footers with names and phone numbers, random cells (quotes,
delimiters, line breaks, full-width text, numbers, dates, booleans), one sheet
per year with or without a year column, side sheets. For such a file every data
row must be a row of the frame and every stray row a flagged one, and the
footer's name and phone must appear nowhere. Raw byte damage on top (flips,
cuts, insertions) must give a frame or a FanpinError.

No shrinking phase and a fixed seed (``derandomize``): a failure is reported at
once with its example and the whole file stays well inside a minute.
"""

from __future__ import annotations

import csv
import io
import warnings
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from fanpin_risk import contract
from fanpin_risk.errors import FanpinError
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate


def _settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


BASE = contract.export_frame(simulate(4, years=range(2024, 2026), seed=4, province="全国"), headers="zh")
COLS = list(BASE.columns)
KEYS = set(zip(BASE["户编号"], BASE["年度"].astype(int)))
SKIP_RULES = {"total_row", "footer_row", "repeated_header", "title_row"}
NAME, PHONE = "赵文静", "13700002222"  # invented: the footer's person
# Random text from characters county cells hold; none of the labels that mark a row (合计, 填表人, 表 ...).
ALPHABET = "abcXYZ0123456789 .,-;:/\t\"'\n\r%#，。、（）【】：；？！元万亩户是否脱贫一般农村镇乡县务工种养殖大病残疾学生"
CELL_TEXT = st.text(alphabet=ALPHABET, max_size=12)
CELL_VALUE = st.one_of(CELL_TEXT, st.integers(-10**6, 10**6), st.integers(-2**70, 2**70), st.booleans(),
                       st.floats(allow_nan=False, allow_infinity=False),
                       st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31)))
# Columns random cells may hit: not the key, the year or the first three (they tell stray rows apart).
FREE_COLS = [j for j, c in enumerate(COLS) if j >= 3]


def _cells(df: pd.DataFrame) -> list[list]:
    return [["" if pd.isna(v) else v for v in r] for r in df.astype(object).itertuples(index=False)]


@st.composite
def layouts(draw, frame: pd.DataFrame = BASE):
    """Rows of a messy sheet of ``frame``: (rows, n stray rows inside the table); data cells possibly mangled."""
    data = _cells(frame)
    for _ in range(draw(st.integers(0, 6))):
        r, j = draw(st.integers(0, len(data) - 1)), draw(st.sampled_from(FREE_COLS))
        data[r][j] = draw(CELL_VALUE)
    width = len(COLS)
    body = list(data)
    stray = 0
    for kind in draw(st.lists(st.sampled_from(["total", "header", "blank", "subtotal"]), max_size=4)):
        at = draw(st.integers(0, len(body)))
        row = {"total": ["合计"] + [""] * (width - 1), "subtotal": ["", "", "城关镇小计"] + [""] * (width - 3),
               "header": list(COLS), "blank": [""] * width}[kind]
        body.insert(at, row)
        stray += kind != "blank"
    titles = draw(st.lists(st.sampled_from([["XX县防止返贫监测对象信息表"], ["导出时间：2025-12-31"], [""]]),
                           max_size=2))
    footers = draw(st.lists(st.sampled_from([
        [f"填表人：{NAME}", "", f"联系电话：{PHONE}"], ["审核人：", NAME], ["制表日期：2025年12月31日"],
        [""] * 6 + ["单位（盖章）"]]), max_size=3))
    return [*titles, list(COLS), *body, *footers], stray + len(footers)


@st.composite
def csv_files(draw):
    rows, stray = draw(layouts())
    delim = draw(st.sampled_from([",", "\t", ";"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    buf = io.StringIO()
    # "\r\n" as the writer's terminator makes it quote every cell holding a CR or LF
    w = csv.writer(buf, delimiter=delim, quoting=quoting, lineterminator="\r\n")
    for r in rows:
        w.writerow([str(v) for v in r])
    text = buf.getvalue().replace("\r\n", "\n")
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    if ending == "mixed":
        head, tail = text[: len(text) // 2], text[len(text) // 2:]
        text = head.replace("\n", "\r\n") + tail.replace("\n", "\r")
    elif ending != "\n":
        text = text.replace("\n", ending)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"]))
    return text.encode(encoding, errors="replace"), stray


@st.composite
def workbooks(draw):
    """(workbook, n stray rows): one sheet, or one sheet per year with or without a year column; side sheets."""
    per_year = draw(st.booleans())
    with_year = not per_year or draw(st.booleans())
    wb = Workbook()
    wb.remove(wb.active)
    if draw(st.booleans()):
        wb.create_sheet("填表说明").append(["本表由乡镇填报，金额单位：元"])
    stray_total = 0
    groups = [BASE[BASE["年度"] == y] for y in (2024, 2025)] if per_year else [BASE]
    drop = None if with_year else COLS.index("年度")
    for g in groups:
        rows, stray = draw(layouts(g))
        stray_total += stray
        ws = wb.create_sheet(f"{int(g['年度'].iloc[0])}年" if per_year else "监测户")
        for r in rows:
            ws.append([_typed(v) for j, v in enumerate(r) if j != drop])
    if draw(st.booleans()):
        wb.create_sheet("汇总").append(["村代码", "户数", "家庭人口数", "工资性收入"])
    return wb, stray_total


def _typed(v):
    """A cell as Excel holds it: digits without a leading zero as a number, empty as no cell, text as text."""
    if v == "":
        return None
    if isinstance(v, str) and v.isdigit() and not v.startswith("0") and len(v) < 12:
        return int(v)
    return v


def _read(src):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_panel(src, errors="warn", salt="fuzz")


def _accounted(df: pd.DataFrame, rep, stray: int) -> None:
    assert list(df.columns) == contract.field_names()
    assert set(zip(df["household_id"], df["year"])) == KEYS and len(df) == len(KEYS)
    flagged = rep.issues[rep.issues["rule"].isin(SKIP_RULES)]
    assert len(flagged) == stray and flagged["row"].isna().all()
    text = "\n".join([df.to_csv(), str(rep), *rep.notes, rep.issues.to_csv(),
                      "" if rep.extras is None else rep.extras.to_csv()])
    assert NAME not in text and PHONE not in text


@_settings(40)
@given(csv_files())
def test_messy_csv_reads_with_every_row_accounted_for(tmp_path_factory, case):
    data, stray = case
    path = tmp_path_factory.mktemp("csv") / "export.csv"
    path.write_bytes(data)
    df, rep = _read(path)
    _accounted(df, rep, stray)


@_settings(15)
@given(workbooks())
def test_messy_workbook_reads_with_every_row_accounted_for(tmp_path_factory, case):
    wb, stray = case
    path = tmp_path_factory.mktemp("xlsx") / "export.xlsx"
    wb.save(path)
    df, rep = _read(path)
    _accounted(df, rep, stray)


@_settings(30)
@given(csv_files(), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["flip", "cut", "insert"]),
                                       st.binary(min_size=1, max_size=4)), min_size=1, max_size=3))
def test_damaged_csv_bytes_give_a_frame_or_a_fanpin_error(tmp_path_factory, case, damage):
    data = bytearray(case[0])
    for pos, how, blob in damage:
        pos %= max(1, len(data))
        if how == "flip":
            data[pos:pos + len(blob)] = blob
        elif how == "cut":
            del data[pos:pos + 64 * len(blob)]
        else:
            data[pos:pos] = blob
    path = tmp_path_factory.mktemp("bad") / "export.csv"
    path.write_bytes(bytes(data))
    try:
        df, rep = _read(path)
    except FanpinError:
        return
    assert list(df.columns) == contract.field_names()
    assert len(df) <= bytes(data).count(b"\n") + bytes(data).count(b"\r") + 1


HEADER = ",".join(COLS[:8]) + "\n"


@_settings(40)
@given(st.sampled_from([".csv", ".txt", ".xlsx", ".xls", ".parquet"]),
       st.one_of(st.binary(max_size=400),
                 st.text(max_size=300).map(lambda t: (HEADER + t).encode("utf-8")),
                 st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b),
                 st.binary(max_size=300).map(lambda b: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b),
                 st.binary(max_size=300).map(lambda b: b"PAR1" + b),
                 st.text(max_size=300).map(lambda t: ("<html><table><tr><td>户编号</td><td>年度</td><td>县代码</td></tr>"
                                                      "<tr><td>" + t).encode("utf-8"))))
def test_any_bytes_under_any_name_give_a_frame_or_a_fanpin_error(tmp_path_factory, ext, data):
    path = tmp_path_factory.mktemp("any") / f"export{ext}"
    path.write_bytes(data)
    try:
        df, rep = _read(path)
    except FanpinError:
        return
    assert list(df.columns) == contract.field_names()


@pytest.mark.parametrize("value", [datetime(2024, 3, 1), True, -0.5, "＝SUM(A1:A3)", "=1+1", 1e300, 2**70])
def test_odd_typed_cells_in_a_workbook(tmp_path, value):
    wb = Workbook()
    ws = wb.active
    ws.append(COLS)
    for r in _cells(BASE):
        r[COLS.index("工资性收入")] = value
        ws.append([None if v == "" else v for v in r])
    wb.save(tmp_path / "odd.xlsx")
    df, rep = _read(tmp_path / "odd.xlsx")
    assert set(zip(df["household_id"], df["year"])) == KEYS
