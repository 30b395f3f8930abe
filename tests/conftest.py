"""Shared fixtures: a small simulated panel (with members) and fake ID-card numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from fanpin_risk.simulate import simulate

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def fake_id_card(region: str = "520102", birth: str = "19800101", seq: str = "123") -> str:
    """A made-up 18-character ID number with a valid GB 11643 check digit."""
    body = region + birth + seq
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _W)) % 11]


@pytest.fixture(scope="session")
def _sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(20, seed=3, return_members=True)


@pytest.fixture
def panel(_sim) -> pd.DataFrame:
    """Canonical household-year frame (20 households × the simulator's years)."""
    return _sim[0].copy()


@pytest.fixture
def members(_sim) -> pd.DataFrame:
    """Canonical member rows matching ``panel``."""
    return _sim[1].copy()


@pytest.fixture
def id_card():
    return fake_id_card


@pytest.fixture(scope="session")
def small_lightgbm():
    """A small LightGBM model (15 trees) trained on another simulated panel: cheap row accounting in the io tests."""
    import warnings

    from fanpin_risk.api import train

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = simulate(120, years=range(2021, 2025), seed=2, province="全国")
        return train(p, "lightgbm", params={"n_estimators": 15}, log_to_mlflow=False, seed=0)

