"""score() turns its input into the canonical panel exactly once, whatever stage it passes through."""

from __future__ import annotations

import logging

import pytest

import fanpin_risk as fr
from fanpin_risk import contract


@pytest.fixture(scope="module")
def panel():
    return fr.simulate(n_households=120, seed=5)


def _reads(caplog) -> int:
    return sum("into the canonical panel" in r.getMessage() for r in caplog.records if r.name == "fanpin_risk.panel")


@pytest.mark.parametrize("form", ["path", "chinese_frame", "canonical"])
def test_score_reads_its_input_once(panel, tmp_path, caplog, form):
    if form == "path":
        src = tmp_path / "export.csv"
        contract.export_frame(panel).to_csv(src, index=False, encoding="utf-8-sig")
    elif form == "chinese_frame":
        src = contract.export_frame(panel)
    else:
        src = panel
    with caplog.at_level(logging.DEBUG, logger="fanpin_risk.panel"):
        out = fr.score(src, budget=0.1)
    assert len(out) == panel["household_id"].nunique()
    assert _reads(caplog) == (0 if form == "canonical" else 1)


def test_html_report_reads_its_input_once(panel, tmp_path, caplog):
    src = tmp_path / "export.csv"
    contract.export_frame(panel).to_csv(src, index=False, encoding="utf-8-sig")
    with caplog.at_level(logging.DEBUG, logger="fanpin_risk.panel"):
        fr.write_html_report(src, tmp_path / "r.html", n_waterfall=1)
    assert _reads(caplog) == 1
