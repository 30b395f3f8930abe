"""Data that ships with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd


def sample_paths() -> tuple[Path, Path]:
    """Paths of the shipped sample export: (households CSV, members CSV).

    Both are written by :func:`fanpin_risk.simulate.write_sample` (500 households,
    2020–2025, seed 7) with the contract's Chinese headers, 是/否 booleans and a
    UTF-8 byte-order mark, the way county exports look.
    """
    base = resources.files("fanpin_risk") / "data"
    return Path(str(base / "sample_households.csv")), Path(str(base / "sample_members.csv"))


def load_sample(with_members: bool = True) -> pd.DataFrame:
    """Read the shipped 500-household sample into the canonical household-year frame.

    Parameters
    ----------
    with_members : bool, default True
        Also read the member sheet, which checks the household counts against it.

    Returns
    -------
    pandas.DataFrame
        Canonical household-year rows (validated by :func:`fanpin_risk.read_panel`).
    """
    from .read import read_panel

    hh, mem = sample_paths()
    df, _report = read_panel(hh, members=mem if with_members else None)
    return df
