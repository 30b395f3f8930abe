"""Commands ``scenario``, ``help-options`` and ``cohort`` (registered by :mod:`fanpin_risk.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console

from fanpin_risk._excel import percent_columns
from fanpin_risk.api import cohort_backtest, train
from fanpin_risk.io import read_panel
from fanpin_risk.contract import to_chinese
from fanpin_risk.planning import feasible_help, load_help_measures, scenario as _scenario, score_followup
from fanpin_risk.simulate import simulate as _simulate

from ._common import LINES_HELP, MODEL_HELP, load_model, panel_of, print_table, read_lines

console = Console()


#: Probability columns of the tables written here (Chinese and English headers), shown as percentages in a workbook.
_PERCENT = ["当前风险概率", "采取该措施后风险概率", "风险变化", "冲击前风险概率", "冲击后风险概率",
            "risk_before", "risk_after", "delta"]


def _write(df, path: Path, sheet: str = "Sheet1") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            df.to_excel(xw, index=False, sheet_name=sheet)
            percent_columns(xw.sheets[sheet], _PERCENT, ["措施后风险：", "risk_"])
    else:
        df.to_csv(path, index=False, encoding="utf-8-sig")


def scenario(
    source: Annotated[Path, typer.Argument(help="Household records with history (.xlsx/.csv/.parquet).")],
    shock: Annotated[Path, typer.Argument(help="Shock description (.yaml/.json), e.g. data_schema/scenarios/county_flood.yaml.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Workbook (.xlsx) with all tables, or .csv for the household table.")] = None,
    headers: Annotated[str, typer.Option(help="Headers of the tables written: zh (for county staff) or en (analysts).")] = "zh",
    model: Annotated[Optional[Path], typer.Option(help=MODEL_HELP)] = None,
    year: Annotated[Optional[int], typer.Option(help="Year to shock and score (default: the latest).")] = None,
    draws: Annotated[int, typer.Option(help="Simulations for the interval of the expected relapses.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of area draws and simulations.")] = 0,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
) -> None:
    """Apply a shock (epidemic, flood, ...) to the latest records and compare scores before and after."""
    m = load_model(model, console)
    table = read_lines(lines)
    res = _scenario(panel_of(source, table), shock, m, year=year, n_draws=draws, seed=seed, lines=table)
    console.print(res.summary)
    if output is not None:
        if output.suffix.lower() in (".xlsx", ".xlsm"):
            res.to_excel(output, headers=headers)
        else:
            _write(to_chinese(res.households, "scenario_households") if headers == "zh" else res.households, output)
        console.print(f"written to [bold]{output}[/]")


def help_options(
    source: Annotated[Path, typer.Argument(help="Household records with history (.xlsx/.csv/.parquet).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the table here (.csv or .xlsx).")] = None,
    top: Annotated[Optional[int], typer.Option("--top", help="Only the N households with the highest risk.")] = None,
    model: Annotated[Optional[Path], typer.Option(help=MODEL_HELP)] = None,
    measures: Annotated[Optional[Path], typer.Option(help="Measures table (default data_schema/help_measures.csv).")] = None,
    year: Annotated[Optional[int], typer.Option(help="Year (default: the latest).")] = None,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    headers: Annotated[str, typer.Option(help="Headers of the table written: zh (for county staff) or en (analysts).")] = "zh",
) -> None:
    """For each household, the feasible measure that lowers the model's risk most (model response, not a causal effect)."""
    m = load_model(model, console)
    table = read_lines(lines)
    res = feasible_help(panel_of(source, table), m, year=year, measures=measures, lines=table)
    if top is not None:
        res = res.head(top)
    for t in res["text"].head(10):
        console.print(t)
    console.print("(模型响应，不是因果效应 — the model's response, not a causal effect)")
    if output is not None:
        if headers == "zh":
            extra = {f"risk_{r.measure}": f"措施后风险：{r.name_zh}" for r in load_help_measures(measures).itertuples()}
            _write(to_chinese(res, "help_options", extra=extra), output, sheet="帮扶措施测算")
        else:
            _write(res, output, sheet="help_options")
        console.print(f"{len(res):,} households written to [bold]{output}[/]")


def cohort(
    source: Annotated[Optional[Path], typer.Argument(help="Household records with history; omit with --simulate.")] = None,
    simulate: Annotated[Optional[int], typer.Option("--simulate", help="Simulate this many households instead of reading INPUT.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Follow-up visit list (.csv or .xlsx).")] = Path("followup_list.csv"),
    models: Annotated[str, typer.Option(help="Models to backtest, comma-separated.")] = "rule,scorecard,lightgbm",
    model: Annotated[str, typer.Option(help="Model kind trained on the re-entry label for the list: lightgbm, scorecard or rule.")] = "lightgbm",
    budget: Annotated[float, typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1) of the cohort.")] = 0.10,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for confidence intervals.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of simulation and training.")] = 0,
    mlflow: Annotated[bool, typer.Option(help="Log the backtest runs to MLflow.")] = False,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
) -> None:
    """Follow-up after risk elimination: backtest the re-entry label on the eliminated cohort, write the visit list."""
    if (source is None) == (simulate is None):
        raise typer.BadParameter("give INPUT or --simulate N (one of them)")
    if simulate is not None:
        panel = _simulate(n_households=simulate, seed=seed)
    else:
        panel = read_panel(source, lines=read_lines(lines), errors="warn")[0]
    kinds = tuple(m.strip() for m in models.split(",") if m.strip())
    res = cohort_backtest(panel, models=kinds, n_boot=n_boot, seed=seed, log_to_mlflow=mlflow, progress=False, figures=False)
    print_table(console, res.summary(), "Eliminated cohort, label 'reentry' (re-identified in t+1), rolling-origin backtest")
    rm = train(panel, model=model, label="reentry", seed=seed, log_to_mlflow=mlflow)
    console.print(f"follow-up model: {model} trained on the re-entry label of this panel (not a saved model)")
    lst = score_followup(panel, rm, budget=budget, headers="zh")
    _write(to_chinese(lst, "followup_extra"), output, sheet="跟踪回访名单")
    console.print(f"follow-up list of {len(lst):,} eliminated households ({int((lst['纳入走访名单'] == True).sum())} in budget) → [bold]{output}[/]")
