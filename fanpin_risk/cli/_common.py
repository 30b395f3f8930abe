"""Options shared by the commands: the model used (and saying which), monitoring lines, region names."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from rich.console import Console

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.io import FULL_REPORT_HINT, read_panel
from fanpin_risk.models import resolve_model

#: Help of --quota-by, listing every accepted value.
QUOTA_HELP = "Give each unit its own top-k: county_code, township_code or village_code."
#: Help of --model.
MODEL_HELP = "Model directory written by `fanpin-risk train -o DIR` (default: the packaged model, models/default)."
#: Help of --lines.
LINES_HELP = ("Monitoring-line table (CSV/xlsx: province, year, line — like data_schema/monitoring_lines.csv) "
              "for rows without their own line, and the province's announced line of the year after the scored one "
              "(else the model projects it).")
#: Help of --names.
NAMES_HELP = ("Region names (CSV/xlsx with columns code,name or 代码,名称): county, township and village names "
              "are printed and written beside the codes.")


def load_model(path: Optional[Path], console: Console):
    """The model of ``--model`` (None: the packaged default), after printing which one it is."""
    model = resolve_model(str(path) if path is not None else None)
    console.print(describe_model(model, path), highlight=False)
    return model


def describe_model(model, path: Optional[Path]) -> str:
    """One line: where the model comes from, when it was saved, what it was trained on."""
    meta = getattr(model, "metadata", {}) or {}
    where = Path(path) if path is not None else contract.models_dir() / "default"
    saved = ""
    manifest = where / "manifest.json"
    if manifest.is_file():
        saved = _dt.datetime.fromtimestamp(manifest.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    fp = meta.get("data_fingerprint", {}) or {}
    data = (f"{fp.get('households', '?'):,} households, years {fp.get('first_year')}–{fp.get('last_year')}, "
            f"sha256 {str(fp.get('sha256', ''))[:12]}") if fp.get("sha256") else "data fingerprint not recorded"
    origin = "packaged default model" if path is None else "model"
    hint = " (pass --model DIR to use your own)" if path is None else ""
    return (f"{origin} {where}{hint}: {meta.get('model', getattr(model, 'kind', '?'))}, files dated {saved or '?'}, "
            f"trained on years {meta.get('train_years')} ({data})")


def read_lines(path: Optional[Path]) -> Optional[pd.DataFrame]:
    """The monitoring-line table of ``--lines`` (None when not given)."""
    return None if path is None else contract.load_lines(path)


def read_names(path: Optional[Path]) -> Optional[dict[str, str]]:
    """Region code → name from ``--names`` (codes as text, as the exports write them)."""
    if path is None:
        return None
    p = Path(path)
    t = pd.read_excel(p, dtype=str) if p.suffix.lower() in (".xlsx", ".xlsm", ".xls") else \
        pd.read_csv(p, dtype=str, encoding="utf-8-sig")
    cols = {str(c).strip().lower(): c for c in t.columns}
    code = next((cols[c] for c in ("code", "代码", "区划代码", "行政区划代码") if c in cols), None)
    name = next((cols[c] for c in ("name", "名称", "区划名称", "行政区划名称") if c in cols), None)
    if code is None or name is None:
        raise typer.BadParameter(f"{p}: needs a code column (code/代码) and a name column (name/名称); "
                                 f"found {list(t.columns)}")
    t = t[[code, name]].dropna()
    return dict(zip(t[code].str.strip(), t[name].str.strip()))


def panel_of(source: Path, lines: Optional[pd.DataFrame]):
    """Read an export once, with the monitoring lines of ``--lines``; an error names the command that lists every issue."""
    try:
        return read_panel(source, lines=lines)[0]
    except ContractError as exc:
        msg = str(exc)
        if not msg.endswith(FULL_REPORT_HINT):
            raise
        raise ContractError(msg.removesuffix(FULL_REPORT_HINT) + "Fix the export; `fanpin-risk validate "
                            f"{source} -r issues.xlsx` writes every issue with its row.") from None


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.3f}"
    return "" if v is None else str(v)


def print_table(console: Console, df: pd.DataFrame, title: str | None = None) -> None:
    """A table that fits the console: columns side by side when they fit its width, else one block per row.

    A terminal's width is the console's; piped into a file or a cron log it is
    rich's default (80), so the output stays readable in both.
    """
    cols = [str(c) for c in df.columns]
    cells = [[_cell(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    if title:
        console.print(f"[bold]{title}[/]")
    if sum(widths) + 3 * len(widths) <= console.width:
        from rich.table import Table

        t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for c in cols:
            t.add_column(c, justify="left", no_wrap=True)
        for r in cells:
            t.add_row(*r)
        console.print(t)
        return
    key = max(len(c) for c in cols)
    for r in cells:
        for c, v in zip(cols, r):
            console.print(f"  {c:<{key}}  {v}", highlight=False, markup=False)
        console.print("")
