"""The data contract as code: fields, headers, dtypes, code lists, monitoring lines.

Everything here is read from the CSV files in ``data_schema/`` (shipped inside the
wheel as ``fanpin_risk/_data_schema``), so the contract lives in one place, as data.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fanpin_risk.errors import ContractError, MissingLineError

Table = Literal["household_year", "member"] | str
#: Table names of department feeds: ``"feed:<kind>"`` reads ``data_schema/feeds/<kind>.csv``; ``"feeds"`` is the
#: union of every feed's fields (to find a feed's header row before its kind is known).
FEED_PREFIX = "feed:"
FEEDS = "feeds"

#: Province name used for the national reference series of monitoring lines.
NATIONAL = "全国"

_PKG = Path(__file__).resolve().parents[1]  # the fanpin_risk package folder


def _find_dir(installed: str, source: str) -> Path:
    # A wheel carries the folder inside the package; an editable install or a
    # checkout reads it from the repository root.
    for cand in (_PKG / installed, _PKG.parent / source):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"cannot find {source}/ next to the fanpin_risk package")


def schema_dir() -> Path:
    """Folder holding the contract files (``data_schema/``)."""
    return _find_dir("_data_schema", "data_schema")


def models_dir() -> Path:
    """Folder holding the packaged default model (``models/``)."""
    return _find_dir("_models", "models")


# --------------------------------------------------------------------------- fields
@lru_cache(maxsize=None)
def fields(table: Table = "household_year") -> pd.DataFrame:
    """The contract's field table.

    Parameters
    ----------
    table : {"household_year", "member"} or str
        A department feed as ``"feed:<kind>"`` (``data_schema/feeds/<kind>.csv``,
        kinds listed in ``data_schema/feeds.csv``), or ``"feeds"``: the fields of
        every feed, each once (used to find a feed's header before its kind is known).

    Returns
    -------
    pandas.DataFrame
        One row per field with columns ``field, zh_header, type, unit, required,
        min, max, code_list, aliases, description`` (``required`` is boolean,
        ``aliases`` a tuple of extra accepted headers).

    Examples
    --------
    >>> list(fields("feed:medical_bill")["field"])[:3]
    ['id_number', 'event_month', 'list_month']
    """
    if table == FEEDS:
        return _feed_union()
    rows = _field_rows(table)
    df = pd.DataFrame(rows).astype(object)
    df["required"] = df["required"].str.strip().eq("yes")
    df["min"] = pd.to_numeric(df["min"].replace("", np.nan))
    df["max"] = pd.to_numeric(df["max"].replace("", np.nan))
    df["aliases"] = [tuple(a for a in s.split(";") if a) for s in df["aliases"]]
    return df


def _table_path(table: str) -> Path:
    """The CSV file of ``table`` (a feed kind unknown to ``data_schema/feeds.csv`` refused by name)."""
    if table.startswith(FEED_PREFIX):
        kind = table[len(FEED_PREFIX):]
        path = schema_dir() / "feeds" / f"{kind}.csv"
        if not re.fullmatch(r"[a-z0-9_]+", kind) or not path.is_file():
            known = sorted(p.stem for p in (schema_dir() / "feeds").glob("*.csv"))
            raise ContractError(f"unknown feed kind {kind!r}; known kinds: {', '.join(known)}")
        return path
    path = schema_dir() / f"{table}.csv"
    if table not in ("household_year", "member") and not path.is_file():
        raise ContractError(f"unknown contract table {table!r}; use household_year, member, feeds or feed:<kind>")
    return path


def _field_rows(table: str) -> list[dict]:
    with _table_path(table).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=None)
def _feed_union() -> pd.DataFrame:
    """Every feed's fields, each once (first kind that names it), aliases of all kinds joined."""
    parts = [fields(FEED_PREFIX + p.stem) for p in sorted((schema_dir() / "feeds").glob("*.csv"))]
    df = pd.concat(parts, ignore_index=True)
    aliases = df.groupby("field", sort=False)["aliases"].agg(lambda a: tuple(dict.fromkeys(x for t in a for x in t)))
    # required of the union: required by every kind (the common fields); the kind's own table decides the rest
    required = df.groupby("field", sort=False)["required"].agg(lambda r: len(r) == len(parts) and bool(r.all()))
    df = df.drop_duplicates("field").reset_index(drop=True)
    df["aliases"] = df["field"].map(aliases)
    df["required"] = df["field"].map(required).astype(bool)
    return df


def field_names(table: Table = "household_year") -> list[str]:
    """Canonical English field names of ``table`` in contract order."""
    return list(fields(table)["field"])


def required_fields(table: Table = "household_year") -> list[str]:
    """Fields the contract marks as required."""
    f = fields(table)
    return list(f.loc[f["required"], "field"])


def fields_of_type(kind: str, table: Table = "household_year") -> list[str]:
    """Fields whose contract type is ``kind`` (string, integer, number, boolean, category)."""
    f = fields(table)
    return list(f.loc[f["type"] == kind, "field"])


#: Characters that show in no header but come with copied text: BOM, zero-width
#: spaces and joiners, word joiner, soft hyphen, direction marks.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad\u200e\u200f\u180e"), None)
#: Brackets and dots that NFKC leaves alone, mapped to the ones the contract writes.
_BRACKETS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")", "〖": "(", "〗": ")",
                           "「": "(", "」": ")", "『": "(", "』": ")", "・": "·", "•": "·"})
# Excel writes a carriage return inside a cell as this escape when openpyxl reads it raw.
_XML_CR = re.compile(r"_x000[dDaA]_")
#: Required-field markers at either end of a header (*户编号, 户编号*, ※户编号, 户编号(必填)).
_MARKER = re.compile(r"^(?:[*※★☆#:]|\((?:必填|必填项|\*)\))+|(?:[*※★☆:]|\((?:必填|必填项|\*)\))+$")


def _unit_spellings() -> tuple[str, ...]:
    """Units of ``data_schema/units.csv``, normalised as headers are, longest first."""
    with (schema_dir() / "units.csv").open(encoding="utf-8", newline="") as fh:
        units = {_plain_header(r["unit"]) for r in csv.DictReader(fh)}
    return tuple(sorted(units, key=len, reverse=True))


@lru_cache(maxsize=1)
def _unit_suffix() -> re.Pattern:
    """A unit at the end of a normalised header: ``(万元)``, ``(单位:万元)``, ``单位:万元``, ``/万元``."""
    alt = "|".join(re.escape(u) for u in _unit_spellings())
    return re.compile(rf"(?:\((?:单位:?)?({alt})\)|[,;]?单位:?({alt})|/({alt}))$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _t2s():
    """The Traditional → Simplified converter, built on first use (it loads a dictionary, ~0.1 s)."""
    # imported here: most inputs never need it, and ``import fanpin_risk`` stays light
    from opencc_purepy import OpenCC

    return OpenCC("t2s")


def _simplified_only(s: str) -> bool:
    """Whether ``s`` is all GB2312 (simplified characters): then no converter is loaded for it.

    Traditional characters (戶, 編, 數) lie outside GB2312, so this cheap test lets
    simplified headers and cells, nearly all of them, skip the converter.
    """
    try:
        s.replace("·", "").encode("gb2312")  # the middle dot of 元/人·年 is no Han character
    except UnicodeEncodeError:
        return False
    return True


def _plain_header(text: str) -> str:
    """``text`` without invisible characters, as NFKC, in simplified characters, without white space or brackets of other kinds."""
    s = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    if not s.isascii() and not _simplified_only(s):
        s = _t2s().convert(s)
    s = _XML_CR.sub("", s)
    return re.sub(r"\s+", "", s).translate(_BRACKETS)


@lru_cache(maxsize=8192)
def _split_header(text: str) -> tuple[str, str | None]:
    """(matching key, unit written in the header or None) of a header's text."""
    s = _MARKER.sub("", _plain_header(text))
    unit = None
    m = _unit_suffix().search(s)
    if m and m.start() > 0:  # a header that is only a unit ("元") is not stripped to nothing
        unit = next(g for g in m.groups() if g).lower()
        s = _MARKER.sub("", s[: m.start()])
    return s.lower(), unit


def normalize_header(name: object, *, unit: bool = False) -> str | tuple[str, str | None]:
    """Normalise a column header for matching, as people write headers.

    Invisible characters (BOM, zero-width spaces and joiners) are removed anywhere,
    full-width characters become half-width (NFKC), traditional characters
    simplified (戶編號 → 户编号), white space and line breaks removed, 【】〔〕[] read
    as brackets, required-field markers at either end removed (``*``, ``※``,
    ``(必填)``), a trailing unit of ``data_schema/units.csv`` removed (``（万元）``,
    ``(单位：万元)``, ``单位：万元``, ``/万元``), and Latin letters lower-cased.

    Parameters
    ----------
    name : object
        The header (anything else is read as ``str(name)``).
    unit : bool, default False
        Also return the unit the header carries, spelt as in ``units.csv``.

    Returns
    -------
    str or (str, str or None)
        The matching key; with ``unit=True`` the key and the unit (None when the
        header names none).

    Notes
    -----
    Each distinct header is normalised once (cached): headers are few, so this
    costs nothing per row.

    Examples
    --------
    >>> normalize_header("人均纯收入（元）"), normalize_header("*戶編號\\u200b")
    ('人均纯收入', '户编号')
    >>> normalize_header("工资性收入【单位：万元】", unit=True)
    ('工资性收入', '万元')
    """
    key, u = _split_header(str(name))
    return (key, u) if unit else key


@lru_cache(maxsize=None)
def header_map(table: Table = "household_year") -> dict[str, str]:
    """Map every accepted (normalised) header to its canonical field.

    The canonical English name, the Chinese header and each alias of
    ``data_schema/<table>.csv`` are accepted.
    """
    out: dict[str, str] = {}
    for row in fields(table).itertuples():
        for name in (row.field, row.zh_header, *row.aliases):
            key = normalize_header(name)
            if key in out and out[key] != row.field:
                raise ContractError(
                    f"data_schema/{table}.csv: header {name!r} is given for both "
                    f"{out[key]!r} and {row.field!r}"
                )
            out[key] = row.field
    return out


def zh_headers(table: Table = "household_year") -> dict[str, str]:
    """Canonical field → Chinese header."""
    f = fields(table)
    return dict(zip(f["field"], f["zh_header"]))


# --------------------------------------------------------------------------- dtypes
_DTYPES = {
    "string": "str",
    "category": "str",
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
}


def canonical_dtypes(table: Table = "household_year") -> dict[str, str]:
    """Canonical pandas dtype of each field.

    integer → ``Int64`` (nullable), number → ``float64``, boolean → ``boolean``
    (nullable), string and category → ``str`` (missing is NaN).
    """
    f = fields(table)
    return {row.field: _DTYPES[row.type] for row in f.itertuples()}


def to_canonical_dtypes(df: pd.DataFrame, table: Table = "household_year") -> pd.DataFrame:
    """Return a copy of ``df`` with contract columns cast to their canonical dtype.

    Values must already be clean (numbers numeric, booleans boolean); use
    :func:`fanpin_risk.read_panel` for raw exports. Columns outside the contract
    are kept as they are.
    """
    out = df.copy()
    for col, dt in canonical_dtypes(table).items():
        if col not in out.columns:
            continue
        s = out[col]
        if dt == "Int64":
            vals = pd.to_numeric(s)
            if vals.dtype.kind == "f":
                frac = vals.notna() & (vals % 1 != 0)
                if frac.any():
                    raise ContractError(
                        f"{col}: integer field holds fractional values, e.g. {vals[frac].iloc[0]!r}"
                    )
            out[col] = vals.astype("Int64")
        elif dt == "str":
            out[col] = s if s.dtype == "str" else s.astype("str").where(s.notna(), np.nan)
        else:
            out[col] = s.astype(dt)
    return out


# --------------------------------------------------------------------------- code lists
@lru_cache(maxsize=None)
def codes() -> pd.DataFrame:
    """All code lists: columns ``list, value, name_en, note`` (Chinese value canonical)."""
    with (schema_dir() / "codes.csv").open(encoding="utf-8", newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


def code_list(name: str) -> list[str]:
    """Canonical Chinese values of code list ``name`` (e.g. ``"risk_type"``)."""
    c = codes()
    vals = list(c.loc[c["list"] == name, "value"])
    if not vals:
        raise ContractError(f"unknown code list {name!r}; known: {sorted(set(c['list']))}")
    return vals


def code_names(name: str) -> dict[str, str]:
    """Chinese value → English name for code list ``name``."""
    c = codes()
    sub = c[c["list"] == name]
    return dict(zip(sub["value"], sub["name_en"]))


# --------------------------------------------------------------------------- lines
@lru_cache(maxsize=None)
def provinces() -> pd.DataFrame:
    """Province table: 2-digit ``code``, short ``name`` (e.g. 贵州) and ``full_name``."""
    with (schema_dir() / "provinces.csv").open(encoding="utf-8", newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


@lru_cache(maxsize=None)
def _province_lookup() -> dict[str, str]:
    p = provinces()
    out = {NATIONAL: NATIONAL, "national": NATIONAL, "cn": NATIONAL, "中国": NATIONAL}
    for row in p.itertuples():
        out[row.code] = row.name
        out[row.name] = row.name
        out[row.full_name] = row.name
    return out


def known_province(value: object) -> bool:
    """Whether ``value`` names a province (or 全国) that :func:`normalize_province` recognises."""
    v = normalize_province(value)
    return isinstance(v, str) and v in _province_lookup().values()


def normalize_province(value: object) -> object:
    """Map a province name, full name or 2-digit code to its short name (贵州省 → 贵州).

    White space inside is dropped (贵州 省 → 贵州). Unknown values are returned without
    white space but otherwise unchanged; missing stays missing.

    Examples
    --------
    >>> [normalize_province(v) for v in ("贵州省", " 贵州 省", "52", "520102", "全国")]
    ['贵州', '贵州', '贵州', '贵州', '全国']
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return np.nan
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
    if re.fullmatch(r"\d{2}(\d{4}|\d{10})?", s):  # a 6- or 12-digit division code starts with the province
        s = s[:2]
    return _province_lookup().get(s, _province_lookup().get(s.lower(), s))


def load_lines(path: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Load a monitoring-line table.

    Parameters
    ----------
    path : path, DataFrame or None
        A CSV or DataFrame with columns ``province, year, line`` (``source``
        optional). ``None`` loads ``data_schema/monitoring_lines.csv``: the
        provincial lines seen in POLICY_FACTS.md plus the national reference
        series (全国).

    Returns
    -------
    pandas.DataFrame
        Columns ``province`` (short name), ``year`` (int), ``line`` (float), ``source``.
    """
    if path is None:
        path = schema_dir() / "monitoring_lines.csv"
    df = path.copy() if isinstance(path, pd.DataFrame) else pd.read_csv(path, dtype={"province": str})
    df = df.rename(columns={c: header_map_lines().get(normalize_header(c), c) for c in df.columns})
    missing = {"province", "year", "line"} - set(df.columns)
    if missing:
        raise ContractError(
            f"monitoring-line table lacks column(s) {sorted(missing)}; "
            "it needs province, year, line (省, 年度, 监测标准)"
        )
    if "source" not in df.columns:
        df["source"] = "user table"
    df = df[["province", "year", "line", "source"]].copy()
    df["province"] = df["province"].map(normalize_province).astype(str)
    df["year"] = pd.to_numeric(df["year"], errors="raise").astype(int)
    df["line"] = pd.to_numeric(df["line"], errors="raise").astype(float)
    dup = df.duplicated(["province", "year"], keep=False)
    if dup.any():
        raise ContractError(f"monitoring-line table repeats (province, year): {df.loc[dup, ['province', 'year']].values.tolist()}")
    return df.reset_index(drop=True)


def header_map_lines() -> dict[str, str]:
    """Accepted headers of a monitoring-line table."""
    return {
        "province": "province", "省": "province", "省份": "province",
        "year": "year", "年度": "year", "年份": "year",
        "line": "line", "监测标准": "line", "监测范围": "line", "monitoring_line": "line",
        "source": "source", "来源": "source",
    }


def lookup_line(
    df: pd.DataFrame,
    lines: str | Path | pd.DataFrame | None = None,
    *,
    default_province: str | None = None,
) -> pd.Series:
    """Monitoring line in force for each row of a household-year table.

    Lookup order, row by row: the row's own ``monitoring_line`` → the table's
    (province, year) → the national reference (全国) for that year. A year that
    none of them covers raises :class:`MissingLineError` naming it.

    Parameters
    ----------
    df : DataFrame
        Canonical household-year rows (needs ``year``; ``province`` and
        ``monitoring_line`` are optional).
    lines : path, DataFrame or None
        Monitoring-line table (see :func:`load_lines`); None uses the packaged one.
    default_province : str, optional
        Province for rows whose ``province`` is missing.

    Returns
    -------
    pandas.Series
        float64 line per row, aligned with ``df.index``.
    """
    table = load_lines(lines)
    years = pd.to_numeric(df["year"]).astype("Int64")
    if "province" in df.columns:
        prov = df["province"].map(normalize_province)
    else:
        prov = pd.Series(np.nan, index=df.index, dtype=object)
    if default_province is not None:
        prov = prov.where(prov.notna(), normalize_province(default_province))
    by_py = {(p, y): v for p, y, v in zip(table["province"], table["year"], table["line"])}
    nat = table[table["province"] == NATIONAL].set_index("year")["line"]

    out = pd.Series(np.nan, index=df.index, dtype="float64")
    if "monitoring_line" in df.columns:
        own = pd.to_numeric(df["monitoring_line"], errors="coerce").astype("float64")
        out = own.where(own > 0)
    todo = out.isna()
    if todo.any():
        keys = list(zip(prov[todo], years[todo]))
        out.loc[todo] = [by_py.get(k, np.nan) for k in keys]
    todo = out.isna()
    if todo.any():
        out.loc[todo] = years[todo].map(nat).astype("float64")
    todo = out.isna()
    if todo.any():
        miss = sorted({int(y) for y in years[todo].dropna()})
        if years[todo].isna().any():
            raise MissingLineError("rows without a year have no monitoring line; fill 年度 (year)")
        raise MissingLineError(
            f"no monitoring line for year(s) {miss}: the line table covers "
            f"{sorted(table['year'].unique().tolist())}. Add the province's line for "
            "those years (a monitoring_line column, or lines=<csv with province,year,line>)"
        )
    return out


# --------------------------------------------------------------------------- export form
def export_frame(
    df: pd.DataFrame,
    table: Table = "household_year",
    *,
    headers: Literal["zh", "en"] = "zh",
    booleans: Literal["是否", "bool"] = "是否",
) -> pd.DataFrame:
    """Turn a canonical frame into the shape of a county export.

    Parameters
    ----------
    df : DataFrame
        Canonical frame (English field names).
    table : {"household_year", "member"}
    headers : {"zh", "en"}
        Chinese contract headers (as the national system exports) or English names.
    booleans : {"是否", "bool"}
        Write booleans as 是/否 or leave them as True/False.

    Returns
    -------
    pandas.DataFrame
        Contract columns in contract order, then any other columns unchanged.
    """
    names = field_names(table)
    cols = [c for c in names if c in df.columns] + [c for c in df.columns if c not in names]
    out = df[cols].copy()
    if booleans == "是否":
        for col in fields_of_type("boolean", table):
            if col in out.columns:
                s = out[col].astype("boolean")
                out[col] = s.map({True: "是", False: "否"}).astype(object).where(s.notna(), None)
    if headers == "zh":
        out = out.rename(columns=zh_headers(table))
    return out


# --------------------------------------------------------------------------- model configuration
@lru_cache(maxsize=None)
def _monotone_table() -> pd.DataFrame:
    return pd.read_csv(schema_dir() / "monotone.csv", dtype={"feature": "str", "sign": "int64", "why": "str"})


def monotone_signs() -> dict[str, int]:
    """Monotone constraints of the LightGBM model, feature → +1 / −1 (``data_schema/monotone.csv``).

    Without them the trees learn that, among the poorest, dibao recipients (who
    are lifted next year) are safer, so a scenario that cuts income could
    *lower* a household's risk and a counterfactual that adds income could raise
    it; scenarios and feasible-help answers need "more income, less risk" to hold.

    Examples
    --------
    >>> monotone_signs()["ratio_to_line"]
    -1
    """
    t = _monotone_table()
    bad = t.loc[~t["sign"].isin([-1, 1]), "feature"].tolist()
    if bad:
        raise ContractError(f"data_schema/monotone.csv: sign must be -1 or 1 for {bad}")
    return dict(zip(t["feature"], t["sign"].astype(int)))


# --------------------------------------------------------------------------- outputs
@lru_cache(maxsize=None)
def output_columns(output: str = "ranked_list") -> pd.DataFrame:
    """Columns of an output table in order (``data_schema/output_columns.csv``): field, dtype, header_zh, description.

    Examples
    --------
    >>> output_columns("ranked_list")["field"].iloc[0]
    'household_id'
    """
    t = pd.read_csv(schema_dir() / "output_columns.csv", dtype="str", keep_default_na=False)
    t = t[t["output"] == output].reset_index(drop=True)
    if t.empty:
        raise ContractError(f"data_schema/output_columns.csv has no output {output!r}")
    return t


def output_dtypes(output: str = "ranked_list") -> dict[str, str]:
    """Field → dtype of an output table, in column order."""
    t = output_columns(output)
    return dict(zip(t["field"], t["dtype"]))


def output_headers(output: str = "ranked_list") -> dict[str, str]:
    """Field → Chinese header of an output table, in column order."""
    t = output_columns(output)
    return dict(zip(t["field"], t["header_zh"]))


#: Issue levels and yes/no shown in Chinese in cadre-facing tables (statuses come from code list score_status).
_ZH_LEVELS = {"error": "错误", "warning": "警告", True: "是", False: "否"}


def field_bounds(field: str, table: Table = "household_year") -> tuple[float, float]:
    """(min, max) of a field in the contract, e.g. the years a record may have.

    Examples
    --------
    >>> field_bounds("year")
    (2000.0, 2100.0)
    """
    f = fields(table).set_index("field")
    return float(f.at[field, "min"]), float(f.at[field, "max"])


def to_chinese(df: pd.DataFrame, *outputs: str, extra: dict[str, str] | None = None) -> pd.DataFrame:
    """A table for county and village staff: Chinese headers from ``output_columns.csv`` and Chinese values.

    Columns named in the outputs (looked up in order) or in ``extra`` are renamed;
    status, level and yes/no values are written in Chinese. Other columns keep
    their names.

    Examples
    --------
    >>> import pandas as pd
    >>> t = to_chinese(pd.DataFrame({"row": [3], "level": ["warning"]}), "validation_issues")
    >>> list(t.columns), t.iloc[0, 1]
    (['行号', '级别'], '警告')
    """
    names: dict[str, str] = {}
    for o in outputs:
        for f, h in output_headers(o).items():
            names.setdefault(f, h)
    names.update(extra or {})
    values = {**_ZH_LEVELS, **{en: zh for zh, en in code_names("score_status").items()}}
    out = df.copy()
    for c in out.columns:
        if c in ("status", "level") or str(out[c].dtype) == "boolean" or out[c].dtype == bool:
            out[c] = out[c].map(lambda v: values.get(v, v) if not (isinstance(v, float) and v != v) else v)
    return out.rename(columns={c: names[c] for c in out.columns if c in names})
