"""Sheets stacked from one workbook keep each sheet's own header unit (万元 in one year, 元 in the next)."""

from __future__ import annotations

import pandas as pd
import pytest

import fanpin_risk as fr
from fanpin_risk import contract


@pytest.mark.parametrize("wan_year", [2023, 2025])  # the sheet in 万元 first or last
def test_each_sheet_is_read_in_its_own_unit(tmp_path, wan_year):
    p = fr.simulate(n_households=30, seed=0)
    ex = contract.export_frame(p)
    path = tmp_path / "w.xlsx"
    with pd.ExcelWriter(path) as xw:
        for y in (2023, 2024, 2025):
            sub = ex[ex["年度"] == y].drop(columns=["年度"])
            if y == wan_year:
                sub = sub.rename(columns={"工资性收入": "工资性收入（万元）"})
                sub["工资性收入（万元）"] = sub["工资性收入（万元）"] / 10000
            sub.to_excel(xw, sheet_name=f"{y}年", index=False)
    out, rep = fr.read_panel(path)
    ref = p[p["year"] >= 2023].set_index(["household_id", "year"])["income_wage"]
    got = out.set_index(["household_id", "year"])["income_wage"].reindex(ref.index)
    pd.testing.assert_series_equal(got, ref, check_exact=False, rtol=1e-9, check_names=False)
    assert any("万元" in n and str(wan_year) in n for n in rep.notes)
