"""bench/bench_brier_floor.py on a small world writes the Brier-against-the-oracle table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_brier_floor_small(tmp_path):
    out = tmp_path / "floor.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_brier_floor.py"), "--n", "1200", "--hidden",
                        "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert "Command: `python bench/bench_brier_floor.py --n 1200 --world baseline --seed 301 --hidden" in text
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in text.splitlines() if ln.startswith("| ")][1:]
    assert rows[0][1] == "oracle (p_relapse)" and float(rows[0][3]) == 1.0
    hidden = [r for r in rows if "hidden" in r[1]]
    assert len(hidden) == 1 and hidden[0] == rows[-1]  # one fit, on the largest training set
    assert hidden[0][0] == rows[-2][0]
    sizes = {r[0] for r in rows[1:-1]}
    assert len(sizes) >= 2 and {r[1] for r in rows[1:-1]} == {"7 leaves (default)", "31 leaves · lr 0.05"}
    for r in rows:
        brier, ratio, pr = float(r[2]), float(r[3]), float(r[4])
        assert 0.0 < brier < 0.25 and 0.0 <= pr <= 1.0
        assert ratio == pytest.approx(brier / float(rows[0][2]), rel=1e-3)
