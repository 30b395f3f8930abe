"""A simulated panel and small trained models shared by the scoring, explain and report tests."""

from __future__ import annotations

import functools

import pandas as pd

from fanpin_risk.api import train
from fanpin_risk.simulate import simulate

YEARS = list(range(2020, 2026))


@functools.lru_cache(maxsize=None)
def sim_panel(n: int = 1500) -> pd.DataFrame:
    """Simulated panel (the real simulator; the modelling fixture until it exists)."""
    return simulate(n_households=n, years=YEARS, seed=3, province="全国")


@functools.lru_cache(maxsize=None)
def trained(kind: str = "lightgbm"):
    p = sim_panel()
    params = {"n_estimators": 60} if kind == "lightgbm" else None
    return train(p[p["year"] < YEARS[-1]], kind, params=params, log_to_mlflow=False, seed=0)


def panel() -> pd.DataFrame:
    return sim_panel().copy()
