"""CLI commands ``score`` and ``report`` (registered on the app by ``cli.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fanpin_risk.api import score as _score
from fanpin_risk.reporting import write_html_report, write_workbook
from fanpin_risk.scoring import to_headers


def _budget(value: Optional[float]):
    if value is None:
        return None
    return int(value) if value >= 1 else float(value)


def score(
    input: Annotated[Path, typer.Argument(help="Household export (.xlsx/.csv/.parquet), history included.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ranked list: .xlsx (list + 汇总 summary) or .csv.")] = Path("risk_list.xlsx"),
    model: Annotated[Optional[Path], typer.Option(help="Model directory (default: the packaged model).")] = None,
    budget: Annotated[Optional[float], typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1).")] = None,
    quota_by: Annotated[Optional[str], typer.Option("--quota-by", help="township_code or village_code: a top-k per unit.")] = None,
    year: Annotated[Optional[int], typer.Option(help="Year to score (default: the latest).")] = None,
    reasons: Annotated[Optional[str], typer.Option(help="all, budget or none (default: all up to 50,000 households).")] = None,
) -> None:
    """Score the latest year: ranked list with reasons and suggested measures (返贫致贫风险名单)."""
    from rich.console import Console


    console = Console()
    s = _score(input, str(model) if model else None, year=year, budget=_budget(budget), quota_by=quota_by,
               reasons=reasons)  # type: ignore[arg-type]
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".csv":
        to_headers(s, "zh").to_csv(output, index=False, encoding="utf-8-sig")
    else:
        write_workbook(s, output)
    n = int((s["status"] == "scored").sum())
    console.print(f"scored {n:,} of {len(s):,} households ({s.attrs.get('year')}); "
                  f"{int(s['in_budget'].sum()):,} in the budget → [bold]{output}[/]")


def report(
    input: Annotated[Path, typer.Argument(help="Household export (.xlsx/.csv/.parquet), history included.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML report to write.")] = Path("report.html"),
    model: Annotated[Optional[Path], typer.Option(help="Model directory (default: the packaged model).")] = None,
    budget: Annotated[Optional[float], typer.Option(help="Households to visit: a count (≥ 1) or a share (< 1).")] = None,
    quota_by: Annotated[Optional[str], typer.Option("--quota-by", help="township_code or village_code.")] = None,
    year: Annotated[Optional[int], typer.Option(help="Year to score (default: the latest).")] = None,
) -> None:
    """Write a self-contained HTML report (distribution, risk types, list, explanations)."""
    from rich.console import Console


    write_html_report(input, output, str(model) if model else None, year=year, budget=_budget(budget), quota_by=quota_by)
    Console().print(f"report written to [bold]{output}[/]")
