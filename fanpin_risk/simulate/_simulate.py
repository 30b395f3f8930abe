"""Embedded simulator of the anti-relapse monitoring panel (防止返贫动态监测).

:func:`simulate` draws a synthetic panel of rural households, member by member and
year by year, in the data contract (canonical English names, canonical dtypes,
Chinese code values). It is the project's default data set: it lets the whole
pipeline (read → validate → label → features → model → backtest) run without a
real export, which cannot be shipped because it holds personal data.

The structural model is documented in ``docs/calibration.md``; the calibration
targets come from ``shared/domain/POLICY_FACTS.md``. The run is split into
:mod:`._state` (the carried-over state and the initial draws), :mod:`._phases`
(one function per step of a year) and :mod:`._records` (rows and frames).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from fanpin_risk import contract

from ._calibration import monitoring_line_table
from ._causes import cause_record
from ._phases import YEAR_PHASES, end_year, start_year
from ._records import assemble_households, assemble_members, household_rows, member_rows
from ._state import initial_state

__all__ = ["simulate", "simulate_world", "WORLDS", "write_sample", "monitoring_line_table"]

#: Named worlds: keyword settings of :func:`simulate` that change how the simulated world
#: works (shocks, assistance, wage and line growth). Model defaults are chosen by their
#: average over these worlds rather than on the calibrated one alone ("baseline").
#: Their label rates are in docs/calibration.md ("Worlds").
WORLDS: dict[str, dict[str, Any]] = {
    "baseline": {},                            # the calibrated world
    "shocks": {"shock_rate": 1.6},             # 60 % more disasters, job losses, illness, accidents, failures
    "lean_assistance": {"assistance": 0.6},    # targeted payments 40 % smaller
    "fast_growth": {"wage_growth": 0.15},      # wages +15 %/year (calibrated 2020-25: ≈ +9 %/year)
    "slow_growth": {"wage_growth": 0.03},      # wages +3 %/year
    "smooth_line": {"line_growth": 0.14},      # the line grows 14 %/year from the first year's, no 2021 jump
}


def _checked_years(years: Iterable[int], n_households: int, share_exited: float) -> list[int]:
    years = [int(y) for y in years]
    if not years or any(b - a != 1 for a, b in zip(years, years[1:])):
        raise ValueError("years must be a non-empty run of consecutive years")
    if n_households < 1:
        raise ValueError("n_households must be >= 1")
    if not 0.0 <= share_exited <= 1.0:
        raise ValueError("share_exited must lie in [0, 1]")
    return years


def _checked_cause_years(years: list[int], return_causes: bool, cause_years: Iterable[int] | None,
                         cause_draws: int) -> set[int]:
    c_years = set(years if cause_years is None else (int(y) for y in cause_years)) if return_causes else set()
    if c_years - set(years):
        raise ValueError(f"cause_years {sorted(c_years - set(years))} are not simulated years")
    if return_causes and int(cause_draws) < 1:
        raise ValueError("cause_draws must be >= 1")
    return c_years


def _cause_frame(causes: list[pd.DataFrame]) -> pd.DataFrame:
    if not causes:
        return pd.DataFrame()
    return pd.concat(causes, ignore_index=True).sort_values(["household_id", "year"], ignore_index=True)


def _checked_world(shock_rate: float, assistance: float, wage_growth: float | None,
                   line_growth: float | None) -> dict[str, float | None]:
    def number(name: str, value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return v

    world: dict[str, float | None] = {}
    for name, value in (("shock_rate", shock_rate), ("assistance", assistance)):
        world[name] = v = number(name, value)
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    for name, value in (("wage_growth", wage_growth), ("line_growth", line_growth)):
        world[name] = v = None if value is None else number(name, value)
        if v is not None and not -0.5 <= v <= 0.5:
            raise ValueError(f"{name} must lie in [-0.5, 0.5] (a yearly growth rate), got {value!r}")
    return world


def simulate(
    n_households: int = 20_000,
    years: Iterable[int] = range(2020, 2026),
    seed: int = 0,
    province: str = contract.NATIONAL,
    *,
    share_exited: float = 0.5,
    n_counties: int | None = None,
    share_key_county: float = 0.3,
    detection: float = 1.0,
    shock_rate: float = 1.0, assistance: float = 1.0,
    wage_growth: float | None = None, line_growth: float | None = None,
    return_members: bool = False,
    return_causes: bool = False,
    cause_years: Iterable[int] | None = None,
    cause_draws: int = 32,
) -> pd.DataFrame | tuple[pd.DataFrame, ...]:
    """Simulate a household-year monitoring panel in the data contract.

    Parameters
    ----------
    n_households : int, default 20000
        Households in the panel (a household whose last member dies leaves it).
    years : iterable of int, default 2020–2025
        Consecutive monitoring years.
    seed : int, default 0
        Seed of the random generator; the same arguments give identical output.
    province : str, default "全国"
        Written to the ``province`` column and used to pick the monitoring line:
        the province's row of ``monitoring_lines.csv`` for that year if present,
        else the national (全国) reference row.
    share_exited : float, default 0.5
        Share of households registered as exited from poverty (脱贫户); the rest
        start as ordinary rural households (一般农户).
    n_counties : int, optional
        Number of synthetic counties; default one per 500 households (4 to 200).
    share_key_county : float, default 0.3
        Share of counties that are key assistance counties (重点帮扶县).
    detection : float, default 1.0
        Multiplier on the identification channels' detection probabilities
        (< 1 gives a sloppier monitoring system, more undetected poverty).
    shock_rate : float, default 1.0
        World (:data:`WORLDS`): multiplier (>= 0) on the yearly probability, capped
        at 1, of disasters, job loss, illness onset, accidents, project failure.
    assistance : float, default 1.0
        World: multiplier (>= 0) on the amounts of dibao, tekun, 雨露计划,
        public-welfare job pay, medical-assistance top-up, anti-poverty claims.
    wage_growth : float, optional
        World: yearly growth (in [-0.5, 0.5]) of the wage index from its
        first-year value; default the calibrated path.
    line_growth : float, optional
        World: yearly growth (in [-0.5, 0.5]) of the monitoring line from the
        first year's line, rounded to 10 yuan; default the province's table.
    return_members : bool, default False
        Also return the member table.
    return_causes : bool, default False
        Also return (last) the cause record: for each household alive at the end
        of a record year *t*, ``p_relapse`` (Monte Carlo probability of the default
        "relapse" label in *t + 1*), one column per cause in :data:`CAUSES` (how much
        that probability falls when the cause is removed, with common random
        numbers), ``main_cause`` (the largest fall, "其他" when below
        :data:`CAUSE_MIN_DROP`), ``second_cause`` and ``max_drop``. The panel
        itself is the same with or without it. See docs/calibration.md.
    cause_years : iterable of int, optional
        Record years that get a cause record (default every simulated year; each
        costs ``11 × cause_draws`` simulated years).
    cause_draws : int, default 32
        Monte Carlo draws per year.

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, pandas.DataFrame)
        Household-year rows sorted by ``(household_id, year)`` with every field of
        the household contract in canonical dtypes; with ``return_members`` also
        the member-year rows (member contract fields), sorted by
        ``(household_id, year, member_no)``. Household counts equal the
        aggregation of the member table.

    Raises
    ------
    ValueError
        If ``years`` is empty or not consecutive, ``n_households < 1``,
        ``share_exited`` lies outside [0, 1], or a world setting is out of range
        (see docs/calibration.md, "Worlds").

    Examples
    --------
    >>> from fanpin_risk.simulate import simulate
    >>> panel = simulate(n_households=50, seed=0)
    >>> panel.shape
    (300, 52)
    >>> panel["household_id"].nunique(), sorted(panel["year"].unique().tolist())
    (50, [2020, 2021, 2022, 2023, 2024, 2025])
    >>> households, members = simulate(20, years=[2024], seed=1, return_members=True)
    >>> int(households["household_size"].sum()) == len(members)
    True
    """
    years = _checked_years(years, n_households, share_exited)
    world = _checked_world(shock_rate, assistance, wage_growth, line_growth)
    c_years = _checked_cause_years(years, return_causes, cause_years, cause_draws)
    causes = []
    state = initial_state(int(n_households), years[0], seed, province, monitoring_line_table(),
                          share_exited=share_exited, n_counties=n_counties,
                          share_key_county=share_key_county, detection=detection, **world)
    hh_rows, mem_rows = [], []
    for y in years:
        year = start_year(state, y)
        for phase in YEAR_PHASES:
            phase(state, year)
        hh_rows.append(household_rows(state, year))
        if return_members:
            mem_rows.append(member_rows(state, year))
        end_year(state, year)
        if y in c_years:
            causes.append(cause_record(state, y, seed, int(cause_draws)))
    households = assemble_households(hh_rows, province)
    out = [households] + ([assemble_members(mem_rows)] if return_members else [])
    if return_causes:
        out.append(_cause_frame(causes))
    return out[0] if len(out) == 1 else tuple(out)


def simulate_world(name: str, *args: Any, **kwargs: Any) -> pd.DataFrame | tuple[pd.DataFrame, ...]:
    """:func:`simulate` in the named world of :data:`WORLDS`.

    Parameters
    ----------
    name : str
        A key of :data:`WORLDS`.
    *args, **kwargs
        Passed to :func:`simulate`; keyword settings override the world's.

    Returns
    -------
    pandas.DataFrame or tuple of pandas.DataFrame
        As :func:`simulate`.

    Raises
    ------
    ValueError
        If ``name`` is not a world.

    Examples
    --------
    >>> from fanpin_risk.simulate import WORLDS, simulate_world
    >>> sorted(WORLDS)
    ['baseline', 'fast_growth', 'lean_assistance', 'shocks', 'slow_growth', 'smooth_line']
    >>> simulate_world("shocks", 30, seed=2).equals(simulate(30, seed=2, **WORLDS["shocks"]))
    True
    >>> smooth = simulate_world("smooth_line", 30, seed=0)
    >>> smooth.groupby("year")["monitoring_line"].first().tolist()
    [4000.0, 4560.0, 5200.0, 5930.0, 6760.0, 7700.0]
    """
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; known: {sorted(WORLDS)}")
    return simulate(*args, **{**WORLDS[name], **kwargs})


def write_sample(directory: str | Path, n_households: int = 500, seed: int = 7) -> tuple[Path, Path]:
    """Write the shipped sample export: household and member CSVs shaped like a county export.

    Chinese headers (the contract's ``zh_header``), booleans as 是/否, UTF-8 with a
    byte-order mark, years 2020–2025.

    Parameters
    ----------
    directory : path
        Folder to write ``sample_households.csv`` and ``sample_members.csv`` into
        (created if missing).
    n_households : int, default 500
    seed : int, default 7

    Returns
    -------
    (Path, Path)
        Paths of the household and member files.

    Examples
    --------
    >>> import tempfile
    >>> from fanpin_risk.simulate import write_sample
    >>> with tempfile.TemporaryDirectory() as d:
    ...     hh_path, mem_path = write_sample(d, n_households=20, seed=1)
    ...     hh_path.name, hh_path.read_bytes()[:3]
    ('sample_households.csv', b'\\xef\\xbb\\xbf')
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    hh, mem = simulate(n_households, range(2020, 2026), seed=seed, return_members=True)
    paths = []
    for df, table, name in ((hh, "household_year", "sample_households.csv"), (mem, "member", "sample_members.csv")):
        p = out / name
        contract.export_frame(df, table).to_csv(p, index=False, encoding="utf-8-sig", lineterminator="\n")
        paths.append(p)
    return paths[0], paths[1]
