"""Risk models with one interface: "rule", "scorecard" and "lightgbm".

``train(panel, model=...)`` returns a :class:`RiskModel`; ``RiskModel.save(path)``
writes a directory of JSON (and LightGBM's text model) with a checksummed
manifest; :func:`load_model` reads it back and refuses tampered files or another
schema version. Nothing is pickled.

Models
------
rule
    The official identification rule as practised, as a points score: income
    below the line (3) or below 1.5 × the line (2), an open monitoring case (2),
    a failing guarantee (2), rigid spending over half of net income (1); a
    continuous tie-break from the income-to-line ratio. Mapped to a probability
    by Platt scaling on the training rows.
scorecard
    Logistic regression on clipped, median-imputed, standardised features
    (plus missing indicators); coefficients are per standard deviation.
lightgbm
    Gradient-boosted trees (≤ 300 trees; size and feature block chosen by
    :func:`audition` unless ``params=`` is given, 7 leaves by default), early
    stopping on the last training year (out of time); the booster is refitted on
    all training years with the early-stopped number of trees and its own
    probabilities are shipped (``calibration="none"``; "platt" or "isotonic" fit
    a calibrator on the pooled out-of-time margins of the last two years).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk._metrics import score_all
from fanpin_risk._version import __version__
from fanpin_risk.errors import ModelError
from fanpin_risk.panel import PanelFeatures, as_panel, data_fingerprint, make_labels

SCHEMA_VERSION = 1
MODEL_KINDS = ("rule", "scorecard", "lightgbm")

# Model size is a cost: exact TreeSHAP for the reasons grows with trees × leaves.
# On simulate(20000, seed=0) (rolling backtest, pooled, n_boot=0) 0.05 × 15 leaves
# (297 trees) gave PR AUC 0.418 / recall@10 % 0.410 at 0.50 ms per explained row;
# 0.1 × 7 leaves (227 trees) gives 0.417 / 0.412 at 0.115 ms per row (2 cores).
LGB_DEFAULTS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 7,
    "max_depth": -1,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
MAX_TREES = 300


def predict_threads() -> int:
    """Threads LightGBM predicts with: ``$FANPIN_THREADS``, else the cores this process may use.

    Training keeps ``num_threads=1`` (with ``deterministic``) so that a seed gives the
    same trees on every machine; a prediction is the same whatever the thread count
    (each row on its own), so scoring and explaining use every core — half the time
    on 2 cores for 1M households with reasons.
    """
    env = os.environ.get("FANPIN_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ModelError(f"FANPIN_THREADS must be a whole number of threads, not {env!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
EARLY_STOPPING = 30
#: Out-of-time years pooled for the Platt calibrator (the last ``CALIBRATION_FOLDS`` labelled years).
CALIBRATION_FOLDS = 2
#: Default ``calibration`` of the LightGBM model: "none" (the booster's own log-loss-trained
#: probabilities), "platt" or "isotonic" (fitted on the out-of-time margins of fold models). A Platt
#: step fitted on fold models trained on fewer years moved the level between years (the fold model
#: of 2021 trained on 2020 alone, across the 4000 → 6000 line change, over-predicts, so its
#: calibrator pulls the refitted model down): over the four simulated worlds and two public panels
#: of bench/worlds.md "none" raised pooled PR AUC by 0.010 on average (lean_assistance +0.025) and
#: lowered Brier in five of six, with recall@10 % within 0.001 (docs/modeling.md).
CALIBRATION = "none"
#: Calibration methods ``train(params={"calibration": ...})`` accepts.
CALIBRATIONS = ("platt", "isotonic", "none")


def booster_calibrator() -> dict:
    """The calibrator of ``calibration="none"``: Platt with a = 1, b = 0 (the booster's own
    probabilities), kept in Platt's form so that ``calibration_anchor`` can move its level."""
    return {"method": "platt", "a": 1.0, "b": 0.0, "fitted": False}

#: Candidates of :func:`train`'s audition, chosen on the user's own data by the log loss on
#: the last labelled year (out of time). The first is the earlier fixed default; the
#: others add the whole-history/context features or make the trees smaller. No candidate
#: has more than 7 leaves: the reasons cost grows with leaves × trees, and a 15-leaf
#: model (chosen on simulate(20000, seed=0) by 0.0007 of log loss) took 80 s to explain
#: 100,000 households and 18.7 s to score 1M without reasons (docs/modeling.md).
AUDITION: tuple[dict, ...] = (
    {"name": "7 leaves · lr 0.1 · base features", "params": {"num_leaves": 7, "learning_rate": 0.1}, "history_block": False},
    {"name": "7 leaves · lr 0.1 · + history", "params": {"num_leaves": 7, "learning_rate": 0.1}, "history_block": True},
    {"name": "3 leaves · lr 0.1 · + history", "params": {"num_leaves": 3, "learning_rate": 0.1}, "history_block": True},
)
#: Rows the audition fits on at most (whole households drawn at random beyond that): the
#: choice needs a good estimate of the loss, not every row of a province.
AUDITION_MAX_ROWS = 300_000

#: Monotone constraints of the LightGBM model, from ``data_schema/monotone.csv``
#: (+1: risk can only rise with the feature, −1: only fall; the file says why).
#: Pass params={"monotone": {}} to switch them off.
MONOTONE: dict[str, int] = contract.monotone_signs()


def lgb_params(columns, params: dict | None = None, seed: int = 0) -> tuple[dict, dict]:
    """LightGBM parameters for a feature matrix with ``columns``, and the fitting options.

    The one place that turns ``train(params=...)`` into LightGBM parameters, so
    that in-memory and Dask models get the same defaults, seeds and monotone
    constraints.

    Returns
    -------
    (lgb_params, options)
        ``options`` holds ``calibration``, ``calibration_folds``, ``calibration_anchor``,
        ``max_trees`` and ``early_stopping``.

    Examples
    --------
    >>> p, opt = lgb_params(["ratio_to_line", "n_labor"], seed=1)
    >>> p["monotone_constraints"], opt["max_trees"]
    ([-1, 0], 300)
    """
    params = dict(params or {})
    options = {"calibration": params.pop("calibration", CALIBRATION),
               "calibration_folds": int(params.pop("calibration_folds", CALIBRATION_FOLDS)),
               "calibration_anchor": params.pop("calibration_anchor", None),
               "max_trees": int(params.pop("n_estimators", params.pop("num_boost_round", MAX_TREES))),
               "early_stopping": int(params.pop("early_stopping", EARLY_STOPPING))}
    mono = dict(MONOTONE if params.get("monotone") is None else params["monotone"])
    params.pop("monotone", None)
    if options["calibration"] not in CALIBRATIONS:
        raise ModelError(f"calibration must be one of {list(CALIBRATIONS)}, not {options['calibration']!r}")
    p = {**LGB_DEFAULTS, **params, "seed": seed, "bagging_seed": seed, "feature_fraction_seed": seed,
         "data_random_seed": seed}
    columns = list(columns)
    if any(c in mono for c in columns):
        p["monotone_constraints"] = [int(mono.get(c, 0)) for c in columns]
    return p, options


# --------------------------------------------------------------------------- small numeric helpers
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def fit_platt(raw: np.ndarray, y: np.ndarray) -> dict:
    """Platt scaling p = σ(a·raw + b), fitted by (almost unpenalised) logistic regression."""
    from sklearn.linear_model import LogisticRegression

    raw = np.asarray(raw, float).reshape(-1, 1)
    if len(np.unique(y)) < 2:
        rate = float(np.clip(np.mean(y), 1e-4, 1 - 1e-4)) if len(y) else 0.5
        return {"method": "platt", "a": 0.0, "b": float(np.log(rate / (1 - rate)))}
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw, y)
    return {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def anchor_platt(cal: dict, raw: np.ndarray, y: np.ndarray) -> dict:
    """Shift a Platt calibrator's intercept so that its mean probability on ``raw`` equals ``y``'s rate.

    Keeps the slope (the ranking's spread) and moves the level to the latest
    year when the outcome rate drifts between years.
    """
    from scipy.optimize import brentq

    raw, rate = np.asarray(raw, float), float(np.mean(y)) if len(y) else float("nan")
    if not len(raw) or not 0.0 < rate < 1.0:
        return dict(cal)
    f = lambda b: float(np.mean(_sigmoid(cal["a"] * raw + b))) - rate  # noqa: E731 - a one-line root function
    lo, hi = cal["b"] - 20.0, cal["b"] + 20.0
    return {**cal, "b": float(brentq(f, lo, hi, xtol=1e-10)), "anchored_rate": rate}


def _fit_isotonic(raw: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    return {"method": "isotonic", "x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]}


def _apply_calibrator(cal: dict, raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw, float)
    if cal["method"] == "platt":
        p = _sigmoid(cal["a"] * raw + cal["b"])
    elif cal["method"] == "isotonic":
        p = np.interp(raw, np.asarray(cal["x"]), np.asarray(cal["y"]))
    elif cal["method"] == "sigmoid":
        p = _sigmoid(raw)
    else:
        raise ModelError(f"unknown calibrator {cal['method']!r}")
    return np.clip(p, 0.0, 1.0)


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return o


def _dumps(o) -> str:
    return json.dumps(_jsonable(o), ensure_ascii=False, sort_keys=True, indent=1)


# --------------------------------------------------------------------------- estimators on the feature matrix
class _RuleModel:
    kind = "rule"

    def __init__(self, state: dict | None = None):
        self.state = state or {}

    @staticmethod
    def raw(X: pd.DataFrame) -> np.ndarray:
        r = X["ratio_to_line"].to_numpy()
        pts = (3.0 * (r < 1.0) + 2.0 * ((r >= 1.0) & (r < 1.5)) + 2.0 * (X["open_case"].to_numpy() > 0)
               + 2.0 * (np.nan_to_num(X["n_guarantees_failed"].to_numpy()) > 0) + 1.0 * (np.nan_to_num(X["rigid_ratio"].to_numpy()) > 0.5))
        tie = 0.99 * (1.0 - np.clip(np.nan_to_num(r, nan=0.0), 0.0, 3.0) / 3.0)
        return pts + tie

    def fit(self, X, y, years, seed, params):
        self.state = {"calibrator": fit_platt(self.raw(X), y)}
        return self

    def predict_raw(self, X):
        return self.raw(X)

    def calibrate(self, raw):
        return _apply_calibrator(self.state["calibrator"], raw)

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Each feature's points against an all-missing reference; the reference's points are the base.

        The points are a sum over features, so ``raw(x_j only) − raw(reference)``
        is feature j's part exactly; checked, so a non-additive change raises.
        """
        cols = list(X.columns)
        ref = pd.DataFrame(np.nan, index=X.index, columns=cols, dtype="float64")
        base = np.asarray(self.raw(ref), dtype=float)
        contrib = pd.DataFrame(0.0, index=X.index, columns=cols)
        Xf = X.astype("float64")
        for c in cols:
            probe = ref.copy()
            probe[c] = Xf[c].to_numpy()
            d = np.asarray(self.raw(probe), dtype=float) - base
            if np.any(d != 0):
                contrib[c] = d
        total = np.asarray(self.raw(Xf), dtype=float)
        if np.max(np.abs(base + contrib.to_numpy().sum(axis=1) - total), initial=0.0) > 1e-6:
            raise ModelError("rule model is not additive in its features; no exact decomposition")
        return base, contrib


class _Scorecard:
    kind = "scorecard"

    def __init__(self, state: dict | None = None):
        self.state = state or {}

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        s = self.state
        A = X[s["features"]].to_numpy(dtype=float)
        A = np.clip(A, np.asarray(s["lo"], float), np.asarray(s["hi"], float))
        miss = np.isnan(A[:, s["missing_idx"]]).astype(float) if s["missing_idx"] else np.empty((len(A), 0))
        A = np.where(np.isnan(A), np.asarray(s["median"], float), A)
        A = np.column_stack([A, miss])
        return (A - np.asarray(s["mean"], float)) / np.asarray(s["scale"], float)

    def fit(self, X, y, years, seed, params):
        from sklearn.linear_model import LogisticRegression

        params = {"C": 0.05, **(params or {})}
        import warnings

        A = X.to_numpy(dtype=float)
        with warnings.catch_warnings():  # all-missing columns give NaN, handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanquantile(A, 0.01, axis=0)
            hi = np.nanquantile(A, 0.99, axis=0)
            lo = np.where(np.isnan(lo), -np.inf, lo)
            hi = np.where(np.isnan(hi), np.inf, hi)
            med = np.nanmedian(np.clip(A, lo, hi), axis=0)
        med = np.where(np.isnan(med), 0.0, med)
        missing_idx = [int(i) for i in np.where(np.isnan(A).any(axis=0))[0]]
        self.state = {"features": list(X.columns), "lo": lo, "hi": hi, "median": med, "missing_idx": missing_idx,
                      "mean": np.zeros(A.shape[1] + len(missing_idx)), "scale": np.ones(A.shape[1] + len(missing_idx))}
        D = self._design(X)
        mean = D.mean(axis=0)
        scale = D.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        self.state["mean"], self.state["scale"] = mean, scale
        D = (D - mean) / scale
        lr = LogisticRegression(C=params["C"], max_iter=2000, random_state=seed).fit(D, y)
        names = list(X.columns) + [f"{X.columns[i]}__missing" for i in missing_idx]
        self.state.update({"coef": lr.coef_[0], "intercept": float(lr.intercept_[0]), "design_names": names, "C": params["C"]})
        for k in ("lo", "hi"):
            self.state[k] = [float(v) if np.isfinite(v) else (1e300 if v > 0 else -1e300) for v in self.state[k]]
        return self

    def predict_raw(self, X):
        return self._design(X) @ np.asarray(self.state["coef"], float) + self.state["intercept"]

    def calibrate(self, raw):
        return _sigmoid(raw)

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """coef × z on the standardised design (z = (x − training mean) / sd); the intercept is the base.

        Missing-value indicator columns (``<feature>__missing``) are added to their feature.
        """
        D = np.asarray(self._design(X), dtype=float)
        coef = np.asarray(self.state["coef"], dtype=float)
        names = list(self.state.get("design_names") or [f"z{i}" for i in range(D.shape[1])])
        if D.shape[1] != coef.size:
            raise ModelError(f"scorecard: {coef.size} coefficients for {D.shape[1]} inputs")
        parts = pd.DataFrame(coef * D, columns=names, index=X.index)
        feat = [n[: -len("__missing")] if n.endswith("__missing") else n for n in names]
        contrib = parts.T.groupby(pd.Index(feat), sort=False).sum().T
        contrib = contrib.reindex(columns=[c for c in X.columns if c in contrib.columns]
                                  + [c for c in contrib.columns if c not in X.columns])
        return np.full(len(X), float(self.state["intercept"])), contrib

    def coefficients(self) -> pd.DataFrame:
        """Coefficients per standard deviation of each (clipped, imputed) feature, largest first."""
        c = pd.DataFrame({"feature": self.state["design_names"], "coef": self.state["coef"]})
        return c.reindex(c["coef"].abs().sort_values(ascending=False).index).reset_index(drop=True)


class _LightGBM:
    kind = "lightgbm"

    def __init__(self, state: dict | None = None, booster=None):
        self.state = state or {}
        self.booster = booster

    def fit(self, X, y, years, seed, params):
        import lightgbm as lgb

        p, opt = lgb_params(X.columns, params, seed)
        calib, max_trees, es = opt["calibration"], opt["max_trees"], opt["early_stopping"]
        years = np.asarray(years)
        uy = np.unique(years)
        if len(uy) >= 2:
            valid = years == uy.max()
            fold = f"year {int(uy.max())}"
        else:  # one training year: a fixed 20 % of rows (by position hash) as the validation fold
            valid = (np.arange(len(y)) * 2654435761 % 100) < 20
            fold = "20 % of the only training year"
        Xa = X.to_numpy(dtype=np.float64)
        dtr = lgb.Dataset(Xa[~valid], y[~valid], feature_name=list(X.columns), free_raw_data=False)
        dva = lgb.Dataset(Xa[valid], y[valid], reference=dtr)
        b = lgb.train(p, dtr, num_boost_round=max_trees, valid_sets=[dva],
                      callbacks=[lgb.early_stopping(es, verbose=False)])
        best = int(b.best_iteration or max_trees)
        raw_valid = b.predict(Xa[valid], num_iteration=best, raw_score=True, num_threads=predict_threads())
        if calib == "none":
            cal, folds = booster_calibrator(), []
        else:
            cal, folds = self._fold_calibrator(p, Xa, X.columns, y, years, valid, raw_valid, fold, best, calib,
                                               opt["calibration_folds"])
        if opt["calibration_anchor"] == "latest" and cal["method"] == "platt":
            cal = anchor_platt(cal, raw_valid, y[valid])
        elif opt["calibration_anchor"] not in (None, "latest"):
            raise ModelError(f"calibration_anchor must be None or 'latest', not {opt['calibration_anchor']!r}")
        # refit on every training row with the early-stopped size
        dall = lgb.Dataset(Xa, y, feature_name=list(X.columns))
        self.booster = lgb.train(p, dall, num_boost_round=best)
        self.state = {"calibrator": cal, "best_iteration": best, "params": p, "validation_fold": fold,
                      "valid_rows": int(valid.sum()), "calibration_folds": folds,
                      "calibration_anchor": opt["calibration_anchor"]}
        return self

    @staticmethod
    def _fold_calibrator(p, Xa, columns, y, years, valid, raw_valid, fold, best, calib, n_folds):
        """Platt or isotonic on pooled out-of-time margins: the last year's, and earlier years' each predicted by
        a model of the shipped size fitted on the years before it."""
        import lightgbm as lgb

        uy = np.unique(years)
        raws, ys, folds = [raw_valid], [y[valid]], [fold]
        for v in (uy[-n_folds:-1] if len(uy) >= 3 and n_folds > 1 else []):
            before, at = years < v, years == v
            if before.any() and len(np.unique(y[before])) == 2:
                bv = lgb.train(p, lgb.Dataset(Xa[before], y[before], feature_name=list(columns)), num_boost_round=best)
                raws.append(bv.predict(Xa[at], raw_score=True, num_threads=predict_threads()))
                ys.append(y[at])
                folds.append(f"year {int(v)}")
        raw_cal, y_cal = np.concatenate(raws), np.concatenate(ys)
        return (_fit_isotonic(raw_cal, y_cal) if calib == "isotonic" else fit_platt(raw_cal, y_cal)), folds

    def predict_raw(self, X):
        return self.booster.predict(X.to_numpy(dtype=np.float64), raw_score=True, num_threads=predict_threads())

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Exact TreeSHAP (LightGBM's ``pred_contrib``, tree-path-dependent); the expected value is the base."""
        names = self.booster.feature_name()
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ModelError(f"feature matrix lacks the booster's feature(s) {missing[:5]}")
        c = np.asarray(self.booster.predict(X[names].to_numpy(dtype=np.float64), pred_contrib=True,
                                            num_threads=predict_threads()))
        if c.ndim != 2 or c.shape[1] != len(names) + 1:
            raise ModelError("multi-class boosters are not supported")
        return c[:, -1].astype(float), pd.DataFrame(c[:, :-1], columns=names, index=X.index)

    def calibrate(self, raw):
        return _apply_calibrator(self.state["calibrator"], raw)


_IMPL = {"rule": _RuleModel, "scorecard": _Scorecard, "lightgbm": _LightGBM}


# --------------------------------------------------------------------------- RiskModel
class RiskModel:
    """A fitted risk model: feature step + estimator + calibration.

    Attributes
    ----------
    kind : str
        "rule", "scorecard" or "lightgbm".
    features_ : PanelFeatures
        The fitted feature transformer.
    feature_names_ : list of str
    metadata : dict
        Label definition, training years, monitoring lines, package version,
        metrics, data fingerprint, feature list, training categories, params.
    """

    def __init__(self, kind: str, features: PanelFeatures, impl, metadata: dict):
        self.kind = kind
        self.features_ = features
        self._impl = impl
        self.metadata = metadata
        self.feature_names_ = list(features.get_feature_names_out())

    def __repr__(self) -> str:
        yrs = self.metadata.get("train_years")
        return f"RiskModel(kind={self.kind!r}, label={self.metadata.get('label', {}).get('definition')!r}, train_years={yrs})"

    def with_published_lines(self, table) -> "RiskModel":
        """This model, judging the scored year against a published next-year line where the records lack it.

        See :meth:`fanpin_risk.panel.PanelFeatures.with_published_lines`; a
        model without the line ahead is returned as it is. Every stage that takes
        a ``lines`` table calls this through :func:`resolve_model`.

        Parameters
        ----------
        table : path, DataFrame or None
            Monitoring-line table (province, year, line); None: the packaged one.

        Returns
        -------
        RiskModel
            A shallow copy sharing the fitted estimator, or ``self``.

        Examples
        --------
        >>> import pandas as pd
        >>> from fanpin_risk.models import resolve_model
        >>> m = resolve_model()  # the packaged default
        >>> m2 = m.with_published_lines(pd.DataFrame({"province": ["贵州"], "year": [2026], "line": [7900.0]}))
        >>> m2.features_.published_lines_[("贵州", 2026)], m2._impl is m._impl
        (7900.0, True)
        """
        feats = self.features_.with_published_lines(table) if isinstance(self.features_, PanelFeatures) else self.features_
        if feats is self.features_:
            return self
        obj = copy.copy(self)
        obj.features_ = feats
        return obj

    # -- prediction
    def transform(self, panel, rows=None) -> pd.DataFrame:
        """Feature matrix of the panel's rows (history taken from the panel itself).

        ``rows`` (index labels of ``panel``) limits the output to those rows, e.g.
        the scored year, while the history still comes from the whole panel.
        """
        df = as_panel(panel, lines=self.metadata.get("lines_arg"))
        return self.features_.transform(df) if rows is None else self.features_.transform(df, rows=rows)

    def raw_from_features(self, X: pd.DataFrame) -> np.ndarray:
        """Raw margin (log-odds before calibration) from a feature matrix (for SHAP)."""
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ModelError(f"feature matrix lacks column(s) {missing}")
        # selecting the same columns in the same order would copy the whole matrix
        Xs = X if list(X.columns) == self.feature_names_ else X[self.feature_names_]
        return np.asarray(self._impl.predict_raw(Xs), float)

    def proba_from_features(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability from a feature matrix."""
        return self._impl.calibrate(self.raw_from_features(X))

    def proba_from_raw(self, raw) -> np.ndarray:
        """Calibrated probability from raw margins (lets callers predict the trees once)."""
        return np.asarray(self._impl.calibrate(np.asarray(raw, dtype=float)), dtype=float)

    def predict_raw(self, panel) -> pd.Series:
        """Raw margin per row (LightGBM log-odds, scorecard log-odds, rule points)."""
        X = self.transform(panel)
        return pd.Series(self.raw_from_features(X), index=X.index, name="raw_score")

    decision_function = predict_raw

    def predict_proba(self, panel) -> pd.Series:
        """Calibrated probability that each row's household falls (back) into poverty the next year.

        Parameters
        ----------
        panel : DataFrame or path
            Household-year rows of any year; features use each household's own
            earlier records in the same panel.

        Returns
        -------
        pandas.Series
            float64 in [0, 1], index = the panel's index, name "probability".
        """
        X = self.transform(panel)
        return pd.Series(self.proba_from_features(X), index=X.index, name="probability")

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Exact additive contributions on the raw (log-odds or points) scale.

        Parameters
        ----------
        X : DataFrame
            Feature matrix (:meth:`transform`).

        Returns
        -------
        (base, contrib)
            ``base`` (n,) and ``contrib`` (n × features) with
            ``base + contrib.sum(axis=1) == raw_from_features(X)`` (to 1e-6):
            TreeSHAP for LightGBM, coefficient × standardised value for the
            scorecard, points against an all-missing reference for the rule.
        """
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise ModelError(f"feature matrix lacks column(s) {missing[:5]}")
        Xs = X if list(X.columns) == self.feature_names_ else X[self.feature_names_]
        return self._impl.contributions(Xs)

    @classmethod
    def from_lightgbm(cls, booster, features: PanelFeatures, state: dict, metadata: dict) -> "RiskModel":
        """A LightGBM RiskModel from a booster fitted elsewhere (e.g. on Dask) and its calibrator in ``state``."""
        return cls("lightgbm", features, _LightGBM(state, booster), metadata)

    @property
    def booster(self):
        """The ``lightgbm.Booster`` of a LightGBM model (None for the others), e.g. for ``shap.TreeExplainer``."""
        return getattr(self._impl, "booster", None)

    @property
    def n_trees(self) -> int | None:
        """Trees in the booster (LightGBM models), else None."""
        b = self.booster
        return None if b is None else int(b.num_trees())

    @property
    def params(self) -> dict:
        """Estimator parameters as fitted (LightGBM parameters, scorecard C); empty for the rule."""
        return dict(self._impl.state.get("params", {})) if "params" in self._impl.state else (
            {"C": self._impl.state["C"]} if "C" in self._impl.state else {})

    def coefficients(self) -> pd.DataFrame:
        """Scorecard coefficients (scorecard models only)."""
        if self.kind != "scorecard":
            raise ModelError("coefficients() exists for scorecard models only")
        return self._impl.coefficients()

    # -- persistence
    def save(self, path) -> Path:
        """Write the model directory (JSON + LightGBM text model + checksummed manifest)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        files: dict[str, bytes] = {
            "metadata.json": _dumps(self.metadata).encode(),
            "features.json": _dumps(self.features_.get_params_json()).encode(),
            "model.json": _dumps({"kind": self.kind, "state": {k: v for k, v in self._impl.state.items()}}).encode(),
        }
        if self.kind == "lightgbm":
            txt = self._impl.booster.model_to_string(num_iteration=-1)
            files["booster.txt"] = txt.encode()
        for old in path.glob("*"):
            if old.name not in files and old.name != "manifest.json" and old.is_file() and old.suffix in (".json", ".txt"):
                old.unlink()
        for name, data in files.items():
            (path / name).write_bytes(data)
        manifest = {"schema_version": SCHEMA_VERSION, "format": "fanpin_risk.RiskModel", "kind": self.kind,
                    "package_version": __version__,
                    "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}}
        (path / "manifest.json").write_text(_dumps(manifest), encoding="utf-8")
        return path


def load_model(path=None) -> RiskModel:
    """Load a model directory written by :meth:`RiskModel.save`.

    Parameters
    ----------
    path : path, optional
        Model directory; None loads the packaged default model (``models/default``).

    Raises
    ------
    ModelError
        Missing directory or file, checksum mismatch (a file was changed),
        or a schema version this package cannot read.
    """
    if path is None:
        path = contract.models_dir() / "default"
    path = Path(path)
    mf = path / "manifest.json"
    if not mf.is_file():
        raise ModelError(f"{path} is not a fanpin_risk model directory (no manifest.json)")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{mf} is not valid JSON: {e}") from None
    sv = manifest.get("schema_version")
    if sv != SCHEMA_VERSION:
        raise ModelError(f"model at {path} has schema version {sv!r}; this fanpin_risk {__version__} reads version "
                         f"{SCHEMA_VERSION}. Retrain the model with this version (fanpin-risk train)")
    blobs = {}
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise ModelError(f"manifest of {path} has no file table; restore the original or retrain")
    for name, digest in files.items():
        # Only plain file names inside the model directory: a manifest edited to list
        # "../x" or an absolute path must not make the loader read files elsewhere.
        if (not isinstance(name, str) or name != Path(name).name or name in ("", ".", "..")
                or "\\" in name or Path(name).is_absolute()):
            raise ModelError(f"manifest of {path} lists {name!r}, which is not a file of the model directory; "
                             "refusing to load it. Restore the original or retrain")
        f = path / name
        if not f.is_file():
            raise ModelError(f"model file {name} is missing from {path}")
        data = f.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ModelError(f"checksum mismatch for {name} in {path}: the file was changed after saving; "
                             "refusing to load it. Restore the original or retrain")
        blobs[name] = data
    for need in ("metadata.json", "features.json", "model.json"):
        if need not in blobs:
            raise ModelError(f"manifest of {path} does not list {need}")
    try:
        meta = json.loads(blobs["metadata.json"])
        feats = PanelFeatures.from_json(json.loads(blobs["features.json"]))
        m = json.loads(blobs["model.json"])
        kind = m["kind"]
    except (ValueError, KeyError, TypeError) as e:  # JSONDecodeError is a ValueError
        if isinstance(e, ModelError):
            raise
        raise ModelError(f"model at {path} has unreadable files ({type(e).__name__}: {e}); "
                         "restore the original or retrain") from None
    if kind not in _IMPL:
        raise ModelError(f"unknown model kind {kind!r}")
    if kind == "lightgbm":
        import lightgbm as lgb

        if "booster.txt" not in blobs:
            raise ModelError(f"lightgbm model at {path} lacks booster.txt")
        impl = _LightGBM(m["state"], lgb.Booster(model_str=blobs["booster.txt"].decode()))
    else:
        impl = _IMPL[kind](m["state"])
    return RiskModel(kind, feats, impl, meta)


def resolve_model(model: Any = None, *, lines=None):
    """The model a stage should use: None → the packaged default, a path → :func:`load_model`, a model as it is.

    Any object with ``predict_proba`` and ``transform`` (a :class:`RiskModel`
    or one of the same shape) is passed through.

    ``lines`` is the stage's monitoring-line table: a model that judges records
    against next year's line then reads a province's announced line of the
    year after the scored one from it (:meth:`RiskModel.with_published_lines`),
    so that the list, its explanations, the help measures, scenarios and alerts
    of one call all judge against the same line. Only a table the caller gives
    counts as announced: with ``lines=None`` next year's line is projected,
    because the packaged table's national series (全国) is a reference, not an
    announcement, and a province's own schedule may differ from it.

    Examples
    --------
    >>> resolve_model().kind
    'lightgbm'
    """
    if model is None or isinstance(model, (str, Path)):
        path = Path(model) if model is not None else contract.models_dir() / "default"
        if model is None and not path.exists():
            raise ModelError(
                f"no packaged default model at {path}; train one with fanpin_risk.train(...) "
                "and pass it as model=, or save it there"
            )
        model = load_model(path)
    elif not hasattr(model, "predict_proba") or not hasattr(model, "transform"):
        raise ModelError(f"model= must be a RiskModel, a path or None, not {type(model).__name__}")
    ahead = getattr(model, "with_published_lines", None)
    return ahead(lines) if lines is not None and callable(ahead) else model


# --------------------------------------------------------------------------- training
def _lines_table(panel: pd.DataFrame) -> list[dict]:
    prov = panel["province"] if "province" in panel.columns else pd.Series("", index=panel.index)
    t = pd.DataFrame({"province": prov.astype(str).where(prov.notna(), ""), "year": panel["year"].astype(int),
                      "line": panel["monitoring_line"].astype(float)})
    t = t.groupby(["province", "year"], as_index=False)["line"].median()
    return t.to_dict("records")


def fit_on_features(kind: str, X: pd.DataFrame, y: np.ndarray, years: np.ndarray, *, seed: int = 0, params: dict | None = None):
    """Fit the estimator of ``kind`` on a feature matrix (used by train and backtest)."""
    if kind not in _IMPL:
        raise ModelError(f"unknown model {kind!r}; choose from {list(MODEL_KINDS)}")
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        raise ModelError("no labelled rows to train on (every row is censored)")
    if kind == "scorecard" and len(np.unique(y)) < 2:
        raise ModelError(f"the training rows hold one outcome only (every label is {int(y[0])}): a scorecard needs "
                         "both; add households or years, or use model='rule'")
    return _IMPL[kind]().fit(X, y, np.asarray(years), seed, params)


def audition(X: pd.DataFrame, y: np.ndarray, years: np.ndarray, households: np.ndarray, *, seed: int = 0,
             candidates=AUDITION, base_features=None) -> dict:
    """Score each candidate by its log loss on the last labelled year, fitted on the years before (out of time).

    Parameters
    ----------
    X : DataFrame
        Features of the labelled rows with the history block.
    y, years, households : ndarray
        Labels, years and household ids of those rows.
    candidates : sequence of dict
        ``{"name", "params", "history_block"}`` (default :data:`AUDITION`).
    base_features : list of str, optional
        Columns of a candidate without the history block.

    Returns
    -------
    dict
        ``candidates`` (name, params, history_block, log_loss, trees), ``chosen``
        (the lowest loss; the earlier candidate on a tie), ``metric``, ``rows``
        and ``sampled``; ``chosen`` is None with a ``reason`` when there is no
        earlier year to fit on.
    """
    import lightgbm as lgb

    years = np.asarray(years)
    uy = np.unique(years)
    out = {"metric": "log loss, last labelled year, out of time", "candidates": [], "chosen": None}
    if len(uy) < 2:
        return {**out, "reason": "one labelled year: no out-of-time year to choose on"}
    last = uy.max()
    keep = np.ones(len(y), dtype=bool)
    if len(y) > AUDITION_MAX_ROWS:  # whole households at random, so each keeps its years
        hh = pd.unique(households)
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(hh), size=max(1, int(len(hh) * AUDITION_MAX_ROWS / len(y))), replace=False)
        keep = pd.Index(hh[pick]).get_indexer(households) >= 0
    tr, va = keep & (years < last), keep & (years == last)
    if len(np.unique(y[tr])) < 2 or len(np.unique(y[va])) < 2:
        return {**out, "reason": "the training or the last year holds one outcome only"}
    out.update(rows=int(keep.sum()), sampled=bool(not keep.all()), year=int(last))
    best = None
    for cand in candidates:
        cols = list(X.columns) if cand["history_block"] or base_features is None else list(base_features)
        p, opt = lgb_params(cols, cand["params"], seed)
        Xa = X[cols].to_numpy(dtype=np.float64)
        dtr = lgb.Dataset(Xa[tr], y[tr], feature_name=cols, free_raw_data=False)
        b = lgb.train(p, dtr, num_boost_round=opt["max_trees"], valid_sets=[lgb.Dataset(Xa[va], y[va], reference=dtr)],
                      callbacks=[lgb.early_stopping(opt["early_stopping"], verbose=False)])
        loss = float(b.best_score["valid_0"]["binary_logloss"])
        out["candidates"].append({**cand, "log_loss": loss, "trees": int(b.best_iteration or opt["max_trees"])})
        if best is None or loss < best[0] - 1e-9:
            best = (loss, cand["name"])
    out["chosen"] = best[1]
    return out


def train(
    panel,
    model: str = "lightgbm",
    label: str = "relapse",
    *,
    seed: int = 0,
    params: dict | None = None,
    horizon: int = 1,
    label_parts: dict | None = None,
    label_rule=None,
    lines=None,
    feature_params: dict | None = None,
) -> RiskModel:
    """Fit a risk model on every labelled row of the panel.

    Parameters
    ----------
    panel : DataFrame or path
        Household-year records, English or Chinese headers.
    model : {"lightgbm", "scorecard", "rule"}
    label : str
        Label definition for :func:`fanpin_risk.panel.make_labels`.
    seed : int
        Same data + seed → byte-identical saved model.
    params : dict, optional
        Estimator parameters (LightGBM parameters, ``n_estimators``,
        ``calibration`` = "none" (default: the booster's probabilities) /
        "platt" / "isotonic", ``calibration_folds`` (out-of-time years pooled
        for Platt, default 2), ``calibration_anchor`` = "latest" to match the
        latest year's rate; scorecard ``C``). Given (or with
        ``feature_params``), they fix the LightGBM model; else :func:`audition`
        picks among :data:`AUDITION` on this panel and the grid, the losses and
        the choice are kept in ``metadata["selection"]``.
    horizon, label_parts, label_rule, lines
        Passed to :func:`make_labels`.
    feature_params : dict, optional
        Parameters of :class:`PanelFeatures`.

    Returns
    -------
    RiskModel

    Notes
    -----
    ``fanpin_risk.train`` is :func:`fanpin_risk.api.train`: this function plus
    MLflow run logging and Dask DataFrames.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.models import train
    >>> m = train(fr.simulate(n_households=300, seed=1), model="scorecard")
    >>> m.kind, m.metadata["train_years"][0]
    ('scorecard', 2020)
    """
    df = as_panel(panel, lines=lines)
    labels = make_labels(df, label, horizon=horizon, parts=label_parts, rule=label_rule)
    lab = labels["label"]
    has = lab.notna().to_numpy()
    if not has.any():
        yrs = sorted({int(v) for v in df["year"].dropna().astype(int)})
        raise ModelError(
            f"no labelled rows: training needs households observed in two consecutive years (year t for the "
            f"features, year t+{horizon} for the label), but the panel has year(s) {yrs} with no household "
            f"recorded in both t and t+{horizon}; add the following year's records"
        )
    feats = PanelFeatures(**(feature_params or {})).fit(df[has])
    X = feats.transform(df)
    Xl = X[has]
    y = lab[has].astype(int).to_numpy()
    years = df.loc[has, "year"].astype(int).to_numpy()
    selection = None
    if model == "lightgbm" and params is None and feature_params is None:
        base = PanelFeatures(history_block=False).fit(df[has])
        selection = audition(Xl, y, years, df.loc[has, "household_id"].astype(str).to_numpy(), seed=seed,
                             base_features=list(base.get_feature_names_out()))
        chosen = next((c for c in selection["candidates"] if c["name"] == selection["chosen"]), AUDITION[1])
        params = dict(chosen["params"])
        if not chosen["history_block"]:
            feats, Xl = base, Xl[list(base.get_feature_names_out())]
    impl = fit_on_features(model, Xl, y, years, seed=seed, params=params)
    p_in = impl.calibrate(impl.predict_raw(Xl))
    meta = {
        "model": model,
        "label": labels.attrs["definition"],
        "train_years": sorted({int(v) for v in years}),
        "panel_years": sorted({int(v) for v in df["year"].astype(int)}),
        "lines": _lines_table(df),
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "seed": int(seed),
        "params": params or {},
        "estimator": {k: v for k, v in impl.state.items() if k in ("best_iteration", "validation_fold", "calibrator", "valid_rows", "C",
                                                                    "calibration_folds", "calibration_anchor")},
        "metrics_in_sample": {k: v for k, v in score_all(y, p_in).items()},
        "data_fingerprint": data_fingerprint(df),
        "feature_names": list(feats.get_feature_names_out()),
        "training_categories": feats.levels_,
        "n_train_rows": int(has.sum()),
        "positive_rate": float(y.mean()),
    }
    if selection is not None:
        meta["selection"] = selection
    return RiskModel(model, feats, impl, meta)
