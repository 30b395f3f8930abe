"""bench/bench_alerts.py --quick writes the coverage, lead-time, precision, added-value and cost tables."""

from __future__ import annotations

import os
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


def _share(cell: str) -> float:
    """A percentage cell ("41.3 %", or "12 (41.3 %)") as a share."""
    return float(re.search(r"([\d.]+) %", cell).group(1)) / 100.0


@pytest.mark.slow
def test_bench_alerts_quick(tmp_path):
    out = tmp_path / "alerts.md"
    env = {**os.environ, "FANPIN_SALT": "smoke-salt", "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_alerts.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    for needle in ("Command: `python bench/bench_alerts.py --quick", "## Machine", "nproc", "Load average",
                   "## 1. Coverage", "## 2. Lead time", "## 3. Precision", "## 4. Added value", "## 5. Cost",
                   "## Reading"):
        assert needle in text, needle

    cov = _table(text, "1. Coverage")
    assert {r[0] for r in cov} == {"baseline", "shocks"}
    for r in cov:
        households, relapses, alerted = int(r[2]), int(r[3]), int(r[4])
        assert 0 < relapses < households and 0 < alerted <= households, r
        shares = [_share(c) for c in r[5:9]]
        assert all(0.0 <= s <= 1.0 for s in shares), r
        assert shares == sorted(shares), r  # alerts only accumulate over the months
        assert shares[-1] > 0.0, r

    for r in _table(text, "2. Lead time"):
        assert int(r[2]) > 0, r
        assert 0.0 <= _share(r[3]) <= 1.0, r
        q1, med, q3 = (float(x) for x in r[4:7])
        assert q1 <= med <= q3 and -24 <= q1 and q3 <= 24, r
        assert 0.0 <= _share(r[8]) <= _share(r[9]) <= 1.0, r

    for r in _table(text, "3. Precision"):
        assert int(r[2]) > 0 and 0 <= int(r[5]) <= int(r[2]), r
        for c in (r[3], r[4], r[6], r[7]):
            assert 0.0 <= _share(c) <= 1.0, r
        assert _share(r[3]) <= _share(r[4]) + 1e-9, r  # relapse ⊆ relapse or identified

    for r in _table(text, "4. Added value"):
        relapses, k = int(r[2]), int(r[3])
        assert 0 < k and 0 < relapses, r
        for c in (r[4], r[5], r[6], r[8], r[10]):
            caught = int(c.split(" ")[0])
            assert 0 <= caught <= relapses and 0.0 <= _share(c) <= 1.0, r
        assert int(r[7]) >= k and int(r[9]) >= k, r  # (c) adds visits to the annual top K
        assert int(r[8].split(" ")[0]) >= int(r[4].split(" ")[0]), r  # and so catches at least as many

    cost = _table(text, "5. Cost")
    steps = {r[0]: r for r in cost}
    assert any(s.startswith("read_roster") for s in steps) and "match_feeds" in steps
    assert any(s.startswith("planning.alerts") for s in steps)
    for r in cost:
        secs = float(r[1].strip("*"))
        assert secs >= 0.0, r
    assert re.search(r"Target ≤ 30 s on \d+ cores: \*\*(met|not met)\*\*", text)
