"""The vectorised reason builders in fanpin_risk.explain give exactly what the per-row code gave.

The per-row implementations they replaced are kept below as ``_ref_*`` (verbatim), and
every fast function is compared with its reference on adversarial random inputs (ties,
rounding ties of the printed values, ±0, NaN, ±inf, huge values) and on real model output.
"""

from __future__ import annotations

import functools
import importlib
import zlib

import numpy as np
import pandas as pd
import pytest

ex = importlib.import_module("fanpin_risk.explain._explain")  # the stage's own private helpers
from fanpin_risk.explain import (  # noqa: E402
    GUARANTEE_TYPES,
    GUARANTEES,
    RISK_TYPES,
    feature_info,
    format_value,
    load_measures_map,
)

# --------------------------------------------------------------------------- reference (pre-vectorisation) code
# Verbatim copies of the per-row implementations these fast versions replaced; the
# tests below hold the new code to their exact output.
def _ref_failing_guarantee_types(X: pd.DataFrame) -> pd.Series:
    cols = [c for c in GUARANTEE_TYPES if c in X.columns]
    F = X[cols].fillna(0).to_numpy(dtype=float) > 0.5 if cols else np.zeros((len(X), 0), dtype=bool)
    return pd.Series([[GUARANTEE_TYPES[cols[k]] for k in np.flatnonzero(r)] for r in F], index=X.index, dtype=object)


def _ref_group_by_risk_type(contrib: pd.DataFrame, map_path=None, X: pd.DataFrame | None = None) -> pd.DataFrame:
    info = feature_info(list(contrib.columns), map_path)
    types = [i.risk_type for i in info]
    g = contrib.T.groupby(pd.Index(types, name="risk_type")).sum().T
    if GUARANTEES in g.columns:
        part = g.pop(GUARANTEES).to_numpy(dtype=float)
        g = g.reindex(columns=RISK_TYPES, fill_value=0.0)
        failing = _ref_failing_guarantee_types(X.reindex(g.index)) if X is not None else pd.Series([[]] * len(g), index=g.index)
        n = failing.map(len).to_numpy()
        for rt in set(GUARANTEE_TYPES.values()):
            has = failing.map(lambda t, rt=rt: rt in t).to_numpy()
            g[rt] = g[rt].to_numpy() + np.where(has, part / np.maximum(n, 1), 0.0)
        g["其他"] = g["其他"].to_numpy() + np.where(n == 0, part, 0.0)
    return g.reindex(columns=RISK_TYPES, fill_value=0.0)


def _ref_main_risk_types(grouped: pd.DataFrame, *, second_share: float = 0.5, min_contrib: float = 0.05):
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


def _ref_format_risk_type_contributions(grouped: pd.DataFrame, *, digits: int = 2) -> pd.Series:
    out = []
    names = list(grouped.columns)
    tiny = 0.5 * 10 ** -digits
    for row in grouped.to_numpy(dtype=float):
        order = np.argsort(-row, kind="stable")
        out.append("；".join(f"{names[j]} {row[j]:+.{digits}f}" for j in order if abs(row[j]) >= tiny))
    return pd.Series(out, index=grouped.index, dtype="str")


def _ref_top_factor_words(contrib: pd.DataFrame, X: pd.DataFrame, *, k: int = 3, language: str = "zh",
                          map_path=None) -> pd.Series:
    info = {i.feature: i for i in feature_info(list(contrib.columns), map_path)}
    cols = list(contrib.columns)
    C = contrib.to_numpy(dtype=float)
    Xv = X.reindex(columns=cols).to_numpy(dtype=float)
    Xcol = {c: X[c].to_numpy() for c in {i.with_ for i in info.values() if i.with_} if c in X.columns}
    out = []
    sep = "；" if language == "zh" else "; "
    comp_info: dict = {}
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
            if name in names_used:
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


def _ref_suggest_measures(types: pd.Series, has_labor: pd.Series, mmap=None) -> pd.Series:
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


# --------------------------------------------------------------------------- helpers
def _near(centres: np.ndarray) -> np.ndarray:
    """Each value and its two float neighbours (values on and next to a rounding tie)."""
    c = np.asarray(centres, dtype=float)
    return np.concatenate([c, np.nextafter(c, np.inf), np.nextafter(c, -np.inf)])


def _tricky(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """Mixed values: smooth, on/next to ties of 0–3 decimals, ±0, NaN, ±inf, huge."""
    k = rng.integers(-3000, 3000, n).astype(float)
    pool = np.concatenate([
        rng.normal(0, scale, n),
        _near((k + 0.5) / 1000), _near((k + 0.5) / 100), _near((k + 0.5) / 10), _near(k + 0.5),
        k / 100, [0.0, -0.0, np.nan, np.inf, -np.inf, 1e6, -1e6, 999999.995, 1e9 + 0.5, 2.0 ** 53, 1e17, -1e300],
    ])
    return rng.choice(pool, n)


def assert_same(new: pd.Series, old: pd.Series) -> None:
    pd.testing.assert_series_equal(new, old)
    assert new.tolist() == old.tolist()  # element by element, NaN placement included


#: The feature the risk-type map puts under the pseudo type 三保障.
GUARANTEES_FEATURE = "n_guarantees_failed"

#: Every value format of format_value (all the map uses).
FORMATS = ["bool", "yuan", "exp_yuan", "signed_yuan", "dlog", "signed_ratio", "signed_share", "signed_persons",
           "ratio_line", "persons", "months", "years", "items", "count", "share", "pct", "code", "number"]


def _format_values(fmt: str, rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    """Values that stress ``fmt``: ties of exactly the precision it prints at."""
    k = rng.integers(-2000, 2000, n).astype(float)
    ties = {
        "yuan": _near(k * 37 + 0.5), "signed_yuan": _near(k + 0.5), "months": _near(k / 10 + 0.5),
        "share": _near((k + 0.5) / 100), "pct": _near((k + 0.5) / 100), "signed_share": _near((k + 0.5) / 100),
        "ratio_line": _near((k + 0.5) / 100), "signed_ratio": _near((k + 0.5) / 100),
        "number": _near((k + 0.5) / 100),
        # log values whose yuan / percentage change is a tie
        "exp_yuan": _near(np.log1p(np.abs(k) * 53 + 0.5)), "dlog": _near(np.log1p((np.abs(k) % 300 - 99.5) / 100)),
    }.get(fmt, _near(k / 4))
    special = [0.0, -0.0, -1e-9, 1e-9, np.nan, np.inf, -np.inf, 0.5, -0.5, 1.5, 2.5, 0.005, -0.005,
               0.125, 999999.994, 999999.996, 1e6, -1e6, 1e7 + 0.5, 2.0 ** 53 + 2, 1e20, 123456.789, -0.004]
    if fmt in ("exp_yuan", "dlog"):
        special = [s for s in special if not 700 < s < np.inf]  # math.expm1 overflows (the reference raises)
    vals = np.concatenate([ties, rng.normal(0, 50, n), rng.integers(0, 6, n), special])
    return rng.permutation(vals)


@functools.lru_cache(maxsize=None)
def real_inputs():
    """Contributions and features of the packaged model on a simulated panel."""
    import fanpin_risk
    from fanpin_risk.models import resolve_model

    df = fanpin_risk.simulate(3000, seed=5)
    model = resolve_model(None)
    # the latest year, as score() explains it (pred_contrib on all years would take seconds)
    X = model.transform(df).loc[df.index[df["year"] == df["year"].max()]]
    base, contrib = ex.contributions(model, None, X)
    return contrib, X, df


# --------------------------------------------------------------------------- the formatting core
@pytest.mark.parametrize("fmt", FORMATS + ["no_such_format"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_value_strings_equal_format_value(fmt, language):
    rng = np.random.default_rng(zlib.crc32(f"{fmt}/{language}".encode()))
    v = _format_values(fmt, rng)
    codes, strs = ex._value_strings(v, fmt, language)
    got = [strs[c] for c in codes]
    want = [format_value(x, fmt, language) for x in v]
    bad = [(x, g, w) for x, g, w in zip(v, got, want) if g != w]
    assert not bad, bad[:5]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float32", "object", "Float64"])
def test_value_strings_other_dtypes(dtype):
    raw = pd.Series([0, 1, 3, 12850, 7, 1, 0], dtype="int64").astype(dtype)
    if dtype in ("float32", "object", "Float64"):
        raw.iloc[2] = None
    arr = raw.to_numpy()
    for fmt in ("yuan", "bool", "ratio_line", "persons"):
        codes, strs = ex._value_strings(arr, fmt, "zh")
        assert [strs[c] for c in codes] == [format_value(x, fmt, "zh") for x in arr]


def test_value_strings_format_each_distinct_value_once(monkeypatch):
    """The fast path must not degrade to one format_value call per cell."""
    calls = []
    real = ex.format_value
    monkeypatch.setattr(ex, "format_value", lambda *a: calls.append(a) or real(*a))
    v = np.random.default_rng(0).uniform(0, 1, 20_000)
    codes, strs = ex._value_strings(v, "share", "zh")
    assert len(calls) == len(strs) <= 101 and [strs[c] for c in codes[:50]] == [real(x, "share") for x in v[:50]]


# --------------------------------------------------------------------------- random edge cases
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_failing_guarantee_types_random(seed):
    rng = np.random.default_rng(seed)
    cols = list(GUARANTEE_TYPES)
    n = 500
    X = pd.DataFrame({c: rng.choice([0.0, 1.0, np.nan, 0.5, 0.7, -1.0, 2.0], n) for c in cols + ["other"]},
                     index=pd.Index([f"h{i}" for i in rng.permutation(n)], name="hid"))
    for keep in (cols, cols[::-2], cols[1:2], []):
        Xs = X[[c for c in X.columns if c in keep or c == "other"]]
        assert_same(ex.failing_guarantee_types(Xs), _ref_failing_guarantee_types(Xs))
    assert_same(ex.failing_guarantee_types(X.iloc[:0]), _ref_failing_guarantee_types(X.iloc[:0]))
    # each row gets its own list
    out = ex.failing_guarantee_types(X)
    out.iloc[0].append("x")
    assert all("x" not in t for t in out.iloc[1:])


def _random_contrib(rng, features, n, index=None):
    C = np.round(rng.normal(0, 0.3, (n, len(features))), rng.integers(1, 4))  # rounding makes ties
    C[rng.random(C.shape) < 0.2] = 0.0
    C[rng.random(C.shape) < 0.01] = np.nan
    return pd.DataFrame(C, columns=features, index=index)


@pytest.mark.parametrize("seed", [0, 1])
def test_group_by_risk_type_random(seed):
    rng = np.random.default_rng(seed)
    contrib, X, _ = real_inputs()
    feats = list(contrib.columns)
    n = 400
    idx = pd.Index(rng.permutation(10 * n)[:n], name="row")
    C = _random_contrib(rng, feats, n, idx)
    Xr = X.iloc[:n].set_axis(idx, axis=0).copy()
    for c in GUARANTEE_TYPES:
        Xr[c] = rng.choice([0.0, 1.0, np.nan], n)
    cases = [(C, Xr), (C, None), (C, Xr.drop(columns=["fail_housing_safe", "fail_medical_insured"])),
             (C, Xr.iloc[: n // 2]), (C.drop(columns=[GUARANTEES_FEATURE]), Xr), (C.iloc[:, :7], None),
             (C.iloc[:0], Xr)]
    for c, x in cases:
        new, old = ex.group_by_risk_type(c, X=x), _ref_group_by_risk_type(c, X=x)
        assert list(new.columns) == RISK_TYPES == list(old.columns) and new.columns.name == old.columns.name
        assert new.index.equals(old.index) and new.index.name == old.index.name
        assert (new.dtypes == "float64").all()
        assert np.allclose(new.to_numpy(dtype=float), old.to_numpy(dtype=float), rtol=0, atol=1e-12, equal_nan=True)
    # infinities stay where they are (a matrix product would smear them as NaN)
    c = C.copy()
    c.iloc[0, 0] = np.inf
    new, old = ex.group_by_risk_type(c, X=Xr), _ref_group_by_risk_type(c, X=Xr)
    assert np.array_equal(np.isinf(new.to_numpy()), np.isinf(old.to_numpy()))
    assert np.array_equal(np.isnan(new.to_numpy()), np.isnan(old.to_numpy()))



def _random_grouped(rng, n, columns=RISK_TYPES):
    G = rng.choice(np.concatenate([_tricky(rng, 300), rng.normal(0, 0.4, 300).round(2), [0.05, 0.1, 0.025]]),
                   (n, len(columns)))
    G[:, 1] = np.where(rng.random(n) < 0.3, G[:, 0], G[:, 1])  # ties between columns
    G[:, -1] = np.where(rng.random(n) < 0.3, G[:, 2] / 2, G[:, -1])  # exactly second_share of another
    return pd.DataFrame(G, columns=pd.Index(list(columns), name="risk_type"),
                        index=pd.Index([f"id{i}" for i in range(n)]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_main_risk_types_random(seed):
    rng = np.random.default_rng(seed)
    g = _random_grouped(rng, 1500)
    for kw in ({}, {"second_share": 0.0, "min_contrib": 0.0}, {"second_share": 1.0, "min_contrib": -1.0}):
        (m1, t1), (m0, t0) = ex.main_risk_types(g, **kw), _ref_main_risk_types(g, **kw)
        assert_same(m1, m0)
        assert_same(t1, t0)
    for cols in (["因病", "其他"], ["因病", "因学"], ["其他", "因残", "因病", "因学"]):
        gg = g[cols]
        for a, b in zip(ex.main_risk_types(gg), _ref_main_risk_types(gg)):
            assert_same(a, b)
    for a, b in zip(ex.main_risk_types(g.iloc[:0]), _ref_main_risk_types(g.iloc[:0])):
        assert_same(a, b)
    t = ex.main_risk_types(g)[1]
    t.iloc[0].append("x")
    assert all("x" not in x for x in t.iloc[1:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_format_risk_type_contributions_random(seed):
    rng = np.random.default_rng(seed)
    g = _random_grouped(rng, 3000)
    for digits in (2, 0, 1, 3):
        assert_same(ex.format_risk_type_contributions(g, digits=digits),
                    _ref_format_risk_type_contributions(g, digits=digits))
    # values right at the omission threshold and rounding ties, ties between types, NaN
    edge = np.array([[0.005, -0.005, 0.0049999, 0.015, 0.015, np.nan, -0.0, 0.025, -0.025, 1e12, -np.inf]])
    e = pd.DataFrame(np.repeat(edge, 3, axis=0), columns=RISK_TYPES)
    e.iloc[1] = e.iloc[1][::-1].to_numpy()
    assert_same(ex.format_risk_type_contributions(e), _ref_format_risk_type_contributions(e))
    for frame in (g.iloc[:0], g.iloc[:, :0], g.iloc[:, :1]):
        assert_same(ex.format_risk_type_contributions(frame), _ref_format_risk_type_contributions(frame))


def _fake_features():
    """Feature names covering every value format, companions and shared readable names."""
    info = feature_info(list(real_inputs()[0].columns))
    by_fmt = {}
    for i in info:
        by_fmt.setdefault(i.format, []).append(i.feature)
    feats = [f for fs in by_fmt.values() for f in fs[:3]]
    feats += ["income_pc", "log_income_pc", "ratio_to_line", "medical_to_line", "not_in_the_map", "absent_from_X"]
    return list(dict.fromkeys(feats))


@pytest.mark.parametrize("seed", [0, 1])
def test_top_factor_words_random(seed):
    rng = np.random.default_rng(seed)
    feats = _fake_features()
    info = {i.feature: i for i in feature_info(feats)}
    n = 1500
    C = _random_contrib(rng, feats, n)
    C.iloc[:, 1] = np.where(rng.random(n) < 0.5, C.iloc[:, 0], C.iloc[:, 1])  # more exact ties
    C.loc[: n // 3, ["income_pc", "log_income_pc", "ratio_to_line"]] = 0.9  # same name, tied, on top
    X = pd.DataFrame({f: _format_values(info[f].format, rng)[:n] for f in feats if f != "absent_from_X"})
    X["income_pc"] = np.where(rng.random(n) < 0.1, np.nan, X["income_pc"].abs())
    for k in (3, 1, 2, 5, 0):
        for language in ("zh", "en"):
            assert_same(ex.top_factor_words(C, X, k=k, language=language),
                        _ref_top_factor_words(C, X, k=k, language=language))
    # a companion column of whole yuan (int64) and one of Python objects
    Xi = X.assign(income_pc=X["income_pc"].fillna(0).clip(0, 1e7).round().astype("int64"))
    Xo = X.assign(income_pc=X["income_pc"].astype(object).where(X["income_pc"].notna(), None))
    for x in (Xi, Xo):
        assert_same(ex.top_factor_words(C, x), _ref_top_factor_words(C, x))
    for c, x in ((C.iloc[:0], X.iloc[:0]), (C.iloc[:, :0], X)):
        assert_same(ex.top_factor_words(c, x), _ref_top_factor_words(c, x))


def test_top_factor_words_many_ties():
    """Rows whose 3k-th largest contribution is tied with later columns."""
    rng = np.random.default_rng(7)
    feats = _fake_features()
    C = pd.DataFrame(rng.choice([0.0, 0.1, 0.2, 0.3, -0.1], (800, len(feats))), columns=feats)
    X = pd.DataFrame(rng.integers(0, 3, (800, len(feats))).astype(float), columns=feats)
    for k in (1, 3, 4):
        assert_same(ex.top_factor_words(C, X, k=k), _ref_top_factor_words(C, X, k=k))


def test_suggest_measures_random():
    rng = np.random.default_rng(3)
    mm = load_measures_map()
    pool = [[], ["因病"], ["因病", "因学"], ["因学", "因病"], ["其他"], ["未知类型"],
            ["因安全饮水", "因病", "因病"], None]
    types = pd.Series([pool[i] for i in rng.integers(0, len(pool), 2000)], index=rng.permutation(2000))
    lab = pd.Series(rng.choice([True, False, None], 2000), index=types.index, dtype=object)
    lab[::7] = pd.NA
    for lb in (lab, lab.astype("boolean"), pd.Series(True, index=types.index)):
        assert_same(ex.suggest_measures(types, lb, mm), _ref_suggest_measures(types, lb, mm))
    assert_same(ex.suggest_measures(types, lab), _ref_suggest_measures(types, lab))


# --------------------------------------------------------------------------- real model output
def test_all_reason_builders_on_real_model_output():
    contrib, X, df = real_inputs()
    assert len(contrib) > 2000
    f_new, f_old = ex.failing_guarantee_types(X), _ref_failing_guarantee_types(X)
    assert_same(f_new, f_old)
    assert f_new.map(len).gt(0).any()  # the data exercise the guarantee split
    g_new, g_old = ex.group_by_risk_type(contrib, X=X), _ref_group_by_risk_type(contrib, X=X)
    assert list(g_new.columns) == list(g_old.columns) and g_new.index.equals(g_old.index)
    assert np.allclose(g_new.to_numpy(), g_old.to_numpy(), rtol=0, atol=1e-12)
    g0_new, g0_old = ex.group_by_risk_type(contrib), _ref_group_by_risk_type(contrib)
    assert np.allclose(g0_new.to_numpy(), g0_old.to_numpy(), rtol=0, atol=1e-12)
    shocks = [c for c in ex.SHOCK_TYPES if c in df.columns]
    g = ex.attribute_to_shocks(g_old, df.loc[X.index, shocks])
    (m_new, t_new), (m_old, t_old) = ex.main_risk_types(g), _ref_main_risk_types(g)
    assert_same(m_new, m_old)
    assert_same(t_new, t_old)
    assert_same(ex.format_risk_type_contributions(g), _ref_format_risk_type_contributions(g))
    for language in ("zh", "en"):
        new = ex.top_factor_words(contrib, X, language=language)
        old = _ref_top_factor_words(contrib, X, language=language)
        assert_same(new, old)
        assert new.str.len().gt(0).mean() > 0.5
    lab = (X["n_labor"] > 0).astype("boolean") if "n_labor" in X.columns else pd.Series(True, index=X.index)
    assert_same(ex.suggest_measures(t_old, lab), _ref_suggest_measures(t_old, lab))


def test_every_feature_has_a_chinese_name_and_a_format():
    """Each feature of PanelFeatures (history block included) reads in Chinese, with its own unit, in the reasons."""
    from fanpin_risk.explain import feature_info
    from fanpin_risk.panel import PanelFeatures
    from fanpin_risk.simulate import simulate

    names = list(PanelFeatures().fit(simulate(60, seed=1)).get_feature_names_out())
    infos = {f.feature: f for f in feature_info(names)}
    for n in PanelFeatures.HISTORY_FEATURES:
        info = infos[n]
        assert info.name_zh != n and not any(c.isascii() and c.isalpha() for c in info.name_zh), n
    assert infos["hist_n_shock_disaster"].format == "count" and infos["hist_n_shock_disaster"].risk_type == "因自然灾害"
    assert infos["hist_mean_ratio"].format == "ratio_line" and infos["ctx_village_disaster"].format == "share"
