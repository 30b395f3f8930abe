"""Data that ships with the package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._read import read_panel

# The package folder: the sample files are installed inside it, next to this stage.
_DATA = Path(__file__).parent.parent / "data"


def sample_paths() -> tuple[Path, Path]:
    """Paths of the shipped sample export.

    Both are written by :func:`fanpin_risk.simulate.write_sample` (500 households,
    2020–2025, seed 7) with the contract's Chinese headers, 是/否 booleans and a
    UTF-8 byte-order mark, the way county exports look.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The households CSV and the members CSV.

    Examples
    --------
    >>> households, members = sample_paths()
    >>> households.name, members.name
    ('sample_households.csv', 'sample_members.csv')
    """
    return _DATA / "sample_households.csv", _DATA / "sample_members.csv"


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

    Examples
    --------
    >>> df = load_sample()
    >>> df.shape
    (2988, 52)
    >>> int(df["household_id"].nunique()), sorted(df["year"].unique().tolist())
    (500, [2020, 2021, 2022, 2023, 2024, 2025])
    """
    hh, mem = sample_paths()
    df, _report = read_panel(hh, members=mem if with_members else None)
    return df
