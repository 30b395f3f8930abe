"""Evaluation metrics for a ranked list of households.

Top-k tie handling
------------------
Exactly ``k`` households are selected. Rows are ordered by score (descending);
ties in the score — in particular at the cut-off — are broken by a stable
secondary key, ``tie_key`` (ascending; the backtest passes ``household_id``), and
then by row position. So the selection never depends on how the input rows were
shuffled when a tie key is given, and precision@k always divides by k.
``k`` from a share is ``ceil(share × n)`` (at least 1).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn import metrics as skm


def _clean(y, p):
    y = np.asarray(pd.Series(y).astype("Float64").to_numpy(dtype="float64", na_value=np.nan))
    p = np.asarray(p, dtype="float64")
    m = ~np.isnan(y) & ~np.isnan(p)
    return y[m].astype(int), p[m], m


def roc_auc(y, p) -> float:
    """ROC AUC (NaN when only one class is present); rows with a missing label are dropped."""
    y, p, _ = _clean(y, p)
    return float(skm.roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def pr_auc(y, p) -> float:
    """Area under the precision-recall curve (average precision, as scikit-learn)."""
    y, p, _ = _clean(y, p)
    return float(skm.average_precision_score(y, p)) if y.sum() > 0 else float("nan")


def brier(y, p) -> float:
    """Brier score (mean squared error of probabilities)."""
    y, p, _ = _clean(y, p)
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def log_loss(y, p, eps: float = 1e-15) -> float:
    """Log loss with probabilities clipped to [eps, 1 − eps]."""
    y, p, _ = _clean(y, p)
    if not len(y):
        return float("nan")
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def calibration_curve(y, p, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Reliability table: per bin of predicted probability, mean prediction vs observed rate.

    Returns
    -------
    DataFrame with columns ``bin, n, mean_pred, frac_pos, lo, hi`` (bin edges).
    """
    y, p, _ = _clean(y, p)
    if not len(y):
        return pd.DataFrame(columns=["bin", "n", "mean_pred", "frac_pos", "lo", "hi"])
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    else:
        edges = np.linspace(0, 1, n_bins + 1)
    if len(edges) < 2:
        edges = np.array([p.min(), p.max() + 1e-12])
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for i in range(len(edges) - 1):
        m = b == i
        if m.any():
            rows.append({"bin": i, "n": int(m.sum()), "mean_pred": float(p[m].mean()), "frac_pos": float(y[m].mean()),
                         "lo": float(edges[i]), "hi": float(edges[i + 1])})
    return pd.DataFrame(rows)


def resolve_k(n: int, k: int | None = None, share: float | None = None) -> int:
    """Number of households selected: ``k`` itself, or ``ceil(share × n)``, capped to [1, n]."""
    if k is None and share is None:
        raise ValueError("give k or share")
    kk = int(k) if k is not None else int(math.ceil(float(share) * n - 1e-9))
    return max(1, min(n, kk)) if n else 0


def top_k_mask(score, k: int | None = None, share: float | None = None, tie_key=None) -> np.ndarray:
    """Boolean mask of the ``k`` highest scores (ties broken by ``tie_key`` ascending, then row order)."""
    s = np.asarray(score, dtype="float64")
    n = len(s)
    kk = resolve_k(n, k, share)
    s = np.where(np.isnan(s), -np.inf, s)
    keys = [np.arange(n)]  # np.lexsort: the last key is the primary one
    if tie_key is not None:
        keys.append(pd.Series(np.asarray(tie_key)).astype(str).to_numpy())
    order = np.lexsort((*keys, -s))
    mask = np.zeros(n, dtype=bool)
    mask[order[:kk]] = True
    return mask


def precision_recall_at_k(y, score, k: int | None = None, share: float | None = None, tie_key=None) -> dict:
    """Precision and recall of the top ``k`` (or top ``share``) rows.

    Rows with a missing label are dropped first. See the module docstring for ties.
    """
    yv = pd.Series(y).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    m = ~np.isnan(yv)
    sc = np.asarray(score, dtype="float64")[m]
    tk = None if tie_key is None else np.asarray(tie_key)[m]
    yv = yv[m].astype(int)
    if not len(yv):
        return {"k": 0, "precision": float("nan"), "recall": float("nan"), "tp": 0, "positives": 0}
    sel = top_k_mask(sc, k, share, tk)
    tp = int(yv[sel].sum())
    pos = int(yv.sum())
    return {"k": int(sel.sum()), "precision": tp / sel.sum(), "recall": tp / pos if pos else float("nan"), "tp": tp, "positives": pos}


def recall_at_k_within(y, score, group, share: float = 0.10, tie_key=None) -> pd.DataFrame:
    """Quota view: each group (county) visits its own top ``share`` of households.

    Returns one row per group (``group, n, positives, k, tp, recall, precision``)
    plus a row ``group='__all__'`` pooling the quota selections.
    """
    df = pd.DataFrame({"y": pd.Series(y).astype("Float64").to_numpy(dtype="float64", na_value=np.nan),
                       "s": np.asarray(score, dtype="float64"), "g": np.asarray(group, dtype=object),
                       "t": np.arange(len(score)) if tie_key is None else np.asarray(tie_key)})
    df = df[~df["y"].isna()]
    rows, tp_all, pos_all, k_all = [], 0, 0, 0
    for g, sub in df.groupby("g", sort=True, dropna=False):
        sel = top_k_mask(sub["s"].to_numpy(), share=share, tie_key=sub["t"].to_numpy())
        yy = sub["y"].to_numpy().astype(int)
        tp, pos = int(yy[sel].sum()), int(yy.sum())
        rows.append({"group": g, "n": len(sub), "positives": pos, "k": int(sel.sum()), "tp": tp,
                     "recall": tp / pos if pos else float("nan"), "precision": tp / sel.sum()})
        tp_all, pos_all, k_all = tp_all + tp, pos_all + pos, k_all + int(sel.sum())
    rows.append({"group": "__all__", "n": len(df), "positives": pos_all, "k": k_all, "tp": tp_all,
                 "recall": tp_all / pos_all if pos_all else float("nan"), "precision": tp_all / k_all if k_all else float("nan")})
    return pd.DataFrame(rows)


def equity_table(y, score, groups: Mapping[str, object], share: float = 0.10, tie_key=None) -> pd.DataFrame:
    """Aequitas-style group table for one global top-``share`` selection.

    For each attribute (e.g. county, monitoring category, has-elderly) and each
    of its values: ``n``, ``prevalence``, ``selection_rate``, ``recall`` (true
    positive rate) and ``false_omission_rate`` (share of positives among the
    households *not* selected), and their disparity — the ratio to the
    attribute's largest group (the reference, as in Aequitas).
    """
    yv = pd.Series(y).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    m = ~np.isnan(yv)
    sel = np.zeros(len(yv), dtype=bool)
    sel[m] = top_k_mask(np.asarray(score, dtype="float64")[m], share=share,
                        tie_key=None if tie_key is None else np.asarray(tie_key)[m])
    rows = []
    for attr, vals in groups.items():
        v = pd.Series(np.asarray(vals, dtype=object)).where(lambda s: s.notna(), "(missing)").astype(str).to_numpy()
        sub_rows = []
        for g in pd.unique(v[m]):
            gm = m & (v == g)
            yy = yv[gm].astype(int)
            ss = sel[gm]
            pos = yy.sum()
            not_sel = (~ss).sum()
            sub_rows.append({"attribute": attr, "group": g, "n": int(gm.sum()), "positives": int(pos),
                             "prevalence": pos / gm.sum(), "selection_rate": ss.mean(),
                             "recall": (yy[ss].sum() / pos) if pos else np.nan,
                             "false_omission_rate": (yy[~ss].sum() / not_sel) if not_sel else np.nan})
        sub = pd.DataFrame(sub_rows)
        ref = sub.loc[sub["n"].idxmax()]
        sub["reference_group"] = ref["group"]
        for c in ("recall", "false_omission_rate", "selection_rate"):
            sub[f"{c}_disparity"] = sub[c] / ref[c] if ref[c] and not np.isnan(ref[c]) else np.nan
        rows.append(sub.sort_values("group"))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def psi(expected, actual, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected``.

    Bins are quantiles of ``expected``; missing values form their own bin;
    empty bins get a floor of 1e-4 share. PSI > 0.25 is commonly read as a
    large shift, 0.1–0.25 moderate.
    """
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    if not len(e) or not len(a):
        return float("nan")
    fe = e[~np.isnan(e)]
    edges = np.unique(np.quantile(fe, np.linspace(0, 1, bins + 1))) if len(fe) else np.array([0.0])
    inner = edges[1:-1]

    def dist(x):
        nan = np.isnan(x)
        idx = np.searchsorted(inner, x[~nan], side="right")
        c = np.bincount(idx, minlength=len(inner) + 1).astype(float)
        c = np.append(c, nan.sum())
        return np.maximum(c / len(x), 1e-4)

    pe, pa = dist(e), dist(a)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi_table(frame: pd.DataFrame, year, columns=None, bins: int = 10) -> pd.DataFrame:
    """PSI of each column between consecutive years (``year_from → year_to``)."""
    year = np.asarray(year)
    ys = sorted(pd.unique(year))
    cols = list(frame.columns if columns is None else columns)
    rows = []
    for a, b in zip(ys[:-1], ys[1:]):
        fa, fb = frame[year == a], frame[year == b]
        for c in cols:
            rows.append({"feature": c, "year_from": int(a), "year_to": int(b), "psi": psi(fa[c], fb[c], bins)})
    return pd.DataFrame(rows, columns=["feature", "year_from", "year_to", "psi"])


def calibration_errors(y, p, n_bins: int = 10) -> dict:
    """Calibration-in-the-large (mean probability − outcome rate) and expected calibration error.

    The ECE weights each of ``n_bins`` quantile bins of the probability by its
    rows: Σ (n_b / n) · |mean probability_b − outcome rate_b|.

    Examples
    --------
    >>> e = calibration_errors([0, 0, 1, 1], [0.1, 0.1, 0.9, 0.9], n_bins=2)
    >>> round(e["calibration_in_the_large"], 6), round(e["ece"], 6)
    (0.0, 0.1)
    """
    yy, pp, _ = _clean(y, p)
    if len(yy) == 0:
        return {"mean_probability": float("nan"), "outcome_rate": float("nan"),
                "calibration_in_the_large": float("nan"), "ece": float("nan")}
    order = np.argsort(pp, kind="mergesort")
    bins = np.array_split(order, min(n_bins, len(pp)))
    ece = sum(len(b) * abs(pp[b].mean() - yy[b].mean()) for b in bins if len(b)) / len(pp)
    return {"mean_probability": float(pp.mean()), "outcome_rate": float(yy.mean()),
            "calibration_in_the_large": float(pp.mean() - yy.mean()), "ece": float(ece)}


def score_all(y, p, *, k: int | None = None, share: float = 0.10, tie_key=None) -> dict:
    """All headline metrics of one set of predictions."""
    out = {"n": int(pd.Series(y).notna().sum()), "positives": int(pd.Series(y).astype("Float64").fillna(0).sum()),
           "roc_auc": roc_auc(y, p), "pr_auc": pr_auc(y, p), "brier": brier(y, p), "log_loss": log_loss(y, p),
           **calibration_errors(y, p)}
    tag = f"{int(round(share * 100))}pct"
    r = precision_recall_at_k(y, p, share=share, tie_key=tie_key)
    out[f"precision_at_{tag}"], out[f"recall_at_{tag}"] = r["precision"], r["recall"]
    if k is not None:
        r = precision_recall_at_k(y, p, k=k, tie_key=tie_key)
        out[f"precision_at_{k}"], out[f"recall_at_{k}"] = r["precision"], r["recall"]
    return out


def bootstrap_ci(y, p, *, n_boot: int = 200, seed: int = 0, alpha: float = 0.05, share: float = 0.10,
                 k: int | None = None, tie_key=None, metrics: Mapping[str, Callable] | None = None) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals (rows resampled with replacement; seeded).

    Returns
    -------
    DataFrame with columns ``metric, estimate, lo, hi`` (``lo``/``hi`` the
    ``alpha/2`` and ``1 − alpha/2`` percentiles).
    """
    yv = pd.Series(y).astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    pv = np.asarray(p, dtype="float64")
    m = ~np.isnan(yv)
    yv, pv = yv[m], pv[m]
    tk = None if tie_key is None else np.asarray(tie_key)[m]
    est = score_all(yv, pv, k=k, share=share, tie_key=tk)
    names = [c for c in est if c not in ("n", "positives")]
    rng = np.random.default_rng(seed)
    n = len(yv)
    draws = {c: [] for c in names}
    for _ in range(n_boot if n else 0):
        idx = rng.integers(0, n, n)
        r = score_all(yv[idx], pv[idx], k=k, share=share, tie_key=None if tk is None else tk[idx])
        for c in names:
            draws[c].append(r[c])
    rows = []
    for c in names:
        d = np.asarray(draws[c], dtype=float)
        d = d[~np.isnan(d)]
        lo, hi = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if len(d) else (np.nan, np.nan))
        rows.append({"metric": c, "estimate": est[c], "lo": float(lo), "hi": float(hi)})
    return pd.DataFrame(rows)
