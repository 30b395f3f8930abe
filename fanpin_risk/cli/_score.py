"""CLI commands ``score`` and ``report`` (registered on the app by ``cli/_app.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fanpin_risk.api import score as _score
from fanpin_risk.reporting import next_line_text, staff_list, write_html_report, write_workbook

from ._common import LINES_HELP, MODEL_HELP, NAMES_HELP, QUOTA_HELP, load_model, panel_of, read_lines, read_names

console = Console()


def _budget(value: Optional[float]):
    if value is None:
        return None
    return int(value) if value >= 1 else float(value)


def score(
    input: Annotated[Path, typer.Argument(help="Household export (.xlsx/.csv/.parquet), history included.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ranked list: .xlsx (list + 汇总 summary) or .csv.")] = Path("risk_list.xlsx"),
    model: Annotated[Optional[Path], typer.Option(help=MODEL_HELP)] = None,
    budget: Annotated[Optional[float], typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1).")] = None,
    quota_by: Annotated[Optional[str], typer.Option("--quota-by", help=QUOTA_HELP)] = None,
    year: Annotated[Optional[int], typer.Option(help="Year to score (default: the latest).")] = None,
    reasons: Annotated[Optional[str], typer.Option(help="Who gets reasons: all, budget or none (default: all up to 50,000 households, else budget).")] = None,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    names: Annotated[Optional[Path], typer.Option(help=NAMES_HELP)] = None,
) -> None:
    """Score the latest year: ranked list with reasons and suggested measures (返贫致贫风险名单)."""
    m = load_model(model, console)
    table = read_lines(lines)
    region = read_names(names)
    s = _score(panel_of(input, table), m, year=year, budget=_budget(budget), quota_by=quota_by,
               reasons=reasons, lines=table)  # type: ignore[arg-type]
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        staff_list(s, region).to_csv(output, index=False, encoding="utf-8-sig")
    else:
        write_workbook(s, output, names=region)
    n = int((s["status"] == "scored").sum())
    if budget is None:  # nobody is marked 纳入走访名单 then; say what the tiers mean instead of "0 in the budget"
        tiers = s["risk_tier"].value_counts()
        marked = (f"no visit budget (--budget): tiers by probability, 高 {int(tiers.get('高', 0)):,}, "
                  f"中 {int(tiers.get('中', 0)):,}")
    else:
        marked = f"{int(s['in_budget'].sum()):,} in the budget"
    console.print(f"scored {n:,} of {len(s):,} households ({s.attrs.get('year')}); {marked} → [bold]{output}[/]")
    if s.attrs.get("next_lines"):
        console.print(f"judged against next year's line (判断所用监测标准): {next_line_text(s.attrs['next_lines'])}")


def report(
    input: Annotated[Path, typer.Argument(help="Household export (.xlsx/.csv/.parquet), history included.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML report to write.")] = Path("report.html"),
    model: Annotated[Optional[Path], typer.Option(help=MODEL_HELP)] = None,
    budget: Annotated[Optional[float], typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1).")] = None,
    quota_by: Annotated[Optional[str], typer.Option("--quota-by", help=QUOTA_HELP)] = None,
    year: Annotated[Optional[int], typer.Option(help="Year to score (default: the latest).")] = None,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
) -> None:
    """Write a self-contained HTML report (distribution, risk types, list, explanations)."""
    m = load_model(model, console)
    table = read_lines(lines)
    write_html_report(panel_of(input, table), output, m, year=year, budget=_budget(budget), quota_by=quota_by,
                      lines=table)
    console.print(f"report written to [bold]{output}[/]")
