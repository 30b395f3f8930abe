"""Command ``alerts``: department push lists → the township alert workbook (registered by :mod:`fanpin_risk.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console

from fanpin_risk import contract
from fanpin_risk.api import alerts as _alerts
from fanpin_risk.io import read_panel
from fanpin_risk.tracking import run_url

from ._common import LINES_HELP, MODEL_HELP, load_model, read_lines

console = Console()


def _previous(path: Optional[Path]) -> Optional[pd.DataFrame]:
    """An earlier alert workbook (sheet 预警名单) or CSV, back in English columns."""
    if path is None:
        return None
    heads = {v: k for k, v in contract.output_headers("alerts").items()}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        df = pd.read_excel(path, sheet_name="预警名单", dtype={"户编号": str})
    else:
        df = pd.read_csv(path, dtype={"户编号": str, "household_id": str})
    return df.rename(columns=heads)


def alerts(
    source: Annotated[Path, typer.Argument(help="Household records with history (.xlsx/.csv/.parquet), as for score.")],
    feeds: Annotated[list[Path], typer.Argument(help="Department push lists (xlsx/CSV, any number; kind found from the headers).")],
    members: Annotated[Path, typer.Option("--members", "-m", help="Member sheet with the ID-card numbers (the roster; hashed when read).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Alerts as of this month, e.g. 2026-06.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Alert workbook to write (.xlsx).")] = Path("alerts.xlsx"),
    model: Annotated[Optional[Path], typer.Option(help=MODEL_HELP)] = None,
    salt_file: Annotated[Optional[Path], typer.Option("--salt-file", help="The county's salt file (else $FANPIN_SALT or $FANPIN_SALT_FILE); see docs/alerts.md.")] = None,
    previous: Annotated[Optional[Path], typer.Option(help="The previous alert workbook, so households alerted before are not new.")] = None,
    visit_days: Annotated[int, typer.Option(help="Days after the month a list came in to visit the household.")] = 15,
    lines: Annotated[Optional[Path], typer.Option(help=LINES_HELP)] = None,
    mlflow: Annotated[bool, typer.Option("--mlflow/--no-mlflow", help="Log the month's counts (no row of any household) to MLflow.")] = False,
) -> None:
    """Alerts within the year from department push lists (部门筛查预警): matched, applied to the latest records, re-scored."""
    salt = contract.resolve_salt(salt_file=salt_file)  # one salt for households, members and lists
    m = load_model(model, console)
    table = read_lines(lines)
    panel = read_panel(source, lines=table, salt=salt)[0]
    res = _alerts(panel, list(feeds), m, roster=members, as_of=as_of, salt=salt, previous=_previous(previous),
                  visit_within_days=visit_days, lines=table, log_to_mlflow=mlflow)
    a = res.alerts
    n_match = int((res.matches["status"] == "matched").sum())
    console.print(f"{len(res.matches)} 条推送记录，{n_match} 条匹配到户；预警 {len(a)} 户，其中达到监测标准 "
                  f"{int(a['trigger_met'].sum())} 户，新预警 {int((a['alert_status'] == '新预警').sum())} 户；"
                  f"名单外人员 {int(res.outside['count'].sum()) if len(res.outside) else 0} 人", highlight=False)
    res.to_excel(output)
    console.print(f"written to [bold]{output}[/]")
    if res.run_id:
        console.print(f"MLflow run {res.run_id} (counts only) → {run_url(res.run_id)}", soft_wrap=True, highlight=False)
