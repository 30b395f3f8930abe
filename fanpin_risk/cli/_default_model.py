"""Rebuild the packaged default model: ``fanpin-risk train --default``.

Simulates the 20,000-household × 2020–2025 seed-0 panel, backtests the three
models (rolling origin), trains the LightGBM model on every labelled row,
writes ``models/default/`` and ``models/MODEL_CARD.md``. Runs are logged to
MLflow (``$MLFLOW_TRACKING_URI`` or ``./mlruns``).
"""

from __future__ import annotations

import time
from pathlib import Path

from fanpin_risk.api import backtest, train
from fanpin_risk.contract import models_dir
from fanpin_risk.simulate import simulate
from fanpin_risk.tracking import run_url


#: Draws of the simulator's cause record behind the card's named-cause check (common random numbers; the
#: simulator's default). A shock of next year either comes in a draw or not, so the true drop of a shock-driven
#: cause carries Monte Carlo noise of the order of the 0.05 that makes a cause matter with 8 or 16 draws.
CAUSE_DRAWS = 32


def _calibration_text(est: dict) -> str:
    """How the shipped model's probabilities are calibrated, in the card's words."""
    cal = est.get("calibrator") or {}
    if cal.get("method") == "platt" and cal.get("fitted") is False:
        return ("probabilities as the booster gives them (`calibration=\"none\"`, the default: a Platt step fitted on "
                "fold models moved the level between years; docs/modeling.md)")
    folds = ", ".join(est.get("calibration_folds") or [str(est.get("validation_fold"))])
    return (f"{cal.get('method', 'platt').capitalize()} calibration fitted out of time on {folds} (each year predicted "
            "by a model of the shipped size fitted on the years before it)")


def _line_text(feats) -> str:
    """The card's line of how the records are judged against the line (``PanelFeatures.line_ahead``)."""
    if not getattr(feats, "line_ahead", False):
        return "- Each record is judged against its own year's monitoring line."
    g = feats.line_growth_
    proj = f"× {g:.4f} (the schedule's mean growth, the change of standard left out)" if g else "unchanged"
    return ("- Each record is judged against the next year's monitoring line, the line its outcome is judged against "
            f"(`line_ahead`): the province's line of t + 1 from the records or the fitted schedule; the scored year's "
            f"line is projected {proj}, unless `score(..., lines=)` gives the province's announced line of the next "
            "year.")


def _md_table(text: str, heading: str) -> list[str]:
    """Lines of the markdown table under the ``## `` heading that starts with ``heading`` (header included)."""
    if "\n## " + heading not in text:
        return []
    part = text.split("\n## " + heading, 1)[1].split("\n## ", 1)[0]
    return [ln for ln in part.splitlines() if ln.startswith("|")]


def worlds_section(path: Path | None = None) -> str:
    """The card's "Beyond this world" section: the world × model table of ``bench/worlds.md`` (issue 15).

    The worlds are other simulator settings and two real public panels; the table is
    copied from the benchmark's file (made by ``python bench/bench_worlds.py``), not
    re-measured when the card is built.
    """
    path = models_dir().parent / "bench" / "worlds.md" if path is None else Path(path)
    head = "## Beyond this world (other simulator settings, two real public panels)"
    if not path.is_file():
        return f"{head}\nNot available here: `python bench/bench_worlds.py` writes `bench/worlds.md`."
    text = path.read_text(encoding="utf-8")
    cmd = next((ln for ln in text.splitlines() if ln.startswith("Command:")), "")
    main = _md_table(text, "Main table")
    keep = main[:2] + [ln for ln in main[2:] if ln.split("|")[2].strip() in ("lightgbm", "lightgbm_raw", "oracle")]
    out = [head, f"From `bench/worlds.md` ({cmd.removeprefix('Command: ').strip()}); rolling backtest pooled over the "
           "test years, 95 % bootstrap intervals; lightgbm_raw = LightGBM with the library's defaults on the raw "
           "contract columns; oracle = the simulator's own next-year probability.", "", *keep]
    for title, label in (("Paired difference", "lightgbm − lightgbm_raw, every test year:"),
                         ("The same difference from the second test year on",
                          "lightgbm − lightgbm_raw from the second test year on (the first is fitted on one year):")):
        rows = _md_table(text, title)
        if rows:
            out += ["", label, "", *rows]
    out += ["", "Reading and the Brier floor: docs/modeling.md (\"Validated beyond one world\")."]
    return "\n".join(out)


def build(n_households: int = 20_000, seed: int = 0, out: Path | None = None, n_boot: int = 200, log_to_mlflow: bool = True) -> dict:
    out = models_dir() if out is None else Path(out)

    t0 = time.perf_counter()
    # the cause record of the last two years (the panel is the same as without it) for the card's named-cause check
    panel, causes = simulate(n_households=n_households, years=range(2020, 2026), seed=seed, return_causes=True,
                             cause_years=[2024, 2025], cause_draws=CAUSE_DRAWS)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    bt = backtest(panel, n_boot=n_boot, seed=seed, log_to_mlflow=log_to_mlflow, progress=True, causes=causes)
    t_bt = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = train(panel, model="lightgbm", seed=seed, log_to_mlflow=log_to_mlflow, run_name=None)
    t_train = time.perf_counter() - t0
    model.save(out / "default")
    for name, tab in bt.tables().items():
        (out / "backtest").mkdir(parents=True, exist_ok=True)
        tab.to_csv(out / "backtest" / f"{name}.csv", index=False, encoding="utf-8")
    timings = {"simulate_s": t_sim, "backtest_s": t_bt, "train_s": t_train}
    (out / "MODEL_CARD.md").write_text(model_card(model, bt, timings, n_households, seed), encoding="utf-8")
    return {"model": model, "backtest": bt, "timings": timings}


def _fmt(v) -> str:
    try:
        return f"{float(v):.3f}"
    except (TypeError, ValueError):
        return str(v)


def run_links(train_run: str | None, backtest_runs: dict) -> str:
    """Model-card lines linking the MLflow runs (open them with ``fanpin-risk ui``)."""
    if not train_run:
        return "- Not logged to MLflow (rebuilt with logging off)."
    try:
        url = run_url(train_run)
        bt = ", ".join(f"[{m}]({run_url(r)})" for m, r in backtest_runs.items())
    except Exception:  # the card must be written even when the store is gone
        return f"- MLflow training run id: `{train_run}`; backtest run ids: {backtest_runs}."
    return (f"- MLflow training run: [{train_run}]({url}) (start the UI with `fanpin-risk ui`, then open the link);\n"
            f"  backtest runs: {bt or 'none'}.")


def _cause_section(bt) -> str:
    """The named main risk type against the simulator's true cause (BacktestResult.cause_accuracy)."""
    t = getattr(bt, "cause_accuracy", None)
    if t is None or not len(t):
        return "## Named cause\nNot measured (no cause record)."
    rows = [f"| {int(r.year)} | {r.listed} | {r.with_cause} | {r.main_is_true:.1%} | {r.true_in_first_two:.1%} | "
            f"{r.other_named:.1%} |" for r in t.itertuples(index=False)]
    return "\n".join([
        "## Named cause (reasons against the simulator's true cause)",
        f"LightGBM trained on the years before each year, that year scored with reasons for the top 10 %; among the "
        f"listed households whose true main cause matters (removing it lowers the next-year probability by ≥ 0.05, "
        f"simulator's cause record, {CAUSE_DRAWS} draws), how often the named main risk type is that cause and how "
        f"often it is among the first two named; and how often 其他 is named. Targets: ≥ 70 %, ≥ 85 %, ≤ 5 % "
        f"(issue 14). Four worlds: `bench/causes_accuracy.md`.", "",
        "| year | listed | with a cause that matters | main = true cause | among first two | named 其他 |",
        "|---|---|---|---|---|---|", *rows])


def model_card(model, bt, timings: dict, n: int, seed: int) -> str:
    meta = model.metadata
    tag = bt.settings["tag"]
    s = bt.summary()
    rows = ["| model | year | n | positives | ROC AUC | PR AUC | recall@10 % | precision@10 % | Brier | ECE | mean p − rate |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in s.itertuples(index=False):
        d = r._asdict()
        rows.append(f"| {d['model']} | {d['year']} | {d['n']} | {d['positives']} | {_fmt(d['roc_auc'])} | {_fmt(d['pr_auc'])} | "
                    f"{_fmt(d[f'recall_at_{tag}'])} | {_fmt(d[f'precision_at_{tag}'])} | {_fmt(d['brier'])} | "
                    f"{_fmt(d.get('ece'))} | {_fmt(d.get('calibration_in_the_large'))} |")
    ci = []
    for r in bt.pooled.itertuples(index=False):
        d = r._asdict()
        ci.append(f"- {d['model']}: PR AUC {_fmt(d['pr_auc'])} [{_fmt(d.get('pr_auc_lo'))}, {_fmt(d.get('pr_auc_hi'))}], "
                  f"recall@10 % {_fmt(d[f'recall_at_{tag}'])} [{_fmt(d.get(f'recall_at_{tag}_lo'))}, {_fmt(d.get(f'recall_at_{tag}_hi'))}]")
    run = getattr(model, "mlflow_run_id", None)
    fp = meta["data_fingerprint"]
    sel = meta.get("selection") or {}
    audition = "\n".join(
        [f"Chosen on this data by {sel.get('metric', 'log loss')} (year {sel.get('year')}, {sel.get('rows')} rows):",
         "", "| candidate | log loss | trees |", "|---|---|---|"]
        + [f"| {c['name']}{' (chosen)' if c['name'] == sel.get('chosen') else ''} | {c['log_loss']:.5f} | {c['trees']} |"
           for c in sel.get("candidates", [])]) if sel.get("chosen") else "Fixed parameters (no audition)."
    return f"""# Model card: fanpin_risk default model

Rebuild with `fanpin-risk train --default` (one command; simulates, backtests, trains, writes this card).

## Model
- Kind: LightGBM ({meta['estimator'].get('best_iteration')} trees after early stopping, ≤ 300; {model._impl.state['params']['num_leaves']} leaves, learning rate {model._impl.state['params']['learning_rate']}), {_calibration_text(meta['estimator'])};
  booster refitted on all labelled years with the early-stopped size.
- Model size and feature block: see "Audition" below.
- Features: {len(model.feature_names_)} household-history features (`PanelFeatures`), dated at or before the scored year.
{_line_text(model.features_)}
- Package version {meta['package_version']}, model schema version {meta['schema_version']}, seed {meta['seed']}.
{run_links(run, bt.run_ids)}

## Audition
{audition}

## Data
- **Simulated**, not real: `fanpin_risk.simulate.simulate(n_households={n}, years=2020–2025, seed={seed}, province="全国")`,
  {fp['rows']} household-years, {fp['households']} households, sha256 `{fp['sha256'][:16]}…`.
- Training rows: {meta['n_train_rows']} labelled household-years of {meta['train_years']} (positive rate {meta['positive_rate']:.3f}).
- Monitoring lines: national reference series (全国) of `data_schema/monitoring_lines.csv`.

## Label
"relapse" (`make_labels` default): in year t+1 the household is newly identified as a monitoring object, OR its
per-capita net income is below year t+1's monitoring line, OR one of the guarantees (housing, drinking water,
compulsory education, basic medical insurance) fails. Rows without a t+1 record are censored (not used).
See `docs/modeling.md` for the known biases.

## Backtest (rolling origin; train on t ≤ T−{1 + bt.settings['label_lag']}, test on year T; top 10 % chosen within each year)
{chr(10).join(rows)}

Pooled 95 % bootstrap intervals ({bt.settings['n_boot']} resamples, stratified by year):
{chr(10).join(ci)}

{_cause_section(bt)}

{worlds_section()}

Timings on 2 shared cores: simulate {timings['simulate_s']:.0f} s, backtest (3 models × {len(bt.settings['test_years'])} years, bootstrap)
{timings['backtest_s']:.0f} s, final training {timings['train_s']:.0f} s.

## Intended use
Rank households of a county for preventive visits (排查) before they are identified; a decision aid for cadres,
never an automatic decision on eligibility. Review every listed household in person.

## Limits
- Trained and evaluated on simulated data only; the figures above say nothing about real counties. Retrain and
  backtest on the county's own exports before use (`fanpin-risk backtest --input …`).
- The label inherits the monitoring system's biases: households already helped look safe; identification depends
  on cadre capacity and self-application, so counties that find more cases look riskier.
- Income is self-reported and survey-based; the monitoring line is a province × year table (override it).
- Equity: check recall and false-omission rate by county, category, elderly and disabled households
  (`BacktestResult.equity`) before deployment.
"""
