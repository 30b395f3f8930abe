"""CLI commands ``fanpin-risk train`` and ``fanpin-risk backtest`` (registered by ``cli/_app.py``).

Rebuild the packaged default model with ``fanpin-risk train --default``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fanpin_risk.api import backtest as _backtest, train as _train
from fanpin_risk.cli._default_model import build
from fanpin_risk.contract import models_dir
from fanpin_risk.panel import as_panel as _as_panel
from fanpin_risk.simulate import simulate
from fanpin_risk.tracking import CHAMPION, check_alias, set_alias, store_uris

from ._common import LINES_HELP, print_table, read_lines

console = Console()


def _panel(source: Optional[Path], households: int, seed: int, lines: Optional[Path] = None):
    if source is not None:
        with console.status(f"reading {source}"):
            return _as_panel(source, lines=read_lines(lines))

    with console.status(f"simulating {households:,} households, 2020–2025"):
        return simulate(n_households=households, seed=seed)


def train(
    source: Annotated[Optional[Path], typer.Option("--input", "-i", help="Household export (Chinese or English headers).")] = None,
    households: Annotated[int, typer.Option("--simulate", "-n", help="Households to simulate when no --input is given.")] = 20_000,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="lightgbm, scorecard or rule.")] = "lightgbm",
    label: Annotated[str, typer.Option(help="Label definition: relapse, identified, income, guarantee.")] = "relapse",
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.")] = Path("fanpin_model"),
    seed: Annotated[int, typer.Option(help="Seed (same data + seed → identical model files).")] = 0,
    mlflow: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log the run to MLflow.")] = True,
    default: Annotated[bool, typer.Option("--default", help="Rebuild the packaged default model (models/default + MODEL_CARD.md); "
                                          "its MLflow version becomes the 'champion'.")] = False,
    alias: Annotated[Optional[str], typer.Option(help="Alias for the model's new MLflow registry version, e.g. champion "
                                                     "(loaded as models:/fanpin_risk@champion) or challenger.")] = None,
) -> None:
    """Train a risk model on every labelled household-year and save it."""
    t0 = time.perf_counter()
    if alias is not None:
        check_alias(alias)  # before minutes of training
    if default:
        res = build(households, seed, log_to_mlflow=mlflow)
        print_table(console, res["backtest"].summary(), "backtest of the default model's data")
        console.print(f"wrote {models_dir() / 'default'} and MODEL_CARD.md in {time.perf_counter() - t0:.0f} s")
        _print_registered(res["model"], alias or (CHAMPION if mlflow else None))
        return

    panel = _panel(source, households, seed, lines)
    with console.status(f"training {model}"):
        m = _train(panel, model=model, label=label, seed=seed, log_to_mlflow=mlflow, alias=alias if mlflow else None)
    m.save(out)
    ins = m.metadata["metrics_in_sample"]
    console.print(f"[green]✓[/] {model} trained on {m.metadata['n_train_rows']:,} rows of {m.metadata['train_years']} "
                  f"(in-sample ROC AUC {ins['roc_auc']:.3f}) → [bold]{out}[/] ({time.perf_counter() - t0:.1f} s)")
    console.print(f"  use it: fanpin-risk score EXPORT.xlsx --model {out}   (without --model the packaged default is used)",
                  soft_wrap=True, markup=False, highlight=False)
    _print_registered(m, None)


def _print_registered(m, alias: str | None) -> None:
    """Say where the run and the registered model went, and how another process loads it."""
    run_id, uri = getattr(m, "mlflow_run_id", None), getattr(m, "mlflow_model_uri", None)
    if not run_id:
        return
    if alias and uri and uri.startswith("models:/"):
        name, version = uri[len("models:/"):].rsplit("/", 1)
        m.mlflow_alias_uri = set_alias(name, version, alias)
    alias_uri = getattr(m, "mlflow_alias_uri", None)
    console.print(f"MLflow run {run_id}; registered model [bold]{uri}[/]" + (f" = [bold]{alias_uri}[/]" if alias_uri else ""))
    console.print(f"  load it elsewhere: export MLFLOW_TRACKING_URI={store_uris()[0]}; "
                  f"mlflow.pyfunc.load_model(\"{alias_uri or uri}\")", soft_wrap=True, markup=False)


def backtest(
    source: Annotated[Optional[Path], typer.Option("--input", "-i", help="Household export (Chinese or English headers).")] = None,
    households: Annotated[int, typer.Option("--simulate", "-n", help="Households to simulate when no --input is given.")] = 20_000,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Model(s) to compare; repeat the option. Default: all three.")] = None,
    label: Annotated[str, typer.Option(help="Label definition.")] = "relapse",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for tables (CSV) and figures (PNG).")] = Path("fanpin_backtest"),
    k_share: Annotated[float, typer.Option(help="Visit budget as a share of households.")] = 0.10,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for confidence intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    first_test_year: Annotated[Optional[int], typer.Option(help="First test year (default: first possible).")] = None,
    mlflow: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log one run per model to MLflow.")] = True,
) -> None:
    """Rolling-origin out-of-time backtest; writes tables and figures, prints the summary."""
    t0 = time.perf_counter()
    panel = _panel(source, households, seed, lines)
    res = _backtest(panel, models=tuple(model or ("rule", "scorecard", "lightgbm")), label=label, k_share=k_share,
                    n_boot=n_boot, seed=seed, first_test_year=first_test_year, log_to_mlflow=mlflow, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    for name, tab in res.tables().items():
        tab.to_csv(out / f"{name}.csv", index=False, encoding="utf-8-sig")
    for name, fig in res.figures.items():
        fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
    print_table(console, res.summary(), "rolling-origin backtest (pooled = all test years)")
    console.print(f"tables and figures → [bold]{out}[/] ({time.perf_counter() - t0:.0f} s)")
