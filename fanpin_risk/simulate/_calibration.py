"""Calibration numbers of the simulator and the yearly parameters derived from them.

The structural model is documented in ``docs/calibration.md``; the targets come
from ``shared/domain/POLICY_FACTS.md``. Numbers used in a single rule stay next
to that rule in :mod:`._phases`; the series and parameters below are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

from fanpin_risk import contract

# Member slots: 0 head, 1 spouse, 2-4 children, 5 child-in-law, 6-7 grandchildren,
# 8-9 parents of the head, 10 reserved for a birth during the panel.
N_SLOTS = 11
BIRTH_SLOT = 10

# Rural dibao standard (yuan/person/year), national average, approximate: it sits
# near the monitoring line, which is why dibao alone lifts few households over it.
DIBAO = {2019: 5300.0, 2020: 5962.0, 2021: 6362.0, 2022: 6985.0, 2023: 7300.0, 2024: 7600.0, 2025: 7900.0}
# Money-wage level by year (2021 = 1); 2020 and 2022 also lose migrant months (COVID).
WAGE_INDEX = {2019: 0.84, 2020: 0.88, 2021: 0.95, 2022: 1.17, 2023: 1.24, 2024: 1.30, 2025: 1.36}
COVID_MONTHS = {2020: (0.85, 0.90, 0.95), 2022: (0.94, 0.96, 0.98)}  # 省外 / 省内县外 / 县内
JOB_LOSS = {2020: 0.08, 2022: 0.06}
JOB_LOSS_USUAL = 0.035
PRICE_INDEX = {2019: 0.95, 2020: 1.0, 2021: 1.05, 2022: 1.10, 2023: 1.13, 2024: 1.16, 2025: 1.19}
# Growth rates that continue the series beyond their last (or before their first) year.
WAGE_GROWTH, PRICE_GROWTH, DIBAO_GROWTH, LINE_GROWTH = 0.045, 0.025, 0.04, 0.04
# Persistent earning component (AR(1)) and dibao / tekun gap filling.
RHO = 0.88            # year-to-year persistence of the household earning shock
SD_PERM = 0.20        # its stationary standard deviation (log wage)
DIBAO_FILL = 0.75     # dibao pays this share of the gap between the standard and assessed income
TEKUN_FILL = 0.7      # tekun: share of the gap to 1.2 × the dibao standard
MICROCREDIT_AMOUNTS = [30000.0, 40000.0, 50000.0]  # 脱贫人口小额信贷, yuan


def year_value(table: dict[int, float], year: int, growth: float) -> float:
    """Value of a yearly series; years outside it continue the nearest known value at ``growth``."""
    if year in table:
        return table[year]
    lo, hi = min(table), max(table)
    ref = hi if year > hi else lo
    return table[ref] * (1.0 + growth) ** (year - ref)


def monitoring_line_table() -> dict[tuple[str, int], float]:
    """The packaged monitoring-line table as ``{(province, year): line}``.

    Returns
    -------
    dict of (str, int) to float
        One entry per row of ``data_schema/monitoring_lines.csv``, read with
        :func:`fanpin_risk.contract.load_lines`; the national reference series is
        under the province ``"全国"``.

    Examples
    --------
    >>> from fanpin_risk.simulate import monitoring_line_table
    >>> table = monitoring_line_table()
    >>> table[("全国", 2022)], table[("云南", 2023)]
    (6500.0, 8050.0)
    """
    t = contract.load_lines()
    return {(p, int(y)): float(v) for p, y, v in zip(t["province"], t["year"], t["line"])}


def line_for(table: dict[tuple[str, int], float], province: str, year: int) -> float:
    """Monitoring line of ``province`` in ``year``: its own row, else the national one."""
    province = str(contract.normalize_province(province))
    if (province, year) in table:
        return table[(province, year)]
    nat = {y: v for (p, y), v in table.items() if p == contract.NATIONAL}
    if year in nat:
        return nat[year]
    # Outside the reference series: carry the nearest national line, +4 %/year after it.
    return round(year_value(nat, year, LINE_GROWTH), -1)


def grown_wage_index(year: int, first_year: int, growth: float | None) -> float:
    """Wage index of ``year``: the calibrated path, or ``growth`` a year from its ``first_year`` value."""
    if growth is None:
        return year_value(WAGE_INDEX, year, WAGE_GROWTH)
    return year_value(WAGE_INDEX, first_year, WAGE_GROWTH) * (1.0 + growth) ** (year - first_year)


def grown_line(table: dict[tuple[str, int], float], province: str, year: int, first_year: int,
               growth: float | None) -> float:
    """Monitoring line of ``year``: the table's (:func:`line_for`), or ``growth`` a year from ``first_year``'s line.

    A grown line is rounded to 10 yuan, like the extrapolated national series.
    """
    if growth is None or year == first_year:
        return line_for(table, province, year)
    return round(line_for(table, province, first_year) * (1.0 + growth) ** (year - first_year), -1)


@dataclass(frozen=True)
class YearParams:
    """Parameters of one simulated year that do not depend on the households."""

    year: int
    later: bool            # not the panel's first year: births, deaths and illness onsets run
    line: float            # monitoring line (yuan per person)
    wage_index: float
    price_index: float
    dibao_std: float
    dibao_std_prev: float  # dibao is assessed against last year's standard

    @classmethod
    def of(cls, year: int, first_year: int, lines: dict[tuple[str, int], float], province: str, *,
           wage_growth: float | None = None, line_growth: float | None = None) -> YearParams:
        """The parameters of ``year`` for a panel starting in ``first_year``.

        ``wage_growth`` / ``line_growth`` (a world's setting, see ``simulate``) replace the
        calibrated wage-index path and the province's monitoring-line table by a constant
        yearly growth from their value in ``first_year``; ``None`` keeps the calibrated series.
        """
        return cls(
            year=year,
            later=year > first_year,
            line=grown_line(lines, province, year, first_year, line_growth),
            wage_index=grown_wage_index(year, first_year, wage_growth),
            price_index=year_value(PRICE_INDEX, year, PRICE_GROWTH),
            dibao_std=year_value(DIBAO, year, DIBAO_GROWTH),
            dibao_std_prev=year_value(DIBAO, year - 1, DIBAO_GROWTH),
        )
