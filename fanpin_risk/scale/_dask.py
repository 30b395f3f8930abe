"""Scoring and training past one machine, with Dask.

:func:`fanpin_risk.score` and :func:`fanpin_risk.train` hand a Dask DataFrame to
:func:`score_dask` / :func:`train_dask` (or call them directly with a
``client=``; without one the current ``distributed`` client, or Dask's default
scheduler, is used).

Scoring
    The records are shuffled so that **every record of a household lands in one
    partition** (its history is needed for the features), each partition is
    scored with the in-memory :func:`fanpin_risk.scoring.score` (no reasons), the
    small per-household result is collected, and ranks, the budget, quotas and
    tiers are recomputed globally with the same rules. Reasons are then computed
    in a second pass, only for the households that need them. The result equals
    the in-memory path on the same data (same scores, ranks, flags and texts).
Training
    Labels and features are computed per partition (same shuffle), category
    levels are gathered globally first, and the trees are fitted with
    ``lightgbm.DaskLGBMClassifier``. See :func:`train_dask` for what "equal" to
    the in-memory model means.

The shuffle key defaults to ``household_id``, not ``county_code``: a household
whose county code changed between years (易地扶贫搬迁 relocation, boundary
changes) would otherwise have its history split over two partitions. Pass
``partition_on="county_code"`` to keep counties together when codes are stable;
the result is the same either way when no household changes county.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk._version import __version__
from fanpin_risk.errors import ContractError, ModelError
from fanpin_risk.models import SCHEMA_VERSION, RiskModel, booster_calibrator, fit_platt, lgb_params, resolve_model
from fanpin_risk.explain import exposure_counts, wages_per_worker
from fanpin_risk.panel import (CATEGORICAL, PanelFeatures, as_panel, line_counts, line_schedule, make_labels,
                               next_year_lines)
from fanpin_risk.scoring import (
    NOT_EXPLAINED,
    REASONS_ALL_MAX,
    SCORE_COLUMNS,
    TIER_CUTOFFS,
    TIERS,
    assign_tiers,
    in_budget_ranked,
    rank_order,
    score,
    to_headers,
)


def is_dask(obj: Any) -> bool:
    """True for a Dask DataFrame (without importing Dask when it is not loaded)."""
    if "dask" not in sys.modules:
        return False
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, dd.DataFrame)


def _client(client=None):
    if client is not None:
        return client
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):  # no running client: Dask's local scheduler
        return None


def _compute(client, *objs):
    if client is not None:
        futs = client.compute(list(objs))
        return client.gather(futs)
    import dask

    return list(dask.compute(*objs))


def _canonical_names(ddf):
    """Rename Chinese (or otherwise mapped) headers to the contract's field names, lazily."""
    hm = contract.header_map()
    dtypes = contract.canonical_dtypes()
    ren = {c: hm[contract.normalize_header(c)] for c in ddf.columns
           if c not in dtypes and contract.normalize_header(c) in hm}
    return ddf.rename(columns=ren) if ren else ddf


def _by_household(ddf, partition_on: str, client):
    if partition_on not in ddf.columns:
        raise ContractError(f"partition_on={partition_on!r} is not a column of the records")
    parts = ddf.shuffle(on=partition_on)
    return client.persist(parts) if client is not None else parts.persist()


# --------------------------------------------------------------------------- scoring
def _score_meta(with_raw: bool) -> pd.DataFrame:
    cols = {c: pd.Series(dtype=dt) for c, dt in SCORE_COLUMNS.items()}
    if with_raw:
        cols["_raw_score"] = pd.Series(dtype="float64")
    return pd.DataFrame(cols)


def _needs_context(feats) -> bool:
    return isinstance(feats, PanelFeatures) and bool(feats.history_block)


def _totals_partition(pdf: pd.DataFrame, lines, feats=None) -> pd.DataFrame:
    """The partition's sums and counts of the context quantities (households are whole here)."""
    feats = feats if feats is not None else PanelFeatures()
    if len(pdf) == 0:
        return feats.context_totals(pd.DataFrame({"household_id": pd.Series(dtype="str"), "year": pd.Series(dtype="float64")}))
    df = as_panel(pdf.reset_index(drop=True), lines=lines, unusable="keep")
    return feats.context_totals(df).astype({"level": "str", "code": "str", "year": "float64"})


class _Totals:
    """The context totals as an opaque argument: map_partitions would split a bare DataFrame over the partitions."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame


def context_totals_dask(parts, client, lines=None, feats=None) -> pd.DataFrame | None:
    """Village and county context totals of the whole Dask panel, summed over partitions (a small table).

    The in-memory features take each household's context from the other records
    of its village and county in the same year; a partition holds only some of
    them, so the partitions read these totals instead
    (:meth:`fanpin_risk.panel.PanelFeatures.context`).
    """
    meta = _totals_partition(parts._meta, lines, feats)
    t = _compute(client, parts.map_partitions(_totals_partition, lines, feats, meta=meta))[0]
    if not len(t):
        return t
    return t.groupby(["level", "code", "year"], sort=True, as_index=False).sum()


def _with_context(pdf: pd.DataFrame, totals, lines, feats=None) -> pd.DataFrame:
    """The partition's records with the whole panel's context columns attached."""
    if totals is None or len(pdf) == 0:
        return pdf
    feats = feats if feats is not None else PanelFeatures()
    df = as_panel(pdf, lines=lines, unusable="keep")
    ctx = feats.context(df, totals.frame)
    # the canonical frame: reading a non-canonical one again would set the extra columns aside
    return df.assign(**{c: ctx[c].to_numpy() for c in ctx.columns})


def _score_partition(pdf: pd.DataFrame, model, y: int, kw: dict, totals=None) -> pd.DataFrame:
    if len(pdf) == 0:
        return _score_meta(True)
    pdf = _with_context(pdf.reset_index(drop=True), totals, kw.get("lines"), getattr(model, "features_", None))
    yrs = pd.to_numeric(pdf["year"], errors="coerce")
    if not (yrs == y).any():  # no household here has a record in the scored year
        panel = as_panel(pdf, lines=kw.get("lines"), unusable="keep")
        lo, hi = contract.field_bounds("year")
        usable = panel["year"].between(lo, hi) & panel["household_id"].notna()
        hh = panel[usable].sort_values(["household_id", "year"]).drop_duplicates("household_id", keep="last")
        out = _score_meta(True).reindex(range(len(hh)))
        out["household_id"] = hh["household_id"].astype("str").to_numpy()
        for c in ("county_code", "township_code", "village_code"):
            if c in hh.columns:
                out[c] = hh[c].astype("str").to_numpy()
        out["year"] = y
        out["in_budget"] = False
        out["status"] = "not_in_year"
        out["status_reason"] = [f"{y}年无记录 (no record in {y}; latest record {int(v)})" for v in hh["year"]]
        return out.astype(_score_meta(True).dtypes.to_dict())
    if isinstance(kw.get("exposure_counts"), _Totals):
        kw = {**kw, "exposure_counts": kw["exposure_counts"].frame}
    return score(pdf, model, year=y, keep_raw=True, **kw)


def score_dask(
    records,
    model: Any = None,
    *,
    client=None,
    year: int | None = None,
    budget: int | float | None = None,
    quota_by: str | None = None,
    reasons: str | None = None,
    lines=None,
    headers: str = "en",
    measures=None,
    tier_cutoffs: dict[str, float] | None = None,
    attribute_shocks: bool = True,
    partition_on: str = "household_id",
) -> pd.DataFrame:
    """Score a Dask DataFrame of household-year records; same output as :func:`fanpin_risk.score`.

    Parameters
    ----------
    records : dask.dataframe.DataFrame
        Household-year records in the contract (any partitioning; history included).
    model, year, budget, quota_by, reasons, lines, headers, measures, tier_cutoffs, attribute_shocks
        As in :func:`fanpin_risk.scoring.score`.
    client : distributed.Client, optional
        Cluster to run on; default the current client, else Dask's local scheduler.
    partition_on : str, default "household_id"
        Shuffle key that keeps each household's records together (see the module notes).

    Returns
    -------
    pandas.DataFrame
        The ranked list (one row per household), collected on the caller; it is
        small (≈ 1 KB per household with reasons for the budgeted rows only).
    """
    model = resolve_model(model, lines=lines)
    client = _client(client)
    cut = dict(TIER_CUTOFFS if tier_cutoffs is None else tier_cutoffs)
    if reasons not in (None, "all", "budget", "none"):
        raise ContractError(f"reasons must be 'all', 'budget' or 'none', got {reasons!r}")
    if quota_by and quota_by not in ("county_code", "township_code", "village_code"):
        raise ContractError(f"quota_by must be county_code, township_code or village_code, got {quota_by!r}")
    ddf = _canonical_names(records)
    for c in ("household_id", "year"):
        if c not in ddf.columns:
            raise ContractError(f"the records lack column {c!r}")
    years = ddf["year"].astype("float64")
    lo, hi = contract.field_bounds("year")
    if year is None:  # a typo such as 20220 must not become the scored year
        y = _compute(client, years.where((years >= lo) & (years <= hi)).max())[0]
        if y is None or pd.isna(y):
            raise ContractError("no household records to score")
        y = int(y)
    else:
        y = int(year)
        if not _compute(client, (years == y).any())[0]:
            raise ContractError(f"no record for year {y} in the records")
    parts = _by_household(ddf, partition_on, client)
    mfeats = getattr(model, "features_", None)
    totals = _Totals(context_totals_dask(parts, client, lines, mfeats)) if _needs_context(mfeats) else None
    kw = {"reasons": "none", "lines": lines, "tier_cutoffs": cut, "attribute_shocks": attribute_shocks}
    res = _compute(client, parts.map_partitions(_score_partition, model, y, kw, totals, meta=_score_meta(True)))[0]
    res = res.reset_index(drop=True)
    if res["household_id"].duplicated().any():
        raise ContractError(f"a household's records were split over partitions by partition_on={partition_on!r} "
                            "(its code changed between years); use partition_on='household_id'")

    # global ranking, budget and tiers: the same rules as the in-memory score()
    res = res.set_index(res["household_id"].to_numpy())
    scored = res["status"].eq("scored")
    n_scored = int(scored.sum())
    _rank_budget_tiers(res, scored.to_numpy(), budget, quota_by, cut)

    # reasons: a second pass over only the households that get them
    mode = reasons or ("all" if n_scored <= REASONS_ALL_MAX else "budget")
    if n_scored and mode != "none":
        want = scored.copy()
        if mode == "budget":
            want &= res["in_budget"].fillna(False).astype(bool) if budget is not None else res["risk_tier"].eq("高")
        ids = set(res.index[want])
        if ids:
            listed = res.index[scored & (res["in_budget"].fillna(False).astype(bool) if budget is not None
                                         else res["risk_tier"].eq("高"))]
            wages = _compute(client, parts.map_partitions(_wages_partition, y, meta=pd.DataFrame({"w": pd.Series(dtype="float64")})))[0]
            counts = _compute(client, parts.map_partitions(_exposure_partition, meta=_EXPOSURE_META))[0]
            rkw = dict(kw, reasons="all", measures=measures, listed=set(listed),
                       wage_per_worker=float(np.median(wages["w"])) if len(wages) else 0.0,
                       exposure_counts=_Totals(counts))
            sub = parts[parts["household_id"].astype("str").isin(list(ids))]
            rs = _compute(client, sub.map_partitions(_score_partition, model, y, rkw, totals, meta=_score_meta(True)))[0]
            rs = rs.set_index(rs["household_id"].to_numpy())
            for c in ("main_risk_type", "top_factors", "risk_type_contributions", "suggested_measures", "reason_note"):
                res.loc[rs.index, c] = rs[c]
        # the first pass had no reasons: its notes say so; the households left out of the second pass say why
        res.loc[scored.to_numpy() & ~res.index.isin(list(ids)), "reason_note"] = NOT_EXPLAINED.get(mode, NOT_EXPLAINED["none"])

    res["_unscored"] = ~scored
    res = res.reset_index(drop=True)
    res = res.sort_values(["_unscored", "priority_rank", "household_id"], kind="mergesort").reset_index(drop=True)
    out = res[list(SCORE_COLUMNS)].copy()
    for c, dt in SCORE_COLUMNS.items():
        out[c] = out[c].astype(dt)
    out.attrs.update({
        "year": y, "budget": budget, "quota_by": quota_by, "n_scored": n_scored, "n_households": len(out),
        "tier_cutoffs": cut, "reasons": mode, "model": dict(getattr(model, "metadata", {}) or {}),
        "next_lines": _next_lines_dask(parts, client, lines, mfeats, y),
        "backend": "dask", "n_partitions": int(parts.npartitions),
    })
    return to_headers(out, headers)


def _line_counts_partition(pdf: pd.DataFrame, lines) -> pd.DataFrame:
    """The partition's records per (province, year, line), as the in-memory scorer reads the lines."""
    return line_counts(as_panel(pdf.reset_index(drop=True), lines=lines, unusable="keep"))


def _next_lines_dask(parts, client, lines, feats, year: int) -> list[dict]:
    """score()'s ``attrs["next_lines"]`` from the line counts of every partition (the schedule of the whole panel)."""
    if not isinstance(feats, PanelFeatures) or not feats.line_ahead:
        return []
    meta = pd.DataFrame({"province": pd.Series(dtype="str"), "year": pd.Series(dtype="int64"),
                         "line": pd.Series(dtype="float64"), "n": pd.Series(dtype="int64")})
    lc = _compute(client, parts.map_partitions(_line_counts_partition, lines, meta=meta))[0]
    return next_year_lines(feats, schedule=_summed_schedule(lc), year=year).to_dict("records")


_EXPOSURE_META = pd.DataFrame({"risk_type": pd.Series(dtype="str"), "c": pd.Series(dtype="str"),
                               "y": pd.Series(dtype="float64"), "h": pd.Series(dtype="float64"),
                               "e": pd.Series(dtype="float64")})


def _exposure_partition(pdf: pd.DataFrame) -> pd.DataFrame:
    """The partition's shock counts per county and year (summed over partitions by the explainer)."""
    if "year" not in pdf.columns:  # Chinese headers: read as the scorer does
        pdf = as_panel(pdf)
    out = exposure_counts(pdf)
    return out.astype({"risk_type": "str", "c": "str", "y": "float64", "h": "float64", "e": "float64"}) if len(out) \
        else _EXPOSURE_META


def _wages_partition(pdf: pd.DataFrame, y: int) -> pd.DataFrame:
    """Wage per wage worker of the partition's records of year ``y`` (the in-memory scorer's median is over all)."""
    if "income_wage" not in pdf.columns or "year" not in pdf.columns:  # Chinese headers: read as the scorer does
        pdf = as_panel(pdf)
    yrs = pd.to_numeric(pdf["year"], errors="coerce")
    return pd.DataFrame({"w": wages_per_worker(pdf[(yrs == y).to_numpy()])})


# --------------------------------------------------------------------------- training
def _levels_partition(pdf: pd.DataFrame, label: str, horizon: int, lines) -> pd.DataFrame:
    empty = pd.DataFrame({"column": pd.Series(dtype="str"), "value": pd.Series(dtype="str")})
    if len(pdf) == 0:
        return empty
    df = as_panel(pdf.reset_index(drop=True), lines=lines)
    has = make_labels(df, label, horizon=horizon)["label"].notna().to_numpy()
    out = [pd.DataFrame({"column": c, "value": df.loc[has, c].dropna().astype("str").unique()})
           for c in CATEGORICAL if c in df.columns]
    # the line schedule of the labelled records, as counts that add up over partitions
    lc = line_counts(df[has])
    out.append(pd.DataFrame({"column": _LINES, "value": lc["province"] + "\x1f" + lc["year"].astype("str") + "\x1f"
                             + lc["line"].map(repr) + "\x1f" + lc["n"].astype("str")}))
    return pd.concat([empty, *out], ignore_index=True).astype("str")


_LINES = "__lines__"  # the "column" of the line-count rows of _levels_partition (no contract column is named so)


def _schedule(lv: pd.DataFrame) -> dict:
    """The line schedule of the whole panel from the line-count rows of every partition."""
    rows = lv.loc[lv["column"] == _LINES, "value"].str.split("\x1f", expand=True, regex=False)
    if not len(rows):
        return {}
    return _summed_schedule(pd.DataFrame({"province": rows[0], "year": rows[1].astype("int64"),
                                          "line": rows[2].astype("float64"), "n": rows[3].astype("int64")}))


def _summed_schedule(counts: pd.DataFrame) -> dict:
    """The line schedule of line counts gathered from every partition (a (province, year, line) may repeat)."""
    return line_schedule(None, counts.groupby(["province", "year", "line"], as_index=False)["n"].sum())


def _features_partition(pdf: pd.DataFrame, feats, label: str, horizon: int, lines, totals=None) -> pd.DataFrame:
    names = list(feats.get_feature_names_out())
    if len(pdf) == 0:
        return _xy_meta(names)
    df = as_panel(pdf.reset_index(drop=True), lines=lines)
    if totals is not None:
        df = df.join(feats.context(df, totals.frame))
    lab = make_labels(df, label, horizon=horizon)["label"]
    has = lab.notna().to_numpy()
    X = feats.transform(df)[has].reset_index(drop=True)
    X["__y"] = lab[has].astype("int64").to_numpy()
    X["__year"] = df.loc[has, "year"].astype("int64").to_numpy()
    return X


def _xy_meta(names) -> pd.DataFrame:
    m = pd.DataFrame({c: pd.Series(dtype="float64") for c in names})
    m["__y"] = pd.Series(dtype="int64")
    m["__year"] = pd.Series(dtype="int64")
    return m


def _raw_partition(pdf: pd.DataFrame, booster, names, num_iteration: int | None = None) -> pd.DataFrame:
    raw = (booster.predict(pdf[names].to_numpy(dtype=np.float64), raw_score=True, num_iteration=num_iteration)
           if len(pdf) else np.empty(0))
    return pd.DataFrame({"raw": raw, "y": pdf["__y"].to_numpy()})


def leaf_values(booster) -> np.ndarray:
    """Output of every leaf: ``(trees, max leaves)``, NaN past a tree's last leaf.

    The raw score of a row is the sum over trees of its leaf's output (LightGBM
    puts the initial score into the first tree's leaves).
    """
    info = booster.dump_model()["tree_info"]
    out = np.full((len(info), max((t["num_leaves"] for t in info), default=1)), np.nan)
    for i, t in enumerate(info):
        for j in range(t["num_leaves"]):
            out[i, j] = booster.get_leaf_output(i, j)
    return out


def loss_path_partition(pdf: pd.DataFrame, booster, names, leaves: np.ndarray, rows: int = 8192) -> pd.DataFrame:
    """Summed log-loss of the partition's rows after each number of trees (one row per partition)."""
    T = leaves.shape[0]
    total = np.zeros(T)
    X = pdf[names].to_numpy(dtype=np.float64)
    sign = 2.0 * pdf["__y"].to_numpy(dtype=np.float64) - 1.0
    for i in range(0, len(pdf), rows):  # (rows × trees) at a time
        L = np.asarray(booster.predict(X[i:i + rows], pred_leaf=True), dtype=np.int64).reshape(-1, T)
        cum = np.cumsum(leaves[np.arange(T), L], axis=1)
        total += np.logaddexp(0.0, -sign[i:i + rows, None] * cum).sum(axis=0)
    return pd.DataFrame([np.r_[total, len(pdf)]], columns=[f"t{k}" for k in range(T)] + ["n"])


def early_stop(loss: np.ndarray, patience: int) -> int:
    """Trees LightGBM's early stopping would keep, given the validation loss after each tree.

    As ``lightgbm.early_stopping``: the best so far is kept, and growing stops once
    ``patience`` trees in a row have not improved on it.
    """
    best, best_k = np.inf, 0
    for k, v in enumerate(loss):
        if v < best:
            best, best_k = v, k
        elif k - best_k >= patience:
            break
    return best_k + 1


# Long on purpose (one of the three allowed): its body is mostly the docstring and
# the early-stopping sequence on the cluster (grow, read the held-out loss per tree,
# refit), which reads best in one place next to lightgbm.early_stopping's rule.
def train_dask(
    records,
    model: str = "lightgbm",
    label: str = "relapse",
    *,
    client=None,
    seed: int = 0,
    params: dict | None = None,
    horizon: int = 1,
    lines=None,
    feature_params: dict | None = None,
    partition_on: str = "household_id",
):
    """Train a LightGBM :class:`~fanpin_risk.models.RiskModel` on a Dask DataFrame.

    Labels and history features are computed per partition (each household's
    records in one partition); the trees are fitted with
    ``lightgbm.DaskLGBMClassifier`` across the cluster's workers.

    Differences from the in-memory :func:`fanpin_risk.train`, stated plainly:

    * LightGBM's Dask interface has no early stopping (LightGBM issue #4493), so
      the number of trees is chosen after the fact, by the same rule: trees are
      grown to the cap (``params["n_estimators"]``, default 300) on the years
      before the last, the last year's log-loss is read after every tree, and
      the count where ``lightgbm.early_stopping`` (patience
      ``params["early_stopping"]``) would have stopped is kept
      (:func:`early_stop`). The final trees are grown to that count on all years.
    * Platt calibration is fitted, as in memory, on the out-of-time margins of the
      last training year from trees grown on the earlier years; the final trees
      are then grown on all labelled years.
    * "Equal" to the in-memory model means: on one worker with the same data,
      seed and number of trees the trees are built by the same algorithm (data
      parallel with one machine), but LightGBM's Dask path bins the data per
      worker, so predictions agree closely, not bit for bit; with two or more
      workers each worker bins its own part, so compare predictions within a
      tolerance or the out-of-time AUC within a small margin (the test checks
      the out-of-time AUC within 0.05 of the in-memory model's on a small panel;
      per-household probabilities can differ more, since the trees and so the
      chosen tree count differ).

    Parameters
    ----------
    records : dask.dataframe.DataFrame
    model : {"lightgbm"}
        Only LightGBM has a distributed fit; the scorecard and rule model train
        on a sample in memory in seconds.
    label, horizon, lines, feature_params, seed, params
        As in :func:`fanpin_risk.train`.
    client : distributed.Client, optional
        Required by LightGBM's Dask interface (default: the current client).
    partition_on : str, default "household_id"

    Returns
    -------
    RiskModel
    """
    import lightgbm as lgb

    if model != "lightgbm":
        raise ModelError(f"train_dask fits LightGBM only, not {model!r}; train {model!r} in memory on a sample")
    client = _client(client)
    if client is None:
        raise ModelError("train_dask needs a distributed Client (lightgbm.DaskLGBMClassifier): "
                         "start one with distributed.Client() or pass client=")
    ddf = _canonical_names(records)
    parts = _by_household(ddf, partition_on, client)

    lv = _compute(client, parts.map_partitions(_levels_partition, label, horizon, lines,
                                               meta={"column": "str", "value": "str"}))[0]
    levels = {c: set(lv.loc[lv["column"] == c, "value"]) for c in CATEGORICAL}
    feats = PanelFeatures.from_levels(levels, ddf.columns, lines=_schedule(lv), **(feature_params or {}))
    names = list(feats.get_feature_names_out())

    totals = _Totals(context_totals_dask(parts, client, lines, feats)) if _needs_context(feats) else None
    xy = parts.map_partitions(_features_partition, feats, label, horizon, lines, totals, meta=_xy_meta(names))
    xy = client.persist(xy)
    years = sorted(int(v) for v in _compute(client, xy["__year"].unique())[0])
    if not years:
        raise ModelError("no labelled rows: every household-year lacks a record in the following year")

    # the in-memory parameters, monotone constraints included
    lp, opt = lgb_params(names, params, seed)
    calib, max_trees, patience = opt["calibration"], opt["max_trees"], opt["early_stopping"]
    lp.pop("objective", None)
    lp.pop("verbose", None)

    def fit(frame, n_trees):
        clf = lgb.DaskLGBMClassifier(client=client, n_estimators=n_trees, objective="binary", verbose=-1, **lp)
        return clf.fit(frame[names], frame["__y"]).to_local().booster_

    if calib not in ("platt", "none"):
        raise ModelError(f"train_dask supports calibration='platt' or 'none', not {calib!r}")
    n_trees = max_trees
    if len(years) >= 2:
        # LightGBM's Dask interface cannot early-stop; grow to the cap on the earlier
        # years, then read the held-out year's loss after every tree (leaf outputs
        # summed per partition) and keep as many trees as early stopping would
        b0 = fit(xy[xy["__year"] < years[-1]], max_trees)
        valid = xy[xy["__year"] == years[-1]]
        leaves = leaf_values(b0)
        T = leaves.shape[0]
        path = _compute(client, valid.map_partitions(
            loss_path_partition, b0, names, leaves,
            meta={**{f"t{k}": "float64" for k in range(T)}, "n": "float64"}))[0].sum()
        n_trees = early_stop(path[[f"t{k}" for k in range(T)]].to_numpy() / max(path["n"], 1.0), patience)
        if calib == "platt":
            va = _compute(client, valid.map_partitions(
                _raw_partition, b0, names, n_trees, meta={"raw": "float64", "y": "int64"}))[0]
            cal, n_valid = fit_platt(va["raw"].to_numpy(), va["y"].to_numpy()), len(va)
        else:
            cal, n_valid = None, int(_compute(client, valid["__y"].count())[0])
        fold = f"year {years[-1]}"
    else:
        b0, cal, fold, n_valid = None, None, "none (one training year)", 0
    booster = fit(xy, n_trees)
    if calib == "none":  # the booster's own probabilities, as in memory
        cal = booster_calibrator()
    elif cal is None:
        va = _compute(client, xy.map_partitions(_raw_partition, booster, names, meta={"raw": "float64", "y": "int64"}))[0]
        cal = fit_platt(va["raw"].to_numpy(), va["y"].to_numpy())
    n_rows, pos = _compute(client, xy["__y"].count(), xy["__y"].sum())
    state = {"calibrator": cal, "best_iteration": n_trees, "params": {**lp, "objective": "binary"},
             "validation_fold": fold, "valid_rows": int(n_valid)}
    meta = {
        "model": "lightgbm", "label": {"definition": label, "horizon": horizon},
        "train_years": years, "package_version": __version__, "schema_version": SCHEMA_VERSION,
        "seed": int(seed), "params": params or {}, "backend": "dask",
        "n_workers": len(client.scheduler_info().get("workers", {})),
        "estimator": {"best_iteration": n_trees, "validation_fold": fold, "calibrator": cal, "valid_rows": int(n_valid)},
        "metrics_in_sample": {}, "data_fingerprint": {"rows": int(n_rows), "backend": "dask"}, "feature_names": names, "training_categories": feats.levels_,
        "n_train_rows": int(n_rows), "positive_rate": float(pos) / max(int(n_rows), 1),
    }
    return RiskModel.from_lightgbm(booster, feats, state, meta)


def _rank_budget_tiers(res: pd.DataFrame, scored: np.ndarray, budget, quota_by: str | None, cut: dict) -> None:
    """Global ranks, budget and tiers of the collected partitions: the in-memory score()'s own step."""
    sc = np.flatnonzero(scored)
    ids = pd.Series(res.index.to_numpy(dtype=object), dtype="str")
    p, r = res["risk_score"].to_numpy(dtype="float64"), res["_raw_score"].to_numpy(dtype="float64")
    ranked = sc[rank_order(p[sc], r[sc], ids, sc)]
    rank = np.zeros(len(res), dtype=np.int64)
    rank[ranked] = np.arange(1, len(sc) + 1)
    res["priority_rank"] = pd.arrays.IntegerArray(rank, ~scored)
    units = res[quota_by].to_numpy(dtype=object)[ranked] if quota_by else None
    inb = np.zeros(len(res), dtype=bool)
    inb[ranked] = in_budget_ranked(units, len(sc), budget)
    res["in_budget"] = pd.array(inb, dtype="boolean")
    tier = np.full(len(res), None, dtype=object)
    tier[sc] = np.asarray(TIERS, dtype=object)[assign_tiers(p[sc], inb[sc], budget, cut)]
    res["risk_tier"] = pd.Series(tier, index=res.index, dtype="str")
