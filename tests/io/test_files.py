"""Files as they really arrive (issue 13, "Files"): each one is read, or refused with a ReadError naming it and the fix.

Line endings of any kind, cells over the csv module's 128 KB, a stray quote that
would swallow rows, directories, parquet datasets partitioned by year, HTML pages
and CSVs saved as .xls/.xlsx, workbooks saved as .csv, encrypted or damaged
workbooks, zip archives, UTF-16 "Unicode text", unknown encodings and delimiters
other than the comma.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.errors import FanpinError, ReadError
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return simulate(6, years=range(2023, 2026), seed=11, province="全国")


@pytest.fixture
def zh(base) -> pd.DataFrame:
    return contract.export_frame(base, headers="zh")


@pytest.fixture
def ref(zh) -> pd.DataFrame:
    return read_panel(zh, salt="s")[0]


def read(path, **kw):
    return read_panel(path, salt="s", **kw)


def notes(rep) -> str:
    return " | ".join(rep.notes)


# --------------------------------------------------------------------------- line endings, big cells, quotes
@pytest.mark.parametrize("ending", ["\r", "\r\n", "mixed"])
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_line_endings_of_any_kind(zh, ref, tmp_path, ending, encoding):
    lines = zh.to_csv(index=False).splitlines()
    if ending == "mixed":  # blocks from a Windows and an old Mac export pasted together
        text = "\r\n".join(lines[:7]) + "\r" + "\r".join(lines[7:]) + "\r"
    else:
        text = ending.join(lines) + ending
    (tmp_path / "e.csv").write_bytes(text.encode(encoding))
    df, rep = read(tmp_path / "e.csv")
    pd.testing.assert_frame_equal(df, ref)
    if ending != "\r\n":
        assert "line endings" in notes(rep)


def test_cell_over_128kb_is_read_and_the_csv_limit_left_as_it_was(zh, ref, tmp_path):
    zh["帮扶情况说明"] = ""
    zh.loc[3, "帮扶情况说明"] = "入户走访记录；" * 30_000  # ~ 210 KB of text in one cell
    zh.to_csv(tmp_path / "big.csv", index=False)
    limit = csv.field_size_limit()
    df, rep = read(tmp_path / "big.csv")
    assert csv.field_size_limit() == limit
    pd.testing.assert_frame_equal(df, ref)
    if rep.extras is not None and "帮扶情况说明" in rep.extras:
        assert rep.extras["帮扶情况说明"].str.len().max() == len("入户走访记录；") * 30_000


def test_big_cell_in_a_ragged_file_read_by_the_csv_module(zh, tmp_path):
    body = zh.to_csv(index=False)
    text = "XX县监测户\n" + body.replace("\n", ',"' + "x" * 200_000 + '"\n', 1)  # header gets one more cell
    (tmp_path / "ragged.csv").write_text(text, encoding="utf-8")
    df, _ = read(tmp_path / "ragged.csv")
    assert len(df) == len(zh)


def test_stray_quote_that_would_swallow_rows_is_refused(zh, tmp_path):
    zh = zh.astype(object)
    zh.loc[4, "户类型"] = '"脱贫户'  # an opening quote typed into a cell, never closed
    text = zh.to_csv(index=False, quoting=csv.QUOTE_NONE, escapechar=None, quotechar="'")
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ReadError, match=r"\(q\.csv\): the cell in row 6.*quote.*Remove the stray quote"):
        read(tmp_path / "q.csv")


def test_quoted_cell_over_two_lines_is_one_cell(zh, ref, tmp_path):
    zh = zh.astype(object)
    zh["备注说明"] = ""
    zh.loc[2, "备注说明"] = "家中有一名大学生，\n明年毕业"
    zh.to_csv(tmp_path / "ml.csv", index=False)
    df, rep = read(tmp_path / "ml.csv")
    pd.testing.assert_frame_equal(df, ref)


# --------------------------------------------------------------------------- delimiters and encodings
@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("\t", "tab"), ("|", "vertical bar"),
                                       ("，", "full-width comma")])
def test_delimiters_are_sniffed(zh, ref, tmp_path, sep, name):
    zh = zh.astype(object)
    zh["工资性收入"] = zh["工资性收入"].map(lambda v: f"{v:,.0f}")  # "29,554": commas inside values
    text = "\n".join(sep.join("" if pd.isna(v) else str(v) for v in r) for r in [list(zh.columns), *zh.to_numpy()])
    (tmp_path / "d.txt").write_text("XX县监测户名单\n" + text + "\n", encoding="gb18030")
    df, rep = read(tmp_path / "d.txt")
    pd.testing.assert_frame_equal(df, ref)
    assert f"separated by {name}" in notes(rep)


@pytest.mark.parametrize("bom", [True, False])
def test_utf16_unicode_text_from_excel(zh, ref, tmp_path, bom):
    text = zh.to_csv(index=False, sep="\t", lineterminator="\r\n")
    data = text.encode("utf-16") if bom else text.encode("utf-16-le")
    (tmp_path / "u.txt").write_bytes(data)
    df, rep = read(tmp_path / "u.txt")
    pd.testing.assert_frame_equal(df, ref)
    assert "UTF-16" in notes(rep)


def test_big5_file_says_which_encodings_are_read(zh, tmp_path):
    text = zh.rename(columns={"户编号": "戶編號", "户类型": "戶類型"}).to_csv(index=False)
    (tmp_path / "b5.csv").write_bytes(text.encode("big5", errors="replace"))
    with pytest.raises(ReadError, match=r"b5\.csv.*another encoding.*Big5"):
        read(tmp_path / "b5.csv")


def test_blank_and_empty_files(tmp_path):
    (tmp_path / "blank.csv").write_text("\n\n ,,,\n\n", encoding="utf-8")
    with pytest.raises(ReadError, match="empty"):
        read(tmp_path / "blank.csv")
    (tmp_path / "zero.xlsx").write_bytes(b"")
    with pytest.raises(ReadError, match=r"zero\.xlsx is empty"):
        read(tmp_path / "zero.xlsx")


# --------------------------------------------------------------------------- directories and parquet
def test_parquet_dataset_partitioned_by_year_is_read_whole(base, tmp_path):
    base.to_parquet(tmp_path / "panel.parquet", partition_cols=["year"])
    df, rep = read(tmp_path / "panel.parquet")
    want = read_panel(base, salt="s")[0]
    pd.testing.assert_frame_equal(df, want)
    assert "partition column(s) year restored" in notes(rep)


def test_parquet_partitioned_by_a_chinese_column(zh, ref, tmp_path):
    zh.to_parquet(tmp_path / "by_type", partition_cols=["户类型"])
    df, _ = read(tmp_path / "by_type")
    pd.testing.assert_frame_equal(df, ref)


def test_damaged_parquet_file(base, tmp_path):
    base.to_parquet(tmp_path / "p.parquet")
    data = (tmp_path / "p.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match=r"cut\.parquet.*(damaged|again)"):
        read(tmp_path / "cut.parquet")


def test_directory_where_a_file_is_expected_names_its_files(zh, tmp_path):
    folder = tmp_path / "监测户.csv"  # a folder named like the file it should be
    folder.mkdir()
    zh.to_csv(folder / "城关镇.csv", index=False)
    zh.to_csv(folder / "新华乡.csv", index=False)
    with pytest.raises(ReadError, match=r"is a directory, not a file.*城关镇\.csv"):
        read(folder)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ReadError, match="holds no files"):
        read(tmp_path / "empty_dir")


def test_locked_file_is_a_read_error(zh, tmp_path, monkeypatch):
    zh.to_csv(tmp_path / "locked.csv", index=False)

    def locked(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("pathlib.Path.open", locked)
    with pytest.raises(ReadError, match=r"locked\.csv.*permission denied.*Excel"):
        read(tmp_path / "locked.csv")


# --------------------------------------------------------------------------- files under another name
def _html_export(zh: pd.DataFrame) -> str:
    """What a web system's "export to Excel" writes: an HTML table, GBK, a merged title and a two-row header."""
    inc = ["工资性收入", "生产经营性收入", "转移性收入"]
    rest = [c for c in zh.columns if c not in inc]
    head1 = "".join(f'<td rowspan="2">{c}</td>' for c in rest) + '<td colspan="3">收入情况（元）</td>'
    head2 = "".join(f"<td>{c}</td>" for c in inc)
    body = []
    for _, r in zh.iterrows():
        cells = [("" if pd.isna(r[c]) else str(r[c])) for c in rest]
        cells += [f"{r[c]:,.2f}" for c in inc]  # thousands separators, as the page shows them
        text_cell = "<td style=\"mso-number-format:'\\@'\">{}</td>"  # Excel's "keep as text" cell
        body.append("<tr>" + "".join(text_cell.format(v or "&nbsp;") for v in cells) + "</tr>")
    return ('<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head>'
            '<meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
            f'<table border="1"><tr><td colspan="{zh.shape[1]}">XX县防止返贫监测对象信息</td></tr>'
            f"<tr>{head1}</tr><tr>{head2}</tr>\n" + "\n".join(body) + "</table></body></html>")


def test_xls_that_is_an_html_page_is_read(zh, ref, tmp_path):
    (tmp_path / "导出.xls").write_bytes(_html_export(zh).encode("gbk"))
    df, rep = read(tmp_path / "导出.xls")
    pd.testing.assert_frame_equal(df, ref)
    assert "is an HTML page" in notes(rep)


def test_html_page_without_the_table_says_how_to_save_it(tmp_path):
    (tmp_path / "login.xls").write_text("<html><body><table><tr><td>请先登录</td></tr></table></body></html>",
                                        encoding="utf-8")
    with pytest.raises(ReadError, match=r"login\.xls is an HTML page.*save it as \.xlsx"):
        read(tmp_path / "login.xls")


@pytest.mark.parametrize("name", ["export.xlsx", "export.xls"])
def test_workbook_name_on_a_text_file(zh, ref, tmp_path, name):
    (tmp_path / name).write_bytes(zh.to_csv(index=False, sep="\t" if name.endswith("xls") else ",").encode("gbk"))
    df, rep = read(tmp_path / name)
    pd.testing.assert_frame_equal(df, ref)
    assert "is a text file" in notes(rep)


def test_csv_name_on_a_workbook(zh, ref, tmp_path):
    zh.to_excel(tmp_path / "really.xlsx", index=False)
    (tmp_path / "really.csv").write_bytes((tmp_path / "really.xlsx").read_bytes())
    df, rep = read(tmp_path / "really.csv")
    pd.testing.assert_frame_equal(df, ref)
    assert "is an Excel workbook under a .csv name" in notes(rep)


def test_encrypted_workbook_says_remove_the_password(tmp_path):
    # An encrypted .xlsx is an OLE compound file holding an EncryptedPackage stream.
    sector = bytearray(512)
    ole = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)) + sector
    name = "EncryptedPackage".encode("utf-16-le")
    ole[512:512 + len(name)] = name
    (tmp_path / "locked.xlsx").write_bytes(bytes(ole) + bytes(1024))
    with pytest.raises(ReadError, match=r"locked\.xlsx.*password-protected.*remove the password"):
        read(tmp_path / "locked.xlsx")


def test_damaged_workbook(zh, tmp_path):
    zh.to_excel(tmp_path / "ok.xlsx", index=False)
    data = (tmp_path / "ok.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ReadError, match=r"cut\.xlsx.*damaged.*save it again"):
        read(tmp_path / "cut.xlsx")


def test_zip_archive_named_xlsx(zh, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("监测户.csv", zh.to_csv(index=False))
    (tmp_path / "a.xlsx").write_bytes(buf.getvalue())
    with pytest.raises(ReadError, match=r"a\.xlsx is a zip archive.*unpack"):
        read(tmp_path / "a.xlsx")


def test_opendocument_spreadsheet_named_xlsx(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    (tmp_path / "wps.xlsx").write_bytes(buf.getvalue())
    with pytest.raises(ReadError, match=r"wps\.xlsx is an OpenDocument spreadsheet.*save it as \.xlsx"):
        read(tmp_path / "wps.xlsx")


@pytest.mark.parametrize("name, what", [("a.xlsb", "binary workbook"), ("a.et", "WPS"), ("a.zip", "archive"),
                                        ("a.pdf", "PDF")])
def test_formats_that_need_saving_again(tmp_path, name, what):
    (tmp_path / name).write_bytes(b"\x00\x01binary")
    with pytest.raises(ReadError, match=what):
        read(tmp_path / name)


def test_frame_read_without_header_none_finds_its_header(zh, ref, tmp_path):
    with pd.ExcelWriter(tmp_path / "t.xlsx") as xw:
        pd.DataFrame([["XX县监测户信息表"]]).to_excel(xw, index=False, header=False)
        zh.to_excel(xw, index=False, startrow=2)
    raw = pd.read_excel(tmp_path / "t.xlsx")  # the title row became the column names
    df, rep = read(raw)
    pd.testing.assert_frame_equal(df, ref)
    assert "column names are no header" in notes(rep)


def test_categorical_columns_are_read_as_their_values(zh, ref):
    cat = zh.astype({"户类型": "category", "年度": "category", "户编号": "category"})
    df, _ = read(cat)
    pd.testing.assert_frame_equal(df, ref)


def test_something_that_is_no_table(tmp_path):
    with pytest.raises(ReadError, match="expected a file path or a pandas DataFrame"):
        read_panel(12345)
    with pytest.raises(FanpinError):
        read_panel([["户编号", "年度"]])
