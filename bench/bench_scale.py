"""Scale benchmark: score(), train(), read_panel() and simulate() at province size.

Usage::

    python bench/bench_scale.py                 # full run (≈ 30–40 min on 2 cores), writes BENCHMARKS.md
    python bench/bench_scale.py --quick         # smoke version in seconds (tiny sizes)
    python bench/bench_scale.py --out DIR/BENCHMARKS.md --workdir DIR --only score,train
    python bench/bench_scale.py --all-1m        # also measure reasons for all 1M households (long)

Every measured case runs in its own child process so that its peak memory
(``ru_maxrss`` of the child) is the case's own, input data included. Timings are
the median over ``repeats`` child runs. Beside each score() case the child also
times the *floor* on the same model and the same feature matrix: raw
``booster.predict(X, raw_score=True)`` for all scored rows and
``booster.predict(X[explained], pred_contrib=True)`` for the rows score()
explained. The floor excludes feature building, so score()/floor shows what
features, ranking and text cost on top of walking the trees.

Data are simulated (``fanpin_risk.simulate``); nothing real is read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FULL = {
    "simulate": 1_000_000,          # households, 2 years (2024–2025): also the scoring input
    "score": [100_000, 1_000_000],  # households scored (2-year panels)
    "train": [1_000_000, 5_000_000],  # household-years (5 years per household)
    "csv": 1_000_000,               # rows of a CSV export (Chinese headers)
    "xlsx": 100_000,                # rows of an xlsx export
}
QUICK = {"simulate": 2_000, "score": [2_000], "train": [10_000], "csv": 2_000, "xlsx": 500}


# --------------------------------------------------------------------------- child side
def _peak_mb() -> float:
    # Linux reports ru_maxrss in KiB (macOS in bytes)
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / (1024 if sys.platform == "darwin" else 1)


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # pragma: no cover
        return float("nan")


def _child(case: str, args: dict) -> dict:
    import numpy as np
    import pandas as pd

    import fanpin_risk
    from fanpin_risk.simulate import simulate

    res: dict = {"case": case, **args}
    if case == "simulate":
        t = time.perf_counter()
        df = simulate(args["n"], years=range(2024, 2026), seed=1)
        res["wall_s"] = time.perf_counter() - t
        res["peak_mb"] = _peak_mb()
        res["rows"] = len(df)
        if args.get("write"):
            df.to_parquet(args["write"])
        return res
    if case == "prep_train":
        df = simulate(args["n_households"], years=range(2020, 2025), seed=2)
        df.to_parquet(args["write"])
        res["rows"] = len(df)
        return res
    if case == "prep_big_model":
        # the reference size (400 trees × 31 leaves) on the default model's features:
        # shows that score()'s cost beyond the tree walk is fixed per household, not per tree
        import lightgbm as lgb

        from fanpin_risk.panel import make_labels
        from fanpin_risk.models import load_model

        df = pd.read_parquet(args["src"])
        df = df[df["household_id"].isin(df["household_id"].drop_duplicates().head(args["n_households"]))]
        df = df.reset_index(drop=True)
        m = load_model(None)
        lab = make_labels(df)["label"]
        ok = lab.notna().to_numpy()
        names = m._impl.booster.feature_name()
        X = m.transform(df)[names].to_numpy(dtype=np.float64)[ok]
        b = lgb.train({"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "verbose": -1, "seed": 0},
                      lgb.Dataset(X, lab[ok].astype(int).to_numpy(), feature_name=names), num_boost_round=400)
        m._impl.booster = b
        m.save(args["write"])
        res["trees"], res["leaves"] = b.num_trees(), 31
        return res
    if case == "prep_export":
        from fanpin_risk import contract

        df = pd.read_parquet(args["src"]).head(args["rows"])
        df = df.rename(columns=contract.zh_headers())
        if args["fmt"] == "csv":
            df.to_csv(args["write"], index=False, encoding="utf-8-sig")
        else:
            df.to_excel(args["write"], index=False)
        res["rows"] = len(df)
        return res
    if case == "read":
        t = time.perf_counter()
        df, _rep = fanpin_risk.read_panel(args["path"], errors="warn")
        res["wall_s"] = time.perf_counter() - t
        res["peak_mb"] = _peak_mb()
        res["rows"] = len(df)
        return res
    if case == "train":
        df = pd.read_parquet(args["path"])
        if args.get("rows"):
            df = df.head(args["rows"])
        res["rss_input_mb"] = _rss_mb()
        t = time.perf_counter()
        m = fanpin_risk.train(df, "lightgbm", seed=0, log_to_mlflow=False)
        res["wall_s"] = time.perf_counter() - t
        res["peak_mb"] = _peak_mb()
        res["rows"] = len(df)
        res["best_iteration"] = m.metadata["estimator"].get("best_iteration")
        return res
    if case == "score":
        from fanpin_risk.models import load_model

        df = pd.read_parquet(args["path"])
        n = args["n"]
        if n < df["household_id"].nunique():
            keep = df["household_id"].drop_duplicates().head(n)
            df = df[df["household_id"].isin(keep)].reset_index(drop=True)
        model = load_model(args.get("model"))
        res["rss_input_mb"] = _rss_mb()
        kw = {"reasons": args["reasons"]}
        if args["reasons"] == "budget":
            kw["budget"] = 0.10
        t = time.perf_counter()
        out = fanpin_risk.score(df, model, **kw)
        res["wall_s"] = time.perf_counter() - t
        res["peak_mb"] = _peak_mb()
        scored = out["status"].eq("scored")
        explained = out["top_factors"].notna() | out["risk_type_contributions"].notna()
        res["n_scored"] = int(scored.sum())
        res["n_explained"] = int(explained.sum())
        # floor: same model, same feature matrix (not timed: feature building)
        booster = model._impl.booster
        y = int(df["year"].max())
        rows = df.index[df["year"].astype("int64") == y]
        # C-ordered: LightGBM would otherwise copy the matrix first, and the floor is the tree walk alone
        X = np.ascontiguousarray(model.transform(df, rows=rows)[booster.feature_name()].to_numpy(dtype=np.float64))
        res["floor_predict_all"] = []
        for _ in range(3):
            t = time.perf_counter()
            booster.predict(X, raw_score=True)
            res["floor_predict_all"].append(time.perf_counter() - t)
        res["floor_predict_s"] = statistics.median(res["floor_predict_all"])
        if res["n_explained"]:
            ids = set(out.loc[explained, "household_id"])
            sel = df.loc[rows, "household_id"].isin(ids).to_numpy()
            Xs = X[sel]
            t = time.perf_counter()
            booster.predict(Xs, pred_contrib=True)
            res["floor_contrib_s"] = time.perf_counter() - t
        return res
    raise SystemExit(f"unknown case {case}")


# --------------------------------------------------------------------------- parent side
def _run_child(case: str, args: dict, timeout: float | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case, "--args", json.dumps(args)]
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", PYTHONHASHSEED="0")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))
    if p.returncode != 0:
        raise RuntimeError(f"case {case} {args} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _median_runs(case: str, args: dict, repeats: int, log) -> dict:
    runs = []
    for i in range(repeats):
        r = _run_child(case, args)
        log(f"  {case} {args.get('label', '')} run {i + 1}/{repeats}: {r.get('wall_s', 0):.2f} s, peak {r.get('peak_mb', 0):.0f} MB")
        runs.append(r)
    out = dict(runs[0])
    for k in ("wall_s", "peak_mb", "floor_predict_s", "floor_contrib_s", "rss_input_mb"):
        vals = [r[k] for r in runs if k in r]
        if vals:
            out[k] = statistics.median(vals)
    out["runs"] = len(runs)
    out["wall_all"] = [round(r.get("wall_s", float("nan")), 3) for r in runs]
    return out


def machine_info() -> dict:
    import numpy as np  # noqa: F401

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:  # pragma: no cover
        ram = "?"
    versions = {}
    for mod in ("fanpin_risk", "pandas", "numpy", "lightgbm", "pyarrow", "openpyxl", "dask", "distributed", "psutil"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional libraries
            versions[mod] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "load_avg_start": os.getloadavg(),
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions}


def run(quick: bool, out: Path, workdir: Path, only: set[str] | None, all_1m: bool, log=print) -> dict:
    sizes = QUICK if quick else FULL
    info = machine_info()
    info["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results: dict[str, list] = {"simulate": [], "score": [], "train": [], "read": []}
    workdir.mkdir(parents=True, exist_ok=True)
    score_data = workdir / f"panel_2y_{sizes['simulate']}.parquet"
    want = (lambda k: only is None or k in only)
    t_all = time.perf_counter()
    cmd = "python bench/bench_scale.py" + (" --quick" if quick else "") + (" --all-1m" if all_1m else "")

    def flush(final: bool = False):
        # written after every case, so a long run that is stopped still leaves its figures
        info["total_s"] = time.perf_counter() - t_all
        info["load_avg_end"] = os.getloadavg()
        text = render(info, results, quick=quick, command=cmd)
        if not final:
            text += "\n_(run in progress: later cases not yet measured)_\n"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1, default=str),
                                            encoding="utf-8")

    # simulate (its output is also the scoring input)
    if want("simulate") or want("score") or want("read"):
        log(f"simulate {sizes['simulate']:,} households × 2 years")
        results["simulate"].append(_median_runs("simulate", {"n": sizes["simulate"], "write": str(score_data)}, 1, log))
        flush()

    if want("score"):
        for n in sizes["score"]:
            for reasons in ("none", "budget", "all"):
                big = n >= 1_000_000
                if reasons == "all" and big and not all_1m:
                    continue
                reps = 1 if quick or (reasons == "all") or (big and reasons == "budget") else 3
                a = {"path": str(score_data), "n": n, "reasons": reasons, "label": f"{n:,} reasons={reasons}"}
                log(f"score {a['label']} ×{reps}")
                results["score"].append(_median_runs("score", a, reps, log))
                flush()
        # the same without reasons with a model of the reference size
        big_model = workdir / "model_400x31"
        if not big_model.exists():
            train_src = workdir / f"panel_5y_{sizes['train'][0]}.parquet"
            if not train_src.exists():
                _run_child("prep_train", {"n_households": sizes["train"][0] // 5, "write": str(train_src)})
            log("train a 400-tree × 31-leaf model for the size comparison")
            _run_child("prep_big_model", {"src": str(train_src), "n_households": 2_000 if quick else 40_000,
                                          "write": str(big_model)})
        for n in sizes["score"]:
            a = {"path": str(score_data), "n": n, "reasons": "none", "model": str(big_model),
                 "label": f"{n:,} reasons=none, 400×31 model"}
            log(f"score {a['label']} ×3")
            results["score"].append(_median_runs("score", a, 1 if quick else 3, log))
            flush()

    if want("train"):
        for rows in sizes["train"]:
            path = workdir / f"panel_5y_{rows}.parquet"
            if not path.exists():
                _run_child("prep_train", {"n_households": rows // 5, "write": str(path)})
            log(f"train on {rows:,} household-years")
            results["train"].append(_median_runs("train", {"path": str(path), "label": f"{rows:,}"}, 1, log))
            flush()

    if want("read"):
        for fmt in ("csv", "xlsx"):
            path = workdir / f"export_{sizes[fmt]}.{fmt}"
            if not path.exists():
                _run_child("prep_export", {"src": str(score_data), "rows": sizes[fmt], "fmt": fmt, "write": str(path)})
            log(f"read_panel {fmt} {sizes[fmt]:,} rows")
            r = _median_runs("read", {"path": str(path), "label": f"{fmt} {sizes[fmt]:,}"}, 1 if quick or fmt == "xlsx" else 3, log)
            r["fmt"], r["size_mb"] = fmt, path.stat().st_size / 2**20
            results["read"].append(r)
            flush()

    flush(final=True)
    log(f"wrote {out}")
    return {"machine": info, "results": results}


# --------------------------------------------------------------------------- report
def _ok(v: float, target: float) -> str:
    return f"**met** ({v:.2f} ≤ {target:g})" if v <= target else f"**missed** ({v:.2f} > {target:g}, by {v / target - 1:.0%})"


def render(info: dict, res: dict, *, quick: bool, command: str) -> str:
    L = ["# Benchmarks", ""]
    if quick:
        L += ["**Smoke run (`--quick`): tiny sizes, figures mean nothing about scale.**", ""]
    la = ", ".join(f"{v:.2f}" for v in info["load_avg_start"])
    le = ", ".join(f"{v:.2f}" for v in info.get("load_avg_end", ()))
    L += [f"Written by `{command}` on {info['started']} (total {info['total_s'] / 60:.1f} min).", "",
          "## Machine", "",
          f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['ram']}; Python {info['python']} on {info['platform']}",
          f"- Load average at start (1, 5, 15 min): {la}; at end: {le} (the end includes this run's own load)."
          + (" **Other work was running on this machine at the start**: wall times include that contention, "
             "and medians of repeated child runs damp it only partly." if info["load_avg_start"][0] > 0.5 else ""),
          "- Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()), "",
          "Each case runs in a fresh child process; *peak MB* is that child's `ru_maxrss` (input frame included; "
          "*input MB* is the RSS after loading the input, before the timed call). Times are medians over the runs listed.",
          "Data: `fanpin_risk.simulate` (synthetic). Model: the packaged default (`models/default`, LightGBM).", ""]

    if res["simulate"]:
        L += ["## simulate", "", "| households × years | rows | wall s | peak MB |", "|---|---|---|---|"]
        for r in res["simulate"]:
            L.append(f"| {r['n']:,} × 2 (2024–2025) | {r['rows']:,} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} |")
        L.append("")

    sc = res["score"]
    if sc:
        L += ["## score()", "",
              "Panels of 2 years (features need the previous year). `budget` = top 10 % with reasons "
              "(`budget=0.10, reasons=\"budget\"`); `all` = reasons for every household.", "",
              "| households | model | reasons | runs | wall s (runs) | peak MB | input MB | explained | floor predict s | floor pred_contrib s | score / predict floor | score − predict floor, s | reasons cost / pred_contrib floor |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        default = [r for r in sc if not r.get("model")]
        none_wall = {r["n"]: r["wall_s"] for r in default if r["reasons"] == "none"}
        for r in sc:
            ratio = r["wall_s"] / r["floor_predict_s"] if r.get("floor_predict_s") else float("nan")
            cr = "–"
            if r.get("floor_contrib_s") and r["n"] in none_wall and not r.get("model"):
                cr = f"{(r['wall_s'] - none_wall[r['n']]) / r['floor_contrib_s']:.2f}"
            fc = f"{r['floor_contrib_s']:.2f}" if r.get("floor_contrib_s") else "–"
            over = f"{r['wall_s'] - r['floor_predict_s']:.2f}" if r["reasons"] == "none" else "–"
            L.append(f"| {r['n']:,} | {'400 × 31' if r.get('model') else 'default'} | {r['reasons']} | {r['runs']} | "
                     f"{r['wall_s']:.2f} ({', '.join(map(str, r['wall_all']))}) | "
                     f"{r['peak_mb']:.0f} | {r.get('rss_input_mb', float('nan')):.0f} | {r['n_explained']:,} | "
                     f"{r['floor_predict_s']:.2f} | {fc} | {ratio:.2f} | {over} | {cr} |")
        L += ["", "*model*: `default` is the packaged model (`models/default`); `400 × 31` is a model of the issue's "
              "reference size (400 trees of 31 leaves, on the default model's features, trained by this script on "
              "40,000 households' years), measured to show that score()'s cost beyond the tree walk is fixed per "
              "household, so its ratio to the floor depends on the model's size. "
              "*score / predict floor*: score() wall time ÷ `booster.predict` of all scored rows "
              "(median of 3, on the C-ordered float64 matrix, same process after the score() run). "
              "*reasons cost / pred_contrib floor*: (score with reasons − score without) ÷ `pred_contrib` on the "
              "explained rows.", ""]
        # targets
        L += ["### Targets (2 cores)", ""]
        big = [r for r in default if r["n"] == max(x["n"] for x in default)]
        for r in big:
            if r["reasons"] == "budget":
                L.append(f"- {r['n']:,} households, reasons for the top 10 %, ≤ 300 s: {_ok(r['wall_s'], 300)}; "
                         f"≤ 4096 MB peak: {_ok(r['peak_mb'], 4096)}")
        for r in sc:
            if r["reasons"] == "none":
                what = "with the 400 × 31 model" if r.get("model") else "default model"
                L.append(f"- {r['n']:,} ({what}): score without reasons ≤ 1.3 × predict floor: "
                         f"{_ok(r['wall_s'] / r['floor_predict_s'], 1.3)}")
            elif r.get("floor_contrib_s") and r["n"] in none_wall:
                v = (r["wall_s"] - none_wall[r["n"]]) / r["floor_contrib_s"]
                L.append(f"- {r['n']:,} reasons={r['reasons']}: reasons cost ≤ 1.5 × pred_contrib floor: {_ok(v, 1.5)}")
        alls = [r for r in default if r["reasons"] == "all"]
        if alls and not any(r["n"] >= 1_000_000 for r in alls) and any(r["n"] >= 1_000_000 for r in sc):
            a = max(alls, key=lambda r: r["n"])
            k = 1_000_000 / a["n"]
            est = none_wall.get(1_000_000, float("nan")) + (a["wall_s"] - none_wall.get(a["n"], 0.0)) * k
            L.append(f"- **Extrapolated, not measured**: reasons for all 1,000,000 households ≈ {est / 60:.0f} min "
                     f"(1M score without reasons + {k:.0f} × the reasons cost at {a['n']:,}; pred_contrib is linear in rows). "
                     "Run with `--all-1m` to measure it.")
        L.append("")

    if res["train"]:
        L += ["## train() (LightGBM, log_to_mlflow=False)", "",
              "Panels of 5 years (2020–2024); the last year has no label (censored), so 4/5 of the rows are training rows.", "",
              "| household-years | wall s | peak MB | input MB | trees |", "|---|---|---|---|---|"]
        for r in res["train"]:
            L.append(f"| {r['rows']:,} | {r['wall_s']:.0f} | {r['peak_mb']:.0f} | {r['rss_input_mb']:.0f} | {r['best_iteration']} |")
        five = [r for r in res["train"] if r["rows"] >= 5_000_000]
        if five:
            L += ["", f"- Target: 5M household-years ≤ 900 s: {_ok(five[0]['wall_s'], 900)}"]
        L.append("")

    if res["read"]:
        L += ["## read_panel()", "", "Exports with Chinese headers written from the simulated panel.", "",
              "| file | rows | size MB | runs | wall s | peak MB |", "|---|---|---|---|---|---|"]
        for r in res["read"]:
            L.append(f"| {r['fmt']} | {r['rows']:,} | {r['size_mb']:.0f} | {r['runs']} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} |")
        L += ["", "xlsx is measured at a smaller size than csv: openpyxl reads ~10⁴ cells/s per core, so a 1M-row "
              "sheet (Excel's limit is 1,048,576 rows) would take tens of minutes; convert large exports to CSV or parquet.", ""]
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--workdir", type=Path, default=None, help="where data files go (default: a temp dir)")
    ap.add_argument("--only", default=None, help="comma list of simulate,score,train,read")
    ap.add_argument("--all-1m", action="store_true", help="measure reasons for all 1M households (long)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--args", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child, json.loads(a.args))))
        return
    only = set(a.only.split(",")) if a.only else None
    if a.workdir:
        run(a.quick, a.out, a.workdir, only, a.all_1m)
    else:
        with tempfile.TemporaryDirectory(prefix="fanpin_bench_") as d:
            run(a.quick, a.out, Path(d), only, a.all_1m)


if __name__ == "__main__":
    main()
