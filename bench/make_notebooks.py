"""Write notebooks/01–05 from the cell sources below, outputs stripped.

    python bench/make_notebooks.py          # regenerate 01–05 (clean, no outputs)
    python bench/make_notebooks.py --strip  # only strip outputs of every notebooks/*.ipynb

The .ipynb files are generated, so edit the cells here and re-run. ``--strip``
does what ``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`` does,
plus dropping execution counts and per-cell metadata, without nbstripout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

SIZE = '''import os

# Households to simulate: the notebooks' shared size knob (tests run them with 600).
N_HOUSEHOLDS = int(os.environ.get("FANPIN_NB_HOUSEHOLDS", "5000"))'''

SETUP = '''import warnings

import matplotlib.pyplot as plt
import pandas as pd

import fanpin_risk as fr
from fanpin_risk.reporting import setup_cjk_fonts

for noise in ("PySpark does not yet", "IProgress not found"):  # import notices of optional packages
    warnings.filterwarnings("ignore", message=noise)
setup_cjk_fonts()  # Chinese labels in matplotlib (Noto Sans CJK)
pd.set_option("display.max_columns", 40, "display.width", 160)'''

KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
          "language_info": {"name": "python"}}


def md(s: str):
    return new_markdown_cell(s.strip("\n"))


def code(s: str):
    return new_code_cell(s.strip("\n"))


NOTEBOOKS: dict[str, list] = {}

NOTEBOOKS["01_quickstart"] = [
    md('''
# 01 · Quickstart: simulate, validate, train, score

From monitoring records (防止返贫动态监测) to a ranked list of households at risk of falling (back) into
poverty next year (返贫/致贫). Everything here runs on **simulated** data; no real household is involved.
'''),
    code(SIZE),
    code(SETUP),
    md('''
## 1 · Data
`fr.load_sample()` reads the 500-household export shipped with the package (Chinese headers, 是/否 values),
the way a county export looks. For a larger panel, simulate one in the same contract.
'''),
    code('''
sample = fr.load_sample()
print(sample.shape, "rows ×", "columns; years", sorted(sample["year"].unique()))

panel = fr.simulate(n_households=N_HOUSEHOLDS, years=range(2020, 2026), seed=0)
panel[["household_id", "year", "county_code", "township_code", "household_type", "household_size",
       "net_income_per_capita", "monitoring_line"]].head()
'''),
    md("## 2 · Validate\nContract types and ranges plus plausibility rules; every problem is listed by row, field, value and rule."),
    code('''
report = fr.validate(panel)
print(report)
report.issues.head()
'''),
    md('''
## 3 · Train
LightGBM on 80 history features (dated at or before the scored year). The run is logged to MLflow:
`$MLFLOW_TRACKING_URI`, else the project's `mlruns/` (found walking up from this folder).
'''),
    code('''
model = fr.train(panel, model="lightgbm", seed=0)
print("MLflow run:", model.mlflow_run_id)
pd.Series(model.metadata["metrics_in_sample"]).round(3)
'''),
    md('''
## 4 · Score the latest year
One row per household, ranked (`priority_rank` 1 = highest risk), with a risk tier, the main risk type in the
policy's terms (因病, 因学, 缺劳动力 …), the top factors and suggested measures. `budget=0.10` marks the
top 10 % for visits.
'''),
    code('''
ranked = fr.score(panel, model, budget=0.10)
print(len(ranked), "households scored for", ranked.attrs.get("year"), "—", int(ranked["in_budget"].sum()), "in the budget")
ranked.head(10)[["priority_rank", "household_id", "township_code", "risk_score", "risk_tier", "main_risk_type",
                 "top_factors", "suggested_measures"]]
'''),
    code('''
top = ranked[ranked["in_budget"].fillna(False)]
ax = top["main_risk_type"].value_counts().plot.barh(figsize=(6, 3.5), color="#c0504d")
ax.invert_yaxis()
ax.set_title(f"预算内农户的主要风险类型（{ranked.attrs.get('year')} 年，前 10%）")
ax.set_xlabel("户数")
plt.tight_layout()
plt.show()
'''),
    md('''
Same in Chinese headers for the staff list: `fr.score(panel, model, budget=0.10, headers="zh")`; the command line
does it all in one go: `fanpin-risk run`.
'''),
]

NOTEBOOKS["02_bring_your_own_export"] = [
    md('''
# 02 · Bring your own export

A county export rarely looks like the contract: Chinese headers, a title row above the header, a member sheet with
names and ID-card numbers (证件号码), a GBK-encoded CSV. This notebook writes such a messy export first —
**made-up** people, fake ID numbers with a valid check digit — then reads it with `fr.read_panel`, reads the
validation report, fixes the problems, maps a province's monitoring line and shows that the PII was dropped.
'''),
    code(SIZE),
    code(SETUP + '''
import tempfile
from pathlib import Path

import numpy as np

from fanpin_risk.contract import export_frame

WORK = Path(tempfile.mkdtemp(prefix="fanpin_export_"))  # files this notebook writes
N_EXPORT = min(N_HOUSEHOLDS, 400)  # one county's export: a few hundred households is enough here
WORK'''),
    md("## 1 · Write a messy export"),
    code('''
panel, members = fr.simulate(n_households=N_EXPORT, years=range(2021, 2026), seed=11, province="贵州", return_members=True)
hh = export_frame(panel, "household_year", headers="zh")      # 户编号, 年度, 家庭人口数 …, 是/否
mem = export_frame(members, "member", headers="zh")

W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
def fake_id(i: int, age: int) -> str:
    """Made-up 18-digit ID number (region 520102, birth year from age, valid GB 11643 check digit)."""
    body = f"520102{2025 - int(age):04d}0101{i % 1000:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]

mem.insert(3, "姓名", [f"测试{i:05d}" for i in range(len(mem))])
mem.insert(4, "证件号码", [fake_id(i, a) for i, a in enumerate(mem["年龄"].fillna(40))])
mem.insert(5, "联系电话", [f"1380000{i % 10000:04d}" for i in range(len(mem))])

# Two problems a real export has: a household-year entered twice, and a labour count above household size.
hh = pd.concat([hh, hh.iloc[[5]]], ignore_index=True)
bad = hh.index[hh["年度"] == 2025][0]
hh.loc[bad, "劳动力人数"] = hh.loc[bad, "家庭人口数"] + 2
bad_id = hh.loc[bad, "户编号"]

xlsx = WORK / "县监测对象台账.xlsx"
with pd.ExcelWriter(xlsx) as xw:
    hh.to_excel(xw, sheet_name="监测户", index=False, startrow=2)
    mem.to_excel(xw, sheet_name="家庭成员", index=False)
    xw.sheets["监测户"]["A1"] = "××县防止返贫动态监测对象信息表（导出）"
csv_gbk = WORK / "监测户_gbk.csv"
hh.to_csv(csv_gbk, index=False, encoding="gbk")
mem[["户编号", "年度", "姓名", "证件号码"]].head(3)
'''),
    md('''
## 2 · Read it
`read_panel` finds the header row under the title, maps the Chinese headers, aggregates the member sheet to
household counts, drops the PII columns and validates. `errors="warn"` keeps every row and lists the problems
(the default, `"raise"`, stops with a `ContractError` naming the fields and the fix).
'''),
    code('''
df, report = fr.read_panel(xlsx, member_sheet="家庭成员", errors="warn")
print(report)
issues = report.issues
issues[issues["level"] == "error"].head(10)
'''),
    md("The same household table as a GBK-encoded CSV reads the same way (the encoding is detected):"),
    code('''
df_csv, report_csv = fr.read_panel(csv_gbk, errors="warn")
print(df_csv.shape, "— errors:", (report_csv.issues["level"] == "error").sum())
'''),
    md("## 3 · Fix the problems at the source and read again"),
    code('''
fixed = hh.drop_duplicates(subset=["户编号", "年度"], keep="first").copy()
fixed.loc[fixed["户编号"].eq(bad_id) & fixed["年度"].eq(2025), "劳动力人数"] = \\
    fixed.loc[fixed["户编号"].eq(bad_id) & fixed["年度"].eq(2025), "家庭人口数"]
xlsx_fixed = WORK / "县监测对象台账_修正.xlsx"
with pd.ExcelWriter(xlsx_fixed) as xw:
    fixed.to_excel(xw, sheet_name="监测户", index=False)
    mem.to_excel(xw, sheet_name="家庭成员", index=False)
df, report = fr.read_panel(xlsx_fixed, member_sheet="家庭成员")   # raises if any error is left
print(report)
assert len(df) == len(fixed)                                     # no household-year lost
'''),
    md('''
## 4 · The province's monitoring line
Each row's line comes from its own 监测标准 column, else the `(province, year)` of the lines table, else the national
reference series. Exports without the column use the table; a province's own notices go into your own table.
'''),
    code('''
no_line = fixed.drop(columns=["监测标准"])
own_lines = pd.DataFrame({"province": "贵州", "year": range(2021, 2026), "line": [6100, 6600, 7300, 7600, 7900],
                          "source": "example county notice (made up for this notebook)"})
df_lines, _ = fr.read_panel(no_line, lines=own_lines, errors="warn")
df_lines.groupby("year")["monitoring_line"].first()
'''),
    md("## 5 · Privacy: what happened to names, ID-card and phone numbers"),
    code('''
print("dropped columns:", report.dropped_columns)
ids = set(mem["证件号码"]) | set(mem["联系电话"]) | set(mem["姓名"])
cells = set(df.astype(str).to_numpy().ravel())
assert not ids & cells and not {"证件号码", "姓名", "联系电话"} & set(df.columns)
print("no name, ID-card or phone number is left in the", df.shape, "frame")
'''),
    md('''
Household keys that *are* ID-card or phone numbers are replaced by a salted hash (`salt=` or `$FANPIN_SALT`;
keep the salt fixed so ids stay the same between runs). See `docs/reading.md`.
'''),
]

NOTEBOOKS["03_backtest_and_model_comparison"] = [
    md('''
# 03 · Backtest and model comparison

Rolling-origin, out-of-time evaluation of the three models (rule, scorecard, LightGBM): for each test year T, train
on years ≤ T−1 whose next year is known, score T, compare with T+1. Then the same runs in the MLflow UI.
'''),
    code(SIZE),
    code(SETUP + '''
import numpy as np

from fanpin_risk import evaluation as M

N_BOOT = 200 if N_HOUSEHOLDS >= 2000 else 50   # bootstrap resamples for the intervals'''),
    code('''
panel = fr.simulate(n_households=N_HOUSEHOLDS, years=range(2020, 2026), seed=0)
bt = fr.backtest(panel, models=("rule", "scorecard", "lightgbm"), n_boot=N_BOOT, progress=False)
bt.summary().round(3)
'''),
    md("## Pooled metrics with 95 % bootstrap intervals (stratified by year)"),
    code('''
tag = bt.settings["tag"]
cols = ["model", "n", "positives"] + [c for m in ("roc_auc", "pr_auc", f"recall_at_{tag}", f"precision_at_{tag}", "brier")
                                      for c in (m, f"{m}_lo", f"{m}_hi") if c in bt.pooled.columns]
bt.pooled[cols].round(3)
'''),
    md("## Calibration"),
    code('''
fig, ax = plt.subplots(figsize=(5, 4.5))
cal = bt.calibration.groupby(["model", "bin"], as_index=False)[["mean_pred", "frac_pos"]].mean() \\
    if {"bin", "mean_pred", "frac_pos"} <= set(bt.calibration.columns) else None
if cal is None:
    bt.figures["calibration"]
else:
    for m, g in cal.groupby("model"):
        ax.plot(g["mean_pred"], g["frac_pos"], marker="o", label=m)
    ax.plot([0, 1], [0, 1], ls="--", c="grey")
    ax.set(xlabel="预测概率", ylabel="实际返贫/致贫比例", title="校准曲线（各测试年合并）")
    ax.legend()
    plt.show()
'''),
    md("## Precision and recall at k (share of households visited, chosen within each test year)"),
    code('''
shares = np.linspace(0.01, 0.30, 30)
rows = []
for (m, yr), g in bt.predictions.groupby(["model", "year"]):
    for s in shares:
        r = M.precision_recall_at_k(g["label"], g["probability"], share=s, tie_key=g["household_id"])
        rows.append({"model": m, "year": yr, "share": s, **r})
pk = pd.DataFrame(rows).groupby(["model", "share"], as_index=False).mean(numeric_only=True)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for m, g in pk.groupby("model"):
    axes[0].plot(g["share"] * 100, g["precision"], label=m)
    axes[1].plot(g["share"] * 100, g["recall"], label=m)
axes[0].set(xlabel="走访比例 (%)", ylabel="精确率 precision@k", title="精确率")
axes[1].set(xlabel="走访比例 (%)", ylabel="召回率 recall@k", title="召回率")
axes[1].legend()
plt.tight_layout()
plt.show()
'''),
    md("## Equity: recall and false-omission rate by group (top 10 % within each year)"),
    code("bt.equity.head(30)"),
    md('''
## The same runs in MLflow

Each model's backtest is one run, named `backtest · <model> · <households>户 · <label> · <date time>` and tagged
`kind`, `model`, `label`, with the same metric names for every model: the headline pooled metrics first
(`a_pr_auc`, `a_recall_at_10pct`, `a_brier`, `a_roc_auc`), all pooled metrics as `pooled_*`, and per year the plain
names (`roc_auc`, `brier`, …) with step = year.

To look at them, run in a terminal from the project folder:

```bash
fanpin-risk ui            # MLflow UI on the project's store; prints http://127.0.0.1:5000/#/experiments/<id>/runs
```

tick the three backtest runs and press **Compare**: parameters and metrics side by side, per-year charts.
Ctrl-C stops the server. The runs can also be listed from here:
'''),
    code('''
import mlflow
from mlflow import MlflowClient

client = MlflowClient(mlflow.get_tracking_uri())
print("store:", mlflow.get_tracking_uri())
exp = client.get_experiment_by_name("fanpin_risk")
runs = client.search_runs([exp.experiment_id], filter_string="tags.kind = 'backtest'",
                          order_by=["attributes.start_time DESC"], max_results=3)
pd.DataFrame([{"run": r.info.run_name, "model": r.data.tags["model"], "run_id": r.info.run_id,
               "a_pr_auc": r.data.metrics.get("a_pr_auc"),
               f"a_recall_at_{tag}": r.data.metrics.get(f"a_recall_at_{tag}")} for r in runs]).round(3)
'''),
    code('''
from fanpin_risk.tracking import run_url

{m: run_url(rid) for m, rid in bt.run_ids.items()}   # links that work while `fanpin-risk ui` runs
'''),
]

NOTEBOOKS["04_explanations"] = [
    md('''
# 04 · Explanations

Why is a household ranked high? TreeSHAP contributions (LightGBM `pred_contrib`) per feature, grouped into the
policy's risk types (因病, 因学, 因残, 因自然灾害, 因意外事故, 因产业项目失败, 因务工就业不稳, 缺劳动力, 因安全住房, 因安全饮水, 其他).
'''),
    code(SIZE),
    code(SETUP + '''
import shutil
import tempfile
from pathlib import Path

import numpy as np
import shap

from fanpin_risk.explain import risk_type_map_path'''),
    code('''
panel = fr.simulate(n_households=N_HOUSEHOLDS, years=range(2020, 2026), seed=0)
model = fr.train(panel, model="lightgbm", seed=0, log_to_mlflow=False)
ranked = fr.score(panel, model, budget=0.10)
exp = fr.explain(panel, model)            # shap.Explanation of the latest year, readable Chinese feature names
exp.values.shape
'''),
    md("## Which features drive risk overall (beeswarm)"),
    code('''
shap.plots.beeswarm(exp, max_display=12, show=False)
plt.title("各特征对返贫风险的贡献（log-odds）")
plt.show()
'''),
    md("## Single households (waterfall): the three highest-ranked"),
    code('''
pos = {h: i for i, h in enumerate(exp.household_ids)}
for hid in ranked["household_id"].head(3):
    row = ranked.set_index("household_id").loc[hid]
    print(f"{hid}: rank {row['priority_rank']}, p = {row['risk_score']:.2f}, main type {row['main_risk_type']}; "
          f"{row['risk_type_contributions']}")
    shap.plots.waterfall(exp[pos[hid]], max_display=10, show=False)
    plt.title(f"户 {hid}")
    plt.show()
'''),
    md("## Risk-type mix by township (households in the 10 % budget)"),
    code('''
top = ranked[ranked["in_budget"].fillna(False)]
mix = pd.crosstab(top["township_code"], top["main_risk_type"])
ax = mix.plot.bar(stacked=True, figsize=(10, 4), colormap="tab20")
ax.set(xlabel="乡镇代码", ylabel="户数", title="各乡镇预算内农户的主要风险类型")
ax.legend(title="风险类型", bbox_to_anchor=(1.01, 1), loc="upper left")
plt.tight_layout()
plt.show()
mix
'''),
    md('''
## Edit the feature → risk-type map

Which risk type a feature counts towards is data: `data_schema/risk_type_map.csv` (feature, risk_type, Chinese and
English names, format). Copy it, edit it, and pass your copy (`map_path=`). Here, as an example, migrant-work
features are counted as 缺劳动力 instead of 因务工就业不稳.
'''),
    code('''
own_map = Path(tempfile.mkdtemp()) / "risk_type_map.csv"
shutil.copy(risk_type_map_path(), own_map)
m = pd.read_csv(own_map, dtype=str, keep_default_na=False)
moved = m["risk_type"].eq("因务工就业不稳")
m.loc[moved, "risk_type"] = "缺劳动力"
m.to_csv(own_map, index=False)
print(moved.sum(), "features moved:", ", ".join(m.loc[moved, "feature"]))

exp_own = fr.explain(panel, model, map_path=own_map)
by_type = lambda e: pd.DataFrame(e.values, columns=e.risk_types).T.groupby(level=0).sum().T.clip(lower=0).mean()
pd.DataFrame({"default map": by_type(exp), "own map": by_type(exp_own)}).fillna(0).round(3)
'''),
]

NOTEBOOKS["05_intervention_planning"] = [
    md('''
# 05 · Intervention planning: budgets and quotas

How many households can the county visit? `score(budget=...)` marks the top of the list; `quota_by="township_code"`
gives every township its own share, so no township is left out. On a past year, where next year is known, we
measure what a 5 % and a 10 % budget would have caught.
'''),
    code(SIZE),
    code(SETUP + '''
import tempfile
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="fanpin_plan_"))'''),
    code('''
panel = fr.simulate(n_households=N_HOUSEHOLDS, years=range(2020, 2026), seed=0)
TEST_YEAR = 2024                                  # scored with history ≤ 2024, outcome seen in 2025
history = panel[panel["year"] <= TEST_YEAR]
model = fr.train(history, model="lightgbm", seed=0, log_to_mlflow=False)   # learns from labels up to 2024
outcome = fr.make_labels(panel).loc[panel["year"].eq(TEST_YEAR).to_numpy()]
# 1 = relapsed in TEST_YEAR + 1, NaN = no record that year (censored)
truth = pd.Series(outcome["label"].astype("Float64").to_numpy(dtype=float, na_value=float("nan")),
                  index=panel.loc[panel["year"].eq(TEST_YEAR), "household_id"].to_numpy())
print(f"{TEST_YEAR}: {int(truth.sum())} of {truth.notna().sum()} households relapsed in {TEST_YEAR + 1}")
'''),
    md("## What a 5 % and a 10 % budget cover"),
    code('''
rows = []
for budget in (0.05, 0.10):
    for quota in (None, "township_code"):
        s = fr.score(history, model, year=TEST_YEAR, budget=budget, quota_by=quota, reasons="none")
        chosen = s.loc[s["in_budget"].fillna(False), "household_id"]
        y = truth.reindex(s["household_id"])
        caught = truth.reindex(chosen).sum()
        rows.append({"budget": f"{budget:.0%}", "quota": quota or "county-wide", "visits": len(chosen),
                     "relapses caught": int(caught), "recall": caught / y.sum(), "precision": caught / len(chosen),
                     "townships visited": s.loc[s["in_budget"].fillna(False), "township_code"].nunique()})
coverage = pd.DataFrame(rows)
coverage.round(3)
'''),
    code('''
fig, ax = plt.subplots(figsize=(6, 3.5))
for quota, g in coverage.groupby("quota"):
    ax.plot(g["budget"], g["recall"], marker="o", label=quota)
ax.set(xlabel="走访预算（占农户比例）", ylabel="次年返贫/致贫召回率", title=f"{TEST_YEAR} 年名单的覆盖率")
ax.legend()
plt.tight_layout()
plt.show()
'''),
    md("## This year's list with township quotas, exported for the county office"),
    code('''
model_now = fr.train(panel, model="lightgbm", seed=0, log_to_mlflow=False)
plan = fr.score(panel, model_now, budget=0.10, quota_by="township_code")
per_township = plan.groupby("township_code").agg(households=("household_id", "size"),
                                                 visits=("in_budget", "sum")).astype(int)
print(per_township.head())
out = fr.write_workbook(plan, WORK / "返贫风险走访名单.xlsx")
print("written:", out)
pd.read_excel(out, sheet_name=None, nrows=3).keys()
'''),
]


NOTEBOOKS["07_department_alerts"] = [
    md('''
# 07 · Department alerts within the year (部门筛查预警)

Departments push lists during the year — large medical bills, schooling costs, disaster victims, job losses,
dibao changes, new disability certificates, unsafe houses — keyed by ID-card numbers. Here the simulator writes
such lists for its county as GBK CSV files, fanpin_risk reads them and the member sheet, turns every ID number
into a salted hash at read time, matches people to households, applies each event to the household's latest
record and re-scores it with the annual model. No ID number is kept.
'''),
    code(SIZE),
    code(SETUP + '''
import os
import re
import tempfile
from pathlib import Path

from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate_feeds, write_feeds

WORK = Path(tempfile.mkdtemp(prefix="fanpin_alerts_"))
# the county's salt: in real use a salt file made once (docs/alerts.md, "Keeping the salt")
if "FANPIN_SALT" not in os.environ and "FANPIN_SALT_FILE" not in os.environ:
    os.environ["FANPIN_SALT"] = "notebook-demo-salt"  # never print a real salt'''),
    md("## The county's files: annual records up to 2024, the member sheet, and the 2025 push lists"),
    code('''
fs = simulate_feeds(N_HOUSEHOLDS, year=2025, seed=0)
files = write_feeds(fs, WORK, fmt="csv", encoding="gbk", layout="county")
households_file = next(p for p in files if p.name.startswith("农户"))
members_file = next(p for p in files if p.name.startswith("家庭成员"))
feed_files = [p for p in files if p not in (households_file, members_file)]
print([p.name for p in feed_files])
print(pd.Series({k: len(v) for k, v in fs.feeds.items()}, name="rows pushed"))
'''),
    md("## Alerts as of June and as of December"),
    code('''
panel = read_panel(households_file)[0]
june = fr.alerts(panel, feed_files, roster=members_file, as_of="2025-06")
dec = fr.alerts(panel, feed_files, roster=members_file, as_of="2025-12", previous=june.alerts)
print(f"June: {len(june.alerts)} households alerted, {int(june.alerts['trigger_met'].sum())} meet a policy trigger")
print(dec.alerts["alert_status"].value_counts())
dec.alerts.head(8)
'''),
    code('''
# how the lists matched, and people named by a list but not in the roster (possible 边缘易致贫户 to visit)
print(dec.matches["status"].value_counts())
dec.outside.head()
'''),
    code('''
fig, ax = plt.subplots(figsize=(6, 4))
a = dec.alerts
ax.scatter(a["risk_before"], a["risk_after"], s=12, c=a["trigger_met"].map({True: "tab:red", False: "tab:gray"}))
ax.plot([0, 1], [0, 1], color="black", lw=0.8)
ax.set(xlabel="预警前风险（年度名单）", ylabel="预警后风险（计入推送事件）", title="部门推送事件对风险的影响（红：达到监测标准）")
plt.tight_layout()
plt.show()
'''),
    md("## What reached the cadres: the workbook, with no ID number in it"),
    code('''
out = dec.to_excel(WORK / "部门筛查预警名单.xlsx")
sheets = pd.read_excel(out, sheet_name=None, dtype=str)
print(list(sheets))
text = "".join(df.to_csv() for df in sheets.values())
print("ID-like numbers in the workbook:", len(re.findall(r"(?<![\\d.])\\d{17}[\\dX](?![\\d])", text)))
sheets["预警名单"].head(3)
'''),
]


def build(name: str, cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells, metadata=dict(KERNEL))
    return strip(nb)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop outputs, execution counts and cell metadata (what goes into git)."""
    for c in nb.cells:
        c.metadata = {}
        c.pop("id", None)
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nb.nbformat, nb.nbformat_minor = 4, 4   # no cell ids: stable diffs
    return nb


def main(argv: list[str]) -> None:
    NB_DIR.mkdir(exist_ok=True)
    if "--strip" in argv:
        for p in sorted(NB_DIR.glob("*.ipynb")):
            nb = strip(nbformat.read(p, as_version=4))
            nbformat.write(nb, p)
            print("stripped", p.name)
        return
    for name, cells in NOTEBOOKS.items():
        p = NB_DIR / f"{name}.ipynb"
        nbformat.write(build(name, cells), p)
        print("wrote", p.relative_to(NB_DIR.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
