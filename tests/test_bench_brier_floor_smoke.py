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
    first, gap_part = text.split("\n## Where the gap is", 1)
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in first.splitlines() if ln.startswith("| ")][1:]
    assert rows[0][1] == "oracle (p_relapse)" and float(rows[0][3]) == 1.0
    hidden = [r for r in rows if "hidden" in r[1]]
    assert len(hidden) == 4 and hidden == rows[-4:]  # on the largest training set; the whole state with both sizes
    assert {r[0] for r in hidden} == {rows[-5][0]}
    assert "ability, wage shock" in hidden[0][1] and "returned migrants" in hidden[1][1]
    assert hidden[2][1].startswith("7 leaves + the whole state") and hidden[3][1].startswith("31 leaves")
    n_state = int(hidden[2][1].split("the whole state (")[1].split(" columns")[0])
    assert n_state > 50  # every household array and member aggregate of the state, not just the two above
    sizes = {r[0] for r in rows[1:-4]}
    assert len(sizes) >= 2 and {r[1] for r in rows[1:-4]} == {"7 leaves (default)", "31 leaves · lr 0.05"}
    for r in rows:
        brier, ratio, pr = float(r[2]), float(r[3]), float(r[4])
        assert 0.0 < brier < 0.25 and 0.0 <= pr <= 1.0
        assert ratio == pytest.approx(brier / float(rows[0][2]), rel=1e-3)
    # the oracle's own Monte Carlo noise: the true floor lies below the oracle's Brier, the ratio to it above the table's
    note = text.split("The oracle is the mean of 16 simulations")[1].split("\n")[0]
    lo, hi = (float(v) for v in note.split("true floor lies in [")[1].split("]")[0].split(", "))
    assert 0.0 < lo < hi == pytest.approx(float(rows[0][2]), abs=1e-4)
    r_lo, r_hi = (float(v) for v in note.split(" × it")[0].rsplit(") is ", 1)[1].split("–"))
    assert 1.0 < r_lo < r_hi
    # where the default's gap to the oracle sits: bins by the oracle's probability whose shares add up to 1
    gap = [[c.strip() for c in ln.strip("|").split("|")] for ln in gap_part.splitlines() if ln.startswith("| ")][1:]
    assert gap[0][0] == "0.00–0.01" and gap[-1][0].endswith("1.00")
    assert sum(float(r[5]) for r in gap) == pytest.approx(1.0, abs=1e-3)
    assert sum(int(r[1].replace(",", "")) for r in gap) == int(text.split(" rows, outcome rate")[0].rsplit("(", 1)[1].replace(",", ""))
    assert "- Rows the oracle puts above 0.8:" in gap_part and "standardised mean difference" in gap_part
