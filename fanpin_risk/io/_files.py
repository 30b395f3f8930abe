"""Opening an export: what the file really is, whatever its name says, and every failure as a ReadError.

The content decides how a file is read: a workbook saved as ``.csv``, a CSV saved
as ``.xlsx``, an HTML page saved as ``.xls`` (a web system's "export to Excel"),
an Excel 97–2003 file named ``.xlsx``, a parquet dataset directory written with
``partition_cols``. What cannot be read (encrypted or damaged workbooks, zip
archives, PDFs, directories of other files, locked files) ends in a
:class:`~fanpin_risk.errors.ReadError` naming the file and the way out.

Every reader gives a raw table: the header row found (title rows above it
skipped, a header split over merged cells combined), one column per header cell,
the body rows as read, without the rows that are no households (``_rows``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fanpin_risk.errors import ReadError

from ._context import SOURCE_ROW, _Ctx
from ._headers import _SCAN_ROWS, _flat_columns, _header_row, _score_row
from ._rows import _frame_from_grid, _set_aside, _unique_columns
from ._sheets import _load_html, _load_workbook
from ._textfile import _decode, _frame_from_text, _utf16_guess

Source = str | os.PathLike | pd.DataFrame

_WORKBOOK = (".xlsx", ".xlsm", ".xls")
_TEXT = (".csv", ".txt", ".tsv")
_PARQUET = (".parquet", ".pq")
#: Formats met in county offices that pandas cannot read here: what they are.
_SAVE_AS = {
    ".xlsb": "an Excel binary workbook (.xlsb)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".et": "a WPS spreadsheet (.et)",
    ".ett": "a WPS spreadsheet template (.ett)",
    ".numbers": "an Apple Numbers file",
    ".wps": "a WPS document",
    ".doc": "a Word document",
    ".docx": "a Word document",
    ".pdf": "a PDF",
}
_ARCHIVES = (".zip", ".rar", ".7z", ".gz")
_MAGIC = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"PAR1", "parquet"),
    (b"%PDF", "pdf"),
    (b"Rar!", "archive"), (b"7z\xbc\xaf", "archive"), (b"\x1f\x8b", "archive"),
)


def _load(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
          exclude_sheet: str | int | None = None) -> pd.DataFrame:
    """The raw table of ``source`` with one distinct name per column."""
    return _unique_columns(_load_any(source, sheet, table, label, ctx, exclude_sheet))


def _load_any(source: Source, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
              exclude_sheet: str | int | None = None) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return _load_frame(source, table, label, ctx)
    if not isinstance(source, str | os.PathLike):
        raise ReadError(f"{label}: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    try:
        return _load_path(path, sheet, table, label, ctx, exclude_sheet)
    except ReadError as exc:
        msg = str(exc)
        if path.name in msg or not msg.startswith(label):
            raise
        raise ReadError(f"{label} ({path.name})" + msg[len(label):]) from None  # name the file the message is about
    except PermissionError:
        raise ReadError(f"{label}: cannot read {path.name}: permission denied. Close it if it is open in Excel or "
                        "WPS (they lock the file) and check that you may read it") from None
    except IsADirectoryError:
        raise ReadError(f"{label}: {path} is a directory, not a file; pass one of its files") from None
    except OSError as exc:
        raise ReadError(f"{label}: cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None


def _load_path(path: Path, sheet: str | int | None, table: str, label: str, ctx: _Ctx,
               exclude_sheet: str | int | None) -> pd.DataFrame:
    if not path.exists():
        raise ReadError(f"{label}: file not found: {path}")
    if path.is_dir():
        return _load_directory(path, table, label, ctx)
    ext = path.suffix.lower()
    if ext in _SAVE_AS:
        raise ReadError(f"{label}: {path.name} is {_SAVE_AS[ext]}, which cannot be read here; open it and save "
                        "it as .xlsx (or as CSV UTF-8)")
    if ext in _ARCHIVES:
        raise ReadError(f"{label}: {path.name} is an archive; unpack it and pass the file inside")
    if ext not in _WORKBOOK + _TEXT + _PARQUET:
        raise ReadError(f"{label}: unsupported file type {ext!r}; use .xlsx, .xls, .csv, .txt or .parquet")
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise ReadError(f"{label}: {path.name} is empty (0 bytes); export it again")
    kind = _kind(head)
    if kind == "zip":
        kind = _zip_kind(path)
    if kind == "ods":
        raise ReadError(f"{label}: {path.name} is an OpenDocument spreadsheet (.ods), which cannot be read here; "
                        "open it and save it as .xlsx (or as CSV UTF-8)")
    if kind == "archive":
        raise ReadError(f"{label}: {path.name} is a zip archive, not a workbook; unpack it and pass the file inside")
    if kind in ("zip", "ole"):
        if ext not in _WORKBOOK:
            ctx.notes.append(f"{label}: {path.name} is an Excel workbook under a {ext} name; read as a workbook")
        return _load_workbook(path, kind, sheet, table, label, ctx, exclude_sheet)
    if kind == "parquet":
        return _load_parquet(path, table, label, ctx)
    if ext in _PARQUET:
        raise ReadError(f"{label}: {path.name} is not a parquet file (no PAR1 mark); it is damaged or another "
                        "format; write it again with DataFrame.to_parquet, or pass the CSV/xlsx export")
    return _load_other(path, kind, ext, table, label, ctx)


def _load_other(path: Path, kind: str, ext: str, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    """Files that are neither a workbook nor parquet: HTML pages, text, or formats refused with the way out."""
    if kind == "pdf":
        raise ReadError(f"{label}: {path.name} is a PDF, not a table; export the table itself as .xlsx or CSV")
    if kind == "archive":
        raise ReadError(f"{label}: {path.name} is a compressed archive; unpack it and pass the file inside")
    data = path.read_bytes()
    if kind == "html":
        return _load_html(path, data, table, label, ctx)
    if kind == "xml":
        raise ReadError(f"{label}: {path.name} is an Excel 2003 XML spreadsheet; open it in Excel or WPS and save "
                        "it as .xlsx")
    if kind == "binary":
        raise ReadError(f"{label}: {path.name} is neither a workbook nor text (binary content); export the table "
                        "again as .xlsx or CSV")
    if ext in _WORKBOOK:
        ctx.notes.append(f"{label}: {path.name} is a text file (CSV/TSV) under a {ext} name; read as delimited text")
    return _frame_from_text(_decode(data, label, ctx), table, label, ctx)


def _kind(head: bytes) -> str:
    """What the first bytes of a file say it is: zip, ole, parquet, pdf, archive, html, xml, binary or text."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    probe = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_guess(head):
        probe = head[2:].replace(b"\x00", b"").lstrip(b" \t\r\n").lower()  # UTF-16 text: look at its letters
    elif head.count(b"\x00") > len(head) // 3:
        return "binary"
    if probe.startswith(b"<"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head and b"<table" not in probe:
            return "xml"
        if any(t in probe for t in (b"<table", b"<html", b"<!doctype html", b"<body")):
            return "html"
    return "text"


def _zip_kind(path: Path) -> str:
    """``"zip"`` for an Excel workbook (or a damaged one: the workbook reader says so), ``"ods"`` or ``"archive"``."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mime = z.read("mimetype")[:80] if "mimetype" in names else b""
    except Exception:  # noqa: BLE001 - only a sniff: a damaged workbook is explained by the workbook reader
        return "zip"
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        return "zip"
    return "ods" if b"opendocument.spreadsheet" in mime else "archive"


# --------------------------------------------------------------------------- parquet
def _load_parquet(path: Path, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (NotImplementedError, TypeError):  # dictionary-typed columns pandas cannot map back
        df = _arrow_dataset(path, label, ctx)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReadError(f"{label}: cannot read parquet file {path.name} ({type(exc).__name__}); it is damaged or "
                        "incomplete; write it again, or pass the CSV/xlsx export") from None
    return _load_frame(df, table, label, ctx)


def _load_directory(path: Path, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    """A parquet dataset directory (``to_parquet(dir, partition_cols=[...])``) read whole; other directories refused."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if files and all(p.suffix.lower() in _PARQUET or not p.suffix for p in files):
        return _load_frame(_arrow_dataset(path, label, ctx), table, label, ctx)
    shown = ", ".join(p.relative_to(path).as_posix() for p in files[:5]) + (" ..." if len(files) > 5 else "")
    raise ReadError(f"{label}: {path} is a directory, not a file; pass one of its files"
                    + (f" ({len(files)} found: {shown})" if files else " (it holds no files)")
                    + "; read_panel reads one table per call (a parquet dataset directory is read whole)")


def _arrow_dataset(path: Path, label: str, ctx: _Ctx) -> pd.DataFrame:
    """A parquet file or dataset directory with its dictionary (partition) columns as plain values."""
    try:
        t = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReadError(f"{label}: cannot read the parquet data in {path.name} ({type(exc).__name__}: files of "
                        "different columns, or damaged); write it again, or pass the CSV/xlsx export") from None
    restored = []
    for i, f in enumerate(t.schema):
        if pa.types.is_dictionary(f.type):
            # hive partition columns (year=2023/) come back dictionary-encoded; pandas
            # cannot map that back to the column's own dtype
            t = t.set_column(i, f.name, t.column(i).cast(f.type.value_type))
            restored.append(f.name)
    n_files = sum(1 for _ in path.rglob("*.parquet")) if path.is_dir() else 1
    ctx.notes.append(f"{label}: parquet {'dataset' if path.is_dir() else 'file'} {path.name} read ({n_files} file(s))"
                     + (f"; partition column(s) {', '.join(restored)} restored" if restored else ""))
    return t.to_pandas()


# --------------------------------------------------------------------------- frames
def _load_frame(df: pd.DataFrame, table: str, label: str, ctx: _Ctx) -> pd.DataFrame:
    """A DataFrame as a raw table: plain values, its header found, the rows that are no households set aside.

    Columns over several levels stay as they are (the header mapping reads them);
    their flat names serve to recognise repeated header rows.
    """
    df = df.reset_index(drop=True)
    cats = [j for j in range(df.shape[1]) if isinstance(df.dtypes.iloc[j], pd.CategoricalDtype)]
    if cats:  # categories are values, not codes: compared and parsed as such
        df = df.copy()
        for j in cats:
            df.isetitem(j, df.iloc[:, j].astype(object))
    if isinstance(df.columns, pd.MultiIndex):
        header = _flat_columns(df.columns, table, None)
    else:
        header = list(df.columns)
        grid = _header_inside(df, table)
        if grid is not None:
            ctx.notes.append(f"{label}: the DataFrame's column names are no header; the header is in its rows "
                             "(read the sheet with header=None, or pass the file itself)")
            return _frame_from_grid(grid, table, label, ctx, where=lambda k: f"DataFrame row {k - 1}")
    out = _set_aside(df, header, table, label, ctx, lambda k: f"DataFrame row {k}")[0]
    if ctx.row_numbers and not isinstance(out.columns, pd.MultiIndex):
        out = out.assign(**{SOURCE_ROW: out.index.to_numpy(dtype="int64")})  # as the report words it: DataFrame row k
    return out.reset_index(drop=True)


def _header_inside(df: pd.DataFrame, table: str) -> pd.DataFrame | None:
    """The frame as a grid (column names as its first row) when its header is one of its first rows, else None.

    ``pd.read_excel`` without ``header=None`` takes a title row for the header.
    """
    need = min(3, max(1, df.shape[1]))
    if not df.shape[1] or _score_row(list(df.columns), table) >= need:
        return None
    top = df.iloc[:_SCAN_ROWS].astype(object).set_axis(range(df.shape[1]), axis=1)
    i, _ = _header_row(pd.concat([pd.DataFrame([list(df.columns)], dtype=object), top], ignore_index=True), table)
    if i is None or i == 0:
        return None
    return pd.concat([pd.DataFrame([list(df.columns)], dtype=object),
                      df.astype(object).set_axis(range(df.shape[1]), axis=1)], ignore_index=True)


