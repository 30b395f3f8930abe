"""Workbook and HTML report: sheets, Chinese headers, CJK font, headless rendering."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fanpin_risk.reporting import write_html_report, write_workbook
from fanpin_risk.scoring import SCORE_COLUMNS, SCORE_COLUMNS_ZH, score
from _scoring_fixture import panel, trained


def test_cjk_font_found():
    from fanpin_risk.reporting import cjk_font_available, setup_cjk_fonts

    if not Path("/usr/share/fonts/opentype/noto").exists() and not cjk_font_available():
        pytest.skip("fonts-noto-cjk is not installed: Chinese labels cannot render (apt-get install fonts-noto-cjk)")
    assert setup_cjk_fonts() is not None
    import matplotlib

    assert matplotlib.rcParams["axes.unicode_minus"] is False


def test_workbook(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    s = score(panel(), trained(), budget=20, reasons="budget")
    path = write_workbook(s, tmp_path / "list.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["名单", "汇总"]
    hdr = [c.value for c in next(wb["名单"].iter_rows(max_row=1))]
    assert hdr == [SCORE_COLUMNS_ZH[c] for c in SCORE_COLUMNS]
    assert wb["名单"].max_row == len(s) + 1
    texts = {c.value for row in wb["汇总"].iter_rows() for c in row if c.value is not None}
    assert {"风险等级", "主要风险类型", "乡镇代码", "走访预算"} <= texts


def test_html_report_renders(tmp_path):
    p = panel()
    out = write_html_report(p, tmp_path / "report.html", trained(), budget=20, n_waterfall=2, top_k=10)
    text = out.read_text(encoding="utf-8")
    s = score(p, trained(), budget=20, reasons="none")
    top = s["household_id"].head(3).tolist()
    assert all(h in text for h in top)
    assert text.count("data:image/png;base64,") >= 5 and "<script src" not in text
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium is None:
        pytest.skip("chromium not installed: HTML written but not rendered")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
             "--virtual-time-budget=10000"]
    png = tmp_path / "shot.png"
    subprocess.run(flags + [f"--screenshot={png}", out.as_uri()], check=False, capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 1000
    dom = subprocess.run(flags + ["--dump-dom", out.as_uri()], check=False, capture_output=True, timeout=120, text=True).stdout
    assert all(h in dom for h in top)
