"""One canonical panel: every stage's input is turned into it once, here.

:func:`as_panel` takes a path, a frame with Chinese or alias headers and raw
values, or a frame already in canonical form, and returns the canonical
household-year frame. A canonical frame passes through as a shallow copy, so a
stage that receives the panel from another stage does no second read.
:func:`select_year` is the shared first step of scoring and explaining: the
scored year's rows, their history and the rows that cannot be scored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk._order import has_repeated_years
from fanpin_risk.errors import ContractError
from fanpin_risk.io import read_panel

__all__ = ["as_panel", "is_canonical", "data_fingerprint", "select_year", "YearSelection"]

_log = logging.getLogger("fanpin_risk.panel")


def is_canonical(df: pd.DataFrame) -> bool:
    """Whether ``df`` is already a canonical frame (English names, canonical dtypes): no parsing needed."""
    dtypes = contract.canonical_dtypes()
    hm = contract.header_map()
    needs_rename = any(c not in dtypes and contract.normalize_header(c) in hm for c in df.columns)
    wrong = [c for c, dt in dtypes.items() if c in df.columns and str(df[c].dtype) != dt]
    return not needs_rename and not wrong


def as_panel(obj, *, lines=None, default_province: str | None = None,
             unusable: Literal["raise", "keep"] = "raise") -> pd.DataFrame:
    """Turn a path, a raw frame or a canonical frame into the canonical panel.

    Parameters
    ----------
    obj : path, str or DataFrame
        A frame already in canonical form (English names, canonical dtypes) is
        used as it is; a file, or a frame with Chinese/alias headers or raw
        values (是/否, "1,200 元", ...), goes through
        :func:`fanpin_risk.io.read_panel`, which parses and validates it
        (errors raise :class:`~fanpin_risk.errors.ContractError`).
    lines : monitoring-line table, optional
        Passed to :func:`fanpin_risk.contract.lookup_line` for rows whose
        ``monitoring_line`` is missing.
    default_province : str, optional
        Province of rows without one (for the line lookup).
    unusable : {"raise", "keep"}
        Rows that cannot be placed in a panel (no household id, or no year in
        the contract's range, 2000..2100): ``"raise"`` stops with a
        :class:`~fanpin_risk.errors.ContractError` naming them; ``"keep"`` leaves
        them in the frame, unchecked and without a line, for the caller to set
        aside (:func:`select_year` does).

    Returns
    -------
    pandas.DataFrame
        Canonical frame, ``monitoring_line`` filled; a canonical input keeps its
        index (shallow copy: the caller's frame is never modified), a parsed one
        is sorted by household and year with a fresh index.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.panel import as_panel
    >>> raw = fr.contract.export_frame(fr.simulate(n_households=20, seed=0))  # Chinese headers, 是/否
    >>> panel = as_panel(raw)
    >>> as_panel(panel) is panel, list(panel.columns[:2])
    (False, ['household_id', 'year'])
    """
    return _as_panel(obj, lines, default_province, unusable)[0]


def _as_panel(obj, lines, default_province: str | None, unusable: str) -> tuple[pd.DataFrame, pd.Series]:
    """:func:`as_panel`, and why each row cannot be placed in the panel (missing where it can)."""
    if not isinstance(obj, (str, Path, pd.DataFrame)):
        raise ContractError(f"expected a DataFrame or a path, got {type(obj).__name__}")
    if isinstance(obj, (str, Path)) or not is_canonical(obj):
        # Anything but an already canonical frame (a file, Chinese headers, 是/否,
        # "1,200 元", ...) goes through the one parser, which also validates.
        _log.debug("reading %s into the canonical panel", type(obj).__name__)
        df = read_panel(obj, lines=lines, province=default_province)[0]
    else:
        df = obj.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    for col in ("household_id", "year"):
        if col not in df.columns:
            raise ContractError(f"panel lacks required column {col!r} ({contract.zh_headers()[col]})")
    reason = _unusable_rows(df)
    bad = reason.notna().to_numpy()
    if bad.any() and unusable != "keep":
        raise ContractError(_unusable_message(reason, df.index))
    ok = df[~bad] if bad.any() else df
    if has_repeated_years(ok["household_id"], ok["year"].to_numpy(dtype="float64", na_value=np.nan)):
        d = ok.loc[ok.duplicated(["household_id", "year"], keep=False), "year"].unique().tolist()
        raise ContractError(f"panel repeats (household_id, year) in year(s) {sorted(d)}; one row per household and year")
    if "monitoring_line" not in df.columns or ok["monitoring_line"].isna().any():
        line = contract.lookup_line(ok, lines, default_province=default_province)
        if bad.any():  # set-aside rows have no year to look a line up for
            line = pd.Series(line, index=ok.index, dtype="float64").reindex(df.index)
        df["monitoring_line"] = line
    return df, reason


#: Why a row cannot be placed in a panel (the values of :func:`_unusable_rows`' answer).
_NO_HOUSEHOLD_ID = "户编号缺失 (no household id)"
_NO_YEAR = "年度缺失 (no usable year)"


def _unusable_rows(df: pd.DataFrame) -> pd.Series:
    """Why each row cannot be placed in a household-year panel (missing means it can).

    A row needs a household id (not empty) and a year inside the contract's range
    (``data_schema/household_year.csv``; a typo such as 20230 would otherwise make
    the scored year one nobody else has). Such rows can only be set aside, never
    scored: :func:`select_year` does so and reports them.
    """
    hid = df["household_id"]
    no_id = hid.isna().to_numpy(dtype=bool)
    if str(hid.dtype) in ("str", "string", "object") and not no_id.all():
        text = hid.astype("str")
        blank = text.eq("") | text.str.isspace()  # cheaper than stripping every id of a million
        no_id = no_id | blank.fillna(False).to_numpy(dtype=bool)
    lo, hi = contract.field_bounds("year")
    yr = df["year"]
    yr = (yr if str(yr.dtype) in ("Int64", "int64", "float64") else pd.to_numeric(yr, errors="coerce")).to_numpy(
        dtype="float64", na_value=np.nan)
    no_year = ~((yr >= lo) & (yr <= hi))
    reason = pd.Series(np.nan, index=df.index, dtype="object")
    if no_year.any():
        reason[no_year] = _NO_YEAR
    if no_id.any():
        reason[no_id] = _NO_HOUSEHOLD_ID
    return reason


def _unusable_message(reason: pd.Series, index: pd.Index) -> str:
    """What :func:`as_panel` says about rows it cannot place: counts, first rows, the way out."""
    parts = []
    for why, grp in reason.dropna().groupby(reason.dropna(), sort=False):
        rows = ", ".join(str(r) for r in grp.index[:5]) + (", ..." if len(grp) > 5 else "")
        parts.append(f"{len(grp)} row(s) with {why} (row labels {rows})")
    return ("some rows cannot be placed in the panel: " + "; ".join(parts)
            + ". Fill 户编号 and 年度 (a year in the contract's range) on these rows, or read the export with "
              "read_panel(..., errors='warn') and score that frame: such rows are then left out and counted")


def data_fingerprint(df: pd.DataFrame) -> dict:
    """Counts, years and a sha256 of the canonical data (order-independent); no rows, no ids.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.panel import data_fingerprint
    >>> fp = data_fingerprint(fr.simulate(n_households=20, seed=0))
    >>> fp["households"], fp["first_year"], fp["last_year"], len(fp["sha256"])
    (20, 2020, 2025, 64)
    """
    d = df.sort_values(["household_id", "year"], kind="mergesort")
    cols = sorted(d.columns)
    h = hashlib.sha256()
    h.update(json.dumps(cols, ensure_ascii=False).encode())
    h.update(pd.util.hash_pandas_object(d[cols], index=False).to_numpy().tobytes())
    yrs = sorted({int(v) for v in d["year"].astype(int)})
    return {"rows": int(len(d)), "households": int(d["household_id"].nunique()), "years": yrs,
            "first_year": yrs[0] if yrs else None, "last_year": yrs[-1] if yrs else None, "sha256": h.hexdigest()}


#: Columns :func:`unscorable_reason` reads.
REASON_COLUMNS = ("household_size", "net_income_per_capita", "income_wage", "income_business", "income_transfer",
                  "monitoring_line")


def unscorable_reason(cur: pd.DataFrame) -> pd.Series:
    """Why a scored-year row cannot be scored (missing means it can)."""
    reason = pd.Series(np.nan, index=cur.index, dtype="str")

    def num(c):
        return cur[c].astype("float64") if c in cur.columns else pd.Series(np.nan, index=cur.index)

    size = num("household_size")
    bad_size = size.isna() | (size < 1)
    reason[bad_size] = "家庭人口数缺失或小于1 (household_size missing or < 1)"
    pc = num("net_income_per_capita")
    parts_missing = num("income_wage").isna() | num("income_business").isna() | num("income_transfer").isna()
    bad_inc = pc.isna() & parts_missing & ~bad_size
    reason[bad_inc] = "人均纯收入缺失且收入分项不全 (net income per person cannot be computed)"
    line = num("monitoring_line")
    bad_line = line.isna() & reason.isna()
    reason[bad_line] = "监测标准缺失 (no monitoring line for this province and year)"
    return reason


@dataclass
class YearSelection:
    """The canonical panel split for scoring one year (see :func:`select_year`).

    Attributes
    ----------
    panel : DataFrame
        The whole canonical panel with a fresh RangeIndex (labels are positions).
    year : int
        The scored year.
    history : DataFrame
        Records up to ``year``, less the scored-year rows that cannot be scored.
    current : DataFrame or None
        The scored year's records (None when not asked for).
    scored_rows : Index
        Labels of the scored-year rows to score.
    unscorable : Series
        Reason per scored-year row that cannot be scored.
    left_out : DataFrame
        Rows set aside before the year was chosen because they cannot be placed
        in the panel, with a ``reason`` column: 户编号缺失 (no household id) or
        年度缺失 (no usable year: empty, or outside the contract's years); not in ``panel``.
    """

    panel: pd.DataFrame
    year: int
    history: pd.DataFrame
    current: pd.DataFrame | None
    scored_rows: pd.Index
    unscorable: pd.Series
    left_out: pd.DataFrame = field(default_factory=lambda: _nothing_left_out())


def select_year(records, *, year: int | None = None, lines=None, current: bool = True) -> YearSelection:
    """Canonical panel → the rows to score in ``year`` (default the latest), their history and the unscorable rows.

    ``current=False`` leaves out the scored year's full records, which
    :func:`fanpin_risk.scoring.score` does not need: selecting every column of a
    million rows costs a quarter of a second.

    Rows that cannot be placed in the panel (no household id, or no year in the
    contract's range; a frame read with ``errors="warn"`` keeps them) are set
    aside in ``left_out`` rather than stopping the selection: one bad row never
    blocks the other households. A frame where no row is usable is refused.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.panel import select_year
    >>> sel = select_year(fr.simulate(n_households=30, seed=0))
    >>> sel.year, len(sel.scored_rows) + len(sel.unscorable) <= 30
    (2025, True)
    """
    panel, why = _as_panel(records, lines, None, "keep")
    if len(panel) == 0:
        raise ContractError("no household records to score: the input has no data rows (a header only?)")
    panel, left_out = _set_aside(panel, why)
    # a fresh RangeIndex: labels are positions from here on (copy-on-write: no data copied)
    panel = panel.reset_index(drop=True)
    if str(panel["household_id"].dtype) != "str":
        panel["household_id"] = panel["household_id"].astype("str")
    years = panel["year"].astype("int64")
    y = int(years.max()) if year is None else int(year)
    if year is not None and not (years == y).any():
        raise ContractError(f"no record for year {y}; the data has {sorted(years.unique().tolist())}")
    keep = years <= y
    history = panel if keep.all() else panel[keep]
    in_year = (history["year"].astype("int64") == y).to_numpy()
    cur = history[in_year] if current else history.loc[in_year, [c for c in REASON_COLUMNS if c in history.columns]]
    reason = unscorable_reason(cur)
    bad_idx = reason.index[reason.notna()]
    history_ok = history.drop(index=bad_idx) if len(bad_idx) else history
    scored_rows = cur.index.difference(bad_idx, sort=False)
    return YearSelection(panel=panel, year=y, history=history_ok, current=cur if current else None,
                         scored_rows=scored_rows, unscorable=reason[reason.notna()], left_out=left_out)


def _set_aside(panel: pd.DataFrame, why: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows that can be placed in the panel, and the others with their ``reason`` (logged, never silent)."""
    bad = why.notna().to_numpy()
    if not bad.any():
        return panel, _nothing_left_out()
    if bad.all():
        raise ContractError(f"no household records to score: {_unusable_message(why, panel.index)}")
    left = panel[bad].assign(reason=why[bad])
    _log.info("%d row(s) set aside (no household id or no usable year); the other rows are used", int(bad.sum()))
    return panel[~bad], left


def _nothing_left_out() -> pd.DataFrame:
    return pd.DataFrame({"household_id": pd.Series([], dtype="str"), "reason": pd.Series([], dtype="str")})
