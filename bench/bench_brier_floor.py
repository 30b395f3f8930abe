"""How close can a model on the records come to the simulator's own probability? (issue 15, Brier target)

The simulator knows each household's next-year probability of the label
(``p_relapse`` of the cause record): it conditions on everything the world holds,
including what no record shows (earning ability, a persistent wage shock, next
year's draws' odds). Its Brier score is the floor for the simulated data, not
for a model that only sees the records. This bench trains the LightGBM model on
more and more households of one large simulated world and reports its Brier
against that floor on the same test rows: if the ratio stays well above 1 as the
training data grow eightfold, the remaining gap is information the records do
not carry, not a shortfall of the model.

Setup: ``simulate_world(world, n, seed)``, years 2020-2025, cause record of 2024
(16 draws); training rows 2021-2023 (label years 2022-2024; 2020 → 2021 left out
so that the line change is not part of the comparison), test rows 2024 (label
2025); households sampled at random for the training subsets; the default model
(7 leaves) and a larger one (31 leaves, learning rate 0.05).

``--hidden`` adds, on the largest training set, the default model given columns
no record holds, read off the simulator's state after each year: (a) the
household's earning ability and its persistent wage shock; (b) which members
came home after losing work (they stay home more the next year: drawn for 60 %
of the job losers, a record shows only the job loss) and the public-welfare job
months granted for the coming year; (c) the whole state, every household array
and the sum and maximum over members of every member array. If (c) comes close
to the oracle, the gap of the record-only model is what the records do not
show; if even (c) stays far, no model learned from this many households reaches
the oracle, whatever it is given.

    python bench/bench_brier_floor.py [--n 64000] [--world baseline] [--hidden] [--out bench/brier_floor.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from fanpin_risk.evaluation import _backtest as BT
from fanpin_risk.models import fit_on_features
from fanpin_risk.panel import PanelFeatures
from fanpin_risk.simulate import _simulate as SIM
from fanpin_risk.simulate import simulate_world

SIZES = {"7 leaves (default)": None, "31 leaves · lr 0.05": {"num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 100}}


#: Draws of the cause record: the oracle is the mean of this many simulations of the next year.
DRAWS = 16

#: The hidden-state variants of ``--hidden``: a name and the state columns it adds (None: all of them).
HIDDEN = {"ability, wage shock": ("ability", "e_shock"),
          "returned migrants, public-welfare months": ("returned_sum", "pwj_months_sum"),
          "the whole state": None}


def _state_columns(s) -> dict[str, np.ndarray]:
    """Every numeric household array of the state and, for member arrays, the sum and maximum over members."""
    alive = np.flatnonzero(s.hh_alive)
    act = s.active[alive]
    cols = {}
    for k, v in vars(s).items():
        if not (isinstance(v, np.ndarray) and v.shape[:1] == (s.n,) and v.dtype.kind in "biuf") or k == "risks":
            continue
        if v.ndim == 1:
            cols[k] = v[alive].astype("float64")
        elif v.ndim == 2 and v.shape == s.active.shape:
            vv = v[alive].astype("float64")
            cols[f"{k}_sum"], cols[f"{k}_max"] = np.where(act, vv, 0.0).sum(1), np.where(act, vv, -1e9).max(1)
    return cols


def _simulate_with_state(world: str, n: int, seed: int, hidden: bool):
    """The world's panel and cause record; with ``hidden``, also each household-year's state (:func:`_state_columns`)."""
    seen: list[pd.DataFrame] = []
    rows = SIM.household_rows

    def recording(s, yr):  # the simulator's own rows, unchanged; the state beside them is written down
        out = rows(s, yr)
        alive = np.flatnonzero(s.hh_alive)
        seen.append(pd.DataFrame({"household_id": s.hid[alive].astype(str), "year": yr.p.year, **_state_columns(s)}))
        return out

    if hidden:
        SIM.household_rows = recording
    try:
        panel, causes = simulate_world(world, n, seed=seed, years=range(2020, 2026), return_causes=True,
                                       cause_years=[2024], cause_draws=DRAWS)
    finally:
        SIM.household_rows = rows
    return panel, causes, (pd.concat(seen, ignore_index=True) if seen else None)


def measure(world: str, n: int, seed: int, subsets: list[int], hidden: bool = False) -> tuple[pd.DataFrame, dict]:
    t0 = time.perf_counter()
    panel, causes, state = _simulate_with_state(world, n, seed, hidden)
    t_sim = time.perf_counter() - t0
    data = BT._Data.load(panel, "relapse", horizon=1, label_lag=0)
    T = 2024
    trm, tem = data.train_mask(T) & (data.years >= 2021), data.test_mask(T)
    upto = data.years <= T
    X = PanelFeatures().fit(data.df[trm]).transform(data.df[upto])
    Xtr, Xte = X.loc[trm[upto]], X.loc[tem[upto]]
    ytr, yte = data.label[trm].astype(int).to_numpy(), data.label[tem].astype(int).to_numpy()
    years, hh = data.years[trm], data.household_id[trm]
    truth = causes.assign(household_id=causes["household_id"].astype(str)).set_index(["household_id", "year"])["p_relapse"]
    orc = truth.reindex(pd.MultiIndex.from_arrays([data.household_id[tem], data.years[tem]])).to_numpy()
    ok = ~np.isnan(orc)
    y, floor = yte[ok], float(np.mean((orc[ok] - yte[ok]) ** 2))
    rows = [{"training households": "—", "model": "oracle (p_relapse)", "Brier": floor, "Brier ÷ oracle": 1.0,
             "PR AUC": average_precision_score(y, orc[ok])}]
    households = pd.unique(hh)
    rng = np.random.default_rng(seed)
    gap = sure = None
    for k in subsets:
        pick = rng.choice(households, size=min(k, len(households)), replace=False)
        w = pd.Index(pick).get_indexer(hh) >= 0
        for name, prm in SIZES.items():
            m = fit_on_features("lightgbm", Xtr[w], ytr[w], years[w], seed=0, params=prm)
            p = m.calibrate(m.predict_raw(Xte))[ok]
            b = float(np.mean((p - y) ** 2))
            rows.append({"training households": f"{min(k, len(households)):,}", "model": name, "Brier": b,
                         "Brier ÷ oracle": b / floor, "PR AUC": average_precision_score(y, p)})
            if prm is None:  # the default on the most data: where its gap to the oracle sits
                gap = _where_the_gap_is(orc[ok], p, y)
                sure = _the_sure_ones(panel, data.df[tem][ok], Xte[ok], orc[ok], p, y)
            print(rows[-1], flush=True)
    if state is not None:
        key = pd.MultiIndex.from_arrays([data.household_id[upto].astype(str), data.years[upto]])
        st = state.set_index(["household_id", "year"]).reindex(key)
        st = st.loc[:, st.std() > 0]  # constant arrays (e.g. the world's settings) tell nothing
        for name, cols in HIDDEN.items():
            whole = cols is None
            cols = list(st.columns) if whole else list(cols)
            Xh = X.assign(**{f"hidden_{h}": st[h].to_numpy() for h in cols})
            label = f"{name} ({len(cols)} columns)" if whole else name
            # the whole state also with the larger trees: the default's size must not be what stops it
            for size, prm in (SIZES.items() if whole else [("7 leaves (default)", None)]):
                m = fit_on_features("lightgbm", Xh.loc[trm[upto]], ytr, years, seed=0, params=prm)
                p = m.calibrate(m.predict_raw(Xh.loc[tem[upto]]))[ok]
                b = float(np.mean((p - y) ** 2))
                rows.append({"training households": f"{len(households):,}",
                             "model": f"{size.split(' (')[0]} + {label} (hidden)",
                             "Brier": b, "Brier ÷ oracle": b / floor, "PR AUC": average_precision_score(y, p)})
                print(rows[-1], flush=True)
    # The oracle is a mean of DRAWS draws, so its Brier exceeds the true probability's by its Monte Carlo variance;
    # mean p̂(1 − p̂)/(DRAWS − 1) is at least that variance for outcomes in [0, 1], so floor minus it bounds the true one.
    noise = float(np.mean(orc[ok] * (1 - orc[ok]))) / (DRAWS - 1)
    info = {"floor": floor, "noise": noise, "gap": gap, "sure": sure, "simulate s": t_sim, "test rows": int(ok.sum()), "outcome rate": float(y.mean()),
            "total s": time.perf_counter() - t0}
    return pd.DataFrame(rows), info


BINS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0)


def _where_the_gap_is(oracle: np.ndarray, p: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Test rows by the oracle's probability: outcome rate, both means and each bin's share of Σ (p − oracle)²."""
    d = pd.DataFrame({"o": oracle, "p": p, "y": y, "e": (p - oracle) ** 2})
    d["bin"] = pd.cut(d["o"], BINS, include_lowest=True)
    g = d.groupby("bin", observed=True).agg(rows=("y", "size"), rate=("y", "mean"), oracle=("o", "mean"),
                                            model=("p", "mean"), gap=("e", "sum"))
    g["gap"] = g["gap"] / d["e"].sum()
    g.index = [f"{max(iv.left, 0.0):.2f}–{iv.right:.2f}" for iv in g.index]
    return g.reset_index().rename(columns={"index": "oracle p", "rows": "rows", "rate": "outcome rate",
                                           "oracle": "mean oracle p", "model": "mean model p",
                                           "gap": "share of Σ (model − oracle)²"})


def _the_sure_ones(panel: pd.DataFrame, rec: pd.DataFrame, X: pd.DataFrame, oracle: np.ndarray, p: np.ndarray,
                   y: np.ndarray) -> list[str]:
    """What the records show of the rows the oracle is sure of (> 0.8): how they relapse, where they stand now, and
    how little the features tell them from rows the model scores alike that the oracle thinks safe (< 0.3)."""
    from fanpin_risk.panel import label_parts

    sure = oracle > 0.8
    T = int(rec["year"].iloc[0])
    nxt = panel[panel["year"] == T + 1]
    parts = label_parts(nxt).set_axis(nxt["household_id"].astype(str).to_numpy())
    pr = parts.reindex(rec["household_id"].astype(str).to_numpy()[sure]).astype("float64").mean()
    ratio = (rec["net_income_per_capita"] / rec["monitoring_line"]).to_numpy()[sure]
    q = np.nanquantile(ratio, [0.25, 0.5, 0.75])
    band = (p > 0.3) & (p < 0.6)
    a, b = X[band & sure], X[band & (oracle < 0.3)]
    sd = X[band].std().replace(0, np.nan)
    smd = ((a.mean() - b.mean()) / sd).dropna().abs().sort_values(ascending=False)
    return [f"- Rows the oracle puts above 0.8: {int(sure.sum()):,} (outcome rate {y[sure].mean():.3f}, mean model p "
            f"{p[sure].mean():.3f}). Label part in the outcome year: "
            + ", ".join(f"{c} {pr[c]:.0%}" for c in ("income_below_line", "new_identification", "guarantee_failed"))
            + f". This year's record: income ÷ this year's line median {q[1]:.2f} (quartiles {q[0]:.2f}–{q[2]:.2f}).",
            f"- Inside the model's 0.3–0.6 band: {len(a):,} rows the oracle puts above 0.8 (outcome rate "
            f"{y[band & sure].mean():.2f}) and {len(b):,} below 0.3 (outcome rate {y[band & (oracle < 0.3)].mean():.2f}); "
            f"the largest standardised mean difference of any feature between them is {smd.iloc[0]:.2f} "
            f"({smd.index[0]}), the next {smd.iloc[1]:.2f} ({smd.index[1]})."]


def _noise_note(table: pd.DataFrame, info: dict) -> list[str]:
    """How much of the oracle's Brier is its own Monte Carlo noise, and the default's ratio to the true floor."""
    floor, noise = info["floor"], info["noise"]
    low = floor - noise
    best = table[table["model"] == "7 leaves (default)"].iloc[-1]
    return [f"The oracle is the mean of {DRAWS} simulations of the next year: a household it puts at 0 had none of "
            f"{DRAWS} draws relapse, and its true probability can be a few percent. Its Brier exceeds the true "
            f"probability's by its Monte Carlo variance, at most mean p̂(1 − p̂)/{DRAWS - 1} = {noise:.4f}, so the "
            f"true floor lies in [{low:.4f}, {floor:.4f}] and the default model on the most data "
            f"({best['training households']} households) is {best['Brier ÷ oracle']:.3f}–"
            f"{best['Brier'] / low:.3f} × it. The ratios in the table are the lower end."]


def _markdown(table: pd.DataFrame) -> list[str]:
    """The table as markdown lines (numbers to four decimals)."""
    cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731 - a one-line formatter
    return (["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64000)
    ap.add_argument("--world", default="baseline")
    ap.add_argument("--seed", type=int, default=301)
    ap.add_argument("--hidden", action="store_true", help="add the model given the unrecorded state")
    ap.add_argument("--out", default="bench/brier_floor.md")
    a = ap.parse_args(argv)
    subsets = sorted({max(500, a.n // d) for d in (16, 8, 4, 2, 1)})
    table, info = measure(a.world, a.n, a.seed, subsets, a.hidden)
    lines = [
        "# Brier of the model against the simulator's own probability (issue 15)", "",
        f"Command: `python bench/bench_brier_floor.py --n {a.n} --world {a.world} --seed {a.seed}"
        f"{' --hidden' if a.hidden else ''} --out {a.out}`", "",
        f"- {platform.platform()}, Python {platform.python_version()}, nproc {os.cpu_count()}",
        f"- world {a.world!r}, {a.n:,} households, seed {a.seed}; training rows 2021-2023, test rows 2024 "
        f"({info['test rows']:,} rows, outcome rate {info['outcome rate']:.3f}); simulate {info['simulate s']:.0f} s, "
        f"total {info['total s'] / 60:.1f} min", "",
        *_markdown(table), "",
        *_noise_note(table, info), "",
        *(["## Where the gap is", "",
           "The default model trained on all training households, its test rows binned by the oracle's probability "
           "(a row's squared gap to the oracle is its excess Brier in expectation):", "",
           *_markdown(info["gap"].assign(rows=lambda g: g["rows"].map(lambda v: f"{v:,}"))), ""]
          if info.get("gap") is not None else []),
        *([*info["sure"], ""] if info.get("sure") else []),
        "Reading: the oracle conditions on the simulator's whole state, much of which no record shows. "
        "If Brier ÷ oracle falls only slowly as the training households grow, the gap is what the records "
        "cannot tell, and no model on these records reaches the oracle. The hidden rows (with --hidden) say how "
        "much of the gap each part of the state closes; the whole-state row is what a model learned from this "
        "many households reaches when nothing is hidden from it.", ""]
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
