"""Score a monitoring panel: a ranked list of households with reasons and measures.

:func:`score` turns household-year records (history included) into one row per
household for the scored year (the latest, or ``year=``): a calibrated risk of
falling (back) into poverty next year, a priority rank, a tier, whether the
household is inside the visit budget, the three factors pushing its risk up
most in plain words, its main risk type in the policy's list and suggested
assistance measures. No household is dropped: those without a record in the
scored year, or whose record cannot be scored, come back with ``status`` and
``status_reason``. See ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import contract
from .errors import ContractError, ModelError

#: Output columns in order, with their dtypes (stable API).
SCORE_COLUMNS: dict[str, str] = {
    "household_id": "str",
    "year": "Int64",
    "county_code": "str",
    "township_code": "str",
    "village_code": "str",
    "priority_rank": "Int64",
    "risk_score": "float64",
    "risk_tier": "str",
    "in_budget": "boolean",
    "main_risk_type": "str",
    "top_factors": "str",
    "risk_type_contributions": "str",
    "suggested_measures": "str",
    "has_labor": "boolean",
    "status": "str",
    "status_reason": "str",
}

#: Chinese headers of the output (``headers="zh"``).
SCORE_COLUMNS_ZH: dict[str, str] = {
    "household_id": "户编号",
    "year": "年度",
    "county_code": "县代码",
    "township_code": "乡镇代码",
    "village_code": "村代码",
    "priority_rank": "优先排序",
    "risk_score": "返贫致贫风险概率",
    "risk_tier": "风险等级",
    "in_budget": "纳入走访名单",
    "main_risk_type": "主要风险类型",
    "top_factors": "主要风险因素",
    "risk_type_contributions": "各风险类型贡献",
    "suggested_measures": "建议帮扶措施",
    "has_labor": "有劳动力",
    "status": "评分状态",
    "status_reason": "状态说明",
}

#: Status codes and their Chinese form (used with ``headers="zh"``).
STATUS_ZH = {"scored": "已评分", "not_in_year": "评分年度无记录", "unscorable": "无法评分"}

#: Probability cut-offs of the tiers when no budget is given: 高 ≥ 0.30, 中 ≥ 0.10, else 低.
TIER_CUTOFFS: dict[str, float] = {"高": 0.30, "中": 0.10}

#: Above this many scored rows the default ``reasons`` is "budget" instead of "all".
REASONS_ALL_MAX = 50_000

_UNIT_COLS = ("county_code", "township_code", "village_code")


# --------------------------------------------------------------------------- inputs
def _load_model(model: Any):
    """None → packaged default (``models/default``); a path → ``load_model``; a RiskModel as is."""
    if model is None or isinstance(model, (str, Path)):
        from .models import load_model

        path = Path(model) if model is not None else contract.models_dir() / "default"
        if model is None and not path.exists():
            raise ModelError(
                f"no packaged default model at {path}; train one with fanpin_risk.train(...) "
                "and pass it as model=, or save it there"
            )
        return load_model(path)
    if not hasattr(model, "predict_proba") or not hasattr(model, "transform"):
        raise ModelError(f"model= must be a RiskModel, a path or None, not {type(model).__name__}")
    return model


def _to_panel(records: Any, lines=None) -> pd.DataFrame:
    from .labels import _as_panel

    if isinstance(records, (str, Path)):
        from .read import read_panel

        records = read_panel(records, lines=lines)[0] if _accepts(read_panel, "lines") else read_panel(records)[0]
    return _as_panel(records, lines=lines)


def _accepts(fn, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _unscorable_reason(cur: pd.DataFrame) -> pd.Series:
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


def _prepare(records: Any, model: Any, *, year: int | None = None, lines=None) -> dict:
    """Canonical panel → households, history for features and the rows to score."""
    panel = _to_panel(records, lines=lines)
    if len(panel) == 0:
        raise ContractError("no household records to score")
    # shallow: copy-on-write copies only the columns we change, not a frame of millions of rows
    panel = panel.copy(deep=False)
    panel["household_id"] = panel["household_id"].astype("str")
    years = panel["year"].astype("int64")
    y = int(years.max()) if year is None else int(year)
    if year is not None and not (years == y).any():
        raise ContractError(f"no record for year {y}; the data has {sorted(years.unique().tolist())}")
    keep = years <= y
    history = panel if keep.all() else panel[keep]
    cur = history[history["year"].astype("int64") == y]
    reason = _unscorable_reason(cur)
    bad_idx = reason.index[reason.notna()]
    history_ok = history.drop(index=bad_idx) if len(bad_idx) else history
    scored_rows = cur.index.difference(bad_idx, sort=False)
    return {"panel": panel, "year": y, "history": history_ok, "current": cur, "scored_rows": scored_rows,
            "unscorable": reason[reason.notna()]}


# --------------------------------------------------------------------------- budgets
def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def budget_mask(order_rank: pd.Series, units: pd.Series | None, budget: int | float | None) -> pd.Series:
    """In-budget flag from ranks (1 = first), overall or per unit.

    ``budget`` ≥ 1 (an int) is a number of households; 0 < budget < 1 a share.
    With ``units``, each unit gets ``max(1, round(share × n_unit))`` households
    (a count budget is first turned into the share budget / n).
    """
    n = len(order_rank)
    if budget is None or n == 0:
        return pd.Series(False, index=order_rank.index, dtype="boolean")
    b = float(budget)
    if isinstance(budget, (bool, np.bool_)) or b <= 0 or (b >= 1 and b != int(b)):
        raise ContractError(f"budget must be a count ≥ 1 or a share in (0, 1), got {budget!r}")
    if units is None:
        k = int(b) if b >= 1 else max(1, math.ceil(b * n - 1e-9))
        return (order_rank <= k).astype("boolean")
    share = b / n if b >= 1 else b
    u = units.astype("str").fillna("(未知)")
    within = order_rank.groupby(u).rank(method="first")
    size = u.map(u.value_counts())
    k_u = size.map(lambda m: max(1, _round_half_up(share * m)))
    return (within <= k_u).astype("boolean")


# --------------------------------------------------------------------------- main
def score(
    records: Any,
    model: Any = None,
    *,
    year: int | None = None,
    budget: int | float | None = None,
    quota_by: Literal["township_code", "village_code", "county_code"] | None = None,
    reasons: Literal["budget", "all", "none"] | None = None,
    lines=None,
    headers: Literal["en", "zh"] = "en",
    measures: str | Path | pd.DataFrame | None = None,
    tier_cutoffs: dict[str, float] | None = None,
    attribute_shocks: bool = True,
    _with_raw: bool = False,
    client: Any = None,
) -> pd.DataFrame:
    """Score the latest (or a given) year: one row per household, ordered by priority.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records in the contract (Chinese or English headers; a
        path is read with :func:`fanpin_risk.read_panel`). Earlier years are used
        as history for the features.
    model : RiskModel, path or None
        None loads the packaged default model from ``models/default``.
    year : int, optional
        Year to score; default the latest year in ``records``.
    budget : int or float, optional
        Households to visit: a count (≥ 1) or a share (0–1) of scored households.
    quota_by : {"township_code", "village_code", "county_code"}, optional
        Give each unit its own top-k: the share of its scored households (a count
        budget is turned into a share), at least one where the unit has any.
    reasons : {"all", "budget", "none"}, optional
        Which households get ``top_factors``, ``main_risk_type``,
        ``risk_type_contributions`` and ``suggested_measures``: all scored
        households, only those in the budget (tier 高 when no budget), or none.
        Default "all" up to 50,000 scored households, else "budget".
    lines : monitoring-line table, optional
        Passed to the contract's line lookup for rows without ``monitoring_line``.
    headers : {"en", "zh"}
        English column names (default) or the Chinese headers of :data:`SCORE_COLUMNS_ZH`
        (status values then also in Chinese).
    measures : path or DataFrame, optional
        Own risk type × labour → measures table (default ``data_schema/measures_map.csv``).
    tier_cutoffs : dict, optional
        Probability cut-offs of 高 and 中 (default :data:`TIER_CUTOFFS`).
    attribute_shocks : bool, default True
        Give a positive 其他 (income-level) part to the risk types of the shocks
        recorded this year (see :func:`fanpin_risk.explain.attribute_to_shocks`).
    client : distributed.Client, optional
        With a Dask DataFrame of records: the cluster to score on (default the
        current client). A Dask DataFrame is scored by partition, with the same
        result (see :func:`fanpin_risk.distributed.score_dask` and ``docs/scale.md``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCORE_COLUMNS` in order and dtype. Sorted by
        ``priority_rank`` (scored households, rank 1 = highest risk, ties broken
        by the raw score then ``household_id``), then households without a score
        by ``household_id``. ``.attrs`` holds ``year``, ``budget``, ``quota_by``,
        ``n_scored``, ``tier_cutoffs`` and the model's metadata.
    """
    # importlib, not ``from . import explain``: the package's lazy ``explain`` *function*
    # shadows the submodule attribute once ``fanpin_risk.explain`` has been accessed.
    import importlib

    ex = importlib.import_module(".explain", __package__)

    from .distributed import is_dask

    if is_dask(records) or client is not None:  # past one machine: see fanpin_risk.distributed
        from .distributed import score_dask

        if not is_dask(records):
            raise ContractError("client= is for a Dask DataFrame of records; pass a pandas frame without client=")
        return score_dask(records, model, client=client, year=year, budget=budget, quota_by=quota_by, reasons=reasons,
                          lines=lines, headers=headers, measures=measures, tier_cutoffs=tier_cutoffs,
                          attribute_shocks=attribute_shocks)
    model = _load_model(model)
    cut = dict(TIER_CUTOFFS if tier_cutoffs is None else tier_cutoffs)
    prep = _prepare(records, model, year=year, lines=lines)
    panel, y, history, cur, rows = prep["panel"], prep["year"], prep["history"], prep["current"], prep["scored_rows"]

    # one output row per household in the input
    hh = panel.sort_values(["household_id", "year"]).drop_duplicates("household_id", keep="last")
    out = pd.DataFrame({"household_id": hh["household_id"].to_numpy()})
    cur_by_id = cur.set_index("household_id")
    for c in _UNIT_COLS:
        src = cur_by_id[c] if c in cur_by_id.columns else pd.Series(dtype="str")
        fallback = hh.set_index("household_id")[c] if c in hh.columns else pd.Series(dtype="str")
        vals = out["household_id"].map(src)
        out[c] = vals.where(vals.notna(), out["household_id"].map(fallback))
    out["year"] = y
    out = out.set_index("household_id", drop=False)

    status = pd.Series("not_in_year", index=out.index, dtype="str")
    last_year = hh.set_index("household_id")["year"]
    reason = pd.Series([f"{y}年无记录 (no record in {y}; latest record {int(v)})" for v in last_year.reindex(out.index)],
                       index=out.index, dtype="str")
    bad = prep["unscorable"]
    bad_ids = cur.loc[bad.index, "household_id"].to_numpy()
    status.loc[bad_ids] = "unscorable"
    reason.loc[bad_ids] = bad.to_numpy()

    # scores
    n_rows = len(rows)
    proba = pd.Series(np.nan, index=out.index, dtype="float64")
    raw = pd.Series(np.nan, index=out.index, dtype="float64")
    X = None
    if n_rows:
        if _accepts(getattr(model, "transform", None), "rows") and history.index.is_unique:
            X = model.transform(history, rows=rows)  # only the scored rows: half the memory at 2 years
        else:
            X = ex._feature_frame(model, history).loc[rows]
        if callable(getattr(model, "proba_from_raw", None)):  # the trees are walked once
            r = np.asarray(ex._raw_from_features(model, X), dtype="float64")
            p = np.asarray(model.proba_from_raw(r), dtype="float64")
        elif callable(getattr(model, "proba_from_features", None)):  # features computed once
            r = np.asarray(ex._raw_from_features(model, X), dtype="float64")
            p = np.asarray(model.proba_from_features(X), dtype="float64")
        else:
            pos = history.index.get_indexer(rows)
            p = np.asarray(model.predict_proba(history), dtype="float64")[pos]
            r = np.asarray(_predict_raw(model, history), dtype="float64")[pos]
        ids = history.loc[rows, "household_id"].to_numpy()
        finite = np.isfinite(p) & np.isfinite(r)
        proba.loc[ids[finite]] = p[finite]
        raw.loc[ids[finite]] = r[finite]
        status.loc[ids[finite]] = "scored"
        reason.loc[ids[finite]] = np.nan
        status.loc[ids[~finite]] = "unscorable"
        reason.loc[ids[~finite]] = "模型输出无效 (model returned a non-finite score)"
    scored = status.eq("scored")
    out["risk_score"] = proba
    out["_raw_score"] = raw  # kept for fanpin_risk.distributed, which re-ranks partitions globally
    n_scored = int(scored.sum())

    # deterministic ranking: probability, then raw score, then household_id
    srt = pd.DataFrame({"p": proba[scored], "r": raw[scored], "id": out.index[scored]})
    srt = srt.sort_values(["p", "r", "id"], ascending=[False, False, True], kind="mergesort")
    rank = pd.Series(np.arange(1, n_scored + 1), index=srt.index)
    out["priority_rank"] = rank.reindex(out.index).astype("Int64")

    units = out.loc[scored, quota_by] if quota_by else None
    if quota_by and quota_by not in _UNIT_COLS:
        raise ContractError(f"quota_by must be one of {_UNIT_COLS}, got {quota_by!r}")
    inb = budget_mask(rank.reindex(out.index[scored]), units, budget) if n_scored else pd.Series(dtype="boolean")
    out["in_budget"] = inb.reindex(out.index).fillna(False).astype("boolean")

    tier = pd.Series(np.nan, index=out.index, dtype="str")
    ps = proba[scored]
    low = pd.Series("低", index=ps.index, dtype="str")
    mid = ps >= cut["中"]
    if budget is None:
        tier[scored] = low.mask(mid, "中").mask(ps >= cut["高"], "高")
    else:
        tier[scored] = low.mask(mid, "中").mask(out.loc[scored, "in_budget"].astype(bool), "高")
    out["risk_tier"] = tier

    # labour
    n_lab = cur_by_id["n_labor"].reindex(out.index) if "n_labor" in cur_by_id.columns else pd.Series(pd.NA, index=out.index)
    out["has_labor"] = (n_lab.astype("Float64") > 0).astype("boolean")

    # reasons
    for c in ("main_risk_type", "top_factors", "risk_type_contributions", "suggested_measures"):
        out[c] = pd.Series(np.nan, index=out.index, dtype="str")
    mode = reasons or ("all" if n_scored <= REASONS_ALL_MAX else "budget")
    if mode not in ("all", "budget", "none"):
        raise ContractError(f"reasons must be 'all', 'budget' or 'none', got {reasons!r}")
    if n_scored and mode != "none" and X is not None:
        want = scored.copy()
        if mode == "budget":
            want &= out["in_budget"].fillna(False).astype(bool) if budget is not None else out["risk_tier"].eq("高")
        want_ids = out.index[want]
        if len(want_ids):
            id_to_row = pd.Series(rows, index=history.loc[rows, "household_id"].to_numpy())
            sel = pd.Index(id_to_row[want_ids].to_numpy())
            base, contrib = ex.contributions(model, history.loc[sel], X.loc[sel])
            contrib.index = want_ids
            Xs = X.loc[sel].set_axis(want_ids, axis=0)
            grouped = ex.group_by_risk_type(contrib, X=Xs)
            if attribute_shocks:
                grouped = ex.attribute_to_shocks(grouped, cur_by_id.loc[want_ids])
            main, types = ex.main_risk_types(grouped)
            out.loc[want_ids, "main_risk_type"] = main
            out.loc[want_ids, "top_factors"] = ex.top_factor_words(contrib, Xs)
            out.loc[want_ids, "risk_type_contributions"] = ex.format_risk_type_contributions(grouped)
            mm = ex.load_measures_map(measures)
            # a failing guarantee (三保障 and drinking water) must be fixed whatever the main risk is
            failing = ex.failing_guarantee_types(Xs)
            types = pd.Series([t + [g for g in f if g not in t] for t, f in zip(types, failing)], index=types.index, dtype=object)
            out.loc[want_ids, "suggested_measures"] = ex.suggest_measures(types, out.loc[want_ids, "has_labor"], mm)

    out["status"] = status
    out["status_reason"] = reason

    # order: ranked, then unscored by id
    out["_unscored"] = ~scored
    out = out.reset_index(drop=True)
    out = out.sort_values(["_unscored", "priority_rank", "household_id"], kind="mergesort").drop(columns="_unscored")
    out = out.reset_index(drop=True)
    out = out[list(SCORE_COLUMNS) + (["_raw_score"] if _with_raw else [])]
    for c, dt in SCORE_COLUMNS.items():
        if dt == "str":
            out[c] = out[c].astype("str").where(out[c].notna(), np.nan) if out[c].dtype != "str" else out[c]
        else:
            out[c] = out[c].astype(dt)
    out.attrs.update({
        "year": y, "budget": budget, "quota_by": quota_by, "n_scored": n_scored, "n_households": len(out),
        "tier_cutoffs": cut, "reasons": mode,
        "model": dict(getattr(model, "metadata", {}) or {}) if isinstance(getattr(model, "metadata", None), dict) else {},
    })
    return to_headers(out, headers)


def _predict_raw(model: Any, panel: pd.DataFrame):
    for name in ("predict_raw", "decision_function"):
        fn = getattr(model, name, None)
        if callable(fn):
            return fn(panel)
    raise ModelError("the model has neither predict_raw nor decision_function")


def to_headers(scored: pd.DataFrame, headers: Literal["en", "zh"] = "zh") -> pd.DataFrame:
    """Switch a scored frame between English and Chinese headers (status values follow)."""
    if headers not in ("en", "zh"):
        raise ContractError(f"headers must be 'en' or 'zh', got {headers!r}")
    zh_to_en = {v: k for k, v in SCORE_COLUMNS_ZH.items()}
    is_zh = "户编号" in scored.columns
    if headers == "zh" and not is_zh:
        out = scored.rename(columns=SCORE_COLUMNS_ZH)
        out["评分状态"] = out["评分状态"].map(lambda s: STATUS_ZH.get(s, s)).astype("str")
        return out
    if headers == "en" and is_zh:
        out = scored.rename(columns=zh_to_en)
        back = {v: k for k, v in STATUS_ZH.items()}
        out["status"] = out["status"].map(lambda s: back.get(s, s)).astype("str")
        return out
    return scored
