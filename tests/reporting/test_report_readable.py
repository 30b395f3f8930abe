"""What a cadre reads: the risk as a percentage that still sorts, the budget as a number, values with units."""

from __future__ import annotations

import openpyxl
import pytest

import fanpin_risk as fr


@pytest.fixture(scope="module")
def panel():
    return fr.simulate(n_households=400, seed=9)


def test_workbook_risk_is_a_percentage_number_and_budget_a_number(panel, tmp_path):
    path = fr.write_workbook(fr.score(panel, budget=0.1), tmp_path / "w.xlsx")
    book = openpyxl.load_workbook(path)
    ws = book["名单"]
    col = [c.value for c in ws[1]].index("返贫致贫风险概率") + 1
    cell = ws.cell(row=2, column=col)
    assert isinstance(cell.value, float) and cell.number_format == "0.0%"
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert summary["走访预算"] == 0.1


def test_explanation_carries_value_formats_for_units(panel):
    exp = fr.explain(panel)
    assert len(exp.value_formats) == len(exp.feature_names)
    i = exp.feature_names.index("历年最低收入") if "历年最低收入" in exp.feature_names else None
    # the packaged model judges each record against next year's line, and its words say so
    assert fr.load_model().features_.line_ahead
    if i is not None:
        assert exp.value_formats[i] == "ratio_next_line"
    from fanpin_risk.explain import format_value
    assert format_value(0.742, "ratio_line") == "监测标准的 0.74 倍"
    assert format_value(0.742, "ratio_next_line") == "下年监测标准的 0.74 倍"
