"""World × model table: the model's defaults on simulated worlds and real public panels (issue 15, point 6).

For each simulated world of :data:`fanpin_risk.simulate.WORLDS` (``--n`` households,
years 2020–2025, a fixed seed per world) and the public panels LaborSupply and
RiceFarms, run the rolling-origin out-of-time backtest with the models
"scorecard" and "lightgbm" (the latter with the audition of ``train()``) plus
the backtest's baselines "persistence" and "lightgbm_raw", and report per world ×
model ROC AUC, PR AUC, recall@10 %, Brier and ECE (pooled over the test years;
intervals: percentile bootstrap, households resampled within each test year).

Then a **paired** bootstrap of lightgbm − lightgbm_raw: the same resample of
households within each test year for both models, the top 10 % chosen within
each year as the backtest does; recall@10 %, PR AUC and Brier, point estimate
and 95 % interval. On the simulated worlds the simulator's own next-year
probability (``p_relapse`` of the cause record) is scored too ("oracle"), which
gives the Brier floor the data allow.

    python bench/bench_worlds.py [--n 8000] [--boot 200] [--out bench/worlds.md]
    python bench/bench_worlds.py --quick --out /tmp/worlds.md     # smoke test
    python bench/bench_worlds.py --calibration platt --out /tmp/worlds_platt.md   # the former Platt step
    python bench/bench_worlds.py --replicates 3 --boot 100 --out bench/worlds_replicates.md   # other seeds
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pandas as pd

from fanpin_risk import _metrics as M
from fanpin_risk.evaluation import _backtest as BT
from fanpin_risk.evaluation import backtest
from fanpin_risk.simulate import WORLDS, simulate_world

YEARS = list(range(2020, 2026))
#: Simulated worlds benchmarked by default, each with its own fixed seed.
SIM_WORLDS = {"baseline": 101, "shocks": 102, "lean_assistance": 103, "smooth_line": 104}
PUBLIC = ("LaborSupply", "RiceFarms")
MODELS = ("scorecard", "lightgbm")
SHOW = ("persistence", "lightgbm_raw", "scorecard", "lightgbm")
K_SHARE = 0.10
TAG = f"recall_at_{int(round(K_SHARE * 100))}pct"


# ------------------------------------------------------------------ the audition's choice per test year

_CHOICES: list[dict] = []
_audition = BT.audition


def _recording_audition(X, y, years, households, **kw):
    """The backtest's audition, unchanged, with its choice written down (one call per test year)."""
    sel = _audition(X, y, years, households, **kw)
    _CHOICES.append({"test_year": int(np.max(years)) + 1, "chosen": sel.get("chosen"), "reason": sel.get("reason"),
                     "losses": {c["name"]: c["log_loss"] for c in sel.get("candidates", [])}})
    return sel


BT.audition = _recording_audition


# ------------------------------------------------------------------ data


def load_world(name: str, n: int, oracle: bool, sim_seed: int | None = None):
    """Panel of a world and, for simulated worlds with ``oracle``, the simulator's p_relapse per household-year."""
    if name in WORLDS:
        sim_seed = SIM_WORLDS.get(name, 100) if sim_seed is None else sim_seed
        if oracle:
            panel, causes = simulate_world(name, n, seed=sim_seed, years=YEARS, return_causes=True,
                                           cause_years=YEARS[1:-1], cause_draws=16)
            truth = causes[["household_id", "year", "p_relapse"]].assign(household_id=lambda d: d["household_id"].astype(str))
            return panel, truth
        return simulate_world(name, n, seed=sim_seed, years=YEARS), None
    from fanpin_risk.io import public_panel

    return public_panel(name), None


# ------------------------------------------------------------------ bootstrap


def _aligned(pred: pd.DataFrame, models) -> list[dict]:
    """Per test year: labels, household ids and each model's probability on the same rows in the same order."""
    out = []
    for T, g in pred.groupby("year"):
        w = g.pivot_table(index="household_id", columns="model", values="probability", aggfunc="first")
        lab = g.drop_duplicates("household_id").set_index("household_id")["label"]
        w = w.dropna(subset=[m for m in models if m in w.columns])
        out.append({"year": int(T), "hid": w.index.to_numpy(), "y": lab.loc[w.index].to_numpy(dtype=int),
                    "p": {m: w[m].to_numpy(dtype=float) for m in models if m in w.columns}})
    return out


def _metrics(years: list[dict], idx: list[np.ndarray] | None, m: str) -> dict:
    """Pooled ROC AUC, PR AUC, Brier and recall@10 % (top 10 % chosen within each year) of one (re)sample."""
    ys, ps, tp, pos = [], [], 0, 0
    for j, d in enumerate(years):
        i = slice(None) if idx is None else idx[j]
        y, p, h = d["y"][i], d["p"][m][i], d["hid"][i]
        pk = M.precision_recall_at_k(y, p, share=K_SHARE, tie_key=h)
        tp, pos = tp + pk["tp"], pos + pk["positives"]
        ys.append(y)
        ps.append(p)
    y, p = np.concatenate(ys), np.concatenate(ps)
    return {"roc_auc": M.roc_auc(y, p), "pr_auc": M.pr_auc(y, p), "brier": M.brier(y, p),
            TAG: tp / pos if pos else np.nan}


def bootstrap(pred: pd.DataFrame, models, n_boot: int, seed: int) -> dict[str, pd.DataFrame]:
    """Draws of each model's metrics; draw ``b`` uses the same household resample (within each year) for all models."""
    years = _aligned(pred, models)
    rng = np.random.default_rng(seed)
    draws = {m: [] for m in models}
    for _ in range(n_boot):
        idx = [rng.integers(0, len(d["y"]), len(d["y"])) for d in years]
        for m in models:
            draws[m].append(_metrics(years, idx, m))
    point = {m: _metrics(years, None, m) for m in models}
    return {m: pd.DataFrame(draws[m]) for m in models}, point


def _paired(draws: dict, point: dict, models) -> dict:
    """lightgbm − lightgbm_raw per metric: point estimate, 95 % interval and share of draws above 0."""
    diff = {}
    if {"lightgbm", "lightgbm_raw"} <= set(models):
        for c in (TAG, "pr_auc", "brier"):
            d = draws["lightgbm"][c] - draws["lightgbm_raw"][c]
            lo, hi = _ci(d)
            diff[c] = {"est": point["lightgbm"][c] - point["lightgbm_raw"][c], "lo": lo, "hi": hi,
                       "share_pos": float((d.dropna() > 0).mean())}
    return diff


def _ci(d: pd.Series) -> tuple[float, float]:
    d = d.dropna()
    return tuple(np.quantile(d, [0.025, 0.975])) if len(d) else (np.nan, np.nan)


# ------------------------------------------------------------------ one world


def run_world(name: str, n: int, n_boot: int, oracle: bool, seed: int = 0, sim_seed: int | None = None) -> dict:
    t0 = time.perf_counter()
    panel, truth = load_world(name, n, oracle, sim_seed)
    t_data = time.perf_counter() - t0
    del _CHOICES[:]
    res = backtest(panel, models=MODELS, n_boot=0, progress=False, figures=False, seed=seed)
    t_bt = time.perf_counter() - t0 - t_data
    pred = res.predictions.assign(household_id=lambda d: d["household_id"].astype(str))
    models = [m for m in SHOW if m in set(pred["model"])]
    if truth is not None:
        lab = pred[pred["model"] == "lightgbm"][["year", "household_id", "label", "county_code"]]
        orc = lab.merge(truth, on=["household_id", "year"], how="left").rename(columns={"p_relapse": "probability"})
        if orc["probability"].notna().all():
            pred = pd.concat([pred, orc.assign(model="oracle")], ignore_index=True)
            models.append("oracle")
        else:
            print(f"{name}: oracle probability missing for {orc['probability'].isna().sum()} rows, left out",
                  file=sys.stderr)
    draws, point = bootstrap(pred, models, n_boot, seed=seed + 1)
    rows = []
    pooled = res.pooled.set_index("model")
    for m in models:
        sub = pred[pred["model"] == m]
        ece = M.calibration_errors(sub["label"], sub["probability"])["ece"]
        r = {"world": name, "model": m, "n": len(sub), "positives": int(sub["label"].sum()), "ece": ece, **point[m]}
        for c in ("roc_auc", "pr_auc", TAG, "brier"):
            r[f"{c}_lo"], r[f"{c}_hi"] = _ci(draws[m][c])
        if m in pooled.index:  # same numbers as the backtest's own pooled table (a check, not shown twice)
            for c in ("roc_auc", "pr_auc", TAG, "brier", "ece"):
                if abs(float(pooled.loc[m, c]) - float(r[c])) > 1e-9:
                    print(f"{name} {m} {c}: backtest {pooled.loc[m, c]} vs here {r[c]}", file=sys.stderr)
        rows.append(r)
    diff = _paired(draws, point, models)
    # the first test year has one training year; from the second on the model has a history to learn the level from
    later = pred[pred["year"] > min(res.settings["test_years"])]
    diff_later = _paired(*bootstrap(later, models, n_boot, seed=seed + 1), models) if later["year"].nunique() else {}
    per_year = (pred[pred["model"].isin(["lightgbm", "lightgbm_raw"])].groupby(["model", "year"])
                .apply(lambda g: pd.Series({"pr_auc": M.pr_auc(g["label"], g["probability"]),
                                            "mean_p": float(g["probability"].mean()), "rate": float(g["label"].mean())}),
                       include_groups=False).reset_index())
    secs = time.perf_counter() - t0
    return {"world": name, "rows": rows, "diff": diff, "diff_later": diff_later, "per_year": per_year,
            "choices": list(_CHOICES), "test_years": res.settings["test_years"],
            "n_rows": len(panel), "n_households": panel["household_id"].nunique(), "secs": secs, "data_s": t_data,
            "backtest_s": t_bt}


# ------------------------------------------------------------------ report


def _f(x, nd=3) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def _cell(r, c) -> str:
    return f"{_f(r[c])} [{_f(r[c + '_lo'])}, {_f(r[c + '_hi'])}]"


def _reading(results: list[dict]) -> str:
    beats, ties, loses, brier_better, brier_worse, brier_same = [], [], [], [], [], []
    for w in results:
        d = w["diff"]
        if not d:
            continue
        wins = [c for c in (TAG, "pr_auc") if d[c]["lo"] > 0]
        losses = [c for c in (TAG, "pr_auc") if d[c]["hi"] < 0]
        label = {TAG: "recall@10 %", "pr_auc": "PR AUC"}
        if wins and not losses:
            beats.append(f"{w['world']} ({', '.join(label[c] for c in wins)})")
        elif losses and not wins:
            loses.append(f"{w['world']} ({', '.join(label[c] for c in losses)})")
        else:
            ties.append(w["world"])
        b = d["brier"]
        (brier_better if b["hi"] < 0 else brier_worse if b["lo"] > 0 else brier_same).append(
            f"{w['world']} ({b['est']:+.4f})")
    parts = []
    parts.append("lightgbm beats lightgbm_raw with the 95 % interval of the difference above 0 in: "
                 + (", ".join(beats) if beats else "no world") + ".")
    parts.append("No clear difference (intervals of recall@10 % and PR AUC both covering 0, or mixed) in: "
                 + (", ".join(ties) if ties else "no world") + ".")
    parts.append("lightgbm_raw is ahead (interval below 0) in: " + (", ".join(loses) if loses else "no world") + ".")
    parts.append("Brier (lower is better): lightgbm lower than lightgbm_raw with the interval below 0 in "
                 + (", ".join(brier_better) if brier_better else "no world") + "; higher with the interval above 0 in "
                 + (", ".join(brier_worse) if brier_worse else "no world") + "; not distinguishable in "
                 + (", ".join(brier_same) if brier_same else "no world") + ".")
    orc = [(w["world"], {r["model"]: r for r in w["rows"]}) for w in results]
    orc = [(n, r) for n, r in orc if "oracle" in r and "lightgbm" in r]
    if orc:
        parts.append("Against the simulator's own probability (oracle) the Brier gap of lightgbm is: "
                     + ", ".join(f"{n} {r['lightgbm']['brier'] - r['oracle']['brier']:+.4f} "
                                 f"(lightgbm {r['lightgbm']['brier']:.4f}, oracle {r['oracle']['brier']:.4f})"
                                 for n, r in orc) + ".")
    return " ".join(parts)


def _diff_cells(d: dict, share: bool) -> list[str]:
    """Δ recall@10 %, Δ PR AUC and Δ Brier cells: estimate [interval] (and the share of draws above 0)."""
    if not d:
        return ["—"] * 3
    return [f"{d[c]['est']:+.{nd}f} [{d[c]['lo']:+.{nd}f}, {d[c]['hi']:+.{nd}f}]"
            + (f"; {d[c]['share_pos']:.0%}" if share else "") for c, nd in ((TAG, 3), ("pr_auc", 3), ("brier", 4))]


def report(results: list[dict], args, cmd: str, load_start, t_total: float) -> str:
    L = ["# World × model benchmark (issue 15, point 6)\n",
         f"Command: `{cmd}`\n",
         "## Machine\n",
         f"- {platform.platform()}, Python {platform.python_version()}, nproc {os.cpu_count()}",
         f"- Load average at start: {' / '.join(f'{x:.2f}' for x in load_start)}; at end: "
         f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())} (other jobs ran on the machine at the same time)",
         f"- Total wall time: {t_total / 60:.1f} min\n",
         "## Setup\n",
         f"- Simulated worlds: {', '.join(f'{w} (seed {SIM_WORLDS.get(w, 100)})' for w in args.worlds)}; "
         f"{args.n} households, years {YEARS[0]}–{YEARS[-1]}. Public panels: {', '.join(args.public) or 'none'}.",
         f"- `backtest(panel, models={MODELS}, n_boot=0, seed=0)`: rolling origin, out of time; the baselines "
         "persistence (income ÷ line, Platt-scaled) and lightgbm_raw (LightGBM, library defaults, 100 trees, raw "
         "contract columns) are added by the backtest. lightgbm runs the audition of `train()` on each training window.",
         f"- Metrics pooled over the test years; recall@10 % = top 10 % chosen within each test year, counts pooled. "
         f"Intervals: 95 % percentile bootstrap, {args.boot} draws, households resampled within each test year; the "
         "same resample for every model of a world (so the differences below are paired).",
         "- oracle = the simulator's own next-year probability of the label (`p_relapse` of the cause record, "
         "16 draws), on the same rows: the best Brier/ranking the simulated data allow, up to its own Monte Carlo noise "
         "(a mean of 16 simulations of the next year; see bench/brier_floor.md)."
         if args.oracle else "- oracle not computed (`--no-oracle`).",
         "\n## Wall time per world\n",
         "| world | households | rows | test years | data s | backtest s | total s |", "|---|---|---|---|---|---|---|"]
    for w in results:
        L.append(f"| {w['world']} | {w['n_households']} | {w['n_rows']} | {', '.join(map(str, w['test_years']))} | "
                 f"{w['data_s']:.0f} | {w['backtest_s']:.0f} | {w['secs']:.0f} |")
    L += ["\n## Main table: world × model (pooled over test years; [95 % bootstrap interval])\n",
          "| world | model | n | positives | ROC AUC | PR AUC | recall@10 % | Brier | ECE |",
          "|---|---|---|---|---|---|---|---|---|"]
    for w in results:
        for r in w["rows"]:
            L.append(f"| {w['world']} | {r['model']} | {r['n']} | {r['positives']} | {_cell(r, 'roc_auc')} | "
                     f"{_cell(r, 'pr_auc')} | {_cell(r, TAG)} | {_f(r['brier'], 4)} [{_f(r['brier_lo'], 4)}, "
                     f"{_f(r['brier_hi'], 4)}] | {_f(r['ece'], 4)} |")
    L += ["\n## Paired difference: lightgbm − lightgbm_raw ([95 % paired bootstrap interval]; "
          "share of draws > 0)\n",
          "Positive is better for recall@10 % and PR AUC; negative is better for Brier.\n",
          "| world | Δ recall@10 % | Δ PR AUC | Δ Brier |", "|---|---|---|---|"]
    L += [f"| {w['world']} | " + " | ".join(_diff_cells(w["diff"], share=True)) + " |" for w in results]
    L += ["\n## The same difference from the second test year on\n",
          "The first test year is fitted on a single year (on the simulated worlds 2020, whose label year 2021 "
          "brings the change from the 4000 poverty line to the 6000 monitoring line); pooled over the later test "
          "years only (same bootstrap):\n",
          "| world | test years | Δ recall@10 % | Δ PR AUC | Δ Brier |", "|---|---|---|---|---|"]
    L += [f"| {w['world']} | {', '.join(str(T) for T in w['test_years'][1:])} | "
          + " | ".join(_diff_cells(w.get("diff_later") or {}, share=False)) + " |" for w in results]
    L += ["\n## Per test year: PR AUC and level (mean probability against the outcome rate)\n",
          "| world | test year | outcome rate | lightgbm PR AUC | lightgbm mean p | raw PR AUC | raw mean p |",
          "|---|---|---|---|---|---|---|"]
    for w in results:
        py = w["per_year"].set_index(["model", "year"])
        for T in w["test_years"]:
            if ("lightgbm", T) not in py.index or ("lightgbm_raw", T) not in py.index:
                continue
            a, b = py.loc[("lightgbm", T)], py.loc[("lightgbm_raw", T)]
            L.append(f"| {w['world']} | {T} | {a['rate']:.3f} | {a['pr_auc']:.3f} | {a['mean_p']:.3f} | "
                     f"{b['pr_auc']:.3f} | {b['mean_p']:.3f} |")
    L += ["\n## Reading\n", _reading(results),
          "\n## Audition: candidate chosen per test year (lightgbm)\n",
          "Chosen by out-of-time log loss on the last training year; the first test year has a single training "
          "year, so there is no audition and the default parameters with every feature are used.\n",
          "| world | test year | chosen | log loss of the candidates |", "|---|---|---|---|"]
    for w in results:
        seen = {c["test_year"]: c for c in w["choices"]}
        for T in w["test_years"]:
            c = seen.get(T)
            if c is None:
                L.append(f"| {w['world']} | {T} | (not recorded) | |")
                continue
            losses = "; ".join(f"{k}: {v:.4f}" for k, v in c["losses"].items())
            L.append(f"| {w['world']} | {T} | {c['chosen'] or '(none: ' + str(c['reason']) + ')'} | {losses} |")
    return "\n".join(L) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000, help="households per simulated world")
    ap.add_argument("--boot", type=int, default=200, help="bootstrap draws (paired)")
    ap.add_argument("--worlds", nargs="*", default=list(SIM_WORLDS), help=f"simulated worlds, of {sorted(WORLDS)}")
    ap.add_argument("--public", nargs="*", default=list(PUBLIC), help="public panels")
    ap.add_argument("--no-oracle", dest="oracle", action="store_false",
                    help="skip the simulator's own probability (the cause record)")
    ap.add_argument("--calibration", choices=("none", "platt", "isotonic"), default=None,
                    help="train()'s default calibration for this run (to compare with the shipped default)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1500 households, 2 worlds + RiceFarms, 50 draws")
    ap.add_argument("--replicates", type=int, default=0,
                    help="instead of the table: draw each simulated world again with this many other seeds "
                         "(world seed + 1000 × r) and report lightgbm − lightgbm_raw per draw")
    ap.add_argument("--out", default="bench/worlds.md")
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.boot, a.worlds, a.public = 1500, 50, ["baseline", "shocks"], ["RiceFarms"]
    if a.calibration is not None:  # the module default train() and the backtest read when params= is not given
        import fanpin_risk.models._models as _models

        _models.CALIBRATION = a.calibration
    bad = [w for w in a.worlds if w not in WORLDS]
    if bad:
        ap.error(f"unknown worlds {bad}; known: {sorted(WORLDS)}")
    cmd = "python " + " ".join(["bench/bench_worlds.py", *(argv if argv is not None else sys.argv[1:])])
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if a.replicates:
        return _replicates(a, cmd, load0, t0)
    results = []
    for name in [*a.worlds, *a.public]:
        w = run_world(name, a.n, a.boot, a.oracle)
        results.append(w)
        print(f"{name}: {w['secs']:.0f} s (data {w['data_s']:.0f} s, backtest {w['backtest_s']:.0f} s)", flush=True)
        for r in w["rows"]:
            print(f"  {r['model']:<13} auc {r['roc_auc']:.3f} pr {r['pr_auc']:.3f} rec {r[TAG]:.3f} "
                  f"brier {r['brier']:.4f} ece {r['ece']:.4f}", flush=True)
        for c, d in w["diff"].items():
            print(f"  Δ {c}: {d['est']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}]", flush=True)
    text = report(results, a, cmd, load0, time.perf_counter() - t0)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)


def _replicates(a, cmd: str, load0, t0: float) -> None:
    """The paired difference on other draws of each simulated world: is the lead a property of the world or of one seed?"""
    rows = []
    for name in a.worlds:
        for r in range(1, a.replicates + 1):
            seed = SIM_WORLDS.get(name, 100) + 1000 * r
            w = run_world(name, a.n, a.boot, oracle=False, sim_seed=seed)
            rows.append((name, seed, w))
            print(f"{name} seed {seed}: {w['secs']:.0f} s; " + "; ".join(
                f"Δ {c} {d['est']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}]" for c, d in w["diff"].items()), flush=True)
    label = {TAG: "recall@10 %", "pr_auc": "PR AUC", "brier": "Brier"}
    L = ["# World × model benchmark: other draws of the simulated worlds (issue 15)\n",
         f"Command: `{cmd}`\n",
         f"- {platform.platform()}, Python {platform.python_version()}, nproc {os.cpu_count()}; load average at "
         f"start {' / '.join(f'{x:.2f}' for x in load0)}; total wall time {(time.perf_counter() - t0) / 60:.1f} min",
         f"- Each world drawn again with seed = its seed in `bench/worlds.md` + 1000 × r, r = 1…{a.replicates}; "
         f"{a.n} households, years {YEARS[0]}–{YEARS[-1]}; the same backtest and paired bootstrap ({a.boot} draws) "
         "as `bench/worlds.md`, pooled over all test years; no oracle.\n",
         "## lightgbm − lightgbm_raw per draw ([95 % paired bootstrap interval]; share of draws > 0)\n",
         "| world | seed | Δ recall@10 % | Δ PR AUC | Δ Brier |", "|---|---|---|---|---|"]
    L += [f"| {n} | {s} | " + " | ".join(_diff_cells(w["diff"], share=True)) + " |" for n, s, w in rows]
    L += ["\n## The same from the second test year on\n",
          "The first test year is fitted on 2020 alone, whose label year brings the change of standard "
          "(4000 → 6000); pooled over the later test years:\n",
          "| world | seed | Δ recall@10 % | Δ PR AUC | Δ Brier |", "|---|---|---|---|---|"]
    L += [f"| {n} | {s} | " + " | ".join(_diff_cells(w.get("diff_later") or {}, share=False)) + " |"
          for n, s, w in rows]
    L += ["\n## Summary per world\n",
          "Draws with the interval clear of 0 in the better direction (above 0 for recall and PR AUC, below 0 for "
          "Brier), draws with the point estimate in that direction, and the mean point estimate.\n",
          "| world | test years | metric | interval clear | estimate better | mean Δ |", "|---|---|---|---|---|---|"]
    for name in a.worlds:
        for part, key in (("all test years", "diff"), ("2nd test year on", "diff_later")):
            ds = [w[key] for n, _, w in rows if n == name and w.get(key)]
            for c in (TAG, "pr_auc", "brier"):
                sign = -1 if c == "brier" else 1
                clear = sum(sign * (d[c]["hi"] if sign < 0 else d[c]["lo"]) > 0 for d in ds)
                better = sum(sign * d[c]["est"] > 0 for d in ds)
                mean = float(np.mean([d[c]["est"] for d in ds])) if ds else np.nan
                L.append(f"| {name} | {part} | {label[c]} | {clear} / {len(ds)} | {better} / {len(ds)} | "
                         f"{mean:+.{4 if c == 'brier' else 3}f} |")
    text = "\n".join(L) + "\n"
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
