"""``fanpin-risk ui``: the MLflow UI on a store holding a fresh small backtest.

One module-scoped server (started through the real CLI, as a user would) serves
the REST and browser checks; the last test stops it with SIGINT (Ctrl-C).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tmp project folder whose mlruns/ holds a backtest of the three models (small LightGBM, no bootstrap)."""
    from fanpin_risk.api import backtest
    from fanpin_risk.simulate import simulate

    root = tmp_path_factory.mktemp("uiproj")
    (root / "mlruns").mkdir()
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.chdir(root / "mlruns")  # the store is found walking up, as from notebooks/
    try:
        res = backtest(simulate(150, years=range(2020, 2024), seed=2), models=("rule", "scorecard", "lightgbm"), baselines=False,
                       params={"lightgbm": {"n_estimators": 15}}, n_boot=0, progress=False, figures=False)
    finally:
        mp.undo()
    return root, res


@pytest.fixture(scope="module")
def server(store):
    root, res = store
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = [sys.executable, "-m", "fanpin_risk.cli", "ui", "--port", str(port), "--store", str(root / "mlruns")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=root, start_new_session=True)
    url = None
    lines: list[str] = []
    end = time.monotonic() + 60
    try:
        while time.monotonic() < end and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"MLflow UI: (http://\S+)", line)
            url = m.group(1) if m else None
        assert url, "fanpin-risk ui printed no URL:\n" + "".join(lines)
        yield {"proc": proc, "url": url, "port": port, "base": f"http://127.0.0.1:{port}", "res": res, "root": root}
    finally:
        if proc.poll() is None:  # a failed test left it running: stop the CLI and the server group
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_store_found_walking_up(store):
    root, res = store
    assert (root / "mlruns" / "mlflow.db").is_file()
    assert not (root / "mlruns" / "mlruns").exists()  # not a second store in the cwd
    assert set(res.run_ids) == {"rule", "scorecard", "lightgbm"}


def test_url_points_at_experiment_runs(server):
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/#/experiments/(\d+)/runs", server["url"])
    assert m and int(m.group(1)) == server["port"]


def test_rest_api_lists_named_comparable_runs(server):
    exp = re.search(r"experiments/(\d+)", server["url"]).group(1)
    runs = _post(f"{server['base']}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp]})["runs"]
    by_id = {r["info"]["run_id"]: r for r in runs}
    assert set(by_id) == set(server["res"].run_ids.values())
    metric_sets = []
    for model, rid in server["res"].run_ids.items():
        r = by_id[rid]
        assert re.fullmatch(rf"backtest · {model} · 150户 · relapse · \d{{4}}-\d\d-\d\d \d\d:\d\d", r["info"]["run_name"])
        tags = {t["key"]: t["value"] for t in r["data"]["tags"]}
        assert tags["model"] == model and tags["kind"] == "backtest" and tags["label"] == "relapse"
        metric_sets.append({m["key"] for m in r["data"]["metrics"]})
        params = {p["key"]: p["value"] for p in r["data"]["params"]}
        assert params["model"] == model
    # the compare view lines the models up on the same metrics: headline, pooled, per year as steps
    assert metric_sets[0] == metric_sets[1] == metric_sets[2]
    assert {"a_pr_auc", "a_recall_at_10pct", "a_brier", "a_roc_auc", "pooled_pr_auc", "pr_auc"} <= metric_sets[0]
    assert not [k for k in metric_sets[0] if re.search(r"_20\d\d$", k)]


def _chromium(tmp_path, *args: str, height: int = 900) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'prof'}",
             "--virtual-time-budget=10000", f"--window-size=1400,{height}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium) — browser check skipped")
def test_browser_renders_run_names(server, tmp_path):
    shot = Path(os.environ.get("FANPIN_UI_SCREENSHOT", tmp_path / "runs.png"))
    dom = _chromium(tmp_path, "--dump-dom", server["url"])
    for model in server["res"].run_ids:
        assert f"backtest · {model} · 150户 · relapse · " in dom, f"run of {model} not in the rendered page"
    _chromium(tmp_path, f"--screenshot={shot}", server["url"])
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium) — browser check skipped")
def test_compare_view_shows_three_models_and_headline_metrics_first(server, tmp_path):
    """The page "Compare" opens for the three backtest runs: headline metrics on top and in the plot."""
    from fanpin_risk.tracking import primary_metrics

    ids = server["res"].run_ids
    exp = re.search(r"experiments/(\d+)", server["url"]).group(1)
    url = (f"{server['base']}/#/compare-runs?runs={urllib.parse.quote(json.dumps(list(ids.values())))}"
           f"&experiments={urllib.parse.quote(json.dumps([exp]))}")
    dom = _chromium(tmp_path, "--dump-dom", url, height=2600)
    assert "Comparing 3 Runs" in dom, dom[-2000:]
    for model in ids:
        assert f"backtest · {model} · 150户 · relapse · " in dom, f"{model} missing from the compare view"
        assert f">{model}<" in dom  # the model tag row
    head = primary_metrics()
    # the metrics table, in the order shown: one "Plot chart" link per metric
    shown = re.findall(r'title="Plot chart" href="[^"]*">([^<]+)<', dom)
    assert shown[:4] == sorted(head), shown[:8]
    assert len(shown) > 4 and not set(shown[4:]) & set(head)  # the table scrolls: later rows render on demand
    # the parallel-coordinates plot starts on the first headline metric, not on a count
    assert f'selection-item-content">{head[0]}<' in dom
    shot = Path(os.environ.get("FANPIN_UI_COMPARE_SCREENSHOT", tmp_path / "compare.png"))
    _chromium(tmp_path, f"--screenshot={shot}", url, height=2600)
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_ctrl_c_stops_server_cleanly(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the CLI
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "stopped" in out
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server['base']}/health", timeout=3)


def test_port_in_use_is_a_clear_error(tmp_path):
    from fanpin_risk.tracking import UIError, start_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(UIError, match="--port"):
            start_server(tmp_path, port=s.getsockname()[1])


def test_remote_tracking_uri_is_a_clear_error(monkeypatch):
    from fanpin_risk.tracking import UIError, resolve_store

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    with pytest.raises(UIError, match="--store"):
        resolve_store()


def test_model_card_links_runs(store):
    import mlflow

    from fanpin_risk.cli._default_model import run_links

    root, res = store
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    rid = res.run_ids["scorecard"]
    exp = mlflow.get_run(rid).info.experiment_id
    text = run_links(rid, res.run_ids)
    assert f"[{rid}](http://127.0.0.1:5000/#/experiments/{exp}/runs/{rid})" in text
    assert f"[rule](http://127.0.0.1:5000/#/experiments/{exp}/runs/{res.run_ids['rule']})" in text
    assert "fanpin-risk ui" in text
