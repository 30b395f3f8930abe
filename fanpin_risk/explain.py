"""Why a household is at risk: additive contributions in the policy's risk types.

Every model is explained *exactly* on its raw output (log-odds before calibration)::

    base_value + sum(contributions) == model.predict_raw(panel)      (to 1e-6)

* LightGBM: TreeSHAP, ``booster.predict(X, pred_contrib=True)`` — the exact
  tree-path-dependent SHAP values (the same as ``shap.TreeExplainer`` with
  ``feature_perturbation="tree_path_dependent"``).
* Scorecard (logistic regression): ``coef_j × (z_j − ref_j)`` on the model's own
  scaled inputs ``z``; the reference is the training mean (0 after standardising),
  so the base value is ``intercept + coef · ref``.
* Rule model: its additive parts (points per rule), with its intercept as base.

Features are grouped into the official risk types (因病, 因学, ... 其他) through
``data_schema/risk_type_map.csv``: one row per feature or ``fnmatch`` pattern
(first match wins, exact names before patterns), with Chinese and English
readable names and a value format used to write ``top_factors`` in plain words.
"""

from __future__ import annotations

import csv
import fnmatch
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import contract
from .errors import ModelError

#: Official risk types in the order of the national list.
RISK_TYPES = ["因病", "因学", "因残", "因自然灾害", "因意外事故", "因产业项目失败",
              "因务工就业不稳", "缺劳动力", "因安全住房", "因安全饮水", "其他"]

#: Derived-feature name parts (regex on the feature name) → words appended to the readable name.
_DECORATIONS: list[tuple[str, str, str, str | None]] = [
    # pattern, zh, en, format override (None = keep the base format)
    (r"(_|^)(pct_?chg|pct_change|growth|chg_pct|rel_chg)(_|$)", "较上年增幅", "change vs last year", "pct"),
    (r"(_|^)(chg|change|diff|delta|d1)(_|$)", "较上年变化", "change vs last year", None),
    (r"(_|^)(lag1|prev|last_year|l1)(_|$)", "上年", "last year", None),
    (r"(_|^)(lag2|l2)(_|$)", "前年", "two years ago", None),
    (r"(_|^)(mean|avg|hist_mean)(\d*)(_|$)", "历年均值", "past mean", None),
    (r"(_|^)(max|hist_max)(\d*)(_|$)", "历年最高", "past max", None),
    (r"(_|^)(min|hist_min)(\d*)(_|$)", "历年最低", "past min", None),
    (r"(_|^)(std|sd|cv|volatility)(\d*)(_|$)", "波动", "volatility", "number"),
    (r"(_|^)(ever|n_years|count|cum|times)(_|$)", "历年次数", "years so far", "count"),
    (r"(_|^)(years_since|since)(_|$)", "距今年数", "years since", "years"),
]


# --------------------------------------------------------------------------- risk-type map
@dataclass(frozen=True)
class FeatureInfo:
    feature: str
    risk_type: str
    name_zh: str
    name_en: str
    format: str
    with_: str = ""  # companion feature whose value is appended in plain words


def risk_type_map_path() -> Path:
    """Path of the packaged ``risk_type_map.csv``."""
    return contract.schema_dir() / "risk_type_map.csv"


@lru_cache(maxsize=8)
def _load_map(path: str) -> tuple[dict[str, dict], list[dict]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = [dict(r) for r in csv.DictReader(fh)]
    exact: dict[str, dict] = {}
    patterns: list[dict] = []
    for r in rows:
        if r["risk_type"] not in RISK_TYPES and r["risk_type"] != GUARANTEES:
            raise ModelError(f"{path}: unknown risk type {r['risk_type']!r} for {r['feature']!r}; "
                             f"use one of {list(RISK_TYPES)} or {GUARANTEES!r}")
        if any(ch in r["feature"] for ch in "*?["):
            patterns.append(r)
        else:
            exact[r["feature"]] = r
    return exact, patterns


def feature_info(features: list[str], map_path: str | Path | None = None) -> list[FeatureInfo]:
    """Risk type, readable names and value format of each feature.

    Exact rows of the map win over patterns; among patterns the first matching row
    wins. A feature matched by a pattern gets the row's name plus words for its
    derivation (e.g. ``expense_medical_chg`` → 合规自付医疗支出较上年变化).
    """
    exact, patterns = _load_map(str(map_path or risk_type_map_path()))
    zh_fields = contract.zh_headers()
    out = []
    for f in features:
        row = exact.get(f)
        decorated = False
        if row is None:
            row = next((r for r in patterns if fnmatch.fnmatchcase(f, r["feature"])), None)
            decorated = True
        if row is None:
            out.append(FeatureInfo(f, "其他", f, f, "number"))
            continue
        name_zh, name_en, fmt = row["name_zh"], row["name_en"], row["format"] or "number"
        if fmt == "onehot":  # "column=level" indicator of a categorical
            level = f.split("=", 1)[1] if "=" in f else f
            name_zh, name_en, fmt = f"{name_zh}为{level}", f"{name_en} = {level}", "bool"
        elif decorated:
            if not name_zh:  # the catch-all row
                name_zh = zh_fields.get(f, f)
                name_en = f if f not in zh_fields else f.replace("_", " ")
            elif f in zh_fields:
                name_zh = zh_fields[f]
            else:
                extra = [(zh, en, fo) for pat, zh, en, fo in _DECORATIONS if re.search(pat, f)]
                if extra:
                    name_zh = name_zh + "".join(f"({zh})" for zh, _, _ in extra[:2])
                    name_en = name_en + "".join(f" ({en})" for _, en, _ in extra[:2])
                    fmt = next((fo for _, _, fo in extra if fo), fmt)
        out.append(FeatureInfo(f, row["risk_type"], name_zh, name_en, fmt, (row.get("with") or "").strip()))
    return out


def format_value(value: Any, fmt: str, language: str = "zh") -> str:
    """Plain-words value for ``top_factors`` (6,850 元; 0.94 倍; 2 人; 是/否)."""
    zh = language == "zh"
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "缺失" if zh else "missing"
    if isinstance(value, str):
        return value
    if fmt == "bool":
        try:
            b = bool(float(value))
        except (TypeError, ValueError):
            return str(value)
        return ("是" if b else "否") if zh else ("yes" if b else "no")
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if fmt == "exp_yuan":  # feature is log1p(yuan)
        fmt, v = "yuan", math.expm1(v)
    if fmt == "yuan":
        return f"{v:,.0f} 元" if zh else f"{v:,.0f} yuan"
    if fmt == "signed_yuan":
        return f"{v:+,.0f} 元" if zh else f"{v:+,.0f} yuan"
    if fmt == "dlog":  # difference of log incomes → percentage change
        return f"{math.expm1(v):+.0%}"
    if fmt == "signed_ratio":
        return f"{v:+.2f} 倍" if zh else f"{v:+.2f} × line"
    if fmt == "signed_share":
        return f"{v * 100:+.0f} 个百分点" if zh else f"{v * 100:+.0f} points"
    if fmt == "signed_persons":
        return f"{v:+g} 人" if zh else f"{v:+g} persons"
    if fmt == "ratio_line":
        return f"监测标准的 {v:.2f} 倍" if zh else f"{v:.2f} × the monitoring line"
    if fmt == "persons":
        return f"{v:g} 人" if zh else f"{v:g} persons"
    if fmt == "months":
        return f"{v:.0f} 个月" if zh else f"{v:.0f} months"
    if fmt == "years":
        return f"{v:g} 年" if zh else f"{v:g} years"
    if fmt == "items":
        return f"{v:g} 项" if zh else f"{v:g} items"
    if fmt == "count":
        return f"{v:g} 次" if zh else f"{v:g} times"
    if fmt == "share":
        return f"{v:.0%}"
    if fmt == "pct":
        return f"{v:+.0%}"
    if fmt == "code":
        return f"{v:g}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"


# --------------------------------------------------------------------------- model adapters
def _attr_chain(obj: Any, names: tuple[str, ...]) -> Any:
    for n in names:
        v = getattr(obj, n, None)
        if v is not None:
            return v
    return None


def find_booster(model: Any):
    """The ``lightgbm.Booster`` inside a RiskModel (searched through its attributes)."""
    import lightgbm as lgb

    seen: set[int] = set()

    def walk(obj: Any, depth: int):
        if obj is None or id(obj) in seen or depth > 3:
            return None
        seen.add(id(obj))
        if isinstance(obj, lgb.Booster):
            return obj
        if isinstance(obj, lgb.LGBMModel):
            return obj.booster_
        for name in ("booster_", "booster", "_booster", "_impl", "impl_", "estimator_", "estimator", "model_", "model",
                     "_model", "clf_", "clf", "base_estimator", "fitted_"):
            found = walk(getattr(obj, name, None), depth + 1)
            if found is not None:
                return found
        if isinstance(obj, dict):
            for v in obj.values():
                found = walk(v, depth + 1)
                if found is not None:
                    return found
        return None

    return walk(model, 0)


def model_kind(model: Any) -> str:
    """'lightgbm', 'scorecard' or 'rule' (from the model's own attributes)."""
    for name in ("kind", "model_type", "name", "model_name"):
        v = getattr(model, name, None)
        if isinstance(v, str) and v in ("lightgbm", "scorecard", "rule"):
            return v
    meta = getattr(model, "metadata", None) or {}
    if isinstance(meta, dict):
        for key in ("model", "kind", "model_type"):
            v = meta.get(key)
            if isinstance(v, str) and v in ("lightgbm", "scorecard", "rule"):
                return v
    if find_booster(model) is not None:
        return "lightgbm"
    raise ModelError(f"cannot tell the kind of model {type(model).__name__!r}")


def _feature_frame(model: Any, panel: pd.DataFrame) -> pd.DataFrame:
    X = model.transform(panel)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=list(model.feature_names_), index=panel.index)
    return X


def _raw_from_features(model: Any, X: pd.DataFrame) -> np.ndarray:
    fn = getattr(model, "raw_from_features", None)
    if callable(fn):
        return np.asarray(fn(X), dtype=float)
    impl = getattr(model, "_impl", None)
    if impl is not None and callable(getattr(impl, "predict_raw", None)):
        return np.asarray(impl.predict_raw(X[list(model.feature_names_)]), dtype=float)
    raise ModelError("the model offers no raw output from a feature matrix (raw_from_features)")


def _lightgbm_contrib(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    booster = find_booster(model)
    if booster is None:
        raise ModelError("lightgbm model without a booster")
    names = booster.feature_name()
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise ModelError(f"feature matrix lacks the booster's feature(s) {missing[:5]}")
    Xb = X[names].to_numpy(dtype=np.float64)
    c = np.asarray(booster.predict(Xb, pred_contrib=True))
    if c.ndim != 2 or c.shape[1] != len(names) + 1:
        raise ModelError("multi-class boosters are not supported")
    return c[:, -1].astype(float), pd.DataFrame(c[:, :-1], columns=names, index=X.index)


def _scorecard_contrib(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """coef × (z − 0) on the scorecard's standardised design (z = (x − training mean) / sd).

    Missing-value indicator columns (``<feature>__missing``) are added to their feature.
    """
    impl = getattr(model, "_impl", None)
    state = getattr(impl, "state", None)
    if isinstance(state, dict) and "coef" in state and callable(getattr(impl, "_design", None)):
        D = np.asarray(impl._design(X), dtype=float)
        coef = np.asarray(state["coef"], dtype=float)
        names = list(state.get("design_names") or [f"z{i}" for i in range(D.shape[1])])
        intercept = float(state["intercept"])
    else:
        pre, coef, intercept, ref = _find_linear(model)
        coef = np.ravel(np.asarray(coef, dtype=float))
        Z = pre(X) if callable(pre) else X
        D = np.asarray(Z.to_numpy(dtype=float) if isinstance(Z, pd.DataFrame) else Z, dtype=float)
        if ref is not None:
            ref = np.ravel(np.asarray(ref, dtype=float))
            intercept += float(coef @ ref)
            D = D - ref
        names = list(X.columns) if D.shape[1] == X.shape[1] else [f"z{i}" for i in range(D.shape[1])]
    if D.shape[1] != coef.size:
        raise ModelError(f"scorecard: {coef.size} coefficients for {D.shape[1]} inputs")
    parts = pd.DataFrame(coef * D, columns=names, index=X.index)
    feat = [n[: -len("__missing")] if n.endswith("__missing") else n for n in names]
    contrib = parts.T.groupby(pd.Index(feat), sort=False).sum().T
    contrib = contrib.reindex(columns=[c for c in X.columns if c in contrib.columns]
                              + [c for c in contrib.columns if c not in X.columns])
    return np.full(len(X), intercept), contrib


def _find_linear(model: Any):
    """(preprocessing callable or None, coef, intercept, reference) of a generic linear model."""
    from sklearn.pipeline import Pipeline

    coef = _attr_chain(model, ("coef_", "coefficients_"))
    if coef is not None and not callable(coef):
        intercept = float(np.ravel(_attr_chain(model, ("intercept_",)) or 0.0)[0])
        return None, coef, intercept, _attr_chain(model, ("reference_",))
    for name in ("pipeline_", "pipeline", "estimator_", "estimator", "model_", "_model", "clf_", "clf"):
        est = getattr(model, name, None)
        if isinstance(est, Pipeline) and hasattr(est.steps[-1][1], "coef_"):
            return est[:-1].transform, est.steps[-1][1].coef_, float(np.ravel(est.steps[-1][1].intercept_)[0]), None
        if est is not None and hasattr(est, "coef_"):
            return None, est.coef_, float(np.ravel(est.intercept_)[0]), None
    raise ModelError("scorecard model: cannot find its coefficients")


def _rule_contrib(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Additive parts of a points model: each feature's points against an all-missing reference.

    For a model whose raw output is a sum of per-feature points (the rule model),
    ``raw(x_j only) − raw(reference)`` is feature j's part and
    ``raw(reference)`` the base, exactly. Checked: a non-additive model raises.
    """
    cols = list(model.feature_names_)
    ref = pd.DataFrame(np.nan, index=X.index, columns=cols, dtype="float64")
    base = _raw_from_features(model, ref)
    contrib = pd.DataFrame(0.0, index=X.index, columns=cols)
    Xf = X[cols].astype("float64")
    for c in cols:
        probe = ref.copy()
        probe[c] = Xf[c].to_numpy()
        d = _raw_from_features(model, probe) - base
        if np.any(d != 0):
            contrib[c] = d
    total = _raw_from_features(model, Xf)
    if np.max(np.abs(base + contrib.to_numpy().sum(axis=1) - total), initial=0.0) > 1e-6:
        raise ModelError("rule model is not additive in its features; no exact decomposition")
    return base, contrib


def contributions(model: Any, panel: pd.DataFrame | None, X: pd.DataFrame | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Exact additive contributions on the raw (log-odds) scale.

    Parameters
    ----------
    model : RiskModel
    panel : DataFrame or None
        Rows to explain (with their history when ``X`` is not given).
    X : DataFrame, optional
        ``model.transform(panel)`` rows when already computed.

    Returns
    -------
    (base, contrib)
        ``base`` (n,) and ``contrib`` (n × features) with
        ``base + contrib.sum(axis=1) == model.predict_raw(panel)`` (to 1e-6).
    """
    hook = getattr(model, "explain_raw", None)
    if X is None:
        X = _feature_frame(model, panel)
    if callable(hook):
        base, contrib = hook(X)
        return np.asarray(base, dtype=float), pd.DataFrame(contrib, index=X.index)
    kind = model_kind(model)
    if kind == "lightgbm":
        return _lightgbm_contrib(model, X)
    if kind == "scorecard":
        return _scorecard_contrib(model, X)
    return _rule_contrib(model, X)


# --------------------------------------------------------------------------- grouping and words
#: Guarantee-failure features and the risk type each failing guarantee is.
GUARANTEE_TYPES = {"fail_housing_safe": "因安全住房", "fail_drinking_water_safe": "因安全饮水",
                   "fail_compulsory_education_ok": "因学", "fail_medical_insured": "因病"}
#: Pseudo risk type in risk_type_map.csv for features that count failing guarantees.
GUARANTEES = "三保障"


def failing_guarantee_types(X: pd.DataFrame) -> pd.Series:
    """Risk types of the guarantees that fail in each row of the feature matrix."""
    cols = [c for c in GUARANTEE_TYPES if c in X.columns]
    F = X[cols].fillna(0).to_numpy(dtype=float) > 0.5 if cols else np.zeros((len(X), 0), dtype=bool)
    return pd.Series([[GUARANTEE_TYPES[cols[k]] for k in np.flatnonzero(r)] for r in F], index=X.index, dtype=object)


def group_by_risk_type(contrib: pd.DataFrame, map_path: str | Path | None = None,
                       X: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sum feature contributions per risk type (columns in :data:`RISK_TYPES` order).

    Features mapped to the pseudo type 三保障 (the count of failing guarantees)
    are split, row by row, equally over the risk types of the guarantees that
    fail in ``X`` (unsafe housing → 因安全住房, …); without ``X``, or where none
    fails, they count as 其他. Row sums are unchanged.
    """
    info = feature_info(list(contrib.columns), map_path)
    types = [i.risk_type for i in info]
    g = contrib.T.groupby(pd.Index(types, name="risk_type")).sum().T
    if GUARANTEES in g.columns:
        part = g.pop(GUARANTEES).to_numpy(dtype=float)
        g = g.reindex(columns=RISK_TYPES, fill_value=0.0)
        failing = failing_guarantee_types(X.reindex(g.index)) if X is not None else pd.Series([[]] * len(g), index=g.index)
        n = failing.map(len).to_numpy()
        for rt in set(GUARANTEE_TYPES.values()):
            has = failing.map(lambda t, rt=rt: rt in t).to_numpy()
            g[rt] = g[rt].to_numpy() + np.where(has, part / np.maximum(n, 1), 0.0)
        g["其他"] = g["其他"].to_numpy() + np.where(n == 0, part, 0.0)
    return g.reindex(columns=RISK_TYPES, fill_value=0.0)


#: This year's recorded shocks and the risk type each one causes.
SHOCK_TYPES = {"shock_illness": "因病", "shock_disaster": "因自然灾害", "shock_accident": "因意外事故",
               "shock_job_loss": "因务工就业不稳", "shock_industry_failure": "因产业项目失败"}


def attribute_to_shocks(grouped: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Cause attribution: a positive 其他 (income level) part goes to this year's recorded shocks.

    When the scored record reports a shock (``shock_disaster`` …), the income
    fall it caused shows up in the income features (其他). Policy names the
    cause, so that positive part is split equally over the shocks' risk types;
    with a disaster this year, a positive 因安全住房 part (a damaged house) goes to
    因自然灾害 too. The row total is unchanged (the feature-level decomposition
    stays exact); the measures still include the housing guarantee.
    """
    out = grouped.copy()
    cols = [c for c in SHOCK_TYPES if c in rows.columns]
    if not cols or "其他" not in out.columns:
        return out
    S = rows.reindex(out.index)[cols].astype("boolean").fillna(False).to_numpy(dtype=bool)
    n = S.sum(axis=1)
    other = out["其他"].to_numpy(dtype=float)
    move = np.where((n > 0) & (other > 0), other, 0.0)
    for k, c in enumerate(cols):
        out[SHOCK_TYPES[c]] = out[SHOCK_TYPES[c]].to_numpy() + np.where(S[:, k], move / np.maximum(n, 1), 0.0)
    out["其他"] = other - move
    if "shock_disaster" in cols and "因安全住房" in out.columns:
        # a house made unsafe by this year's disaster is recorded as 因自然灾害
        d = S[:, cols.index("shock_disaster")]
        housing = out["因安全住房"].to_numpy(dtype=float)
        take = np.where(d & (housing > 0), housing, 0.0)
        out["因自然灾害"] = out["因自然灾害"].to_numpy() + take
        out["因安全住房"] = housing - take
    return out


def main_risk_types(grouped: pd.DataFrame, *, second_share: float = 0.5, min_contrib: float = 0.05) -> tuple[pd.Series, pd.Series]:
    """Main risk type per row and the types measures are drawn from.

    The main type is the specific risk type (any but 其他) with the largest
    contribution, when it pushes risk up by at least ``min_contrib`` (log-odds);
    else 其他 when that pushes risk up; else no type (missing). A second specific type
    whose contribution is at least ``second_share`` × the main one's also
    feeds the measures.
    """
    specific = [c for c in grouped.columns if c != "其他"]
    vals = grouped[specific].to_numpy(dtype=float)
    other = grouped["其他"].to_numpy(dtype=float) if "其他" in grouped.columns else np.zeros(len(grouped))
    order = np.argsort(-vals, axis=1, kind="stable")
    main, types = [], []
    for i in range(len(grouped)):
        j0 = order[i, 0]
        if vals[i, j0] >= min_contrib:
            m = specific[j0]
            t = [m]
            if vals.shape[1] > 1:
                j1 = order[i, 1]
                if vals[i, j1] >= min_contrib and vals[i, j1] >= second_share * vals[i, j0]:
                    t.append(specific[j1])
        elif other[i] > 0:
            m, t = "其他", ["其他"]
        else:
            m, t = None, []
        main.append(m)
        types.append(t)
    return (pd.Series(main, index=grouped.index, dtype="str"),
            pd.Series(types, index=grouped.index, dtype=object))


def format_risk_type_contributions(grouped: pd.DataFrame, *, digits: int = 2) -> pd.Series:
    """'因病 +0.82；缺劳动力 +0.31；...' — non-zero types, largest first (log-odds)."""
    out = []
    names = list(grouped.columns)  # a list: indexing a pandas Index per cell is slow
    tiny = 0.5 * 10 ** -digits
    for row in grouped.to_numpy(dtype=float):
        order = np.argsort(-row, kind="stable")
        out.append("；".join(f"{names[j]} {row[j]:+.{digits}f}" for j in order if abs(row[j]) >= tiny))
    return pd.Series(out, index=grouped.index, dtype="str")


def top_factor_words(contrib: pd.DataFrame, X: pd.DataFrame, *, k: int = 3, language: str = "zh",
                     map_path: str | Path | None = None) -> pd.Series:
    """The ``k`` features pushing risk up most, in plain words with the household's values."""
    info = {i.feature: i for i in feature_info(list(contrib.columns), map_path)}
    cols = list(contrib.columns)
    C = contrib.to_numpy(dtype=float)
    # plain arrays: .iat on a frame per cell dominates the cost for large lists
    Xv = X.reindex(columns=cols).to_numpy(dtype=float)
    Xcol = {c: X[c].to_numpy() for c in {i.with_ for i in info.values() if i.with_} if c in X.columns}
    out = []
    sep = "；" if language == "zh" else "; "
    comp_info: dict[str, FeatureInfo] = {}
    orders = np.argsort(-C, axis=1, kind="stable")[:, : 3 * k]
    for i in range(len(C)):
        row = C[i]
        order = orders[i]
        words: list[str] = []
        names_used: set[str] = set()
        for j in order:
            if not row[j] > 0 or len(words) >= k:
                break
            fi = info[cols[j]]
            name = fi.name_zh if language == "zh" else fi.name_en
            if name in names_used:  # e.g. income in yuan, log and ratio: say it once
                continue
            names_used.add(name)
            value = format_value(Xv[i, j], fi.format, language)
            if fi.with_ and fi.with_ in Xcol:
                comp = comp_info.get(fi.with_)
                if comp is None:
                    comp = comp_info[fi.with_] = feature_info([fi.with_], map_path)[0]
                other = format_value(Xcol[fi.with_][i], comp.format, language)
                joiner = "，" if language == "zh" else ", "
                value = other + joiner + value if fi.format == "ratio_line" else value + joiner + other
            words.append(f"{name} {value}")
        out.append(sep.join(words))
    return pd.Series(out, index=contrib.index, dtype="str")


# --------------------------------------------------------------------------- measures
def measures_map_path() -> Path:
    return contract.schema_dir() / "measures_map.csv"


def load_measures_map(measures: str | Path | pd.DataFrame | None = None) -> dict[tuple[str, bool], list[str]]:
    """(risk_type, has_labor) → measures, from ``data_schema/measures_map.csv`` or a user table.

    The table needs columns ``risk_type, has_labor (yes/no), measures`` (measures
    separated by ';').
    """
    df = measures if isinstance(measures, pd.DataFrame) else pd.read_csv(measures or measures_map_path(), dtype=str)
    need = {"risk_type", "has_labor", "measures"}
    if not need <= set(df.columns):
        raise ModelError(f"measures map needs columns {sorted(need)}, got {list(df.columns)}")
    out: dict[tuple[str, bool], list[str]] = {}
    for r in df.itertuples():
        lab = str(r.has_labor).strip().lower() in ("yes", "true", "1", "是", "有")
        out[(str(r.risk_type).strip(), lab)] = [m.strip() for m in str(r.measures).split(";") if m.strip()]
    return out


def suggest_measures(types: pd.Series, has_labor: pd.Series, mmap: dict[tuple[str, bool], list[str]] | None = None) -> pd.Series:
    """Measures for each row's risk types and labour capacity (unknown labour → as without labour)."""
    mmap = mmap if mmap is not None else load_measures_map()
    out = []
    for t, lab in zip(types, has_labor):
        lab_b = bool(lab) if lab is not pd.NA and lab is not None else False
        ms: list[str] = []
        for rt in (t or []):
            for m in mmap.get((rt, lab_b), mmap.get(("其他", lab_b), [])):
                if m not in ms:
                    ms.append(m)
        out.append("；".join(ms) if ms else np.nan)
    return pd.Series(out, index=types.index, dtype="str")


# --------------------------------------------------------------------------- shap.Explanation
def explain(records, model=None, year: int | None = None, language: Literal["zh", "en"] = "zh", *,
            lines=None, map_path: str | Path | None = None):
    """Per-household contributions of the scored year as a ``shap.Explanation``.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records in the contract (history is used for features).
    model : RiskModel, path or None
        None loads the packaged default model.
    year : int, optional
        Year to explain (default: the latest).
    language : {"zh", "en"}
        Language of the readable feature names.

    Returns
    -------
    shap.Explanation
        ``values`` (households × features, log-odds), ``base_values``, ``data``
        (feature values), ``feature_names`` (readable), ``output_names`` and, in
        ``.display_data``, the household ids; ``base_values + values.sum(1)`` is
        the model's raw output. Use with ``shap.plots.beeswarm`` / ``waterfall``.
    """
    import shap

    from .score import _load_model, _prepare

    model = _load_model(model)
    prep = _prepare(records, model, year=year, lines=lines)
    panel_hist, rows = prep["history"], prep["scored_rows"]
    X_all = _feature_frame(model, panel_hist)
    X = X_all.loc[rows]
    base, contrib = contributions(model, panel_hist.loc[rows], X)
    info = feature_info(list(contrib.columns), map_path)
    names = [i.name_zh if language == "zh" else i.name_en for i in info]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    names = [f"{n} ({i.feature})" if seen[n] > 1 else n for n, i in zip(names, info)]
    data = X.reindex(columns=contrib.columns).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    exp = shap.Explanation(
        values=contrib.to_numpy(dtype=float),
        base_values=base,
        data=data,
        feature_names=names,
        output_names="log-odds",
    )
    exp.household_ids = list(panel_hist.loc[rows, "household_id"])  # type: ignore[attr-defined]
    exp.risk_types = [i.risk_type for i in info]  # type: ignore[attr-defined]
    return exp
