"""The data dictionary (data_schema/DATA_DICTIONARY.md), generated from the contract files.

Its own module because it reads both the annual tables (:mod:`._schema`) and the
department lists (:mod:`._feeds`, which reads :mod:`._schema`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._feeds import feed_fields, feed_kinds
from ._schema import codes, fields, load_lines, schema_dir

__all__ = ["data_dictionary_markdown"]


def data_dictionary_markdown() -> str:
    """Readable data dictionary generated from the contract files.

    ``data_schema/DATA_DICTIONARY.md`` holds this text; a test keeps the two equal,
    so regenerate it with ``python -m fanpin_risk.contract`` after editing a CSV.
    """
    lines = [
        "# fanpin_risk data dictionary",
        "",
        "Generated from `data_schema/*.csv` by `python -m fanpin_risk.contract`; edit the CSV files, "
        "not this page. Every field is accepted under its English name, its Chinese header or an alias.",
        "Canonical dtypes: integer → `Int64`, number → `float64`, boolean → `boolean`, string and category → `str`.",
        "",
    ]
    for table, title in (("household_year", "Household-year table (one row per household and year)"),
                         ("member", "Member table (one row per person and year)")):
        lines += [f"## {title}", "", *_field_table(fields(table)), ""]
    lines += _feed_section()
    lines += _cause_section()
    lines += ["## Code lists", "", "Chinese values are canonical; English names stand beside them.", ""]
    c = codes()
    for name, sub in c.groupby("list", sort=False):
        lines += [f"### {name}", "", "| value | name_en | note |", "|---|---|---|"]
        lines += [f"| {v} | {e} | {n} |" for v, e, n in zip(sub["value"], sub["name_en"], sub["note"])]
        lines.append("")
    lines += ["## Monitoring lines (yuan per person per year)", "",
              "Lookup order for each row: its own `monitoring_line` → (province, year) in this table → "
              "the national reference (全国) for the year → an error naming the missing year. "
              "Pass `lines=` to use your own table.", "",
              "| province | year | line | source |", "|---|---|---|---|"]
    for r in load_lines().itertuples():
        lines.append(f"| {r.province} | {r.year} | {r.line:g} | {r.source} |")
    lines.append("")
    return "\n".join(lines)


def _field_table(f: pd.DataFrame) -> list[str]:
    """Markdown rows of a field table (household, member or feed kind)."""
    out = ["| field | 中文表头 | type | unit | required | range | code list | aliases | meaning |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in f.itertuples():
        rng = ""
        if not (np.isnan(r.min) and np.isnan(r.max)):
            lo = "" if np.isnan(r.min) else f"{r.min:g}"
            hi = "" if np.isnan(r.max) else f"{r.max:g}"
            rng = f"{lo}..{hi}"
        desc = str(r.description).replace("|", "/")
        out.append(f"| `{r.field}` | {r.zh_header} | {r.type} | {r.unit} | {'yes' if r.required else ''} | {rng} | "
                   f"{r.code_list} | {'; '.join(r.aliases)} | {desc} |")
    return out


def _feed_section() -> list[str]:
    """The department push lists (data_schema/feeds.csv and data_schema/feeds/<kind>.csv)."""
    kinds = feed_kinds()
    out = ["## Department push lists (部门筛查推送名单)", "",
           "One file per kind in `data_schema/feeds/<kind>.csv`, indexed by `data_schema/feeds.csv`; a new kind is "
           "a new file and a row there (and a rule in `data_schema/feed_effects.csv`). The ID-card number is read "
           "only to compute the salted person hash (see docs/alerts.md). Thresholds: the policy's screening line "
           "on `threshold_field`, for ordinary households / for exited and monitored households.", "",
           "| kind | 名单 | department | event | threshold field | threshold | threshold (exited) | meaning |",
           "|---|---|---|---|---|---|---|---|"]

    def num(v) -> str:
        return "" if pd.isna(v) else f"{float(v):,.0f}"

    for r in kinds.itertuples():
        out.append(f"| `{r.kind}` | {r.zh_name} | {r.department} | {r.event} | "
                   f"{'' if pd.isna(r.threshold_field) else r.threshold_field} | {num(r.threshold)} | "
                   f"{num(r.threshold_exited)} | {str(r.description).replace('|', '/')} |")
    out.append("")
    for r in kinds.itertuples():
        out += [f"### `{r.kind}` — {r.department}·{r.zh_name}", "", *_field_table(feed_fields(r.kind)), ""]
    return out


def _cause_section() -> list[str]:
    """The rules of the cause attribution (data_schema/cause_removal.csv and cause_exposure.csv)."""
    out = ["## Cause attribution rules", "",
           "How the reasons split a household's risk over the official risk types (docs/scoring.md, "
           "`fanpin_risk.explain`).", "",
           "### `cause_removal.csv` — the record without each cause", "",
           "`action`: `false`/`true`/`zero` set the value; `usual` raises it to the median of the household's "
           "earlier records; `drop_code` removes the type from the registered risk types; `add_worker`, "
           "`ill_workers`, `disabled_workers` give labour back. `when`: the rule holds only where this yes/no field "
           "is set (`!` negates; `field@k`: on this record or any of the k − 1 before it).", "",
           "| risk type | field | action | when | meaning |", "|---|---|---|---|---|"]
    for r in pd.read_csv(schema_dir() / "cause_removal.csv", dtype=str).fillna("").itertuples():
        out.append(f"| {r.risk_type} | `{r.field}` | {r.action} | {r.when} | {r.description.replace('|', '/')} |")
    out += ["", "### `cause_exposure.csv` — a shock put into the record, for the exposure to it next year", "",
            "Hazard: the county's rate of `shock` among household-years with `exposed` > 0 (every household when "
            "empty), up to the scored year. `action`: `true` sets the field, `scale` multiplies it by `value`.", "",
            "| risk type | shock | exposed | field | action | value | meaning |", "|---|---|---|---|---|---|---|"]
    for r in pd.read_csv(schema_dir() / "cause_exposure.csv", dtype=str).fillna("").itertuples():
        out.append(f"| {r.risk_type} | `{r.shock}` | {r.exposed} | `{r.field}` | {r.action} | {r.value} | "
                   f"{r.description.replace('|', '/')} |")
    out.append("")
    return out
