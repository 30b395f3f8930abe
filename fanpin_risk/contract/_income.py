"""The contract's income formula, written once.

A household's net income is wage + business − business expense + property +
transfer income (人均纯收入 × 家庭人口 in the export's definition). Reading
(derived ``net_income_per_capita``), labels, features and scenarios all use
:func:`net_income_total`, so a change to the formula is made here only.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: (field, sign, optional) of each term. An optional term that is missing counts
#: as 0; a missing required term leaves the total missing (unless ``fill_all``).
INCOME_TERMS: tuple[tuple[str, float, bool], ...] = (
    ("income_wage", 1.0, False),
    ("income_business", 1.0, False),
    ("expense_business", -1.0, True),
    ("income_property", 1.0, True),
    ("income_transfer", 1.0, False),
)


def net_income_total(get: Callable[[str], object], *, fill_all: bool = False):
    """Household net income from its components, by the contract formula.

    Parameters
    ----------
    get : callable
        ``get(field)`` returns the component as float64 (numpy array or pandas
        Series, all of one kind and length); a column the data lacks should come
        back all-missing.
    fill_all : bool, default False
        Count every missing component as 0 (scenarios compare totals before and
        after a shock, where a missing wage must not erase the change).

    Returns
    -------
    Same kind as ``get``'s values: the total, summed in the order of :data:`INCOME_TERMS`.

    Examples
    --------
    >>> import numpy as np
    >>> parts = {"income_wage": np.array([20000.0]), "income_business": np.array([5000.0]),
    ...          "expense_business": np.array([np.nan]), "income_property": np.array([100.0]),
    ...          "income_transfer": np.array([900.0])}
    >>> net_income_total(parts.__getitem__)
    array([26000.])
    """
    total = None
    for field, sign, optional in INCOME_TERMS:
        v = get(field)
        if optional or fill_all:
            v = np.nan_to_num(v, nan=0.0) if isinstance(v, np.ndarray) else v.fillna(0.0)
        total = (v if sign > 0 else -v) if total is None else (total + v if sign > 0 else total - v)
    return total
