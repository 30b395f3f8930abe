"""Command-line interface: ``fanpin-risk <command>``.

Each command is a thin wrapper over the Python API, so what the CLI does can be
done, and tested, from Python too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fanpin_risk.api import score as _score, train as _train
from fanpin_risk.cli import _alerts as cli_alerts, _models as cli_models, _scenario as cli_scenario, _score as cli_score, _ui as cli_ui
from fanpin_risk.contract import export_frame, validate as _validate
from fanpin_risk.errors import FanpinError
from fanpin_risk.io import read_panel
from fanpin_risk.reporting import next_line_text, write_html_report, write_workbook
from fanpin_risk.simulate import simulate as _simulate

from ._common import LINES_HELP, NAMES_HELP, read_lines, read_names

app = typer.Typer(
    name="fanpin-risk",
    help="Next-year poverty relapse risk (返贫/致贫风险) from anti-relapse monitoring records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold household rows
)
console = Console()


def _years(spec: str) -> list[int]:
    """Parse '2020-2025' or '2020,2021,2023'."""
    spec = spec.strip()
    if "-" in spec:
        a, b = spec.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(y) for y in spec.split(",") if y.strip()]


def write_table(df, path: Path, *, table: str = "household_year", headers: str = "zh", encoding: str = "utf-8-sig") -> Path:
    """Write a canonical frame as CSV (``encoding``), xlsx or parquet, picked by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        out = export_frame(df, table, headers=headers, booleans="bool")  # type: ignore[arg-type]
        out.to_parquet(path, index=False)
    elif suffix in (".xlsx", ".xlsm"):
        export_frame(df, table, headers=headers).to_excel(path, index=False)  # type: ignore[arg-type]
    else:
        export_frame(df, table, headers=headers).to_csv(path, index=False, encoding=encoding)  # type: ignore[arg-type]
    return path


@app.command()
def simulate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Household-year file to write (.csv, .xlsx or .parquet).")] = Path("panel.csv"),
    households: Annotated[int, typer.Option("--households", "-n", help="Number of households.")] = 20_000,
    years: Annotated[str, typer.Option(help="Years, e.g. 2020-2025 or 2021,2022.")] = "2020-2025",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same panel.")] = 0,
    province: Annotated[str, typer.Option(help="Province whose monitoring lines apply (全国 = national reference).")] = "全国",
    members: Annotated[Optional[Path], typer.Option(help="Also write the member sheet to this file.")] = None,
    headers: Annotated[str, typer.Option(help="Header language: zh (as exported) or en.")] = "zh",
    encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8-sig, utf-8 or gbk.")] = "utf-8-sig",
) -> None:
    """Simulate a monitoring panel in the data contract (the embedded default data)."""
    t0 = time.perf_counter()
    with console.status(f"simulating {households:,} households × {len(_years(years))} years"):
        res = _simulate(n_households=households, years=_years(years), seed=seed, province=province,
                        return_members=members is not None)
    hh, mem = (res if members is not None else (res, None))
    write_table(hh, output, headers=headers, encoding=encoding)
    console.print(f"wrote {len(hh):,} household-year rows to [bold]{output}[/] ({time.perf_counter() - t0:.1f} s)")
    if mem is not None and members is not None:
        write_table(mem, members, table="member", headers=headers, encoding=encoding)
        console.print(f"wrote {len(mem):,} member rows to [bold]{members}[/]")


@app.command()
def validate(
    source: Annotated[Path, typer.Argument(help="Household export (.xlsx/.xls/.csv/.parquet).")],
    members: Annotated[Optional[Path], typer.Option(help="Member sheet, when it is a separate file.")] = None,
    sheet: Annotated[Optional[str], typer.Option(help="Household sheet name in a workbook.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", "-r", help="Write every issue to this CSV (or .xlsx).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the canonical panel here.")] = None,
    headers: Annotated[str, typer.Option(help="Headers of the issues table: zh (for county staff) or en (analysts).")] = "zh",
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
) -> None:
    """Read and validate an export; print the validation report."""
    df, rep = read_panel(source, members=members, sheet=sheet, errors="warn", lines=read_lines(lines))
    console.print(str(rep))
    if report is not None:
        issues = rep.to_frame(headers)
        if report.suffix.lower() in (".xlsx", ".xlsm"):
            issues.to_excel(report, index=False, sheet_name="问题清单" if headers == "zh" else "issues")
        else:
            issues.to_csv(report, index=False, encoding="utf-8-sig")
        console.print(f"issues written to [bold]{report}[/]")
    if output is not None:
        write_table(df, output, headers="en")
        console.print(f"canonical panel written to [bold]{output}[/]")
    if not rep.ok:
        raise typer.Exit(code=1)


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the ranked list and the report.")] = Path("fanpin_output"),
    source: Annotated[Optional[Path], typer.Option("--input", "-i", help="A household export to use instead of the simulated panel.")] = None,
    members: Annotated[Optional[Path], typer.Option(help="Member sheet of --input.")] = None,
    households: Annotated[int, typer.Option("--households", "-n", help="Households to simulate when no --input is given.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Seed for simulation and training.")] = 0,
    budget: Annotated[float, typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1).")] = 0.10,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    names: Annotated[Optional[Path], typer.Option(help=NAMES_HELP)] = None,
) -> None:
    """Main job: simulate (or read) a panel → validate → train → score the latest year → ranked list and report."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if source is None:
        with console.status(f"simulating {households:,} households, 2020–2025"):
            panel = _simulate(n_households=households, seed=seed)
        report = _validate(panel)
        console.print(f"[green]✓[/] simulated {len(panel):,} household-years")
    else:
        panel, report = read_panel(source, members=members, errors="warn", lines=read_lines(lines))
        console.print(f"[green]✓[/] read {len(panel):,} household-years from {source}")
    (out / "validation.txt").write_text(str(report), encoding="utf-8")
    console.print(f"[green]✓[/] validation: {len(report.errors)} errors, {len(report.warnings)} warnings → {out / 'validation.txt'}")
    _run_model_steps(panel, out, seed=seed, budget=budget, names=read_names(names))
    console.print(f"done in {time.perf_counter() - t0:.1f} s")


def _run_model_steps(panel, out: Path, *, seed: int, budget: float, names: dict | None = None) -> None:
    with console.status("training LightGBM on every labelled household-year"):
        model = _train(panel, model="lightgbm", seed=seed)
    model.save(out / "model")
    console.print(f"[green]✓[/] trained on {model.metadata['n_train_rows']:,} labelled rows of "
                  f"{model.metadata['train_years']} → {out / 'model'}")
    share = budget if budget < 1 else None
    count = int(budget) if budget >= 1 else None
    with console.status("scoring the latest year with reasons"):
        scored = _score(panel, model, budget=share if share is not None else count)
    n = int((scored["status"] == "scored").sum())
    in_budget = int(scored["in_budget"].fillna(False).sum())
    scored.to_csv(out / "ranked_list.csv", index=False, encoding="utf-8-sig")
    write_workbook(scored, out / "ranked_list.xlsx", names=names)
    console.print(f"[green]✓[/] scored {n:,} households of {scored.attrs.get('year')}; "
                  f"{in_budget:,} in the visit budget → {out / 'ranked_list.xlsx'}")
    if scored.attrs.get("next_lines"):
        console.print(f"  judged against next year's line (判断所用监测标准): {next_line_text(scored.attrs['next_lines'])}")
    with console.status("writing the HTML report"):
        write_html_report(panel, out / "report.html", model, budget=share if share is not None else count)
    console.print(f"[green]✓[/] report → {out / 'report.html'}")
    top = scored[scored["status"] == "scored"].head(5)
    for r in top.itertuples():
        place = f"{names.get(r.township_code, r.township_code)}  " if names else ""
        console.print(f"  {int(r.priority_rank):>3}  {r.household_id}  {place}{r.risk_score:.1%}  {r.risk_tier}  "
                      f"{r.main_risk_type or ''}  {r.suggested_measures or ''}", markup=False)


def _register_stages() -> None:
    # Each later stage keeps its commands in its own module (cli/_models.py, cli/_score.py, ...),
    # next to the code it wraps; registered here so that a broken import is an error, not a missing command.

    for mod, names in (
        (cli_models, ("train", "backtest")),
        (cli_score, ("score", "report")),
        (cli_ui, ("ui",)),
        (cli_scenario, ("scenario", "help-options", "cohort")),
        (cli_alerts, ("alerts",)),
    ):
        for name in names:
            app.command(name)(getattr(mod, name.replace("-", "_")))


_register_stages()
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

def main() -> None:
    """Entry point of ``fanpin-risk``: a problem with the user's input is one clear message, not a traceback.

    Errors of the package (:class:`~fanpin_risk.errors.FanpinError`: unreadable or
    empty files, missing columns, no monitoring line, a refused model) already name
    the field and the fix; anything else is a bug and keeps its traceback.
    """
    try:
        app()
    except FanpinError as e:
        Console(stderr=True).print(f"[bold red]错误 error:[/] {e}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
