"""Read monitoring-system exports into the canonical household-year frame.

:func:`read_panel` accepts Excel (.xlsx/.xlsm/.xls), CSV/TXT (UTF-8, UTF-8 with BOM,
GBK/GB18030), parquet or a DataFrame, with Chinese or English headers, title rows
above the header, a separate member sheet, and the value spellings county exports
use (是/否, √/×, "1,200元", "2021年3月", ...). It drops personal data, derives what
the contract allows to derive and validates the result. See ``docs/reading.md``.

Each step lives in its own module: ``_files`` (what a file really is, and every
failure to open it as a ReadError), ``_textfile`` (encodings, line endings,
delimiters), ``_sheets`` (workbook sheets, HTML saved as .xls), ``_rows`` (the
header row, and the rows that are no households), ``_headers`` (header matching),
``_pii`` (privacy screening), ``_columns`` and ``_values`` (parsing), ``_members``
(member sheet), ``_derive`` (completion) and ``_report``.
"""

from __future__ import annotations

import os
from typing import Literal

import pandas as pd

from fanpin_risk.contract import ValidationReport
from fanpin_risk.errors import ContractError, ReadError

from ._columns import _clean
from ._context import _Ctx
from ._derive import _complete, _require_fields, _set_province
from ._files import Source, _load
from ._headers import _map_headers
from ._members import _merge_members, _with_members
from ._pii import _Salt, _scrub_table
from ._report import _build_report, _error_message, _sort_rows

__all__ = ["read_panel", "Source"]

_HH = "household table"


def read_panel(
    source: Source | None,
    members: Source | None = None,
    *,
    sheet: str | int | None = None,
    member_sheet: str | int | None = None,
    lines: str | os.PathLike | pd.DataFrame | None = None,
    province: str | None = None,
    salt: str | None = None,
    count_weak_labor: bool = False,
    errors: Literal["raise", "warn"] = "raise",
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read a monitoring export into the canonical household-year frame and validate it.

    Parameters
    ----------
    source : path, DataFrame or None
        Household table: ``.xlsx/.xlsm/.xls`` (an HTML page saved as .xls too),
        ``.csv/.txt/.tsv`` (UTF-8, UTF-8 with BOM, GBK/GB18030 or UTF-16, detected;
        comma, tab, semicolon or ``|`` separated; any line endings), ``.parquet``
        (a file, or a dataset directory partitioned by year), or a DataFrame. The
        content decides, not the name (a CSV saved as .xlsx is read as text). Title
        rows above the header are skipped (the header is the first row where at
        least three cells are contract headers); total rows (合计/小计/汇总),
        footers (填表人, 审核人, 联系电话 ...), repeated header rows and block titles
        are set aside wherever they stand, each flagged in the report with its row
        number. ``None`` when ``members`` holds household fields repeated on each
        member row.
    members : path, DataFrame or None
        Member table (one row per person and year), in any of the same forms.
    sheet, member_sheet : str or int, optional
        Sheet name or 0-based index of the household / member table; ``member_sheet``
        alone reads the members from the workbook ``source``. Without ``sheet``,
        every sheet whose header is a household header is read and the sheets
        stacked (one per year or per township; columns matched by field), each row's
        sheet name in ``report.extras["_sheet"]``; a sheet named after a year
        (``2023年``) gives that year to rows without one and warns (``sheet_year``)
        about rows with another. Other sheets (说明, 汇总, a member sheet) are
        skipped with a note.
    lines : path or DataFrame, optional
        Monitoring-line table (province, year, line); default ``data_schema/monitoring_lines.csv``.
    province : str, optional
        Province for rows whose ``province`` is empty (fills the column and selects the line).
    salt : str, optional
        Salt for hashing household ids that are ID-card or phone numbers; default the
        ``FANPIN_SALT`` environment variable, else a random salt for this call (the
        report warns that ids then differ between calls).
    count_weak_labor : bool, default False
        Count 弱劳动力或半劳动力 members as labour in ``n_labor``.
    errors : {"raise", "warn"}
        ``"raise"`` stops with :class:`~fanpin_risk.errors.ContractError` (naming the
        fields and the fix) when an error is found; ``"warn"`` keeps every row and
        lists the errors in the report.

    Returns
    -------
    (pandas.DataFrame, ValidationReport)
        Canonical frame: every contract field in contract order, canonical dtypes,
        sorted by (household_id, year), index 0..n-1; unknown columns are not in it
        (see ``report.extras``). The report lists issues, the header mapping,
        dropped PII columns, unknown columns and notes.

    Notes
    -----
    Values: booleans 是/否, true/false, 1/0, Y/N, √/×; numbers with thousands
    separators, full-width digits and units (``1,200元``, ``1.2万元``); months as
    202103, 2021-03, 2021年3月 or a date; code values lose inner spaces and values
    outside the code lists are warned about and kept. ``是否危房户`` is read as the
    negation of ``housing_safe`` (``data_schema/header_aliases.csv``).

    Member rows give household_size, n_labor, n_elderly, ... where the household
    table lacks them, household fields repeated on member rows give or complete
    the household rows, and net_income_per_capita, newly_identified and
    monitoring_line are derived where empty: the rules are listed in the
    :mod:`fanpin_risk.io` docstring. ID-card, phone and name columns are dropped
    (``report.dropped_columns``); see :func:`fanpin_risk.contract.scrub`.

    Examples
    --------
    A small export with Chinese headers, units and an inverse yes/no column:

    >>> import pandas as pd
    >>> raw = pd.DataFrame({"户编号": ["H1", "H1"], "年度": ["2023年", "2024"], "县代码": "520102",
    ...                     "户类型": "脱贫户", "家庭人口数": ["3人", "3"], "工资性收入": ["1,200元", "1.2万元"],
    ...                     "生产经营性收入": 0, "转移性收入": 300, "是否危房户": ["否", "是"]})
    >>> df, report = read_panel(raw, salt="doc")
    >>> df[["year", "household_size", "income_wage", "net_income_per_capita", "housing_safe"]]
       year  household_size  income_wage  net_income_per_capita  housing_safe
    0  2023               3       1200.0                  500.0          True
    1  2024               3      12000.0                 4100.0         False
    >>> report.notes[0]
    "housing_safe read as the negation of '是否危房户' (是 → False)"

    The shipped sample, households with their member sheet:

    >>> from fanpin_risk.io import sample_paths
    >>> households, members = sample_paths()
    >>> df, report = read_panel(households, members=members, salt="doc")
    >>> df.shape, report.ok, len(report.warnings)
    ((2988, 52), True, 8)
    """
    if errors not in ("raise", "warn"):
        raise ValueError("errors must be 'raise' or 'warn'")
    ctx = _Ctx(errors=errors)
    salt_ = _Salt.resolve(salt)
    hh_raw, mem_raw = _load_tables(source, members, sheet, member_sheet, ctx)
    hh = extras = agg = None
    if hh_raw is not None:
        hh, extras = _household_table(hh_raw, salt_, ctx)
        hh_raw = None  # all read from it: free the raw columns before the member table is read
    if mem_raw is not None:
        hh, agg = _with_members(hh, mem_raw, salt_, count_weak_labor, ctx)
    if source is None:
        hh = hh.reset_index(drop=True)
    if agg is not None:
        hh = _merge_members(hh, agg, ctx)
    hh = _require_fields(_set_province(hh, province, ctx), ctx)
    hh, extras, order = _sort_rows(_complete(hh, lines, province, ctx), extras)
    salt_.warn_if_random(ctx)
    report = _build_report(hh, extras, order, lines, province, salt_, ctx)
    if errors == "raise" and not report.ok:
        raise ContractError(_error_message(report))
    return hh, report


def _load_tables(source: Source | None, members: Source | None, sheet: str | int | None,
                 member_sheet: str | int | None, ctx: _Ctx) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The raw household and member tables (None when not given)."""
    if source is None and members is None:
        raise ReadError("read_panel needs a household table (source) or a member table (members=)")
    hh_raw = None
    if source is not None:
        hh_raw = _load(source, sheet, "household_year", _HH, ctx, exclude_sheet=member_sheet)
    mem_raw = None
    if members is not None:
        mem_raw = _load(members, member_sheet, "member", "member table", ctx)
    elif member_sheet is not None:
        if isinstance(source, pd.DataFrame) or source is None:
            raise ReadError("member_sheet= needs a workbook as source; pass members= for a separate table")
        mem_raw = _load(source, member_sheet, "member", "member table", ctx)
    return hh_raw, mem_raw


def _household_table(hh_raw: pd.DataFrame, salt: _Salt, ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Contract columns of the household table parsed (PII screened), and the unknown columns set aside."""
    mapping, unknown = _map_headers(hh_raw, "household_year", _HH, ctx)
    hh_raw, mapping, _ = _scrub_table(hh_raw, mapping, _HH, salt, ctx)
    unknown = [c for c in unknown if c in hh_raw.columns]
    ctx.unknown += [str(c) for c in unknown]
    ctx.header_map.update({str(c): f.lstrip("!") for c, f in mapping.items()})
    hh = hh_raw[list(mapping)].copy()
    hh.columns = [mapping[c].lstrip("!") for c in mapping]
    # text in the canonical str dtype at once: to_canonical_dtypes keeps it as it is
    hh = _clean(hh, "household_year", _HH, ctx, canonical_text=True)
    for c, f in mapping.items():
        if f.startswith("!"):
            hh[f[1:]] = ~hh[f[1:]].astype("boolean")
            ctx.notes.append(f"{f[1:]} read as the negation of {c!r} (是 → False)")
    extras = hh_raw[unknown].copy() if unknown else None
    if extras is not None and _HH in ctx.arrow_text:
        # the other readers give object columns here: extras look the same whatever the file type
        extras = extras.astype(object)
    if unknown:
        ctx.notes.append(f"{_HH}: {len(unknown)} column(s) outside the contract kept aside in report.extras")
    return hh, extras
