"""The command line reports a bad input as one clear message and exit code 2, not a traceback."""

from __future__ import annotations

import subprocess
import sys


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fanpin_risk.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"COLUMNS": "200", "PATH": "", "MLFLOW_DISABLE_TELEMETRY": "true",
                                                     "HOME": str(cwd)})


def test_missing_and_empty_files(tmp_path):
    p = _run("score", "nope.csv", cwd=tmp_path)
    assert p.returncode == 2
    assert "错误 error" in p.stderr and "file not found" in p.stderr and "nope.csv" in p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    p = _run("validate", "empty.csv", cwd=tmp_path)
    assert p.returncode == 2 and "empty" in p.stderr and "Traceback" not in p.stderr


def test_missing_required_column(tmp_path):
    (tmp_path / "hh.csv").write_text("年度,家庭人口数\n2024,3\n", encoding="utf-8")
    p = _run("score", "hh.csv", cwd=tmp_path)
    assert p.returncode == 2 and "错误 error" in p.stderr and "Traceback" not in p.stderr
