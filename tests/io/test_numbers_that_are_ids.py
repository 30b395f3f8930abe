"""An ID-card number typed into an amount field (wrong check digit, text or numeric cell) is emptied and flagged, never read as money."""

from __future__ import annotations

import pytest

import fanpin_risk as fr
from fanpin_risk import contract


@pytest.mark.parametrize("cell", ["522601199001011239", 522601199001011238, "5.22601199001011E+17"])
def test_id_number_in_income_is_not_an_amount(cell):
    df = contract.export_frame(fr.simulate(n_households=10, seed=0))
    df["工资性收入"] = df["工资性收入"].astype(object)
    df.loc[0, "工资性收入"] = cell
    hid, year = df.loc[0, "户编号"], int(df.loc[0, "年度"])
    out, rep = fr.read_panel(df, errors="warn")
    cell = out.loc[(out["household_id"] == hid) & (out["year"] == year), "income_wage"]
    assert len(cell) == 1 and cell.isna().all()
    assert out["income_wage"].max() < 1e9
    text = str(rep) + rep.issues.to_string() + rep._repr_html_()
    assert "52260119900101" not in text and "5.22601" not in text
    assert (rep.issues["field"] == "income_wage").any()
