"""bench/bench_causes.py runs end to end on a small panel (the full run is in bench/causes_accuracy.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_causes_small_run_writes_the_tables(tmp_path):
    out = tmp_path / "causes.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_causes.py"), "--n", "1500", "--draws", "2",
                        "--worlds", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if ln.startswith("| default |")]
    assert [r.split(" | ")[1] for r in rows] == ["causes", "shap"]
    for r in rows:
        cells = r.strip("|").split(" | ")
        listed, with_cause = int(cells[2]), int(cells[3])
        assert 140 <= listed <= 160 and 0 < with_cause <= listed  # the top 10 % of about 1,500 households
        shares = [float(c.strip(" %")) for c in cells[4:7]]
        assert all(0.0 <= v <= 100.0 for v in shares) and shares[1] >= shares[0]  # first two ⊇ main
    assert "| **average** | causes |" in text and "## default, causes" in text and "main_cause" in text
