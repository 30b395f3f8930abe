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

import importlib
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import contract
from ._order import household_order
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


#: Columns :func:`_unscorable_reason` reads.
_REASON_COLS = ("household_size", "net_income_per_capita", "income_wage", "income_business", "income_transfer",
                "monitoring_line")


def _prepare(records: Any, model: Any, *, year: int | None = None, lines=None, current: bool = True) -> dict:
    """Canonical panel → households, history for features and the rows to score.

    ``current=False`` leaves out the scored year's full records (``"current"``),
    which score() does not need: selecting every column of a million rows costs
    a quarter of a second.
    """
    panel = _to_panel(records, lines=lines)
    if len(panel) == 0:
        raise ContractError("no household records to score")
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
    cur = history[in_year] if current else history.loc[in_year, [c for c in _REASON_COLS if c in history.columns]]
    reason = _unscorable_reason(cur)
    bad_idx = reason.index[reason.notna()]
    history_ok = history.drop(index=bad_idx) if len(bad_idx) else history
    scored_rows = cur.index.difference(bad_idx, sort=False)
    return {"panel": panel, "year": y, "history": history_ok, "current": cur if current else None, "scored_rows": scored_rows,
            "unscorable": reason[reason.notna()]}


# --------------------------------------------------------------------------- budgets
def budget_mask(order_rank: pd.Series, units: pd.Series | None, budget: int | float | None) -> pd.Series:
    """In-budget flag from ranks (1 = first), overall or per unit.

    ``budget`` ≥ 1 (an int) is a number of households; 0 < budget < 1 a share.
    With ``units``, each unit gets ``max(1, round(share × n_unit))`` households
    (a count budget is first turned into the share budget / n).
    """
    n = len(order_rank)
    o = np.argsort(order_rank.to_numpy(dtype="float64"), kind="stable")
    u = None if units is None else units.reindex(order_rank.index).to_numpy(dtype=object)[o]
    flags = np.zeros(n, dtype=bool)
    flags[o] = _in_budget_ranked(u, n, budget)
    return pd.Series(flags, index=order_rank.index, dtype="boolean")


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
    if quota_by and quota_by not in _UNIT_COLS:
        raise ContractError(f"quota_by must be one of {_UNIT_COLS}, got {quota_by!r}")
    prep = _prepare(records, model, year=year, lines=lines, current=False)
    panel, y, history, rows = prep["panel"], prep["year"], prep["history"], prep["scored_rows"]
    years = panel["year"].to_numpy(dtype="int64")
    gid, last_pos, g_cur = _households(panel, years, y)
    nh = len(last_pos)

    # status: 0 scored, 1 unscorable, 2 not in the year
    status = np.full(nh, 2, dtype=np.int8)
    reason = np.full(nh, np.nan, dtype=object)
    absent = np.flatnonzero(g_cur < 0)
    reason[absent] = [f"{y}年无记录 (no record in {y}; latest record {int(v)})" for v in years[last_pos[absent]]]
    bad = prep["unscorable"]
    g_bad = gid[bad.index.to_numpy(dtype=np.int64)]
    status[g_bad] = 1
    reason[g_bad] = bad.to_numpy(dtype=object)

    proba = np.full(nh, np.nan)
    raw = np.full(nh, np.nan)
    rows = np.asarray(rows, dtype=np.int64)
    g_rows = gid[rows]
    blocks = _FeatureBlocks(model, history) if len(rows) else None
    if len(rows):
        r = np.empty(len(rows))
        p = np.empty(len(rows))
        if callable(getattr(model, "proba_from_raw", None)) or callable(getattr(model, "proba_from_features", None)):
            for sl, Xb in blocks(rows):
                r[sl] = np.asarray(ex._raw_from_features(model, Xb), dtype="float64")
                if callable(getattr(model, "proba_from_raw", None)):  # the trees are walked once
                    p[sl] = np.asarray(model.proba_from_raw(r[sl]), dtype="float64")
                else:
                    p[sl] = np.asarray(model.proba_from_features(Xb), dtype="float64")
        else:
            pos = history.index.get_indexer(rows)
            p = np.asarray(model.predict_proba(history), dtype="float64")[pos]
            r = np.asarray(_predict_raw(model, history), dtype="float64")[pos]
        finite = np.isfinite(p) & np.isfinite(r)
        gf = g_rows[finite]
        proba[gf], raw[gf] = p[finite], r[finite]
        status[gf] = 0
        reason[gf] = np.nan
        status[g_rows[~finite]] = 1
        reason[g_rows[~finite]] = "模型输出无效 (model returned a non-finite score)"
    ids = panel["household_id"].take(last_pos).reset_index(drop=True)

    # deterministic ranking: probability, then raw score, then household_id
    sc = np.flatnonzero(status == 0)
    n_scored = len(sc)
    ranked = sc[_rank_order(proba[sc], raw[sc], ids, sc)]
    rank = np.zeros(nh, dtype=np.int64)
    rank[ranked] = np.arange(1, n_scored + 1)

    # places: the scored-year record's, else the latest record's
    unit_src = {}
    for c in _UNIT_COLS:
        if c in panel.columns:
            known = panel[c].notna().to_numpy()
            has = g_cur >= 0
            has[has] = known[g_cur[has]]
            unit_src[c] = np.where(has, g_cur, last_pos)
    in_budget = np.zeros(nh, dtype=bool)
    if n_scored:
        units = None
        if quota_by:
            units = (panel[quota_by].take(unit_src[quota_by][ranked]).to_numpy(dtype=object) if quota_by in unit_src
                     else np.full(n_scored, np.nan, dtype=object))
        in_budget[ranked] = _in_budget_ranked(units, n_scored, budget)

    tier = np.full(nh, -1, dtype=np.int64)  # index into TIERS; −1 without a score
    ps = proba[sc]
    t = np.where(ps >= cut["中"], 1, 2)
    t[(ps >= cut["高"]) if budget is None else in_budget[sc]] = 0
    tier[sc] = t

    # labour of the scored-year record (unknown when missing or no record)
    nl = np.full(nh, np.nan)
    if "n_labor" in panel.columns:
        has = g_cur >= 0
        nl[has] = panel["n_labor"].to_numpy(dtype="float64", na_value=np.nan)[g_cur[has]]
    has_labor = pd.arrays.BooleanArray(np.nan_to_num(nl) > 0, np.isnan(nl))

    # reasons, block by block: contributions and text for a few thousand households at a time
    mode = reasons or ("all" if n_scored <= REASONS_ALL_MAX else "budget")
    if mode not in ("all", "budget", "none"):
        raise ContractError(f"reasons must be 'all', 'budget' or 'none', got {reasons!r}")
    want = sc[:0]
    if n_scored and mode != "none":
        want = sc
        if mode == "budget":
            want = sc[in_budget[sc]] if budget is not None else sc[tier[sc] == 0]
    text = {c: np.full(len(want), np.nan, dtype=object) for c in _TEXT_COLS}
    if len(want):
        x_of_g = np.full(nh, -1, dtype=np.int64)
        x_of_g[g_rows] = np.arange(len(rows))
        shocks = panel[[c for c in ex.SHOCK_TYPES if c in panel.columns]].take(g_cur[want]).reset_index(drop=True)
        _reason_texts(model, blocks, rows[x_of_g[want]], shocks, has_labor[want], text,
                      measures=measures, attribute_shocks=attribute_shocks)

    # order: ranked, then the households without a score by id
    rest = np.flatnonzero(status != 0)
    if len(rest):
        rest = rest[np.argsort(ids.take(rest).to_numpy(dtype=object), kind="stable")]
    final = np.concatenate([ranked, rest])
    scored_f = status[final] == 0
    slot = np.full(nh, -1, dtype=np.int64)
    slot[want] = np.arange(len(want))
    slot_f = slot[final]
    has_reason = np.flatnonzero(pd.notna(reason))
    reason_slot = np.full(nh, -1, dtype=np.int64)
    reason_slot[has_reason] = np.arange(len(has_reason))
    cols = {
        "household_id": ids.array.take(final),
        "year": pd.array(np.full(nh, y), dtype="Int64"),
        **{c: _take_text(panel[c], unit_src[c][final]) if c in unit_src else _sparse_text(np.full(nh, -1), [])
           for c in _UNIT_COLS},
        "priority_rank": pd.arrays.IntegerArray(rank[final], ~scored_f),
        "risk_score": proba[final],
        "risk_tier": _labels(tier[final], TIERS),
        "in_budget": pd.array(in_budget[final], dtype="boolean"),
        **{c: _sparse_text(slot_f, v) for c, v in text.items()},
        "has_labor": has_labor[final],
        "status": _labels(status[final], ("scored", "unscorable", "not_in_year")),
        "status_reason": _sparse_text(reason_slot[final], reason[has_reason]),
    }
    if _with_raw:
        cols["_raw_score"] = raw[final]  # kept for fanpin_risk.distributed, which re-ranks partitions globally
    out = pd.DataFrame({c: pd.Series(v, dtype=SCORE_COLUMNS.get(c, "float64"), copy=False) for c, v in cols.items()})
    out.attrs.update({
        "year": y, "budget": budget, "quota_by": quota_by, "n_scored": n_scored, "n_households": len(out),
        "tier_cutoffs": cut, "reasons": mode,
        "model": dict(getattr(model, "metadata", {}) or {}) if isinstance(getattr(model, "metadata", None), dict) else {},
    })
    return to_headers(out, headers)


#: Rows per feature block: the block (rows × ~80 float64) stays small enough to be
#: reused by the allocator; fresh gigabyte arrays cost more in page faults than the
#: arithmetic on them (about 1.4 s per GB on the benchmark machine).
_BLOCK_ROWS = 32_768

#: Tier labels, highest first.
TIERS = ("高", "中", "低")


#: Reason columns, filled only for the households explained.
_TEXT_COLS = ("main_risk_type", "top_factors", "risk_type_contributions", "suggested_measures")


def _households(panel: pd.DataFrame, years: np.ndarray, y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positional household bookkeeping: household of each row, its latest row, its row in year ``y`` (−1: none).

    Households are numbered in the panel's grouping order. Looking them up by
    their string ids instead cost ten times the model's own prediction at a
    million households.
    """
    n = len(panel)
    order, new_group = household_order(panel["household_id"], years)
    srt = np.arange(n) if order is None else order
    starts = np.flatnonzero(new_group)
    gid = np.empty(n, dtype=np.int64)
    gid[srt] = np.cumsum(new_group) - 1
    last_pos = srt[np.r_[starts[1:], n] - 1]
    cur_pos = np.flatnonzero(years == y)
    g_cur = np.full(len(starts), -1, dtype=np.int64)
    g_cur[gid[cur_pos]] = cur_pos
    return gid, last_pos, g_cur


def _reason_texts(model: Any, blocks: "_FeatureBlocks", rows: np.ndarray, records: pd.DataFrame,
                  has_labor: pd.api.extensions.ExtensionArray, text: dict[str, np.ndarray], *,
                  measures=None, attribute_shocks: bool = True) -> None:
    """Fill ``text`` (arrays aligned with ``rows``) block by block: contributions, risk types, words, measures.

    ``records`` holds the scored-year shock columns of ``rows``, in the same order.
    """
    ex = importlib.import_module(".explain", __package__)
    mm = ex.load_measures_map(measures)
    shock_cols = [c for c in ex.SHOCK_TYPES if c in records.columns]
    for sl, Xs in blocks(rows):
        _, contrib = ex.contributions(model, None, Xs)
        grouped = ex.group_by_risk_type(contrib, X=Xs)
        if attribute_shocks:
            grouped = ex.attribute_to_shocks(grouped, records[shock_cols].iloc[sl].reset_index(drop=True))
        main, types = ex.main_risk_types(grouped)
        text["main_risk_type"][sl] = main.to_numpy(dtype=object)
        text["top_factors"][sl] = ex.top_factor_words(contrib, Xs).to_numpy(dtype=object)
        text["risk_type_contributions"][sl] = ex.format_risk_type_contributions(grouped).to_numpy(dtype=object)
        # a failing guarantee (三保障 and drinking water) must be fixed whatever the main risk is
        failing = ex.failing_guarantee_types(Xs)
        types = pd.Series([t + [g for g in f if g not in t] for t, f in zip(types, failing)], index=types.index, dtype=object)
        labour = pd.Series(has_labor[sl], index=types.index, dtype="boolean")
        text["suggested_measures"][sl] = ex.suggest_measures(types, labour, mm).to_numpy(dtype=object)


class _FeatureBlocks:
    """Feature matrices of rows of ``history``, a block of rows at a time.

    The household grouping and the encoded text columns are worked out once and
    serve both the scoring pass and the reasons pass. A model with
    :class:`~fanpin_risk.features.PanelFeatures` gets C-ordered blocks that the
    predictor reads without copying; any other model is transformed in one go.
    """

    def __init__(self, model: Any, history: pd.DataFrame):
        from .features import PanelFeatures

        self.model, self.history = model, history
        feats = getattr(model, "features_", None)
        self.fast = isinstance(feats, PanelFeatures) and (
            list(getattr(model, "feature_names_", [])) == list(feats.get_feature_names_out()))
        if not self.fast:
            return
        from .labels import _as_panel

        meta = getattr(model, "metadata", None)
        self.H = _as_panel(history, lines=meta.get("lines_arg") if isinstance(meta, dict) else None)
        feats._check_input(self.H)
        self.feats, self.names, self.plan = feats, list(feats.get_feature_names_out()), feats._plan(self.H)

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        index = self.H.index
        idx = index.to_numpy()
        pos = np.searchsorted(idx, rows) if index.is_monotonic_increasing else index.get_indexer(rows)
        if len(pos) and (pos.min() < 0 or pos.max() >= len(idx) or np.any(idx[pos] != rows)):
            raise ModelError("rows to score are not in the history frame")
        return pos

    def __call__(self, rows: np.ndarray, size: int | None = None):
        """Yield ``(slice into rows, DataFrame)`` blocks with a fresh RangeIndex."""
        if not self.fast:
            ex = importlib.import_module(".explain", __package__)
            if _accepts(getattr(self.model, "transform", None), "rows"):
                X = self.model.transform(self.history, rows=rows)
            else:
                X = ex._feature_frame(self.model, self.history).loc[rows]
            yield slice(0, len(rows)), X.reset_index(drop=True)
            return
        pos = self._positions(rows)
        size = int(size or _BLOCK_ROWS)
        for i in range(0, len(rows), size):
            block = self.feats._matrix(self.H, pos[i:i + size], self.plan, order="C")
            yield slice(i, i + size), pd.DataFrame(block, columns=self.names, copy=False)


def _labels(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray:
    """Codes (−1 = missing) → a ``str`` array through an Arrow dictionary (no Python string per row)."""
    import pyarrow as pa

    d = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0),
                                       pa.array(list(labels), pa.large_string()))
    return pd.array(d.cast(pa.large_string()), dtype="str")


def _take_text(s: pd.Series, pos: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``s`` at ``pos`` as a ``str`` array, through codes: a place column has few distinct
    values, and a random-order take of a long string column costs far more."""
    from .features import _encode

    codes, vocab = _encode(s)
    return _labels(codes[pos], sorted(vocab, key=vocab.get))


def _sparse_text(slots: np.ndarray, values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[slot]`` where slot ≥ 0, missing elsewhere, as a ``str`` array."""
    if len(values) == 0 or not (slots >= 0).any():
        import pyarrow as pa

        return pd.array(pa.nulls(len(slots), pa.large_string()), dtype="str")
    return pd.array(values, dtype="str").take(slots, allow_fill=True)


def _rank_order(p: np.ndarray, r: np.ndarray, ids: pd.Series, slots: np.ndarray) -> np.ndarray:
    """Order of rows by probability, then raw score (both descending), then household id.

    Exact ties of both scores are rare, so ids are compared only within tied runs.
    """
    o = np.lexsort((-r, -p))
    ps, rs = p[o], r[o]
    tie = np.r_[False, (ps[1:] == ps[:-1]) & (rs[1:] == rs[:-1])]
    if tie.any():
        member = np.flatnonzero(tie | np.r_[tie[1:], False])
        run = np.cumsum(~tie)[member]
        # the ids' own sort (code-point order, as Python compares str), then by run
        id_rank = np.empty(len(member), dtype=np.int64)
        id_rank[ids.take(slots[o[member]]).reset_index(drop=True).argsort(kind="stable").to_numpy()] = np.arange(len(member))
        o[member] = o[member[np.lexsort((id_rank, run))]]
    return o


def _in_budget_ranked(units: np.ndarray | None, n: int, budget: int | float | None) -> np.ndarray:
    """In-budget flags of rows already in rank order (see :func:`budget_mask`)."""
    if budget is None or n == 0:
        return np.zeros(n, dtype=bool)
    b = float(budget)
    if isinstance(budget, (bool, np.bool_)) or b <= 0 or (b >= 1 and b != int(b)):
        raise ContractError(f"budget must be a count ≥ 1 or a share in (0, 1), got {budget!r}")
    if units is None:
        k = int(b) if b >= 1 else max(1, math.ceil(b * n - 1e-9))
        return np.arange(1, n + 1) <= k
    share = b / n if b >= 1 else b
    u = pd.Series(units, dtype="str").fillna("(未知)")
    code = pd.factorize(u)[0]
    s = np.argsort(code, kind="stable")  # rank order kept within each unit
    cs = code[s]
    first = np.r_[True, cs[1:] != cs[:-1]]
    within = np.empty(n, dtype=np.int64)
    within[s] = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1
    size = np.bincount(code)
    k_u = np.maximum(1, np.floor(share * size + 0.5).astype(np.int64))
    return within <= k_u[code]


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
