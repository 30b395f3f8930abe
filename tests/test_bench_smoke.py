"""bench/bench_scale.py --quick produces a BENCHMARKS-shaped report (score cases only, to stay fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_writes_report(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_scale.py"), "--quick", "--only", "score",
                        "--out", str(out), "--workdir", str(tmp_path / "data")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    for needle in ("# Benchmarks", "## Machine", "Load average at start", "lightgbm", "## score()",
                   "score / predict floor", "### Targets"):
        assert needle in text, needle
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    rows = {r["reasons"]: r for r in data["results"]["score"] if not r.get("model")}
    assert set(rows) == {"none", "budget", "all"}
    big = [r for r in data["results"]["score"] if r.get("model")]
    assert len(big) == 1 and big[0]["reasons"] == "none" and big[0]["floor_predict_s"] > 0
    assert "400 × 31" in text
    assert rows["none"]["n_explained"] == 0
    assert rows["budget"]["n_explained"] == round(0.1 * rows["budget"]["n_scored"])  # top 10 % explained
    assert rows["all"]["n_explained"] == rows["all"]["n_scored"] > 0
    for r in rows.values():
        assert r["wall_s"] > 0 and r["peak_mb"] > 50 and r["floor_predict_s"] > 0
    assert rows["all"]["floor_contrib_s"] > 0
