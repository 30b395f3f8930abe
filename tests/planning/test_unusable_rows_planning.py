"""Planning tools and the report keep every household when some rows have no usable year (one bad row never blocks)."""

from __future__ import annotations

import pandas as pd
import pytest

import fanpin_risk as fr


@pytest.fixture(scope="module")
def broken():
    p = fr.simulate(n_households=250, seed=12).reset_index(drop=True)
    lost = p["household_id"].iloc[0]
    p["year"] = p["year"].astype("Int64")
    p.loc[p["household_id"] == lost, "year"] = pd.NA  # a household whose every row lost its year
    p.loc[p.index[5], "year"] = pd.NA  # one more bad row in another household
    return p, lost


def test_feasible_help_keeps_a_household_with_no_usable_year(broken):
    p, lost = broken
    out = fr.feasible_help(p)
    assert set(out.index if out.index.name == "household_id" else out["household_id"]) >= {lost}
    row = out.loc[lost] if out.index.name == "household_id" else out.set_index("household_id").loc[lost]
    assert row["status"] == "unscorable"
    assert (out["status"] == "scored").sum() > 200


def test_scenario_and_report_run_with_unusable_rows(broken, tmp_path):
    p, lost = broken
    res = fr.scenario(p, [{"type": "medical", "amount": 20000, "hit_share": 0.3}], n_draws=50)
    hh = res.households.set_index("household_id")
    assert hh.loc[lost, "status"] == "unscorable" and len(hh) == p["household_id"].nunique()
    path = fr.write_html_report(p, tmp_path / "r.html", n_waterfall=1)
    assert path.exists()
