"""Validation of a canonical household-year frame: contract schema + plausibility rules.

The schema (types, required fields, ranges, code lists) is a pandera schema built
from ``data_schema/household_year.csv`` through :mod:`fanpin_risk.contract`; the
plausibility rules come from the export checking rules in POLICY_FACTS.md. Every
rule has an id, a level and a description, kept as data in :data:`RULES`.

No row is ever dropped: :func:`validate` only reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import contract, privacy
from .errors import MissingLineError

__all__ = ["validate", "ValidationReport", "RULES", "build_schema"]

_RULE_ROWS = [
    # rule id, level, description
    ("missing_column", "error", "A required contract field is not in the table."),
    ("parse", "error", "A cell could not be read as the field's type (left empty)."),
    ("dtype", "error", "A column does not have the canonical dtype."),
    ("required", "error", "A required field is empty on a row."),
    ("range", "error", "A value is outside the contract's min..max."),
    ("negative_amount", "error", "An income or expense (yuan) is negative."),
    ("month_invalid", "error", "A YYYYMM month (identification_month, elimination_month) has a month outside 01..12."),
    ("household_size_min", "error", "household_size (家庭人口数) is below 1."),
    ("code_list", "warning", "A value is outside the contract code list (kept)."),
    ("duplicate_key", "error", "The same (household_id, year) appears more than once."),
    ("count_gt_size", "error", "A member count (n_labor, n_elderly, ...) exceeds household_size."),
    ("children_labor_gt_size", "warning", "n_children + n_labor exceeds household_size (under-16s have no labour)."),
    ("migrant_months_gt_size", "error", "migrant_work_months exceeds 12 × household_size."),
    ("migrant_months_gt_workers", "warning", "migrant_work_months exceeds 12 × n_migrant_workers."),
    ("elimination_too_soon", "warning", "Less than 6 months between identification_month and elimination_month."),
    ("eliminated_below_line", "warning", "Risk eliminated while per-capita income is below the monitoring line."),
    ("illness_without_ill_member", "warning", "因病 risk without a seriously or chronically ill member."),
    ("illness_without_medical_spending", "warning", "因病 risk without eligible medical spending (合规自付支出 > 0)."),
    ("lack_labor_with_labor", "warning", "缺劳动力 risk although over a quarter of the members have labour."),
    ("identified_high_income", "warning", "Identified from 2023 with per-capita income above 20,000 in the identification year."),
    ("future_year", "warning", "year is after the current calendar year."),
    ("year_gap", "info", "The household's years are not consecutive (a year is missing before this row)."),
    ("extreme_income", "warning", "Per-capita net income above 1,000,000."),
    ("category_type_mismatch", "warning", "monitoring_category does not fit household_type (e.g. 脱贫不稳定户 on a 一般农户)."),
    ("missing_line", "error", "No monitoring line is known for the row's (province, year)."),
    ("member_mismatch", "warning", "A household count differs from the one aggregated from the member sheet (household value kept)."),
    ("member_work_months_range", "warning", "A member's work_months is outside 0..12 (clipped)."),
    ("random_salt", "warning", "Household ids were hashed with a random per-call salt."),
]
#: Rule table: id, level (error / warning / info) and one-line description.
RULES = pd.DataFrame(_RULE_ROWS, columns=["rule", "level", "description"])

_ISSUE_COLS = ["row", "household_id", "year", "field", "value", "rule", "level", "message"]
_COUNTS = ["n_labor", "n_migrant_workers", "n_elderly", "n_children", "n_students",
           "n_disabled", "n_chronic_ill", "n_serious_ill"]
_RISKS = [f"risk_type_{k}" for k in range(1, 6)]


def _empty_issues() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in _ISSUE_COLS})
    out["row"] = out["row"].astype("Int64")
    out["year"] = out["year"].astype("Int64")
    return out


# --------------------------------------------------------------------------- report
@dataclass
class ValidationReport:
    """Result of reading / validating a household-year frame.

    Attributes
    ----------
    issues : DataFrame
        One row per problem: ``row`` (0-based position in the canonical frame, NA
        for table-level issues), ``household_id``, ``year``, ``field``, ``value``
        (PII masked), ``rule``, ``level`` (error / warning / info), ``message``.
    n_rows : int
        Rows of the canonical frame.
    dropped_columns : dict
        PII columns dropped on reading → reason (never their values).
    unknown_columns : list
        Columns outside the contract (kept aside in ``extras``).
    header_map : dict
        Raw header → canonical field used on reading.
    notes : list of str
        Derivations, encoding detected, sheet chosen, header row, ...
    extras : DataFrame or None
        Unknown household columns with household_id and year, aligned with the frame.
    """

    issues: pd.DataFrame = field(default_factory=_empty_issues)
    n_rows: int = 0
    dropped_columns: dict[str, str] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    header_map: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extras: pd.DataFrame | None = None

    @property
    def errors(self) -> pd.DataFrame:
        """Issues of level ``error``."""
        return self.issues[self.issues["level"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        """Issues of level ``warning``."""
        return self.issues[self.issues["level"] == "warning"].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and infos allowed)."""
        return not (self.issues["level"] == "error").any()

    def summary(self) -> pd.DataFrame:
        """Issue counts by rule and level, with the rule's description."""
        if self.issues.empty:
            return pd.DataFrame(columns=["rule", "level", "count", "description"])
        out = self.issues.groupby(["rule", "level"], sort=False).size().rename("count").reset_index()
        out = out.merge(RULES[["rule", "description"]], on="rule", how="left")
        order = {"error": 0, "warning": 1, "info": 2}
        return out.sort_values(["level", "count"], key=lambda s: s.map(order) if s.name == "level" else -s,
                               kind="stable").reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """Copy of :attr:`issues` (for writing to CSV)."""
        return self.issues.copy()

    def row_flags(self, levels: tuple[str, ...] = ("warning",)) -> pd.Series:
        """Per row of the canonical frame: sorted list of the rule ids of ``levels`` raised on it.

        By default warnings only; pass ``levels=("error", "warning")`` to flag error rows
        kept with ``errors="warn"`` too.
        """
        w = self.issues[self.issues["level"].isin(levels) & self.issues["row"].notna()]
        flags = w.groupby(w["row"].astype(int))["rule"].agg(lambda s: sorted(set(s)))
        out = pd.Series([[] for _ in range(self.n_rows)], index=range(self.n_rows), dtype=object)
        for r, v in flags.items():
            if 0 <= r < self.n_rows:
                out.at[r] = v
        return out

    def _lines(self, html: bool = False) -> list[str]:
        ne = int((self.issues["level"] == "error").sum())
        nw = int((self.issues["level"] == "warning").sum())
        ni = int((self.issues["level"] == "info").sum())
        zh = {**{f"member.{k}": v for k, v in contract.zh_headers("member").items()}, **contract.zh_headers()}
        out = [f"Validation report: {self.n_rows} household-year rows; {ne} error(s), {nw} warning(s), {ni} info"
               + (" — OK" if ne == 0 else " — NOT OK")]
        if self.dropped_columns:
            out.append("Dropped personal-data columns: " + "; ".join(f"{c} ({r})" for c, r in self.dropped_columns.items()))
        if self.unknown_columns:
            shown = self.unknown_columns[:10]
            out.append("Columns outside the contract (kept aside): " + ", ".join(shown)
                       + (f" (+{len(self.unknown_columns) - 10} more)" if len(self.unknown_columns) > 10 else ""))
        if not self.issues.empty:
            g = self.issues.groupby(["level", "rule", "field"], sort=False, dropna=False).size().reset_index(name="n")
            g["o"] = g["level"].map({"error": 0, "warning": 1, "info": 2})
            for r in g.sort_values(["o", "n"], ascending=[True, False]).head(20).itertuples():
                name = f"{r.field} ({zh[r.field]})" if r.field in zh else str(r.field)
                out.append(f"  {r.level:<7} {r.rule}: {name} × {r.n}")
        for n in self.notes[:15]:
            out.append(f"  note: {n}")
        return out

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        import html

        lines = self._lines()
        return "<div><b>" + html.escape(lines[0]) + "</b><br>" + "<br>".join(html.escape(x) for x in lines[1:]) + "</div>"


# --------------------------------------------------------------------------- schema
@lru_cache(maxsize=None)
def _schema_parts() -> tuple[pa.DataFrameSchema, dict[tuple[str, int], tuple[str, str]]]:
    dtypes = contract.canonical_dtypes()
    cols: dict[str, pa.Column] = {}
    rules: dict[tuple[str, int], tuple[str, str]] = {}
    for r in contract.fields().itertuples():
        checks: list[pa.Check] = []
        ids: list[tuple[str, str]] = []
        money = str(r.unit).startswith("yuan")
        if not np.isnan(r.min):
            checks.append(pa.Check.ge(r.min))
            ids.append(("negative_amount", "error") if money and r.min == 0 else
                       ("household_size_min", "error") if r.field == "household_size" else ("range", "error"))
        if not np.isnan(r.max):
            checks.append(pa.Check.le(r.max))
            ids.append(("range", "error"))
        if r.code_list:
            checks.append(pa.Check.isin(contract.code_list(r.code_list)))
            ids.append(("code_list", "warning"))
        for k, rid in enumerate(ids):
            rules[(r.field, k)] = rid
        cols[r.field] = pa.Column(dtypes[r.field], checks=checks, nullable=not r.required, required=False)
    return pa.DataFrameSchema(cols, strict=False, coerce=False), rules


def build_schema() -> pa.DataFrameSchema:
    """The pandera schema of the household-year contract (types, required, ranges, code lists)."""
    return _schema_parts()[0]


def _schema_issues(df: pd.DataFrame) -> list[dict]:
    schema, rules = _schema_parts()
    zh = contract.zh_headers()
    out: list[dict] = []
    try:
        schema.validate(df, lazy=True)
        return out
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    for r in fc.itertuples():
        col = r.column
        check = str(r.check)
        if check.startswith("dtype") or check == "coerce_dtype":
            rule, level = "dtype", "error"
            msg = f"{col} ({zh.get(col, '')}): column dtype {df[col].dtype} is not the canonical {contract.canonical_dtypes()[col]}; read the data with read_panel or contract.to_canonical_dtypes"
            out.append(dict(row=None, field=col, value=str(df[col].dtype), rule=rule, level=level, message=msg))
            continue
        if check == "not_nullable":
            rule, level = "required", "error"
            msg = f"{col} ({zh.get(col, '')}) is required but empty on this row"
        else:
            num = r.check_number
            rule, level = rules.get((col, int(num)) if num is not None and not pd.isna(num) else (col, -1), ("range", "error"))
            f = contract.fields().set_index("field").loc[col]
            if rule == "code_list":
                msg = f"{col} ({zh.get(col, '')}): value outside the code list {f.code_list} (kept)"
            else:
                lo = "" if np.isnan(f["min"]) else f"{f['min']:g}"
                hi = "" if np.isnan(f["max"]) else f"{f['max']:g}"
                msg = f"{col} ({zh.get(col, '')}): value outside {lo}..{hi}"
        idx = r.index
        out.append(dict(row=None if idx is None or pd.isna(idx) else int(idx), field=col, value=r.failure_case,
                        rule=rule, level=level, message=msg))
    return out


# --------------------------------------------------------------------------- plausibility
def _num(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def _flag(out: list, df: pd.DataFrame, mask: pd.Series, field: str, rule: str, level: str, message: str,
          value_col: str | None = None) -> None:
    mask = mask.fillna(False).astype(bool) if hasattr(mask, "fillna") else mask
    vc = value_col or field
    for i in np.flatnonzero(mask.to_numpy()):
        v = df[vc].iat[i] if vc in df.columns else None
        out.append(dict(row=int(i), field=field, value=v, rule=rule, level=level, message=message))


def _plausibility(df: pd.DataFrame, lines: Any, province: str | None) -> list[dict]:
    out: list[dict] = []
    zh = contract.zh_headers()
    size = _num(df, "household_size")

    if {"household_id", "year"} <= set(df.columns):
        dup = df.duplicated(["household_id", "year"], keep=False) & df["household_id"].notna()
        _flag(out, df, dup, "household_id", "duplicate_key", "error",
              "(household_id, year) appears more than once; keep one row per household and year", "household_id")

    for c in _COUNTS:
        if c in df.columns:
            _flag(out, df, _num(df, c) > size, c, "count_gt_size", "error",
                  f"{c} ({zh[c]}) exceeds household_size (家庭人口数)")
    _flag(out, df, _num(df, "n_children") + _num(df, "n_labor") > size, "n_labor", "children_labor_gt_size", "warning",
          "n_children + n_labor exceeds household_size (under-16s have no labour capacity)")
    mwm = _num(df, "migrant_work_months")
    _flag(out, df, mwm > 12 * size, "migrant_work_months", "migrant_months_gt_size", "error",
          "migrant_work_months (务工总月数) exceeds 12 × household_size")
    _flag(out, df, mwm > 12 * _num(df, "n_migrant_workers"), "migrant_work_months", "migrant_months_gt_workers", "warning",
          "migrant_work_months (务工总月数) exceeds 12 × n_migrant_workers (务工人数)")

    im, em = _num(df, "identification_month"), _num(df, "elimination_month")
    for c, v in (("identification_month", im), ("elimination_month", em)):
        _flag(out, df, v.notna() & ~(v % 100).between(1, 12), c, "month_invalid", "error",
              f"{c} ({zh[c]}) is not a YYYYMM month (month part outside 01..12)")
    months = ((em // 100) * 12 + em % 100) - ((im // 100) * 12 + im % 100)
    _flag(out, df, months < 6, "elimination_month", "elimination_too_soon", "warning",
          "less than 6 months between identification (识别监测时间) and elimination (消除监测时间)")

    pc = _num(df, "net_income_per_capita")
    if "risk_eliminated" in df.columns and "year" in df.columns:
        elim = df["risk_eliminated"].astype("boolean").fillna(False).astype(bool)
        if elim.any():
            try:
                line = contract.lookup_line(df.loc[elim], lines, default_province=province)
                below = pd.Series(False, index=df.index)
                below.loc[elim] = (pc[elim] < line).to_numpy()
                _flag(out, df, below, "net_income_per_capita", "eliminated_below_line", "warning",
                      "risk eliminated (风险消除) but per-capita income is below the monitoring line")
            except MissingLineError:
                pass

    risks = [c for c in _RISKS if c in df.columns]
    def has_risk(v: str) -> pd.Series:
        m = pd.Series(False, index=df.index)
        for c in risks:
            m |= (df[c] == v).fillna(False).astype(bool)
        return m
    ill = has_risk("因病")
    n_ill = _num(df, "n_serious_ill").fillna(0) + _num(df, "n_chronic_ill").fillna(0)
    known_ill = _num(df, "n_serious_ill").notna() | _num(df, "n_chronic_ill").notna()
    _flag(out, df, ill & known_ill & (n_ill == 0), "risk_type_1", "illness_without_ill_member", "warning",
          "因病 risk but no member with a serious or chronic illness (大病人数, 慢性病人数 = 0)")
    med = _num(df, "expense_medical")
    _flag(out, df, ill & med.notna() & (med <= 0), "expense_medical", "illness_without_medical_spending", "warning",
          "因病 risk but eligible out-of-pocket medical spending (合规自付支出) is 0")
    lab = has_risk("缺劳动力")
    _flag(out, df, lab & (_num(df, "n_labor") > 0.25 * size), "n_labor", "lack_labor_with_labor", "warning",
          "缺劳动力 risk but over a quarter of the members have labour capacity")
    yr = _num(df, "year")
    _flag(out, df, (im >= 202301) & ((im // 100) == yr) & (pc > 20_000), "net_income_per_capita",
          "identified_high_income", "warning",
          "identified as a monitoring object from 2023 with per-capita income above 20,000")
    _flag(out, df, yr > datetime.now().year, "year", "future_year", "warning", "year is after the current year")
    if {"household_id", "year"} <= set(df.columns):
        order = df.assign(_y=yr, _pos=np.arange(len(df))).sort_values(["household_id", "_y"], kind="stable")
        prev = order.groupby("household_id", sort=False)["_y"].shift()
        gap = (order["_y"] - prev) > 1
        gap_rows = pd.Series(False, index=range(len(df)))
        gap_rows.iloc[order.loc[gap.fillna(False).astype(bool), "_pos"].to_numpy()] = True
        _flag(out, df, gap_rows.set_axis(df.index), "year", "year_gap", "info",
              "the household has no row for the year(s) before this one (year gap)")
    _flag(out, df, pc > 1_000_000, "net_income_per_capita", "extreme_income", "warning",
          "per-capita net income above 1,000,000 yuan; check the unit (元 vs 万元) and household_size")
    if {"monitoring_category", "household_type"} <= set(df.columns):
        cat, ht = df["monitoring_category"], df["household_type"]
        bad = ((cat.notna() & (ht == "一般农户"))
               | ((cat == "脱贫不稳定户") & ht.notna() & (ht != "脱贫户"))
               | ((cat == "边缘易致贫户") & (ht == "脱贫户")))
        _flag(out, df, bad.fillna(False).astype(bool), "monitoring_category", "category_type_mismatch", "warning",
              "monitoring_category (监测对象类别) does not fit household_type (户类型)")
    return out


# --------------------------------------------------------------------------- entry point
def validate(df: pd.DataFrame, *, lines: Any = None, _province: str | None = None) -> ValidationReport:
    """Check a canonical household-year frame against the contract and the plausibility rules.

    Parameters
    ----------
    df : DataFrame
        Canonical household-year frame (English field names, canonical dtypes), e.g.
        from :func:`fanpin_risk.read_panel` or :func:`fanpin_risk.simulate`.
    lines : path or DataFrame, optional
        Monitoring-line table for the "eliminated below the line" rule.

    Returns
    -------
    ValidationReport
        Every issue found (see :data:`RULES` for ids, levels and descriptions);
        the frame itself is not changed and no row is dropped.
    """
    d = df.reset_index(drop=True)
    zh = contract.zh_headers()
    issues: list[dict] = []
    for f in contract.required_fields():
        if f not in d.columns:
            issues.append(dict(row=None, field=f, value=None, rule="missing_column", level="error",
                               message=f"required field {f} ({zh[f]}) is missing; add the column"))
    issues += _schema_issues(d)
    issues += _plausibility(d, lines, _province)
    if not issues:
        return ValidationReport(issues=_empty_issues(), n_rows=len(d))
    out = pd.DataFrame(issues)
    rows = out["row"]
    has = rows.notna()
    pos = rows.where(has, 0).astype(int).to_numpy()
    for c in ("household_id", "year"):
        if c in d.columns:
            vals = d[c].astype(object).to_numpy()[pos] if len(d) else np.array([None] * len(out), dtype=object)
            out[c] = pd.Series(vals, index=out.index).where(has.to_numpy(), None)
        else:
            out[c] = None
    out["value"] = out["value"].map(privacy.mask_value).astype(object)
    out = out[_ISSUE_COLS]
    out["row"] = pd.array(out["row"], dtype="Int64")
    out["year"] = pd.array(pd.to_numeric(out["year"], errors="coerce"), dtype="Int64")
    return ValidationReport(issues=out.reset_index(drop=True), n_rows=len(d))
