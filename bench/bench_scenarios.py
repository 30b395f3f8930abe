"""Scenario, feasible-help and follow-up cohort figures on simulate(N, seed=0) with the default model.

Run: MLFLOW_TRACKING_URI=sqlite:////tmp/bench_mlruns/mlflow.db python bench/bench_scenarios.py 20000
"""

from __future__ import annotations

import sys
import time

import pandas as pd

import fanpin_risk as fr
from fanpin_risk.api import cohort_backtest
from fanpin_risk.planning import feasible_help
from fanpin_risk.planning import scenario

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)
panel = fr.simulate(n, seed=0)
for shock in ("data_schema/scenarios/covid_employment.yaml", "data_schema/scenarios/county_flood.yaml"):
    t0 = time.perf_counter()
    res = scenario(panel, shock, reasons="none")
    print(f"--- {shock} ({time.perf_counter() - t0:.1f} s)")
    print(res.summary)
    print(res.expected.round(1))
t0 = time.perf_counter()
h = feasible_help(panel)
print(f"--- feasible_help ({time.perf_counter() - t0:.1f} s)")
print(h["best_measure"].value_counts(dropna=False))
print(h["delta"].describe())
t0 = time.perf_counter()
bt = cohort_backtest(panel, n_boot=200, log_to_mlflow=False, progress=False, figures=False)
print(f"--- cohort backtest ({time.perf_counter() - t0:.1f} s)")
print(bt)
cols = ["model", "roc_auc", "roc_auc_lo", "roc_auc_hi", "pr_auc", "pr_auc_lo", "pr_auc_hi", "recall_at_10pct",
        "recall_at_10pct_lo", "recall_at_10pct_hi", "n", "positives"]
print(bt.pooled[[c for c in cols if c in bt.pooled.columns]].round(3).to_string())
