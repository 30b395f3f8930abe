"""Library code never changes global state it does not own: matplotlib backend and rcParams, loggers."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

import fanpin_risk as fr

PKG = Path(fr.__file__).resolve().parent


def _state():
    rc = {k: (list(v) if isinstance(v, list) else v) for k, v in matplotlib.rcParams.items() if k != "backend"}
    # the root logger whole; MLflow's own loggers by level (MLflow adds its own handlers to them itself)
    root = logging.getLogger()
    loggers = {"": (root.level, list(root.handlers)), **{n: logging.getLogger(n).level for n in ("mlflow", "alembic")}}
    return matplotlib.get_backend(), rc, loggers


def test_no_matplotlib_use_or_root_logger_setup_in_the_package():
    for f in PKG.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "matplotlib.use(" not in text, f
        assert "logging.basicConfig" not in text, f


def test_backtest_report_and_mlflow_leave_global_state_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    panel = fr.simulate(n_households=300, seed=4)
    before = _state()
    res = fr.backtest(panel, models=("rule",), n_boot=0, progress=False, log_to_mlflow=True)
    assert set(res.figures) == {"splits", "calibration"} and res.run_ids
    fr.write_html_report(panel, tmp_path / "r.html", n_waterfall=1)
    fr.train(panel, model="rule", log_to_mlflow=True)
    after = _state()
    assert after[0] == before[0], "matplotlib backend changed"
    changed = {k for k in before[1] if before[1][k] != after[1].get(k)}
    assert not changed, f"rcParams changed: {sorted(changed)[:10]}"
    assert after[2] == before[2], "logger levels or handlers changed"
