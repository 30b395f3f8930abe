"""Feasible help: which single measure lowers a household's predicted risk most?

:func:`feasible_help` takes each household's record of the scored year, applies
each *feasible* assistance measure of ``data_schema/help_measures.csv`` to it
(more work months, a public-welfare job, dibao, medical assistance, housing
repair, drinking water), recomputes the features from the modified year plus the
unchanged history and re-scores with the same model. It reports, per household,
the measure with the lowest predicted risk and the risk under each candidate.

This is the **model's response** to a changed record, not the causal effect of
the measure: the model learned associations in past records (in which help
followed identification, and identified households differ from others), and it
has not seen a household before and after a randomly assigned measure. Use it to
shortlist options for the visiting cadre, not to promise an effect.

Measures as data
----------------
Each row of ``help_measures.csv`` has ``measure``, ``name_zh``,
``policy_measure`` (the contract's measure code list), ``condition`` and
``effects``.

``condition``: clauses joined by ``and``; a clause is ``field OP value`` (OP one
of ``== != > >= < <=``, value a number or True/False), ``field`` (true) or
``not field`` (false). A missing value makes the clause false, so a measure is
never offered on unknown grounds. Besides the contract's fields two derived
quantities can be used: ``work_months_left`` = 12 × n_labor − migrant_work_months
and ``wage_per_month`` (below).

``effects``: ``;``-separated assignments ``field OP expr`` with OP one of
``= += -= *= max= min=`` and expr a product of numbers, True/False, fields and
derived quantities, e.g. ``income_wage += 3 * wage_per_month``.
``wage_per_month`` is the household's own income_wage / migrant_work_months when
both are positive, else the median of that ratio over the scored year's records.

After the effects ``net_income_per_capita`` moves by the change of the contract
income formula (as in :mod:`fanpin_risk.scenario`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import YearSelection, select_year

from ._scenario import formula_total

_CLAUSE = re.compile(r"^\s*(not\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:(==|!=|>=|<=|>|<)\s*(\S+))?\s*$", re.I)
_EFFECT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\+=|-=|\*=|max=|min=|=)\s*(.+?)\s*$")
DERIVED = ("wage_per_month", "work_months_left")


def measures_path() -> Path:
    """Default measures table: ``data_schema/help_measures.csv``."""
    return contract.schema_dir() / "help_measures.csv"


def load_help_measures(measures: Any = None) -> pd.DataFrame:
    """Read and check the measures table.

    Parameters
    ----------
    measures : path, DataFrame, list of str or None
        None → the default table; a list of names keeps those rows of it.

    Returns
    -------
    DataFrame
        Columns ``measure``, ``name_zh``, ``policy_measure``, ``condition``,
        ``effects`` (and ``note``); every condition and effect parsed once to
        fail early with the row and the fix.
    """
    names = None
    if measures is None or (isinstance(measures, (list, tuple)) and all(isinstance(m, str) for m in measures)):
        names = list(measures) if measures is not None else None
        measures = measures_path()
    df = pd.read_csv(measures, dtype="str", keep_default_na=False) if isinstance(measures, (str, Path)) else measures.copy()
    need = ["measure", "name_zh", "condition", "effects"]
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise ContractError(f"help measures table lacks column(s) {miss}; needed: {need}")
    if names is not None:
        unknown = sorted(set(names) - set(df["measure"]))
        if unknown:
            raise ContractError(f"unknown help measure(s) {unknown}; the table has {df['measure'].tolist()}")
        df = df[df["measure"].isin(names)]
    if df["measure"].duplicated().any():
        raise ContractError(f"help measures repeat: {df.loc[df['measure'].duplicated(), 'measure'].tolist()}")
    for r in df.itertuples():
        _parse_condition(str(r.condition), r.measure)
        _parse_effects(str(r.effects), r.measure)
    if "policy_measure" not in df.columns:
        df["policy_measure"] = ""
    return df.reset_index(drop=True)


def _value(tok: str, where: str):
    t = tok.strip()
    if t.lower() in ("true", "是"):
        return True
    if t.lower() in ("false", "否"):
        return False
    try:
        return float(t)
    except ValueError:
        return t  # a name, resolved against the records


def _check_name(name: str, where: str) -> None:
    # event_* terms are the amounts of a department event (fanpin_risk.planning.alerts), passed as derived
    if name not in contract.canonical_dtypes() and name not in DERIVED and not name.startswith("event_"):
        raise ContractError(f"{where}: {name!r} is neither a household field nor one of {list(DERIVED)}")


def _parse_condition(text: str, measure: str) -> list[tuple]:
    where = f"help measure {measure!r} condition"
    if not text.strip():
        return []
    out = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.I):
        m = _CLAUSE.match(clause)
        if not m:
            raise ContractError(f"{where}: cannot read {clause!r}; write 'field OP value', 'field' or 'not field'")
        neg, name, op, val = m.groups()
        _check_name(name, where)
        if neg and op:
            raise ContractError(f"{where}: 'not' only before a yes/no field, got {clause!r}")
        v = _value(val, where) if op else None
        if isinstance(v, str):
            raise ContractError(f"{where}: value {val!r} in {clause!r} must be a number or True/False")
        out.append((bool(neg), name, op, v))
    return out


def _parse_effects(text: str, measure: str) -> list[tuple]:
    where = f"help measure {measure!r} effects"
    out = []
    for part in [p for p in text.split(";") if p.strip()]:
        m = _EFFECT.match(part)
        if not m:
            raise ContractError(f"{where}: cannot read {part.strip()!r}; write 'field OP expr' with OP = += -= *= max= min=")
        name, op, expr = m.groups()
        if name not in contract.canonical_dtypes():
            raise ContractError(f"{where}: {name!r} is not a household field")
        terms = [_value(t, where) for t in expr.split("*")]
        for t in terms:
            if isinstance(t, str):
                _check_name(t, where)
        out.append((name, op, terms))
    if not out:
        raise ContractError(f"{where}: no effect given")
    return out


def _col(cur: pd.DataFrame, name: str, derived: dict) -> pd.Series:
    if name in derived:
        return derived[name]
    if name not in cur.columns:
        return pd.Series(np.nan, index=cur.index, dtype="float64")
    s = cur[name]
    return s.astype("boolean").astype("Float64").astype("float64") if str(s.dtype) in ("boolean", "bool") else s.astype("float64")


def _derived(cur: pd.DataFrame, fallback_wpm: float) -> dict:
    months = _col(cur, "migrant_work_months", {})
    wage = _col(cur, "income_wage", {})
    own = (wage / months).where((months > 0) & (wage > 0))
    return {"wage_per_month": own.fillna(fallback_wpm),
            "work_months_left": 12 * _col(cur, "n_labor", {}) - months.fillna(0)}


def evaluate_condition(cur: pd.DataFrame, condition: str, *, measure: str = "?", derived: dict | None = None) -> pd.Series:
    """Boolean Series: rows where the condition holds (a missing value makes a clause false)."""
    derived = derived if derived is not None else _derived(cur, np.nan)
    ok = pd.Series(True, index=cur.index)
    ops = {"==": np.equal, "!=": np.not_equal, ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal}
    for neg, name, op, v in _parse_condition(condition, measure):
        s = _col(cur, name, derived)
        known = s.notna()
        if op is None:
            res = (s == 0) if neg else (s != 0)
        else:
            res = pd.Series(ops[op](s.to_numpy(), float(v)), index=cur.index)
        ok &= (res & known).astype(bool)
    return ok


def apply_effects(cur: pd.DataFrame, effects: str, *, measure: str = "?", derived: dict | None = None) -> pd.DataFrame:
    """Apply a measure's effects to a frame of records (a modified copy)."""
    derived = derived if derived is not None else _derived(cur, np.nan)
    out = cur.copy()
    for name, op, terms in _parse_effects(effects, measure):
        is_bool = str(contract.canonical_dtypes().get(name)) == "boolean"
        if is_bool:
            if op != "=" or len(terms) != 1 or not isinstance(terms[0], bool):
                raise ContractError(f"help measure {measure!r}: the yes/no field {name} takes '= True' or '= False'")
            out[name] = pd.Series(terms[0], index=out.index, dtype="boolean")
            continue
        val = pd.Series(1.0, index=out.index)
        for t in terms:
            val = val * (_col(out, t, derived) if isinstance(t, str) else float(t))
        old = _col(out, name, derived)
        new = {"=": val, "+=": old.fillna(0) + val, "-=": old.fillna(0) - val, "*=": old * val,
               "max=": np.fmax(old, val), "min=": np.fmin(old, val)}[op]
        dt = contract.canonical_dtypes().get(name, "float64")
        out[name] = new.round().astype(dt) if dt == "Int64" else new.astype(dt)
    return out


def feasible_help(records: Any, model: Any = None, *, year: int | None = None, households=None, measures: Any = None,
                  long: bool = False, lines=None) -> pd.DataFrame:
    """For each household, the feasible measure that lowers its predicted risk most.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records with history (as for :func:`fanpin_risk.score`).
    model : RiskModel, path or None
        None loads the packaged default model.
    year : int, optional
        Year whose records are changed; default the latest.
    households : list of str, optional
        Only these households (default all with a record in ``year``).
    measures : path, DataFrame or list of names, optional
        Measures table (default ``data_schema/help_measures.csv``) or names of its rows.
    long : bool, default False
        Return one row per household × measure (``feasible``, ``risk_after``,
        ``delta``) instead of one row per household.

    Returns
    -------
    DataFrame
        One row per household: ``household_id``, area codes, ``risk_before``,
        ``best_measure``, ``best_measure_zh``, ``risk_after`` (≤ risk_before;
        equal when no feasible measure lowers it), ``delta`` (risk_after −
        risk_before), ``text`` (e.g. "风险 31.0% → 12.0%：公益岗位帮扶"),
        ``feasible_measures``, one ``risk_<measure>`` column per measure (NaN
        where not feasible), ``status``. Sorted by ``risk_before`` descending;
        households that cannot be scored keep their row with ``status``.

    Notes
    -----
    The risk under a measure is the model's response to the changed record, not
    a causal effect (see the module docstring).
    """
    model = resolve_model(model, lines=lines)
    table = load_help_measures(measures)
    sel = _Selection.of(records, year=year, households=households, lines=lines)
    sel.H = with_whole_context(model, sel.H, sel.prep.history)
    copies, feasible = _measure_variants(sel, table)
    base, wide = _risks(model, pd.concat(copies, ignore_index=True), sel.year)
    out = _household_frame(sel, base)
    R = pd.DataFrame({m: (wide[m] if m in wide.columns else pd.Series(dtype="float64")).reindex(out.index)
                      for m in table["measure"]}, index=out.index)
    names = dict(zip(table["measure"], table["name_zh"]))
    _add_best(out, R, names, feasible, sel.cur)
    for mname in table["measure"]:
        out[f"risk_{mname}"] = R[mname]
    out["status"] = _status(out.index, sel)
    out = out.reset_index().sort_values(["risk_before", "household_id"], ascending=[False, True], na_position="last",
                                        kind="mergesort").reset_index(drop=True)
    out.attrs.update({"year": sel.year, "note": "model response, not a causal effect",
                      "wage_per_month_fallback": sel.fallback})
    return _long_table(R, out, names) if long else out


@dataclass
class _Selection:
    """The scored year's records and histories of the households that get a measure tried."""

    prep: YearSelection
    cur_all: pd.DataFrame  # every record of the year, household_id as str
    keep_ids: set  # households asked for (all of the year by default)
    households_given: bool
    H: pd.DataFrame  # histories of the scorable households asked for
    cur: pd.DataFrame  # their records of the year
    fallback: float  # wage_per_month where a household's own ratio is unknown
    derived: dict

    @property
    def year(self) -> int:
        return self.prep.year

    @classmethod
    def of(cls, records, *, year, households, lines) -> _Selection:
        prep = select_year(records, year=year, lines=lines)
        y, history = prep.year, prep.history
        cur_all = prep.current.assign(household_id=prep.current["household_id"].astype("str"))
        if households is not None:
            keep_ids = {str(h) for h in households}
            unknown = sorted(keep_ids - set(cur_all["household_id"]))
            if unknown:
                raise ContractError(f"household(s) {unknown[:5]} have no record in {y}")
        else:
            keep_ids = set(cur_all["household_id"])
        ok_ids = set(history.loc[prep.scored_rows, "household_id"].astype("str")) & keep_ids
        H = history[history["household_id"].astype("str").isin(ok_ids)].copy()
        H["household_id"] = H["household_id"].astype("str")
        cur = H[H["year"].astype("int64").to_numpy() == y]
        months, wage = _col(cur, "migrant_work_months", {}), _col(cur, "income_wage", {})
        ratio = (wage / months).where((months > 0) & (wage > 0))
        fallback = float(ratio.median()) if ratio.notna().any() else np.nan
        return cls(prep=prep, cur_all=cur_all, keep_ids=keep_ids, households_given=households is not None, H=H,
                   cur=cur, fallback=fallback, derived=_derived(cur, fallback))


def with_whole_context(model, part: pd.DataFrame, whole: pd.DataFrame) -> pd.DataFrame:
    """``part`` (records of ``whole``) with the village and county context of the whole panel attached.

    Without it a model with the history block would take the context from
    ``part`` alone: from the few households asked for, or from the originals
    and their measure copies together (each copy a neighbour of its original),
    and its risk would differ from the scored list's. Records are matched on
    (household_id, year), so ``part`` may carry labels of its own; a record
    ``whole`` does not hold gets no context (NaN).
    """
    feats = getattr(model, "features_", None)
    if not getattr(feats, "history_block", False) or not hasattr(feats, "context"):
        return part
    if all(c in part.columns for c in feats.CONTEXT):  # attached already by the caller
        return part

    def key(df):
        return pd.MultiIndex.from_arrays([df["household_id"].astype("str").to_numpy(),
                                          pd.to_numeric(df["year"]).astype("float64").to_numpy()])

    ctx = feats.context(whole).set_axis(key(whole))
    ctx = ctx[~ctx.index.duplicated()].reindex(key(part))
    return part.assign(**{c: ctx[c].to_numpy() for c in ctx.columns})


def _measure_variants(sel: _Selection, table: pd.DataFrame) -> tuple[list[pd.DataFrame], dict[str, pd.Series]]:
    """The unchanged histories, then one modified copy per measure of the households it is feasible for."""
    copies, feasible = [sel.H], {}
    for r in table.itertuples():
        f = evaluate_condition(sel.cur, r.condition, measure=r.measure, derived=sel.derived)
        feasible[r.measure] = f
        ids = sel.cur.loc[f, "household_id"]
        if len(ids):
            copies.append(_with_measure(sel, set(ids), r.measure, r.effects))
    return copies, feasible


def _with_measure(sel: _Selection, ids: set, measure: str, effects: str) -> pd.DataFrame:
    """Histories of ``ids`` with the measure applied to their scored-year record, under ids of their own."""
    Hm = sel.H[sel.H["household_id"].isin(ids)].copy()
    m_rows = Hm.index[Hm["year"].astype("int64") == sel.year]
    before = Hm.loc[m_rows]
    after = apply_effects(before, effects, measure=measure, derived={k: v.loc[m_rows] for k, v in sel.derived.items()})
    if "net_income_per_capita" in after.columns:
        size = _col(after, "household_size", {}).where(lambda s: s > 0)
        after["net_income_per_capita"] = (_col(before, "net_income_per_capita", {})
                                          + ((formula_total(after) - formula_total(before)) / size).fillna(0))
    for c in after.columns:
        Hm[c] = Hm[c].astype(after[c].dtype) if str(Hm[c].dtype) != str(after[c].dtype) else Hm[c]
        Hm.loc[m_rows, c] = after[c]
    Hm["household_id"] = Hm["household_id"] + "\x1f" + measure  # own history, own id: features stay per household
    return Hm


def _risks(model, big: pd.DataFrame, y: int) -> tuple[pd.Series, pd.DataFrame]:
    """Risk in year ``y``: unchanged (by household) and under each measure (household × measure)."""
    X = model.transform(big)
    p = pd.Series(np.asarray(model.proba_from_features(X), float), index=big.index)
    at_y = big["year"].astype("int64").to_numpy() == y
    pr = pd.DataFrame({"key": big.loc[at_y, "household_id"].to_numpy(), "p": p[at_y].to_numpy()})
    parts = pr["key"].str.split("\x1f", n=1, expand=True, regex=False)
    pr["household_id"] = parts[0]
    pr["measure"] = parts[1] if parts.shape[1] > 1 else None
    base = pr[pr["measure"].isna()].set_index("household_id")["p"]
    wide = pr[pr["measure"].notna()].pivot(index="household_id", columns="measure", values="p")
    return base, wide


def _household_frame(sel: _Selection, base: pd.Series) -> pd.DataFrame:
    """One row per household asked for (unscorable ones included): area codes and ``risk_before``."""
    ids = set(sel.prep.panel["household_id"].astype("str")) | _only_left_out(sel)
    ids_all = sorted(ids & sel.keep_ids) if sel.households_given else sorted(ids)
    out = pd.DataFrame(index=pd.Index(ids_all, name="household_id"))
    src = sel.cur_all.set_index("household_id")
    for c in ("county_code", "township_code", "village_code"):
        out[c] = src[c].reindex(out.index) if c in src.columns else pd.Series(np.nan, index=out.index, dtype="str")
    out["risk_before"] = base.reindex(out.index)
    return out


def _add_best(out: pd.DataFrame, R: pd.DataFrame, names: dict, feasible: dict, cur: pd.DataFrame) -> None:
    """Add the best measure, the risk after it, the feasible measures and the text to ``out`` (in place)."""
    # first column with the row's minimum (table order breaks ties); NaN where nothing is feasible
    arr = R.to_numpy(dtype="float64")
    any_f = ~np.isnan(arr).all(axis=1) if arr.size else np.zeros(len(R), bool)
    pos = np.nanargmin(np.where(np.isnan(arr), np.inf, arr), axis=1) if arr.size else np.zeros(len(R), int)
    first_min = np.asarray(R.columns, dtype=object)[pos] if arr.size else None
    best = pd.Series(np.where(any_f, first_min, None), index=out.index)
    best_p = R.min(axis=1, skipna=True)
    helps = best_p < out["risk_before"]
    out["best_measure"] = best.where(helps).astype("str")
    out["best_measure_zh"] = out["best_measure"].map(names).astype("str")
    out["risk_after"] = best_p.where(helps, out["risk_before"])
    out["delta"] = out["risk_after"] - out["risk_before"]
    feas_ids = {m: set(cur.loc[f, "household_id"]) for m, f in feasible.items()}
    out["feasible_measures"] = pd.Series([",".join(names[m] for m in R.columns if h in feas_ids[m]) for h in out.index],
                                         index=out.index, dtype="str")
    out["text"] = _texts(out, helps)


def _texts(out: pd.DataFrame, helps: pd.Series) -> pd.Series:
    scored = out["risk_before"].notna()
    text = pd.Series(np.nan, index=out.index, dtype="str")
    text[scored & helps] = [f"风险 {a:.1%} → {b:.1%}：{n}" for a, b, n in
                            zip(out.loc[scored & helps, "risk_before"], out.loc[scored & helps, "risk_after"],
                                out.loc[scored & helps, "best_measure_zh"])]
    text[scored & ~helps] = [f"风险 {a:.1%}：无可行措施降低模型风险"
                             for a in out.loc[scored & ~helps, "risk_before"]]
    return text


def _only_left_out(sel: _Selection) -> set[str]:
    """Households whose every row was set aside (no usable year): they come back unscorable, not lost."""
    lo = sel.prep.left_out
    if lo is None or not len(lo) or "household_id" not in lo.columns:
        return set()
    ids = set(lo["household_id"].dropna().astype("str")) - {""}
    return ids - set(sel.prep.panel["household_id"].astype("str"))


def _status(index: pd.Index, sel: _Selection) -> pd.Series:
    status = pd.Series("scored", index=index, dtype="str")
    status[~index.isin(list(set(sel.cur_all["household_id"])))] = "not_in_year"
    status[index.isin(list(set(sel.cur_all.loc[sel.prep.unscorable.index, "household_id"])))] = "unscorable"
    status[index.isin(list(_only_left_out(sel)))] = "unscorable"
    return status


def _long_table(R: pd.DataFrame, out: pd.DataFrame, names: dict) -> pd.DataFrame:
    """One row per household × measure."""
    lg = R.stack(future_stack=True).rename("risk_after").reset_index()
    lg.columns = ["household_id", "measure", "risk_after"]
    lg["feasible"] = lg["risk_after"].notna()
    lg["risk_before"] = lg["household_id"].map(out.set_index("household_id")["risk_before"])
    lg["delta"] = lg["risk_after"] - lg["risk_before"]
    lg["name_zh"] = lg["measure"].map(names)
    return lg
