"""Validation of a canonical household-year frame: contract schema + plausibility rules.

The schema (types, required fields, ranges, code lists) is a pandera schema built
from ``data_schema/household_year.csv`` through :mod:`fanpin_risk.contract`; the
plausibility rules come from the export checking rules in POLICY_FACTS.md.

The rule table is data: ``data_schema/plausibility_rules.csv`` gives every rule
its id, level, the fields it reads (``*``: the fields ``household_year.csv`` marks
for it), the message shown to the user and a description. Its ``stage`` column
says who raises the rule: ``schema`` (the pandera schema below), ``plausibility``
(one check function registered under the rule id with :func:`_check`) or
``read`` (:func:`fanpin_risk.read_panel`, which writes its own messages).

No row is ever dropped: :func:`validate` only reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from fanpin_risk.contract import _privacy as privacy
from fanpin_risk.contract._income import net_income_total
from fanpin_risk.contract import _schema as contract
from fanpin_risk.contract._schema import schema_dir, to_chinese
from fanpin_risk.errors import ContractError, MissingLineError

__all__ = ["validate", "ValidationReport", "RULES", "build_schema"]

RULES_FILE = "plausibility_rules.csv"
_RULE_COLS = ["rule", "level", "stage", "fields", "message", "description"]
_LEVELS = {"error", "warning", "info"}
_STAGES = {"schema", "plausibility", "read"}


@lru_cache(maxsize=None)
def _rule_table() -> pd.DataFrame:
    # keep_default_na=False: an empty message (read-stage rules) stays "" rather than NaN
    df = pd.read_csv(schema_dir() / RULES_FILE, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = set(_RULE_COLS) - set(df.columns)
    if missing:
        raise ContractError(f"{RULES_FILE} lacks column(s) {sorted(missing)}; it needs {', '.join(_RULE_COLS)}")
    bad = sorted(set(df["level"]) - _LEVELS) + sorted(set(df["stage"]) - _STAGES)
    if bad or not df["rule"].is_unique:
        raise ContractError(f"{RULES_FILE}: unknown level/stage {bad} or a repeated rule id; fix the file")
    return df[_RULE_COLS]


#: Rule table read from ``data_schema/plausibility_rules.csv``: id, level
#: (error / warning / info), stage, fields, message template and description.
RULES = _rule_table().copy()


@lru_cache(maxsize=None)
def _rule_info() -> dict[str, tuple[str, str]]:
    t = _rule_table()  # not RULES: a caller may edit that public copy
    return dict(zip(t["rule"], zip(t["level"], t["message"])))


@lru_cache(maxsize=None)
def _zh() -> dict[str, str]:
    # contract.fields() is cached, so the headers cannot change within a process;
    # caching them here keeps one dict build per issue out of the hot loop.
    return contract.zh_headers()


def _issue(rule: str, col: str, row: int | None, value: Any, **fmt: Any) -> dict:
    """One issue row; level and message come from the rule's row in the rule file."""
    try:
        level, template = _rule_info()[rule]
    except KeyError:
        raise ContractError(f"rule {rule!r} has no row in data_schema/{RULES_FILE}; add one") from None
    return dict(row=row, field=col, value=value, rule=rule, level=level,
                message=template.format(field=col, zh=_zh().get(col, ""), **fmt))


_ISSUE_COLS = ["row", "household_id", "year", "field", "value", "rule", "level", "message"]
_COUNTS = ["n_labor", "n_migrant_workers", "n_elderly", "n_children", "n_students",
           "n_disabled", "n_chronic_ill", "n_serious_ill"]
_RISKS = [f"risk_type_{k}" for k in range(1, 6)]


def empty_issues() -> pd.DataFrame:
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

    issues: pd.DataFrame = field(default_factory=empty_issues)
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

    def to_frame(self, headers: str = "en") -> pd.DataFrame:
        """Copy of :attr:`issues` for writing: English names, or ``headers="zh"`` for county staff (中文表头和级别)."""
        if headers not in ("en", "zh"):
            raise ValueError(f"headers must be 'en' or 'zh', got {headers!r}")
        return self.issues.copy() if headers == "en" else to_chinese(self.issues, "validation_issues")

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
def _schema_parts() -> tuple[pa.DataFrameSchema, dict[tuple[str, int], str]]:
    dtypes = contract.canonical_dtypes()
    cols: dict[str, pa.Column] = {}
    rules: dict[tuple[str, int], str] = {}
    for r in contract.fields().itertuples():
        checks: list[pa.Check] = []
        ids: list[str] = []
        money = str(r.unit).startswith("yuan")
        if not np.isnan(r.min):
            checks.append(pa.Check.ge(r.min))
            ids.append("negative_amount" if money and r.min == 0 else
                       "household_size_min" if r.field == "household_size" else "range")
        if not np.isnan(r.max):
            checks.append(pa.Check.le(r.max))
            ids.append("range")
        if r.code_list:
            checks.append(pa.Check.isin(contract.code_list(r.code_list)))
            ids.append("code_list")
        # pandera reports a failure by the check's position in the column's list
        for k, rid in enumerate(ids):
            rules[(r.field, k)] = rid
        cols[r.field] = pa.Column(dtypes[r.field], checks=checks, nullable=not r.required, required=False)
    return pa.DataFrameSchema(cols, strict=False, coerce=False), rules


def build_schema() -> pa.DataFrameSchema:
    """The pandera schema of the household-year contract (types, required, ranges, code lists)."""
    return _schema_parts()[0]


def _failure_issue(df: pd.DataFrame, r: Any, rules: dict[tuple[str, int], str]) -> dict:
    col, check = r.column, str(r.check)
    if check.startswith("dtype") or check == "coerce_dtype":
        return _issue("dtype", col, None, str(df[col].dtype), dtype=df[col].dtype,
                      canonical=contract.canonical_dtypes()[col])
    row = None if r.index is None or pd.isna(r.index) else int(r.index)
    if check == "not_nullable":
        return _issue("required", col, row, r.failure_case)
    num = r.check_number
    rule = rules.get((col, int(num)) if num is not None and not pd.isna(num) else (col, -1), "range")
    f = contract.fields().set_index("field").loc[col]
    lo = "" if np.isnan(f["min"]) else f"{f['min']:g}"
    hi = "" if np.isnan(f["max"]) else f"{f['max']:g}"
    return _issue(rule, col, row, r.failure_case, lo=lo, hi=hi, code_list=f.code_list)


def _schema_issues(df: pd.DataFrame) -> list[dict]:
    schema, rules = _schema_parts()
    try:
        schema.validate(df, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        return [_failure_issue(df, r, rules) for r in exc.failure_cases.itertuples()]


# --------------------------------------------------------------------------- plausibility
@dataclass
class _Frame:
    """What a plausibility check reads: the frame and the arguments of :func:`validate`."""

    df: pd.DataFrame
    lines: Any
    province: str | None

    def num(self, col: str) -> pd.Series:
        # Absent columns read as all-NaN so that a check on them simply never fires.
        if col not in self.df.columns:
            return pd.Series(np.nan, index=self.df.index, dtype="float64")
        return pd.to_numeric(self.df[col], errors="coerce").astype("float64")

    def has(self, *cols: str) -> bool:
        return set(cols) <= set(self.df.columns)

    def has_risk(self, value: str) -> pd.Series:
        m = pd.Series(False, index=self.df.index)
        for c in _RISKS:
            if c in self.df.columns:
                m |= (self.df[c] == value).fillna(False).astype(bool)
        return m


#: A check yields (field, mask) pairs: one issue per True row of the mask, on that field.
Check = Callable[[_Frame], Iterator[tuple[str, pd.Series]]]
#: rule id → check. Insertion order is the order the issues come out in, so keep
#: new checks at the end unless the issue order may change.
CHECKS: dict[str, Check] = {}


def _check(rule: str) -> Callable[[Check], Check]:
    """Register the decorated function as the plausibility check of ``rule``."""
    def register(fn: Check) -> Check:
        if rule in CHECKS:
            raise ContractError(f"two plausibility checks registered for rule {rule!r}")
        CHECKS[rule] = fn
        return fn
    return register


@_check("duplicate_key")
def _duplicate_key(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    if f.has("household_id", "year"):
        yield "household_id", f.df.duplicated(["household_id", "year"], keep=False) & f.df["household_id"].notna()


@_check("count_gt_size")
def _count_gt_size(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    for c in _COUNTS:
        if c in f.df.columns:
            yield c, f.num(c) > f.num("household_size")


@_check("children_labor_gt_size")
def _children_labor_gt_size(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "n_labor", f.num("n_children") + f.num("n_labor") > f.num("household_size")


@_check("migrant_months_gt_size")
def _migrant_months_gt_size(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "migrant_work_months", f.num("migrant_work_months") > 12 * f.num("household_size")


@_check("migrant_months_gt_workers")
def _migrant_months_gt_workers(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "migrant_work_months", f.num("migrant_work_months") > 12 * f.num("n_migrant_workers")


@_check("month_invalid")
def _month_invalid(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    for c in ("identification_month", "elimination_month"):
        v = f.num(c)
        yield c, v.notna() & ~(v % 100).between(1, 12)


@_check("elimination_too_soon")
def _elimination_too_soon(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    im, em = f.num("identification_month"), f.num("elimination_month")
    months = ((em // 100) * 12 + em % 100) - ((im // 100) * 12 + im % 100)
    yield "elimination_month", months < 6


@_check("eliminated_below_line")
def _eliminated_below_line(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    if not f.has("risk_eliminated", "year"):
        return
    elim = f.df["risk_eliminated"].astype("boolean").fillna(False).astype(bool)
    if not elim.any():
        return
    try:
        line = contract.lookup_line(f.df.loc[elim], f.lines, default_province=f.province)
    except MissingLineError:
        return  # a missing line is the reader's missing_line error, not a plausibility issue
    below = pd.Series(False, index=f.df.index)
    below.loc[elim] = (f.num("net_income_per_capita")[elim] < line).to_numpy()
    yield "net_income_per_capita", below


@_check("illness_without_ill_member")
def _illness_without_ill_member(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    serious, chronic = f.num("n_serious_ill"), f.num("n_chronic_ill")
    known = serious.notna() | chronic.notna()
    yield "risk_type_1", f.has_risk("因病") & known & (serious.fillna(0) + chronic.fillna(0) == 0)


@_check("illness_without_medical_spending")
def _illness_without_medical_spending(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    med = f.num("expense_medical")
    yield "expense_medical", f.has_risk("因病") & med.notna() & (med <= 0)


@_check("lack_labor_with_labor")
def _lack_labor_with_labor(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "n_labor", f.has_risk("缺劳动力") & (f.num("n_labor") > 0.25 * f.num("household_size"))


@_check("identified_high_income")
def _identified_high_income(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    im = f.num("identification_month")
    yield "net_income_per_capita", (im >= 202301) & ((im // 100) == f.num("year")) & (f.num("net_income_per_capita") > 20_000)


@_check("future_year")
def _future_year(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "year", f.num("year") > datetime.now().year


@_check("year_gap")
def _year_gap(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    if not f.has("household_id", "year"):
        return
    df = f.df
    order = df.assign(_y=f.num("year"), _pos=np.arange(len(df))).sort_values(["household_id", "_y"], kind="stable")
    prev = order.groupby("household_id", sort=False)["_y"].shift()
    gap = (order["_y"] - prev) > 1
    rows = pd.Series(False, index=range(len(df)))
    rows.iloc[order.loc[gap.fillna(False).astype(bool), "_pos"].to_numpy()] = True
    yield "year", rows.set_axis(df.index)


@_check("extreme_income")
def _extreme_income(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    yield "net_income_per_capita", f.num("net_income_per_capita") > 1_000_000


@_check("category_type_mismatch")
def _category_type_mismatch(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    if not f.has("monitoring_category", "household_type"):
        return
    cat, ht = f.df["monitoring_category"], f.df["household_type"]
    bad = ((cat.notna() & (ht == "一般农户"))
           | ((cat == "脱贫不稳定户") & ht.notna() & (ht != "脱贫户"))
           | ((cat == "边缘易致贫户") & (ht == "脱贫户")))
    yield "monitoring_category", bad.fillna(False).astype(bool)


#: Reported per-capita income and the components' per-capita total this many times apart: a unit, not a rounding.
INCOME_MISMATCH_FACTOR = 3.0


@_check("income_formula_mismatch")
def _income_formula_mismatch(f: _Frame) -> Iterator[tuple[str, pd.Series]]:
    # A 万元 header over values still in 元 (or the reverse) multiplies one component by 10,000: the extreme-income
    # check sees only the reported per-capita income, which is then still plausible.
    if not f.has("net_income_per_capita", "household_size"):
        return
    size = f.num("household_size").where(lambda x: x > 0)
    parts = net_income_total(f.num) / size
    pc = f.num("net_income_per_capita")
    # a small reported income or a loss-making total says nothing about units; above 1,000,000 extreme_income speaks
    both = (pc >= 500) & (pc <= 1_000_000) & (parts > 0)
    ratio = parts / pc
    yield "net_income_per_capita", both & ((ratio >= INCOME_MISMATCH_FACTOR) | (ratio <= 1 / INCOME_MISMATCH_FACTOR))


def _plausibility(df: pd.DataFrame, lines: Any, province: str | None) -> list[dict]:
    frame = _Frame(df, lines, province)
    out: list[dict] = []
    for rule, check in CHECKS.items():
        for fld, mask in check(frame):
            rows = np.flatnonzero(mask.fillna(False).astype(bool).to_numpy())
            vals = df[fld] if fld in df.columns else None
            if len(rows):
                base = _issue(rule, fld, None, None)
                out += [{**base, "row": int(i), "value": None if vals is None else vals.iat[i]} for i in rows]
    return out


# --------------------------------------------------------------------------- entry point
def _with_keys(issues: list[dict], d: pd.DataFrame) -> pd.DataFrame:
    # Each issue carries the household_id and year of its row so the table reads on its own.
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
    return out.reset_index(drop=True)


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
        Every issue found (see :data:`RULES`, read from
        ``data_schema/plausibility_rules.csv``, for ids, levels and messages);
        the frame itself is not changed and no row is dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.contract import to_canonical_dtypes, validate
    >>> df = to_canonical_dtypes(pd.DataFrame({
    ...     "household_id": ["A01", "A02"], "year": [2024, 2024], "county_code": ["520102", "520102"],
    ...     "household_type": ["脱贫户", "一般农户"], "household_size": [3, 2], "n_labor": [1, 4],
    ...     "income_wage": [12000.0, -50.0], "income_business": [3000.0, 0.0],
    ...     "income_transfer": [800.0, 0.0]}))
    >>> report = validate(df)
    >>> report.ok
    False
    >>> report.issues[["row", "household_id", "field", "rule", "level"]]
       row household_id        field             rule  level
    0    1          A02  income_wage  negative_amount  error
    1    1          A02      n_labor    count_gt_size  error
    >>> print(report.issues.loc[1, "message"])
    n_labor (劳动力人数) exceeds household_size (家庭人口数)
    """
    d = df.reset_index(drop=True)
    issues = [_issue("missing_column", f, None, None) for f in contract.required_fields() if f not in d.columns]
    issues += _schema_issues(d)
    issues += _plausibility(d, lines, _province)
    if not issues:
        return ValidationReport(issues=empty_issues(), n_rows=len(d))
    return ValidationReport(issues=_with_keys(issues, d), n_rows=len(d))
