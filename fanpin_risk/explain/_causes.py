"""Cause attribution: how much of a household's risk each official risk type carries.

The model's own decomposition (TreeSHAP, :func:`~._explain.contributions`) credits
the income level and the income history with most of the risk, and those features
belong to no cause (其他). Policy asks *why* the income is low. So the risk is
attributed to causes by asking the model what the household's risk would be
without each cause: the scored record is changed as ``data_schema/cause_removal.csv``
says (the shock did not happen, the wage and the months worked are back to the
household's usual level, the house is safe, …), the features are recomputed from
the changed record and its unchanged history, and the model is evaluated again.

For a household with risk ``p`` (calibrated probability):

* ``p_without[k]`` — the risk with cause *k* removed (one variant per cause whose
  record differs; a cause that is absent changes nothing and gets exactly 0);
* ``p_none`` — the risk with every recorded cause removed at once;
* the joint part ``D = p − p_none`` is split over the causes in proportion to
  their single drops ``max(p − p_without[k], 0)``; what no recorded cause explains,
  ``p_none``, is 其他.

The parts add up to ``p`` exactly. Why this and not Shapley values: with ten
cause groups an exact Shapley value needs up to 2¹⁰ model evaluations per
household; the drops need one per cause present plus one, and where the causes'
effects add up (most households carry one or two) the proportional split equals
the Shapley value. See docs/scoring.md for the measured agreement with the
simulator's known causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from fanpin_risk import contract
from fanpin_risk._order import household_order
from fanpin_risk.errors import ModelError

from ._explain import RISK_TYPES, feature_frame

#: The specific risk types, in code-list order: everything but 其他.
CAUSE_TYPES: tuple[str, ...] = tuple(t for t in RISK_TYPES if t != "其他")

#: Column prefix of :meth:`CauseExplainer.effects` for the exposure to a shock next year.
EXPOSURE_PREFIX = "exposure:"

#: Actions a rule of ``cause_removal.csv`` may name.
ACTIONS = ("false", "true", "zero", "usual", "drop_code", "add_worker", "ill_workers", "disabled_workers")

#: Income fields whose change moves the per-capita net income (sign as in the contract formula).
_INCOME_SIGN = {f: s for f, s, _ in contract.INCOME_TERMS}

#: A household counts as short of labour when at most this share of its members can work.
LACK_OF_LABOUR_SHARE = 0.25

#: Months of wage work the added worker of ``add_worker`` brings.
_WORKER_MONTHS = 10.0


def cause_removal_path() -> Path:
    """The packaged cause-removal rules (``data_schema/cause_removal.csv``)."""
    return contract.schema_dir() / "cause_removal.csv"


@dataclass(frozen=True)
class CauseRule:
    """One change that removes a cause: set ``field`` (or the fields matching it) by ``action``."""

    risk_type: str
    field: str
    action: str
    when: str = ""  # a yes/no field of the record as read ("!" negates): the change applies only where it holds


def load_cause_rules(rules: str | Path | pd.DataFrame | None = None) -> dict[str, list[CauseRule]]:
    """Risk type → the record changes that remove it.

    Parameters
    ----------
    rules : path or DataFrame, optional
        A table with columns ``risk_type, field, action`` (default
        ``data_schema/cause_removal.csv``). ``field`` may be an ``fnmatch``
        pattern (``risk_type_*``). Actions: ``false``/``true``/``zero`` set the
        value; ``usual`` raises the value to the median of the household's
        earlier records; ``drop_code`` removes the risk type from the
        registered risk types; ``add_worker`` gives a household short of labour
        one more wage worker; ``ill_workers`` / ``disabled_workers`` let the
        seriously ill / disabled members of working age work again. An
        optional column ``when`` names a yes/no field of the record (``!``
        negates it; ``field@3``: yes in this record or either of the two
        before): the change applies only where it holds.

    Returns
    -------
    dict
        Keys in :data:`CAUSE_TYPES` order (types without a rule are left out).

    Raises
    ------
    ModelError
        Unknown risk type or action, or missing columns.

    Examples
    --------
    >>> from fanpin_risk.explain import load_cause_rules
    >>> [r.field for r in load_cause_rules()["因安全住房"]]
    ['housing_safe', 'risk_type_*']
    """
    df = rules if isinstance(rules, pd.DataFrame) else pd.read_csv(rules or cause_removal_path(), dtype=str)
    need = {"risk_type", "field", "action"}
    if not need <= set(df.columns):
        raise ModelError(f"cause rules need columns {sorted(need)}, got {list(df.columns)}")
    out: dict[str, list[CauseRule]] = {}
    for r in df.itertuples(index=False):
        rt, fld, act = str(r.risk_type).strip(), str(r.field).strip(), str(r.action).strip()
        when = getattr(r, "when", "")
        when = "" if pd.isna(when) else str(when).strip()
        if rt not in CAUSE_TYPES:
            raise ModelError(f"cause rules: {rt!r} is not a specific risk type (one of {list(CAUSE_TYPES)})")
        if act not in ACTIONS:
            raise ModelError(f"cause rules: unknown action {act!r} for {rt}/{fld} (one of {list(ACTIONS)})")
        if when and act == "drop_code":
            raise ModelError(f"cause rules: {rt}/{fld}: drop_code takes no condition")
        if "@" in when and not when.partition("@")[2].isdigit() or when.endswith("@0"):
            raise ModelError(f"cause rules: {rt}/{fld}: condition {when!r}: after @ comes a number of years ≥ 1")
        out.setdefault(rt, []).append(CauseRule(rt, fld, act, when))
    return {t: out[t] for t in CAUSE_TYPES if t in out}


def cause_exposure_path() -> Path:
    """The packaged exposure rules (``data_schema/cause_exposure.csv``)."""
    return contract.schema_dir() / "cause_exposure.csv"


@dataclass(frozen=True)
class ExposureRule:
    """One change that puts a shock into the record, to ask the model how exposed the household is to it."""

    risk_type: str
    shock: str      # the yes/no field of the shock (its hazard: the county's rate of it)
    exposed: str    # a field that must be > 0 for the household to be exposed ("" = every household)
    field: str
    action: str     # "true" or "scale"
    value: float = float("nan")


def load_exposure_rules(rules: str | Path | pd.DataFrame | None = None) -> dict[str, list[ExposureRule]]:
    """Risk type → the record changes of a shock that may come next year (default ``data_schema/cause_exposure.csv``).

    A household's record shows this year's shocks; next year's illness, disaster or job loss it cannot show, yet it is
    what a household in a county that has them most often falls by. Each rule set here is evaluated as an
    *exposure*: the risk with the shock put into the record, times the shock's hazard (see :class:`CauseExplainer`).

    Examples
    --------
    >>> from fanpin_risk.explain import load_exposure_rules
    >>> sorted(load_exposure_rules())
    ['因务工就业不稳', '因病', '因自然灾害']
    """
    df = rules if isinstance(rules, pd.DataFrame) else pd.read_csv(rules or cause_exposure_path(), dtype=str)
    need = {"risk_type", "shock", "field", "action"}
    if not need <= set(df.columns):
        raise ModelError(f"exposure rules need columns {sorted(need)}, got {list(df.columns)}")
    out: dict[str, list[ExposureRule]] = {}
    for r in df.itertuples(index=False):
        rt, act = str(r.risk_type).strip(), str(r.action).strip()
        if rt not in CAUSE_TYPES:
            raise ModelError(f"exposure rules: {rt!r} is not a specific risk type (one of {list(CAUSE_TYPES)})")
        if act not in ("true", "scale"):
            raise ModelError(f"exposure rules: unknown action {act!r} for {rt} (true or scale)")
        exposed = getattr(r, "exposed", "")
        value = pd.to_numeric(getattr(r, "value", np.nan), errors="coerce")
        if act == "scale" and not np.isfinite(value):
            raise ModelError(f"exposure rules: {rt}/{r.field}: scale needs a number in value")
        out.setdefault(rt, []).append(ExposureRule(rt, str(r.shock).strip(), "" if pd.isna(exposed) else
                                                   str(exposed).strip(), str(r.field).strip(), act, float(value)))
    for rt, rs in out.items():
        if len({r.shock for r in rs}) != 1 or len({r.exposed for r in rs}) != 1:
            raise ModelError(f"exposure rules: the rows of {rt} must name one shock and one exposed field")
    return {t: out[t] for t in CAUSE_TYPES if t in out}


def _county_year(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    county = (frame["county_code"].astype("str").fillna("") if "county_code" in frame.columns
              else pd.Series("", index=frame.index, dtype="str")).to_numpy(dtype=object)
    return county, _num(frame, "year")


#: Pseudo risk types of :func:`exposure_counts` rows that hold the spread of income changes (pooled over counties):
#: ``h`` the sum of the changes, resp. of their squares, ``e`` their number.
SPREAD_ROWS = ("_income_change", "_income_change_sq")

#: Changes of log(income per person ÷ line) are clipped to ± this before their spread is taken, so that one
#: mistyped record does not set the spread for everyone.
CHANGE_CLIP = 1.5

#: Income per person below this share of the line counts as this share (the log of a loss is undefined).
RATIO_FLOOR = 0.05


def _log_ratio(pc, line) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.maximum(np.asarray(pc, dtype=float) / np.asarray(line, dtype=float), RATIO_FLOOR))


def exposure_counts(history: pd.DataFrame, exposure: dict | None = None, *, order: "_Order | None" = None
                    ) -> pd.DataFrame:
    """Per exposure type, county and year: household-years with the shock (``h``) and exposed ones (``e``).

    Also, per year (county ""), the rows :data:`SPREAD_ROWS`: the sum and the sum of squares of the
    households' changes of log(income per person ÷ line) from their previous record to this year's.
    Sums, so that the counts of parts of a panel (Dask partitions, each holding whole households) add up
    to the whole panel's. ``order`` is the history's household grouping, when the caller has it.

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.explain import exposure_counts
    >>> h = pd.DataFrame({"household_id": ["a", "a", "b"], "year": [2023, 2024, 2024], "county_code": ["C"] * 3,
    ...                   "shock_disaster": [True, False, False], "net_income_per_capita": [8000.0, 4000.0, 9000.0],
    ...                   "monitoring_line": [8000.0] * 3})
    >>> exposure_counts(h).query("risk_type == '因自然灾害'")[["c", "y", "h", "e"]].values.tolist()
    [['C', 2023.0, 1.0, 1.0], ['C', 2024.0, 0.0, 2.0]]
    >>> exposure_counts(h).query("risk_type == '_income_change'")[["y", "h", "e"]].round(3).values.tolist()
    [[2024.0, -0.693, 1.0]]
    """
    rules = load_exposure_rules() if exposure is None else exposure
    county, year = _county_year(history)
    frames = []
    for t, rs in rules.items():
        shock, exposed = rs[0].shock, rs[0].exposed
        if shock not in history.columns or "year" not in history.columns:
            continue
        hit = _num(history, shock) == 1
        expo = (_num(history, exposed) > 0) | hit if exposed else np.ones(len(history), dtype=bool)
        f = pd.DataFrame({"risk_type": t, "c": county, "y": year, "h": (hit & expo).astype(float),
                          "e": expo.astype(float)})
        frames.append(f.groupby(["risk_type", "c", "y"], sort=True)[["h", "e"]].sum().reset_index())
    frames.append(_spread_counts(history, order))
    cols = ["risk_type", "c", "y", "h", "e"]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _spread_counts(history: pd.DataFrame, order: "_Order | None") -> pd.DataFrame:
    cols = ["risk_type", "c", "y", "h", "e"]
    need = {"household_id", "year", "net_income_per_capita", "monitoring_line"}
    if len(history) < 2 or not need <= set(history.columns):
        return pd.DataFrame(columns=cols)
    order = _Order(history) if order is None else order
    srt = order.srt
    x = _log_ratio(_num(history, "net_income_per_capita"), _num(history, "monitoring_line"))[srt]
    y = _num(history, "year")[srt]
    q = np.arange(1, len(srt))
    ok = order.start[q] < q  # the previous ordered row is the same household's earlier record
    d = np.clip(x[q] - x[q - 1], -CHANGE_CLIP, CHANGE_CLIP)
    ok &= np.isfinite(d) & np.isfinite(y[q])
    if not ok.any():
        return pd.DataFrame(columns=cols)
    f = pd.DataFrame({"y": y[q][ok], "d": d[ok], "d2": d[ok] ** 2})
    g = f.groupby("y", sort=True).agg(s=("d", "sum"), s2=("d2", "sum"), n=("d", "size")).reset_index()
    return pd.concat([pd.DataFrame({"risk_type": SPREAD_ROWS[0], "c": "", "y": g["y"], "h": g["s"], "e": g["n"]}),
                      pd.DataFrame({"risk_type": SPREAD_ROWS[1], "c": "", "y": g["y"], "h": g["s2"], "e": g["n"]})],
                     ignore_index=True)[cols].astype({"e": float})


#: Fewest income changes behind a spread (fewer: no spread, and the exposure is the model's gain alone).
MIN_CHANGES = 30


def _spread(counts: pd.DataFrame) -> pd.Series:
    """Year → standard deviation of the income changes up to that year (pooled; NaN below :data:`MIN_CHANGES`)."""
    if not len(counts):
        return pd.Series(dtype=float)
    one = counts[counts["risk_type"] == SPREAD_ROWS[0]].groupby("y")[["h", "e"]].sum().sort_index().cumsum()
    two = counts[counts["risk_type"] == SPREAD_ROWS[1]].groupby("y")["h"].sum().sort_index().cumsum()
    n = one["e"]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = two.reindex(n.index) / n - (one["h"] / n) ** 2
    return np.sqrt(var.clip(lower=0.0)).where(n >= MIN_CHANGES)


def _rates(counts: pd.DataFrame) -> dict[str, pd.Series]:
    """Risk type → the county's cumulative rate up to each year, indexed by (county, year)."""
    out = {}
    if not len(counts):
        return out
    g = counts[~counts["risk_type"].isin(SPREAD_ROWS)]
    g = g.groupby(["risk_type", "c", "y"], sort=True)[["h", "e"]].sum().reset_index()
    for t, sub in g.groupby("risk_type", sort=False):
        cum = sub.groupby("c", sort=False)[["h", "e"]].cumsum()
        rate = np.where(cum["e"] > 0, cum["h"] / cum["e"].where(cum["e"] > 0, 1.0), 0.0)
        out[t] = pd.Series(rate, index=pd.MultiIndex.from_arrays([sub["c"], sub["y"]]))
    return out


_exposure_counts = exposure_counts  # CauseExplainer's argument of the same name hides the function


def _map_rate(rates: pd.Series | None, frame: pd.DataFrame) -> np.ndarray:
    if rates is None:
        return np.zeros(len(frame))
    county, year = _county_year(frame)
    return np.nan_to_num(rates.reindex(pd.MultiIndex.from_arrays([county, year])).to_numpy(dtype=float))


# --------------------------------------------------------------------------- the records of the explained households
@dataclass
class _Context:
    """The explained households' records: each household's rows in year order, the explained row last."""

    frame: pd.DataFrame        # rows of the households, index 0..m-1
    target: np.ndarray         # positions (in ``frame``) of the explained rows, in the caller's order
    group: np.ndarray          # household number of every row of ``frame``
    wage_per_worker: float     # for add_worker


class _Order:
    """The household grouping of a history, worked out once for any number of explained blocks."""

    def __init__(self, history: pd.DataFrame, plan: dict | None = None):
        if plan is not None:  # PanelFeatures.plan of the same history holds the same grouping
            self.srt, self.inv, self.start = plan["srt"], plan["inv"], plan["grp_start"]
            return
        n = len(history)
        years = history["year"].to_numpy(dtype="float64", na_value=np.nan)
        order, new_group = household_order(history["household_id"], years)
        self.srt = np.arange(n) if order is None else order
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[self.srt] = np.arange(n)
        self.start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)


def _context(history: pd.DataFrame, order: _Order, pos: np.ndarray, wage_per_worker: float) -> _Context:
    """The rows of the households of ``history.iloc[pos]`` up to and including those rows.

    Later rows are not needed: the features of a row read only earlier records.
    """
    q = order.inv[np.asarray(pos, dtype=np.int64)]
    lengths = q - order.start[q] + 1
    # ordered positions start[q] .. q for every explained row, concatenated
    offs = np.repeat(order.start[q] - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
    frame = history.iloc[order.srt[offs]].reset_index(drop=True)
    group = np.repeat(np.arange(len(q)), lengths)
    target = np.cumsum(lengths) - 1
    return _Context(frame, target, group, float(wage_per_worker))


def typical_wage_per_worker(records: pd.DataFrame) -> float:
    """Median wage income per wage worker over ``records`` (0 when it cannot be told).

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.explain import typical_wage_per_worker
    >>> typical_wage_per_worker(pd.DataFrame({"income_wage": [30000.0, 0.0, 50000.0],
    ...                                       "n_migrant_workers": [1, 0, 2]}))
    27500.0
    """
    v = wages_per_worker(records)
    return float(np.median(v)) if len(v) else 0.0


def wages_per_worker(records: pd.DataFrame) -> np.ndarray:
    """Wage income per wage worker of each record with wage workers (their median is :func:`typical_wage_per_worker`)."""
    if "income_wage" not in records.columns or "n_migrant_workers" not in records.columns:
        return np.zeros(0)
    w = records["income_wage"].to_numpy(dtype="float64", na_value=np.nan)
    k = records["n_migrant_workers"].to_numpy(dtype="float64", na_value=np.nan)
    ok = np.isfinite(w) & (k > 0) & (w > 0)
    return w[ok] / k[ok]


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    return frame[col].to_numpy(dtype="float64", na_value=np.nan) if col in frame.columns else np.full(len(frame), np.nan)


#: Money columns whose usual level is read against the line: incomes grow with the line
#: (4000 in 2020, 7600 in 2025 in the reference series), so the median yuan of earlier
#: years is below what is usual for the household now.
_LINE_INDEXED = frozenset({"net_income_per_capita", *_INCOME_SIGN})


def _usual(ctx: _Context, col: str) -> np.ndarray:
    """Each explained household's usual level of ``col`` over its earlier records (NaN without any).

    Counts (months, workers): the median of the earlier records. Money: the
    median of the earlier records ÷ their line, × the explained record's line
    (the plain median where the lines are missing).
    """
    v = _num(ctx.frame, col)
    plain = _median_earlier(ctx, v)
    if col not in _LINE_INDEXED:
        return plain
    line = _num(ctx.frame, "monitoring_line")
    line = np.where(line > 0, line, np.nan)
    indexed = _median_earlier(ctx, v / line) * line[ctx.target]
    return np.where(np.isfinite(indexed), indexed, plain)


def _median_earlier(ctx: _Context, v: np.ndarray) -> np.ndarray:
    earlier = np.ones(len(v), dtype=bool)
    earlier[ctx.target] = False
    ok = earlier & np.isfinite(v)
    out = np.full(len(ctx.target), np.nan)
    if ok.any():
        med = pd.Series(v[ok]).groupby(ctx.group[ok]).median()
        out[med.index.to_numpy()] = med.to_numpy()
    return out


class _Variant:
    """New values of the explained rows for one set of removed causes (columns changed only where needed)."""

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.values: dict[str, Any] = {}

    def current(self, col: str) -> np.ndarray:
        if col in self.values:
            return self.values[col]
        return _num(self.ctx.frame, col)[self.ctx.target]

    def set(self, col: str, value) -> None:
        self.values[col] = value

    def frame(self) -> tuple[pd.DataFrame, set[str]]:
        """The changed records, and the columns that differ from the original."""
        f, t = self.ctx.frame, self.ctx.target
        new = {}
        for col, val in self.values.items():
            if col not in f.columns:
                continue
            s = f[col].copy()
            if pd.api.types.is_integer_dtype(s.dtype):  # a median of counts may fall between two
                val = np.round(np.asarray(val, dtype=float))
            s.iloc[t] = pd.array(val, dtype=s.dtype)
            new[col] = s
        return f.assign(**new), set(new)


def _holds(v: _Variant, when: str) -> np.ndarray | None:
    """Where the rule's condition holds on the records as read (None: no condition).

    ``field`` — yes in the explained record; ``field@k`` — yes in it or in any of the household's
    ``k − 1`` records before it; a leading ``!`` negates either.
    """
    if not when:
        return None
    neg, col = when.startswith("!"), when.lstrip("!")
    col, _, k = col.partition("@")
    ctx = v.ctx
    yes = _num(ctx.frame, col) == 1
    val = yes[ctx.target].copy()
    for lag in range(1, int(k or 1)):
        back = ctx.target - lag
        ok = back >= 0
        ok[ok] = ctx.group[back[ok]] == ctx.group[ctx.target[ok]]
        val[ok] |= yes[back[ok]]
    return ~val if neg else val


def _apply(v: _Variant, rule: CauseRule, cache: dict) -> None:
    f = v.ctx.frame
    cols = [c for c in f.columns if fnmatch(c, rule.field)] if any(ch in rule.field for ch in "*?[") else [rule.field]
    where = _holds(v, rule.when)
    if where is not None:  # numeric changes only (load_cause_rules refuses drop_code with a condition)
        before = {c: v.current(c) for c in (*cols, "n_labor", "n_migrant_workers", "migrant_work_months", "income_wage")
                  if c in f.columns}
        _apply(v, CauseRule(rule.risk_type, rule.field, rule.action), cache)
        for c, old in before.items():
            if c in v.values:
                v.values[c] = np.where(where, np.asarray(v.values[c], dtype=float), old)
        return
    n = len(v.ctx.target)
    for col in cols:
        if col not in f.columns:
            continue
        if rule.action in ("false", "true"):
            v.set(col, np.full(n, rule.action == "true"))
        elif rule.action == "zero":
            cur = v.current(col)
            v.set(col, np.where(np.isnan(cur), np.nan, 0.0))
        elif rule.action == "usual":
            if ("usual", col) not in cache:
                cache[("usual", col)] = _usual(v.ctx, col)
            cur, usual = v.current(col), cache[("usual", col)]
            v.set(col, np.where(np.isfinite(usual) & (np.isnan(cur) | (usual > cur)), usual, cur))
        elif rule.action == "drop_code":
            cur = pd.Series(v.values[col] if col in v.values else f[col].array.take(v.ctx.target), dtype="str")
            v.set(col, cur.where(cur != rule.risk_type).array)
        elif rule.action == "add_worker":
            _add_worker(v)
        elif rule.action == "ill_workers":
            _members_work_again(v, "n_serious_ill")
        elif rule.action == "disabled_workers":
            _members_work_again(v, "n_disabled")


def _add_worker(v: _Variant) -> None:
    size = v.current("household_size")
    lab = v.current("n_labor")
    short = (size > 0) & ((np.nan_to_num(lab) / np.where(size > 0, size, np.nan)) <= LACK_OF_LABOUR_SHARE)
    one = short.astype(float)
    v.set("n_labor", np.where(short, np.nan_to_num(lab) + 1, lab))
    for col, add in (("n_migrant_workers", one), ("migrant_work_months", _WORKER_MONTHS * one),
                     ("income_wage", v.ctx.wage_per_worker * one)):
        cur = v.current(col)
        v.set(col, np.where(short, np.nan_to_num(cur) + add, cur))


def _members_work_again(v: _Variant, count: str) -> None:
    """Members who cannot work for the cause (``count``: seriously ill, disabled), are of working age and not
    among the labourers work again, earning the typical wage per wage worker.

    Their lost labour is the cause's doing: without it the household would not be short of labour, so the
    risk that would otherwise read as 缺劳动力 is the illness's or the disability's.
    """
    size, lab = v.current("household_size"), np.nan_to_num(v.current("n_labor"))
    out = np.nan_to_num(_num(v.ctx.frame, count)[v.ctx.target])
    if count == "n_serious_ill":
        out = out + _chronic_out_of_work(v, size, lab)
    room = np.nan_to_num(size) - np.nan_to_num(v.current("n_children")) - np.nan_to_num(v.current("n_elderly")) - lab
    add = np.clip(np.minimum(out, room), 0, None)
    if not (add > 0).any():
        return
    v.set("n_labor", lab + add)
    for col, per in (("n_migrant_workers", 1.0), ("migrant_work_months", _WORKER_MONTHS),
                     ("income_wage", v.ctx.wage_per_worker)):
        v.set(col, np.nan_to_num(v.current(col)) + per * add)


def _chronic_out_of_work(v: _Variant, size: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Chronically ill members counted as kept from work by the illness: only in a household short of labour
    (most chronic patients still work), and not those also disabled (a disability is the lasting reason)."""
    chronic = np.nan_to_num(_num(v.ctx.frame, "n_chronic_ill")[v.ctx.target])
    disabled = np.nan_to_num(_num(v.ctx.frame, "n_disabled")[v.ctx.target])
    with np.errstate(invalid="ignore", divide="ignore"):
        short = (size > 0) & (lab / np.where(size > 0, size, np.nan) <= LACK_OF_LABOUR_SHARE)
    return np.where(short, np.clip(chronic - disabled, 0, None), 0.0)


def _fix_income(v: _Variant) -> None:
    """Per-capita net income follows the changed income components (reported income moves by the change)."""
    delta = np.zeros(len(v.ctx.target))
    changed = False
    for col, sign in _INCOME_SIGN.items():
        if col in v.values:
            old = _num(v.ctx.frame, col)[v.ctx.target]
            delta += sign * (np.nan_to_num(np.asarray(v.values[col], dtype=float)) - np.nan_to_num(old))
            changed = True
    if not changed or "net_income_per_capita" not in v.ctx.frame.columns:
        return
    size = v.current("household_size")
    pc = v.current("net_income_per_capita")
    v.set("net_income_per_capita", np.where(np.isfinite(pc) & (size > 0), pc + delta / np.where(size > 0, size, 1), pc))


def _variant(ctx: _Context, rules: list[CauseRule], cache: dict) -> tuple[pd.DataFrame, set[str]]:
    v = _Variant(ctx)
    for r in rules:
        _apply(v, r, cache)
    _fix_income(v)
    return v.frame()


def _with_context(model: Any, history: pd.DataFrame, plan: dict | None) -> pd.DataFrame:
    """The history with its village and county context attached, when the model's features read it.

    The explained households' records are evaluated without the rest of the
    panel; the context (leave-one-out shares of the other households) must be
    the whole panel's, and it must not move when a household's own record is
    changed, so it is fixed here, once, from the unchanged records.
    """
    feats = getattr(model, "features_", None)
    if not getattr(feats, "history_block", False) or not hasattr(feats, "context"):
        return history
    CONTEXT_COLUMNS = feats.CONTEXT
    if all(c in history.columns for c in CONTEXT_COLUMNS):
        return history
    hist = plan.get("hist") if plan is not None else None
    if hist is not None and plan.get("n") == len(history):  # the scorer's plan already holds them
        ctx = {c: hist[c][plan["inv"]] for c in CONTEXT_COLUMNS}
    else:
        frame = feats.context(history)
        ctx = {c: frame[c].to_numpy() for c in CONTEXT_COLUMNS}
    return history.assign(**ctx)


# --------------------------------------------------------------------------- model evaluations
def _risk(model: Any, frame: pd.DataFrame, target: np.ndarray) -> np.ndarray:
    feats = getattr(model, "features_", None)
    if feats is not None and hasattr(feats, "matrix") and list(getattr(model, "feature_names_", [])) == list(feats.get_feature_names_out()):
        X = pd.DataFrame(feats.matrix(frame, target, order="C"), columns=list(feats.get_feature_names_out()), copy=False)
    else:
        X = feature_frame(model, frame).iloc[target].reset_index(drop=True)
    raw = np.asarray(model.raw_from_features(X), dtype="float64")
    if callable(getattr(model, "proba_from_raw", None)):
        return np.asarray(model.proba_from_raw(raw), dtype="float64")
    return np.asarray(model.proba_from_features(X), dtype="float64")


class CauseExplainer:
    """Risk of households as recorded, without each cause and without all (see the module docstring).

    Parameters
    ----------
    model : RiskModel
        A fitted model (``raw_from_features``, ``proba_from_raw``, ``features_``).
    history : DataFrame
        Canonical panel holding the records to explain and the households' earlier records.
    rules : path, DataFrame or dict, optional
        Cause-removal rules (:func:`load_cause_rules`; default the packaged table).
    wage_per_worker : float, optional
        Wage income of the worker ``add_worker`` adds (default: the median wage
        per wage worker over ``history``'s latest year).
    plan : dict, optional
        ``PanelFeatures.plan(history)``, when the caller has it: its household
        grouping is reused.
    exposure : path, DataFrame, dict or False, optional
        Exposure rules (:func:`load_exposure_rules`; default the packaged table; False: none).
    exposure_counts : DataFrame, optional
        :func:`exposure_counts` of the whole panel, when ``history`` is only part of it.

    Examples
    --------
    >>> from fanpin_risk.simulate import simulate
    >>> from fanpin_risk.models import train
    >>> from fanpin_risk.explain import CauseExplainer, attribute_causes
    >>> panel = simulate(300, seed=2)
    >>> model = train(panel, "lightgbm")
    >>> latest = (panel["year"] == panel["year"].max()).to_numpy().nonzero()[0]
    >>> effects = CauseExplainer(model, panel).effects(latest[:5])
    >>> list(effects.columns[:3]), len(effects)
    (['p', '因病', '因学'], 5)
    >>> parts = attribute_causes(effects)
    >>> bool(((parts.sum(axis=1) - effects["p"]).abs() < 1e-9).all())
    True
    """

    def __init__(self, model: Any, history: pd.DataFrame, *, rules=None, wage_per_worker: float | None = None,
                 plan: dict | None = None, exposure=None, exposure_counts: pd.DataFrame | None = None):
        self.model, self.history = model, _with_context(model, history, plan)
        self.rules = rules if isinstance(rules, dict) else load_cause_rules(rules)
        if exposure is False:
            self.exposure = {}
        else:
            self.exposure = exposure if isinstance(exposure, dict) else load_exposure_rules(exposure)
        self.order = _Order(history, plan)
        # the whole panel's counts (the Dask scorer passes them; a partition alone would see its own county rates)
        if exposure_counts is None and self.exposure:
            exposure_counts = _exposure_counts(history, self.exposure, order=self.order)
        self._rates = _rates(exposure_counts) if self.exposure else {}
        self._spread = _spread(exposure_counts) if self.exposure else pd.Series(dtype=float)
        if wage_per_worker is None:
            y = history["year"].to_numpy(dtype="float64", na_value=np.nan)
            wage_per_worker = typical_wage_per_worker(history[y == np.nanmax(y)]) if len(y) else 0.0
        self.wage_per_worker = float(wage_per_worker)

    def effects(self, pos: np.ndarray) -> pd.DataFrame:
        """Risks of the records at positions ``pos`` (``iloc`` into the history).

        Returns
        -------
        DataFrame
            One row per position: ``p`` (risk as recorded), one column per cause
            type (risk with that cause removed; exactly ``p`` when the cause is
            absent from the record) and ``p_none`` (every cause removed).
        """
        pos = np.asarray(pos, dtype=np.int64)
        if not len(pos):
            return pd.DataFrame({"p": [], **{t: [] for t in CAUSE_TYPES}, "p_none": []}, dtype="float64")
        ctx = _context(self.history, self.order, pos, self.wage_per_worker)
        cache: dict = {}
        out = {"p": _risk(self.model, ctx.frame, ctx.target)}
        for t in CAUSE_TYPES:
            frame, changed = _variant(ctx, self.rules.get(t, []), cache)
            if not changed:
                out[t] = out["p"].copy()
                continue
            out[t] = _risk(self.model, frame, ctx.target)
            same = _same_rows(ctx, frame, changed)  # a record the rules leave as it was carries none of this cause
            out[t][same] = out["p"][same]
        frame, changed = _variant(ctx, [r for t in CAUSE_TYPES for r in self.rules.get(t, [])], cache)
        out["p_none"] = _risk(self.model, frame, ctx.target) if changed else out["p"].copy()
        for t, rs in self.exposure.items():
            out[EXPOSURE_PREFIX + t] = self._exposure(ctx, pos, t, rs, out["p"])
        return pd.DataFrame(out)

    def _exposure(self, ctx: _Context, pos: np.ndarray, t: str, rules: list[ExposureRule],
                  p: np.ndarray) -> np.ndarray:
        """Hazard × the gain in risk from the shock, for exposed households whose record does not already
        carry the shock (then it is a recorded cause). The gain is the larger of the model's (shock put in the
        record) and the probit shift of the shock's income loss (see below)."""
        v = _Variant(ctx)
        n = len(ctx.target)
        shock = rules[0].shock
        already = _num(ctx.frame, shock)[ctx.target] == 1
        exposed = (_num(ctx.frame, rules[0].exposed)[ctx.target] > 0) if rules[0].exposed else np.ones(n, dtype=bool)
        use = exposed & ~already
        if shock not in ctx.frame.columns or not use.any():
            return np.zeros(n)
        for r in rules:
            if r.field not in ctx.frame.columns:
                continue
            if r.action == "true":
                v.set(r.field, np.full(n, True))
            else:
                v.set(r.field, v.current(r.field) * r.value)
        _fix_income(v)
        frame, _ = v.frame()
        gain = np.clip(_risk(self.model, frame, ctx.target) - p, 0.0, None)
        # The model answers "a shock this year → next year's risk": it sees the shock's lasting harm but not
        # the fall of the year it strikes, and next year's is the one that counts. That fall is read off the
        # household's own risk: income next year is this year's give or take the panel's usual change (spread
        # σ of log income ÷ line), so the shock's loss moves the household's probit by the loss over σ.
        line = _num(ctx.frame, "monitoring_line")[ctx.target]
        pc, pc_after = _num(ctx.frame, "net_income_per_capita")[ctx.target], v.current("net_income_per_capita")
        sigma = self._sigma(ctx)
        loss = _log_ratio(pc, line) - _log_ratio(pc_after, line)
        q = np.clip(p, 1e-6, 1 - 1e-6)
        with np.errstate(invalid="ignore"):
            fall = special.ndtr(special.ndtri(q) + np.clip(loss, 0.0, None) / sigma) - q
        gain = np.maximum(gain, np.nan_to_num(fall))
        hazard = _map_rate(self._rates.get(t), ctx.frame.iloc[ctx.target])
        return np.where(use, hazard * gain, 0.0)

    def _sigma(self, ctx: _Context) -> np.ndarray:
        """Spread of the income changes up to each explained record's year (NaN: not known)."""
        y = _num(ctx.frame, "year")[ctx.target]
        return self._spread.reindex(y).to_numpy(dtype=float) if len(self._spread) else np.full(len(y), np.nan)


def _same_rows(ctx: _Context, frame: pd.DataFrame, cols: set[str]) -> np.ndarray:
    same = np.ones(len(ctx.target), dtype=bool)
    for c in cols:
        a = ctx.frame[c].take(ctx.target).reset_index(drop=True)
        b = frame[c].take(ctx.target).reset_index(drop=True)
        eq = (a == b).astype("boolean").fillna(False).to_numpy(dtype=bool) | (a.isna() & b.isna()).to_numpy(dtype=bool)
        same &= eq
    return same


def attribute_causes(effects: pd.DataFrame) -> pd.DataFrame:
    """Split each household's risk over the risk types (columns :data:`RISK_TYPES`), in probability.

    The joint drop ``p − p_none`` is shared among the causes in proportion to
    their single drops (positive ones only); ``p_none`` is 其他. Rows add up to ``p``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.explain import CAUSE_TYPES, attribute_causes
    >>> eff = pd.DataFrame({"p": [0.5], **{t: [0.5] for t in CAUSE_TYPES}, "p_none": [0.1]})
    >>> eff[["因病", "因务工就业不稳"]] = [[0.4, 0.2]]
    >>> parts = attribute_causes(eff)
    >>> parts.loc[0, ["因病", "因务工就业不稳", "其他"]].round(3).tolist()
    [0.1, 0.3, 0.1]
    """
    p = effects["p"].to_numpy(dtype=float)
    drops = np.clip(p[:, None] - effects[list(CAUSE_TYPES)].to_numpy(dtype=float), 0.0, None)
    joint = np.clip(p - effects["p_none"].to_numpy(dtype=float), 0.0, None)
    total = drops.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[:, None] > 0, drops * (joint / total)[:, None], 0.0)
    other = p - share.sum(axis=1)
    # exposure to next year's shocks: taken from what no recorded cause explains, never more than it
    exp_types = [t for t in CAUSE_TYPES if EXPOSURE_PREFIX + t in effects.columns]
    if exp_types:
        E = np.clip(effects[[EXPOSURE_PREFIX + t for t in exp_types]].to_numpy(dtype=float), 0.0, None)
        tot = E.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(tot > other, np.clip(other, 0.0, None) / np.where(tot > 0, tot, 1.0), 1.0)
        E = E * scale[:, None]
        for k, t in enumerate(exp_types):
            share[:, CAUSE_TYPES.index(t)] += E[:, k]
        other = other - E.sum(axis=1)
    cols = {t: share[:, k] for k, t in enumerate(CAUSE_TYPES)}
    cols["其他"] = other
    return pd.DataFrame({t: cols[t] for t in RISK_TYPES}, index=effects.index)


# --------------------------------------------------------------------------- words
#: Notes of the reason columns (``reason_note``), by case.
NOTES = {
    "unrecorded_low_income": "收入低，原因未登记",
    "unrecorded": "风险来自收入水平和历史等因素，原因未登记",
    "no_factor": "无明显风险因素",
}

#: Smallest share of the risk (probability) that names a risk type as main (1 percentage point).
MIN_SHARE = 0.01

#: Risk at or above which a household without a named cause still gets 其他 (the tier 中 cut-off).
OTHER_FROM = 0.10


#: Types named first when their share ties with another's (equal to 1e-9). A tie between 缺劳动力 and 因残 or 因病
#: means both removals gave back the same labourer; that the household is short of labour is on the record, that
#: the disabled or ill member would be the labourer is an assumption (their ages are not in the household record).
TIES_FIRST: tuple[str, ...] = ("缺劳动力",)


def _ranked(V: np.ndarray, spec: list[str]) -> np.ndarray:
    """Column order of each row of ``V`` (shares of the types ``spec``), largest first, ties as :data:`TIES_FIRST`."""
    pref = np.array([0 if t in TIES_FIRST else 1 for t in spec])
    perm = np.argsort(pref, kind="stable")  # the tie order: TIES_FIRST, then code-list order
    W = np.round(np.atleast_2d(V)[:, perm], 9)
    return perm[np.argsort(-W, axis=1, kind="stable")]


def cause_main_types(parts: pd.DataFrame, listed: np.ndarray | None = None, *, ratio_to_line=None,
                     min_share: float = MIN_SHARE, second_share: float = 0.5,
                     other_from: float = OTHER_FROM) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Main risk type, the types measures follow, and a note, from the risk split over the types.

    The main type is the specific type carrying the largest share of the risk,
    when that share is at least ``min_share``; a second type carrying at least
    ``second_share`` × the main one's also feeds the measures. Without such a
    type, a household that is listed (``listed``) or whose risk is at least
    ``other_from`` gets 其他 and the note says what is known (收入低，原因未登记
    when its income is below 1.5 × the line); any other household gets no type
    and the note 无明显风险因素.

    Parameters
    ----------
    parts : DataFrame
        The risk split over :data:`RISK_TYPES` (:func:`attribute_causes`); rows sum to the risk.
    listed : array of bool, optional
        Households on the visit list: they always get a type.
    ratio_to_line : array of float, optional
        Income per person ÷ monitoring line of each row, for the note.

    Returns
    -------
    (main, types, note)
        Series of str (missing where no type), of lists, of str (missing where a
        specific type is named).

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.explain import RISK_TYPES, cause_main_types
    >>> parts = pd.DataFrame(0.0, index=range(3), columns=RISK_TYPES)
    >>> parts.loc[0, ["因病", "其他"]] = [0.30, 0.05]
    >>> parts.loc[1, "其他"] = 0.25
    >>> parts.loc[2, "其他"] = 0.02
    >>> main, types, note = cause_main_types(parts, ratio_to_line=[2.0, 1.1, 3.0])
    >>> main.tolist(), note.tolist()
    (['因病', '其他', nan], [nan, '收入低，原因未登记', '无明显风险因素'])
    """
    spec = [t for t in RISK_TYPES if t != "其他"]
    V = parts[spec].to_numpy(dtype=float)
    n = len(V)
    p = parts.to_numpy(dtype=float).sum(axis=1) if n else np.zeros(0)
    listed = np.zeros(n, dtype=bool) if listed is None else np.asarray(listed, dtype=bool)
    ratio = np.full(n, np.nan) if ratio_to_line is None else np.asarray(ratio_to_line, dtype=float)
    main = np.full(n, np.nan, dtype=object)
    note = np.full(n, np.nan, dtype=object)
    types = np.empty(n, dtype=object)
    if n:
        order = _ranked(V, spec)
        j0, j1 = order[:, 0], order[:, 1]
        v0, v1 = V[np.arange(n), j0], V[np.arange(n), j1]
        named = v0 >= min_share
        second = named & (v1 >= min_share) & (v1 >= second_share * v0)
        other = ~named & (listed | (p >= other_from))
        low = ratio < 1.5
        for i in range(n):
            if named[i]:
                main[i] = spec[j0[i]]
                types[i] = [spec[j0[i]]] + ([spec[j1[i]]] if second[i] else [])
            elif other[i]:
                main[i] = "其他"
                types[i] = ["其他"]
                note[i] = NOTES["unrecorded_low_income"] if low[i] else NOTES["unrecorded"]
            else:
                types[i] = []
                note[i] = NOTES["no_factor"]
    idx = parts.index
    return (pd.Series(main, index=idx, dtype="str"), pd.Series(types, index=idx, dtype=object),
            pd.Series(note, index=idx, dtype="str"))


def format_cause_parts(parts: pd.DataFrame, *, digits: int = 1) -> pd.Series:
    """'因务工就业不稳 12.3个百分点；缺劳动力 4.0个百分点；其他 8.1个百分点' — the risk by type, in percentage points.

    Specific types largest first, then 其他; parts that round to zero are left out.
    The parts add up to the household's risk.

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.explain import RISK_TYPES, format_cause_parts
    >>> parts = pd.DataFrame(0.0, index=[0], columns=RISK_TYPES)
    >>> parts.loc[0, ["缺劳动力", "因务工就业不稳", "其他"]] = [0.04, 0.123, 0.081]
    >>> format_cause_parts(parts).iloc[0]
    '因务工就业不稳 12.3个百分点；缺劳动力 4.0个百分点；其他 8.1个百分点'
    """
    spec = [t for t in RISK_TYPES if t != "其他" and t in parts.columns]
    V = parts[spec].to_numpy(dtype=float) * 100
    other = parts["其他"].to_numpy(dtype=float) * 100 if "其他" in parts.columns else np.zeros(len(parts))
    tiny = 0.5 * 10 ** -digits
    out = []
    for row, o, order in zip(V, other, _ranked(V, spec) if len(V) else []):
        words = [f"{spec[j]} {row[j]:.{digits}f}个百分点" for j in order if row[j] >= tiny]
        if o >= tiny:
            words.append(f"其他 {o:.{digits}f}个百分点")
        out.append("；".join(words))
    return pd.Series(out, index=parts.index, dtype="str")
