"""Grouping rows by household without sorting when they already are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin_risk._order import has_repeated_years, household_order


def _groups(hid, year):
    order, new = household_order(pd.Series(hid), np.asarray(year, dtype=float))
    o = np.arange(len(hid)) if order is None else order
    h = pd.Series(hid).to_numpy(dtype=object)[o]
    return order, new, h, np.asarray(year, dtype=float)[o]


def test_sorted_panel_is_not_reordered():
    order, new, _, _ = _groups(pd.array(["a", "a", "b", "c", "c"], dtype="str"), [2020, 2021, 2021, 2019, 2022])
    assert order is None
    assert new.tolist() == [True, False, True, True, False]


def test_year_major_panel_is_grouped_with_years_ascending():
    hid = pd.array(["b", "a", "c", "b", "a", "c"], dtype="str")
    order, new, h, y = _groups(hid, [2020, 2020, 2020, 2021, 2021, 2021])
    assert order is not None and sorted(order.tolist()) == list(range(6))
    assert new.sum() == 3
    for g in np.split(np.arange(6), np.flatnonzero(new)[1:]):
        assert len(set(h[g])) == 1 and np.all(np.diff(y[g]) >= 0)


def test_missing_and_mixed_ids_still_grouped():
    order, new, h, _ = _groups(pd.array(["a", None, "a", None], dtype="str"), [2020, 2020, 2021, 2021])
    assert order is not None and new.sum() == 2
    order, new, h, _ = _groups(pd.Series([1, "1", 1, "x"], dtype=object), [2020, 2020, 2021, 2020])
    assert new.sum() == 3  # 1 and "1" are different ids


def test_repeated_years():
    hid = pd.Series(["a", "b", "a"], dtype="str")
    assert has_repeated_years(hid, np.array([2020.0, 2020.0, 2021.0])) is False
    assert has_repeated_years(hid, np.array([2020.0, 2020.0, 2020.0])) is True
    assert has_repeated_years(pd.Series([], dtype="str"), np.array([])) is False
