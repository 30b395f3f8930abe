"""Department alerts: events applied to the latest record by data_schema/feed_effects.csv, re-scored, one row per household."""

import numpy as np
import pandas as pd
import pytest

from fanpin_risk.errors import ContractError
from fanpin_risk.planning import alerts, apply_events, as_month
from fanpin_risk.planning._alerts import _events
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def panel():
    return simulate(800, years=range(2021, 2026), seed=5)


def _m(rows):
    base = {"status": "matched", "event_month": 202603, "list_month": 202604, "amount_self_paid": np.nan,
            "amount": np.nan, "loss_amount": np.nan, "change_type": None}
    return pd.DataFrame([{**base, **r} for r in rows])


def _ids(panel, n):
    last = panel[panel["year"] == 2025].sort_values("household_id")
    workers = last[(last["migrant_work_months"] > 0) & (last["income_wage"] > 0)]
    return last["household_id"].tolist()[:n], workers["household_id"].tolist()[:2]


def test_events_change_the_latest_record_by_the_rules(panel):
    (a, b, c, d), (w, _) = _ids(panel, 4)
    m = _m([{"kind": "medical_bill", "household_id": a, "amount_self_paid": 12000.0, "person_hash": "P1"},
            {"kind": "medical_bill", "household_id": a, "amount_self_paid": 8000.0, "person_hash": "P1"},
            {"kind": "unsafe_house", "household_id": b, "person_hash": "P2"},
            {"kind": "unemployment", "household_id": w, "event_month": 202604, "person_hash": "P3"},
            {"kind": "dibao_change", "household_id": c, "change_type": "新增低保", "person_hash": "P4"}])
    ev = _events(m, 202606)
    df = panel.reset_index(drop=True)
    after, rows = apply_events(df, ev, year=2025)
    before = df.loc[rows].set_index("household_id")
    new = after.loc[rows].set_index("household_id")
    assert new.at[a, "expense_medical"] == pytest.approx(before.at[a, "expense_medical"] + 20000.0)
    assert bool(new.at[a, "shock_illness"]) and not bool(new.at[b, "housing_safe"])
    months = before.at[w, "migrant_work_months"]
    assert new.at[w, "migrant_work_months"] == pytest.approx(months - months * 9 / 12)  # April to December lost
    per_month = before.at[w, "income_wage"] / months
    assert new.at[w, "income_wage"] == pytest.approx(before.at[w, "income_wage"] - months * 9 / 12 * per_month)
    assert bool(new.at[c, "receives_dibao"])
    assert new.at[c, "income_transfer"] == pytest.approx(before.at[c, "income_transfer"] + 3000 * before.at[c, "household_size"])
    # per-capita income moves by the change of the income formula
    dpc = (new.at[w, "net_income_per_capita"] - before.at[w, "net_income_per_capita"]) * before.at[w, "household_size"]
    assert dpc == pytest.approx(new.at[w, "income_wage"] - before.at[w, "income_wage"])
    untouched = df.index.difference(rows)
    pd.testing.assert_frame_equal(after.loc[untouched], df.loc[untouched])


def test_alert_list_one_row_per_household_with_triggers_and_status(panel):
    (a, b, c, d), _ = _ids(panel, 4)
    m = _m([{"kind": "unsafe_house", "household_id": a, "person_hash": "P1"},
            {"kind": "medical_bill", "household_id": a, "amount_self_paid": 50000.0, "person_hash": "P1"},
            {"kind": "medical_bill", "household_id": b, "amount_self_paid": 6000.0, "person_hash": "P2"},
            {"kind": "disaster_victim", "household_id": c, "event_month": 202609, "list_month": 202609, "person_hash": "P3"},
            {"kind": "unsafe_house", "household_id": d, "status": "duplicate", "person_hash": "P4"}])
    out = alerts(panel, m, as_of="2026-06")
    assert set(out["household_id"]) == {a, b}  # c's event is after as_of; d's row was a duplicate
    ra = out.set_index("household_id").loc[a]
    assert ra["n_events"] == 2 and "危房鉴定" in ra["channels"] and "个人自付50,000元（2026年03月）" in ra["events"]
    assert bool(ra["trigger_met"]) and "住房安全无保障" in ra["trigger"]
    assert ra["risk_after"] > ra["risk_before"] and ra["visit_by"] == "2026-05-15" and ra["alert_status"] == "新预警"
    assert out["trigger_met"].iloc[0]  # triggers first
    again = alerts(panel, m, as_of="2026-06", previous=out)
    assert set(again["alert_status"]) == {"已预警"}
    lower = out.assign(risk_after=out["risk_after"] - 0.2)
    assert set(alerts(panel, m, as_of="2026-06", previous=lower)["alert_status"]) == {"风险上升"}


def test_months_and_bad_input():
    assert as_month("2025-06") == 202506 and as_month("2025年3月") == 202503
    with pytest.raises(ContractError, match="month"):
        as_month("June")
    with pytest.raises(ContractError, match="match_feeds"):
        alerts(simulate(50, seed=1), pd.DataFrame({"kind": ["medical_bill"]}), as_of="2026-01")


def test_event_texts_per_household_channels_once_first_list_month():
    from fanpin_risk.planning._alerts import _texts

    m = _m([{"kind": "medical_bill", "household_id": "H2", "amount_self_paid": 8000.0, "event_month": 202605,
             "list_month": 202606},
            {"kind": "medical_bill", "household_id": "H2", "amount_self_paid": 1234.5, "event_month": 202602,
             "list_month": 202603},
            {"kind": "disaster_victim", "household_id": "H2", "loss_amount": 30000.0},
            {"kind": "dibao_change", "household_id": "H1", "change_type": "新增低保"},
            {"kind": "unsafe_house", "household_id": "H1"}])
    t = _texts(_events(m, 202612))
    assert t.index.tolist() == ["H1", "H2"] and t["n_events"].tolist() == [2, 3]
    h2 = t.loc["H2"]
    # events in month order, each kind's channel named once
    assert h2["events"].split("；") == ["大额医疗费用：个人自付1,234元（2026年02月）", "受灾人员：直接损失30,000元（2026年03月）",
                                       "大额医疗费用：个人自付8,000元（2026年05月）"]
    assert h2["channels"] == "医保局·大额医疗费用；应急管理局·受灾人员"
    assert h2["first_month"] == 202603
    assert t.loc["H1", "events"] == "低保特困变动：新增低保（2026年03月）；危房鉴定（2026年03月）"
    assert t.loc["H1", "first_month"] == 202604
