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
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ModelError
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import select_year

#: Official risk types in the order of the national list (the contract's code list ``risk_type``).
RISK_TYPES = contract.code_list("risk_type")

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


_LINE_EN = re.compile(r"\b(?:monitoring )?line\b")


def judged_ahead(infos: list[FeatureInfo], model: Any = None) -> list[FeatureInfo]:
    """The feature words of a model whose features judge each record against next year's line.

    With ``PanelFeatures(line_ahead=True)`` every ratio and gap to the line, and
    every count below it, is against the line of the following year (for the
    scored year, a projection): the words say so ("下年监测标准"), so that a cadre
    does not read 0.83 × the line as this year's. Other models keep their words.

    Parameters
    ----------
    infos : list of FeatureInfo
        From :func:`feature_info`.
    model : RiskModel, optional
        The fitted model whose features the infos describe (None: unchanged).

    Returns
    -------
    list of FeatureInfo

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from fanpin_risk.explain import feature_info, judged_ahead
    >>> ahead = SimpleNamespace(features_=SimpleNamespace(line_ahead=True))
    >>> info = judged_ahead(feature_info(["ratio_to_line", "gap_to_line"]), ahead)
    >>> [i.name_zh for i in info], info[0].format
    (['人均纯收入', '人均纯收入与下年监测标准之差'], 'ratio_next_line')
    """
    feats = getattr(model, "features_", None)
    if not getattr(feats, "line_ahead", False):
        return infos
    return [replace(i, name_zh=i.name_zh.replace("监测标准", "下年监测标准"),
                    name_en=_LINE_EN.sub("next year's line", i.name_en),
                    format="ratio_next_line" if i.format == "ratio_line" else i.format) for i in infos]


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
    if fmt == "ratio_next_line":
        return f"下年监测标准的 {v:.2f} 倍" if zh else f"{v:.2f} × next year's line"
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


# --------------------------------------------------------------------------- contributions
def feature_frame(model: Any, panel: pd.DataFrame) -> pd.DataFrame:
    """``model.transform(panel)`` as a DataFrame with the model's feature names."""
    X = model.transform(panel)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X), columns=list(model.feature_names_), index=panel.index)
    return X


def contributions(model: Any, panel: pd.DataFrame | None, X: pd.DataFrame | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Exact additive contributions on the raw (log-odds) scale.

    The model explains itself: a :class:`~fanpin_risk.models.RiskModel` through
    :meth:`~fanpin_risk.models.RiskModel.contributions`; a model of your own
    through the same method, or ``explain_raw(X) -> (base, contrib)``.

    Parameters
    ----------
    model : RiskModel or an object with ``contributions(X)`` / ``explain_raw(X)``
    panel : DataFrame or None
        Rows to explain (with their history when ``X`` is not given).
    X : DataFrame, optional
        ``model.transform(panel)`` rows when already computed.

    Returns
    -------
    (base, contrib)
        ``base`` (n,) and ``contrib`` (n × features) with
        ``base + contrib.sum(axis=1) == model.predict_raw(panel)`` (to 1e-6).

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.explain import contributions
    >>> from fanpin_risk.models import resolve_model
    >>> m = resolve_model()
    >>> panel = fr.simulate(n_households=20, seed=0)
    >>> X = m.transform(panel)
    >>> base, contrib = contributions(m, None, X)
    >>> bool(abs(base + contrib.sum(axis=1).to_numpy() - m.raw_from_features(X)).max() < 1e-6)
    True
    """
    if X is None:
        X = feature_frame(model, panel)
    for name in ("explain_raw", "contributions"):
        fn = getattr(model, name, None)
        if callable(fn):
            base, contrib = fn(X)
            return np.asarray(base, dtype=float), pd.DataFrame(contrib, index=X.index)
    raise ModelError(f"model {type(model).__name__!r} does not explain itself: give it a contributions(X) method "
                     "returning (base, contributions), as fanpin_risk.models.RiskModel has")


# --------------------------------------------------------------------------- grouping and words
#: Guarantee-failure features and the risk type each failing guarantee is.
GUARANTEE_TYPES = {"fail_housing_safe": "因安全住房", "fail_drinking_water_safe": "因安全饮水",
                   "fail_compulsory_education_ok": "因学", "fail_medical_insured": "因病"}
#: Pseudo risk type in risk_type_map.csv for features that count failing guarantees.
GUARANTEES = "三保障"


# Vectorised formatting. Reason strings are built for every scored household, so the
# per-cell Python work is kept to one ``format``/``format_value`` call per *distinct*
# displayed value: each cell gets an integer key that determines its printed text
# exactly, and only one representative per key is formatted.

#: Formats of :func:`format_value` printed as a rounded number: (transform, power of 10
#: applied before rounding to an integer, whether that scaled value is exactly the double
#: Python rounds). Formats not listed (``%g`` ones, unknown) are keyed by the value itself.
_ROUNDED_FORMATS: dict[str, tuple[str | None, int, bool]] = {
    "yuan": (None, 0, True), "signed_yuan": (None, 0, True), "months": (None, 0, True),
    # ``{v:.0%}`` multiplies by 100 in double precision before rounding, as numpy does
    "share": (None, 2, True), "pct": (None, 2, True), "signed_share": (None, 2, True),
    "ratio_line": (None, 2, False), "ratio_next_line": (None, 2, False), "signed_ratio": (None, 2, False),
    "number": (None, 2, False),
    "exp_yuan": ("expm1", 0, False), "dlog": ("expm1", 2, False),
}
#: Scaled values this far from a rounding tie (x.5) round the same whatever the last bits.
_TIE_MARGIN = 1e-6
#: Above this the margin no longer dominates the scaling error (|x| · 2**-53).
_SAFE_ABS = 1e9


def _rounding_key(x: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """Key (int64 bits of ``rint(x)``, so −0 ≠ +0) and where it is certain to be Python's rounding.

    ``exact``: ``x`` is exactly the double Python formats with ``.0f``; ``np.rint`` then
    rounds half-to-even like Python. Otherwise ``x`` may be off by an ulp or so, and
    cells within :data:`_TIE_MARGIN` of a tie are not trusted.
    """
    with np.errstate(invalid="ignore"):
        r = np.rint(x)
        if exact:
            safe = ~np.isnan(x)
        else:
            safe = np.isfinite(x) & (np.abs(x) < _SAFE_ABS) & (np.abs(x - np.floor(x) - 0.5) > _TIE_MARGIN)
    return np.ascontiguousarray(r, dtype=np.float64).view(np.int64), safe


def _distinct_strings(raw: np.ndarray, key: np.ndarray, safe: np.ndarray, fmt_one) -> tuple[np.ndarray, list[str]]:
    """``codes, strs`` with ``strs[codes[i]] == fmt_one(raw[i])``, calling ``fmt_one`` once per distinct key.

    Safe cells share a string when their ``key`` is equal; the others (ties, NaN,
    huge values) only when their float64 bits are equal, which is always exact.
    """
    codes = np.empty(len(raw), dtype=np.intp)
    strs: list[str] = []
    v = raw.astype(np.float64, copy=False)
    for mask, by_key in ((safe, True), (~safe, False)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        inv, first = _factorize(key[idx] if by_key else np.ascontiguousarray(v[idx]).view(np.int64))
        codes[idx] = inv + len(strs)
        strs.extend(fmt_one(raw[i]) for i in idx[first])
    return codes, strs


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of equal int64 keys (a hash table, no sort) and the first position of each code."""
    codes, _ = pd.factorize(keys, sort=False)
    codes = codes.astype(np.intp, copy=False)
    # codes are numbered in order of first appearance, so a new running maximum marks one
    top = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate(([True], top[1:] > top[:-1]))) if len(codes) else np.zeros(0, dtype=np.intp)
    return codes, first


def _value_strings(raw: np.ndarray, fmt: str, language: str) -> tuple[np.ndarray, list[str]]:
    """:func:`format_value` of every element of ``raw`` as ``codes, strs`` (see :func:`_distinct_strings`)."""
    raw = np.asarray(raw)
    one = lambda x: format_value(x, fmt, language)  # noqa: E731
    if not (raw.dtype == np.float64 or raw.dtype.kind in "biu"):
        # object / nullable / float32 columns follow format_value's own type rules
        strs = [one(x) for x in raw]
        return np.arange(len(strs), dtype=np.intp), strs
    v = raw.astype(np.float64, copy=False)
    with np.errstate(all="ignore"):
        if fmt == "bool":
            return _distinct_strings(raw, (v != 0).astype(np.int64), ~np.isnan(v), one)
        rule = _ROUNDED_FORMATS.get(fmt)
        if rule is None:
            return _distinct_strings(raw, np.zeros(len(v), dtype=np.int64), np.zeros(len(v), dtype=bool), one)
        transform, digits, exact = rule
        x = np.expm1(v) if transform == "expm1" else v
        if digits:
            x = x * 10.0 ** digits
        key, safe = _rounding_key(x, exact)
        if transform is not None:
            # a result rounding to zero prints its sign ("-0%"); leave that to math.expm1
            safe &= np.rint(x) != 0
        if fmt == "number":
            safe &= np.abs(v) < 1e6  # larger values print with no decimals
    return _distinct_strings(raw, key, safe, one)


def _join_cells(n: int, rows: np.ndarray, word: np.ndarray, words: list[str], sep: str) -> list[str]:
    """Per row ``i``, ``sep.join(words[word[c]] for the cells c with rows[c] == i)``.

    ``rows`` must be sorted (cells in row-major order, as from ``np.nonzero``). All
    pieces are joined into one string and cut back into rows by their lengths: one
    C-level join instead of a string addition per row and slot.
    """
    if not len(rows):
        return [""] * n
    nw = len(words)
    table = np.empty(2 * nw, dtype=object)
    table[:nw] = words
    table[nw:] = [sep + w for w in words]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    piece = word + np.where(first, 0, nw)
    text = "".join(table[piece].tolist())
    size = np.fromiter((len(w) for w in table), dtype=np.int64, count=2 * nw)[piece]
    ends = np.cumsum(np.bincount(rows, weights=size, minlength=n).astype(np.int64))
    starts = np.concatenate(([0], ends[:-1]))
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


def _guarantee_masks(X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Bit ``k`` set where guarantee column ``cols[k]`` fails (value > 0.5), and ``cols``."""
    cols = [c for c in GUARANTEE_TYPES if c in X.columns]
    if not cols:
        return np.zeros(len(X), dtype=np.int64), cols
    F = X[cols].fillna(0).to_numpy(dtype=float) > 0.5
    return F.astype(np.int64) @ (np.int64(1) << np.arange(len(cols), dtype=np.int64)), cols


def _object_lists(lookup: list[list], codes: np.ndarray) -> np.ndarray:
    """Object array of fresh list copies ``lookup[c]`` (callers may mutate one row's list)."""
    tab = np.empty(len(lookup), dtype=object)
    for u, x in enumerate(lookup):  # one by one: a sequence of equal-length lists would make numpy 2-D
        tab[u] = x
    return np.frompyfunc(list, 1, 1)(tab[codes]).astype(object, copy=False) if len(codes) else np.empty(0, dtype=object)


def failing_guarantee_types(X: pd.DataFrame) -> pd.Series:
    """Risk types of the guarantees that fail in each row of the feature matrix.

    Parameters
    ----------
    X : DataFrame
        Feature matrix; the columns of :data:`GUARANTEE_TYPES` it has are read
        (missing values count as not failing).

    Returns
    -------
    Series
        A list per row (object dtype, ``X.index``) of the failing guarantees' risk
        types, in :data:`GUARANTEE_TYPES` order; empty where none fails.
    """
    mask, cols = _guarantee_masks(X)
    # at most 2**4 distinct rows: build each list once
    uniq, inv = np.unique(mask, return_inverse=True)
    lookup = [[GUARANTEE_TYPES[c] for k, c in enumerate(cols) if (int(m) >> k) & 1] for m in uniq]
    return pd.Series(_object_lists(lookup, inv.reshape(-1)), index=X.index, dtype=object)


def group_by_risk_type(contrib: pd.DataFrame, map_path: str | Path | None = None,
                       X: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sum feature contributions per risk type (columns in :data:`RISK_TYPES` order).

    Features mapped to the pseudo type 三保障 (the count of failing guarantees)
    are split, row by row, equally over the risk types of the guarantees that
    fail in ``X`` (unsafe housing → 因安全住房, …); without ``X``, or where none
    fails, they count as 其他. Row sums are unchanged.

    Parameters
    ----------
    contrib : DataFrame
        Feature contributions (rows × features), e.g. from :func:`contributions`.
    map_path : str or Path, optional
        Risk-type map (default: the packaged ``risk_type_map.csv``).
    X : DataFrame, optional
        Feature matrix with the same index, for the failing guarantees.

    Returns
    -------
    DataFrame
        Rows of ``contrib`` × :data:`RISK_TYPES` (columns named ``risk_type``), float.
    """
    info = feature_info(list(contrib.columns), map_path)
    types = [i.risk_type for i in info]
    C = contrib.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(C).any():  # the groupby sum this replaces skipped missing contributions
        C = np.where(np.isnan(C), 0.0, C)
    # column sums per type on contiguous blocks; a 0/1 matrix product would turn ±inf into NaN
    labels = list(dict.fromkeys(types))
    perm = np.concatenate([[j for j, t in enumerate(types) if t == lab] for lab in labels]).astype(np.intp) \
        if labels else np.zeros(0, dtype=np.intp)
    starts = np.cumsum([0] + [types.count(lab) for lab in labels])[:-1]
    sums = np.add.reduceat(C[:, perm], starts, axis=1) if labels and len(C) else np.zeros((len(C), len(labels)))
    col = {lab: sums[:, k] for k, lab in enumerate(labels)}
    zero = np.zeros(len(C))
    g = {rt: col.get(rt, zero) for rt in RISK_TYPES}
    if GUARANTEES in col:
        part = col[GUARANTEES]
        if X is not None:
            mask, cols = _guarantee_masks(X.reindex(contrib.index))
        else:
            mask, cols = np.zeros(len(C), dtype=np.int64), []
        bits = [(mask >> k) & 1 for k in range(len(cols))]
        n = np.sum(bits, axis=0) if bits else np.zeros(len(C), dtype=np.int64)
        for rt in set(GUARANTEE_TYPES.values()):
            has = np.zeros(len(C), dtype=bool)
            for k, c in enumerate(cols):
                if GUARANTEE_TYPES[c] == rt:
                    has |= bits[k].astype(bool)
            g[rt] = g[rt] + np.where(has, part / np.maximum(n, 1), 0.0)
        g["其他"] = g["其他"] + np.where(n == 0, part, 0.0)
    out = np.column_stack([g[rt] for rt in RISK_TYPES]) if len(C) else np.zeros((0, len(RISK_TYPES)))
    return pd.DataFrame(out, index=contrib.index, columns=pd.Index(RISK_TYPES, name="risk_type"), dtype=float)


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

    Parameters
    ----------
    grouped : DataFrame
        Contributions per risk type (:func:`group_by_risk_type`).
    second_share : float
        Share of the main type's contribution a second type needs.
    min_contrib : float
        Smallest contribution (log-odds) of a main or second specific type.

    Returns
    -------
    (main, types)
        ``main``: the main type per row (str dtype, missing where none);
        ``types``: a list per row (object dtype) of the main and second type.
    """
    specific = [c for c in grouped.columns if c != "其他"]
    vals = grouped[specific].to_numpy(dtype=float)
    other = grouped["其他"].to_numpy(dtype=float) if "其他" in grouped.columns else np.zeros(len(grouped))
    n, q = vals.shape
    if n == 0:
        return pd.Series([], index=grouped.index, dtype="str"), pd.Series([], index=grouped.index, dtype=object)
    order = np.argsort(-vals, axis=1, kind="stable")
    rows = np.arange(n)
    j0 = order[:, 0]
    v0 = vals[rows, j0]
    first = v0 >= min_contrib
    if q > 1:
        j1 = order[:, 1]
        v1 = vals[rows, j1]
        second = first & (v1 >= min_contrib) & (v1 >= second_share * v0)
    else:
        j1, second = j0, np.zeros(n, dtype=bool)
    # codes q → 其他, q + 1 → none; only a handful of distinct (main, second) pairs occur
    main_code = np.where(first, j0, np.where(other > 0, q, q + 1))
    pair = main_code * (q + 2) + np.where(second, j1, q + 1)
    uniq, inv = np.unique(pair, return_inverse=True)
    mains: list[str | None] = []
    lookup: list[list[str]] = []
    for p in uniq.tolist():
        m, s = divmod(p, q + 2)
        if m < q:
            mains.append(specific[m])
            lookup.append([specific[m]] + ([specific[s]] if s < q else []))
        elif m == q:
            mains.append("其他")
            lookup.append(["其他"])
        else:
            mains.append(None)
            lookup.append([])
    inv = inv.reshape(-1)
    tab = np.empty(len(mains), dtype=object)
    tab[:] = mains
    return (pd.Series(tab[inv].tolist(), index=grouped.index, dtype="str"),
            pd.Series(_object_lists(lookup, inv), index=grouped.index, dtype=object))


def format_risk_type_contributions(grouped: pd.DataFrame, *, digits: int = 2) -> pd.Series:
    """'因病 +0.82；缺劳动力 +0.31；...' — non-zero types, largest first (log-odds).

    Parameters
    ----------
    grouped : DataFrame
        Contributions per risk type (:func:`group_by_risk_type`).
    digits : int
        Decimals; types whose contribution rounds to zero are left out.

    Returns
    -------
    Series
        One string per row (str dtype), types joined by "；" in descending order of
        contribution (ties in column order); "" where none is left.
    """
    names = list(grouped.columns)
    G = grouped.to_numpy(dtype=float)
    n, p = G.shape
    tiny = 0.5 * 10 ** -digits
    if n == 0 or p == 0:
        return pd.Series([""] * n, index=grouped.index, dtype="str")
    order = np.argsort(-G, axis=1, kind="stable")
    V = np.take_along_axis(G, order, axis=1)
    with np.errstate(invalid="ignore"):
        keep = np.abs(V) >= tiny  # NaN is never kept
    rows, slots = np.nonzero(keep)
    J, v = order[rows, slots], V[rows, slots]
    one = lambda x: f"{x:+.{digits}f}"  # noqa: E731  (the reference formatting)
    if isinstance(digits, (int, np.integer)) and 0 <= digits <= 15:
        key, safe = _rounding_key(v * 10.0 ** int(digits), exact=digits == 0)
    else:  # odd ``digits``: key by value, still via ``one``
        key, safe = np.zeros(len(v), dtype=np.int64), np.zeros(len(v), dtype=bool)
    codes, strs = _distinct_strings(v, key, safe, one)
    # distinct (type, value text) pairs → words
    word, first = _factorize(J * len(strs) + codes)
    words = [f"{names[J[c]]} {strs[codes[c]]}" for c in first.tolist()]
    return pd.Series(_join_cells(n, rows, word, words, "；"), index=grouped.index, dtype="str")


def _top_positive(C: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """First ``m`` columns of ``argsort(-C, kind="stable")`` per row, as far as they are positive.

    Returns the column indices (n × m) and where they point at a positive value.
    Non-positive and NaN entries are never read past the first one, so they are all
    set equal (+inf after negating): their order no longer matters and the stable
    sort has far less to do, while positive entries keep their exact order.
    """
    with np.errstate(invalid="ignore"):
        N = np.where(C > 0, -C, np.inf)
    cand = np.argsort(N, axis=1, kind="stable")[:, :m]
    return cand, np.take_along_axis(N, cand, axis=1) < 0


def top_factor_words(contrib: pd.DataFrame, X: pd.DataFrame, *, k: int = 3, language: str = "zh",
                     map_path: str | Path | None = None, model: Any = None) -> pd.Series:
    """The ``k`` features pushing risk up most, in plain words with the household's values.

    Parameters
    ----------
    contrib : DataFrame
        Feature contributions (rows × features).
    X : DataFrame
        Feature values, row for row (by position) with ``contrib``.
    k : int
        Number of features named. Features sharing a readable name are named once
        (and do not count twice); only the ``3k`` largest contributions are looked at.
    language : {"zh", "en"}
    map_path : str or Path, optional
        Risk-type map (default: the packaged ``risk_type_map.csv``).
    model : RiskModel, optional
        The model the contributions are of: its features' line (this year's or
        next year's, :func:`judged_ahead`) sets the words.

    Returns
    -------
    Series
        One string per row (str dtype): "name value" for each positive feature,
        largest first, joined by "；" ("; " in English); "" where none pushes risk up.
    """
    cols = list(contrib.columns)
    infos = judged_ahead(feature_info(cols, map_path), model)
    C = contrib.to_numpy(dtype=float)
    Xv = X.reindex(columns=cols).to_numpy(dtype=float)
    Xcol = {c: X[c].to_numpy() for c in {i.with_ for i in infos if i.with_} if c in X.columns}
    sep = "；" if language == "zh" else "; "
    joiner = "，" if language == "zh" else ", "
    n, p = C.shape
    m = min(3 * k, p)
    if n == 0 or m <= 0:
        return pd.Series([""] * n, index=contrib.index, dtype="str")
    cand, pos = _top_positive(C, m)

    # which of the m candidates become words: the loop "stop at the first non-positive
    # or after k words; skip a name already said" run on whole columns
    names = [i.name_zh if language == "zh" else i.name_en for i in infos]
    name_id = np.unique(np.array(names, dtype=object), return_inverse=True)[1].reshape(-1)
    nid = name_id[cand]
    said = np.zeros((n, m), dtype=bool)
    alive = np.ones(n, dtype=bool)
    count = np.zeros(n, dtype=np.intp)
    for r in range(m):
        alive &= pos[:, r] & (count < k)
        dup = np.zeros(n, dtype=bool)
        for r2 in range(r):
            dup |= said[:, r2] & (nid[:, r2] == nid[:, r])
        said[:, r] = alive & ~dup
        count += said[:, r]

    # words per feature: format each feature's values (and its companion's) for all
    # rows that name it at once, one format_value call per distinct printed value
    rows, slots = np.nonzero(said)
    J = cand[rows, slots]
    word = np.zeros(len(J), dtype=np.intp)
    words: list[str] = []
    comp_info: dict[str, FeatureInfo] = {}
    by_j = np.argsort(J, kind="stable")
    bounds = np.flatnonzero(np.diff(J[by_j])) + 1
    for cells in np.split(by_j, bounds) if len(by_j) else []:
        j = int(J[cells[0]])
        fi, name, R = infos[j], names[j], rows[cells]
        codes, strs = _value_strings(Xv[R, j], fi.format, language)
        if fi.with_ and fi.with_ in Xcol:
            comp = comp_info.get(fi.with_)
            if comp is None:
                comp = comp_info[fi.with_] = judged_ahead(feature_info([fi.with_], map_path), model)[0]
            ccodes, cstrs = _value_strings(Xcol[fi.with_][R], comp.format, language)
            pcodes, first = _factorize(codes * len(cstrs) + ccodes)
            texts = []
            for c in first.tolist():
                value, other = strs[codes[c]], cstrs[ccodes[c]]
                value = other + joiner + value if fi.format in ("ratio_line", "ratio_next_line") else value + joiner + other
                texts.append(f"{name} {value}")
            codes = pcodes
        else:
            texts = [f"{name} {value}" for value in strs]
        word[cells] = codes + len(words)
        words.extend(texts)
    return pd.Series(_join_cells(n, rows, word, words, sep), index=contrib.index, dtype="str")


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
    """Measures for each row's risk types and labour capacity (unknown labour → as without labour).

    Parameters
    ----------
    types : Series
        A list of risk types per row (e.g. from :func:`main_risk_types`).
    has_labor : Series
        Whether the household has labour capacity (missing → no).
    mmap : dict, optional
        ``(risk_type, has_labor) → measures`` (:func:`load_measures_map`).

    Returns
    -------
    Series
        Measures per row (str dtype) joined by "；", each once, in the order of the
        types; missing where there are none.
    """
    mmap = mmap if mmap is not None else load_measures_map()
    out = []
    # few distinct (types, labour) combinations: look each up once
    done: dict[tuple[tuple, bool], Any] = {}
    for t, lab in zip(types, has_labor):
        lab_b = bool(lab) if lab is not pd.NA and lab is not None else False
        key = (tuple(t or ()), lab_b)
        s = done.get(key)
        if s is None:
            ms: list[str] = []
            for rt in key[0]:
                for m in mmap.get((rt, lab_b), mmap.get(("其他", lab_b), [])):
                    if m not in ms:
                        ms.append(m)
            s = done[key] = "；".join(ms) if ms else np.nan
        out.append(s)
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

    model = resolve_model(model, lines=lines)
    sel = select_year(records, year=year, lines=lines)
    panel_hist, rows = sel.history, sel.scored_rows
    X_all = feature_frame(model, panel_hist)
    X = X_all.loc[rows]
    base, contrib = contributions(model, panel_hist.loc[rows], X)
    info = judged_ahead(feature_info(list(contrib.columns), map_path), model)
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
    exp.value_formats = [i.format for i in info]  # type: ignore[attr-defined]  # for values in words and units
    return exp
