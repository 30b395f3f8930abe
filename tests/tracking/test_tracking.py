"""MLflow as its users expect it: runs, names and metrics, the registered model, the store a fresh process finds."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _panel_fixture import make_panel

FAST_LGBM = {"n_estimators": 20, "early_stopping": 5}
TEST_ONLY = {"pytest", "hypothesis", "nbclient", "nbformat", "dask", "distributed", "import-linter"}


@pytest.fixture()
def tmp_mlflow(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder with its own mlruns/ and no MLFLOW_TRACKING_URI: the store is found walking up."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _req_name(line: str) -> str:
    return re.split(r"[\[=<>!~ ]", line, maxsplit=1)[0].lower().replace("_", "-")


def test_train_logs_run_registers_model_and_pyfunc(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import train

    p = make_panel(200, years=range(2020, 2023), seed=6)
    m = train(p, "lightgbm", params=FAST_LGBM)
    run = mlflow.get_run(m.mlflow_run_id)
    assert run.data.tags["kind"] == "train" and run.data.tags["model"] == "lightgbm"
    assert run.info.run_name.startswith("train · lightgbm · 200户 · relapse · ")
    assert "train_roc_auc" in run.data.metrics and "data.sha256" in run.data.params
    assert not any(str(h) in str(run.data.params) for h in p["household_id"].head(3))
    # registered: version 1 of "fanpin_risk", tagged with what it is, no alias unless asked for
    assert m.mlflow_model_uri == "models:/fanpin_risk/1" and m.mlflow_alias_uri is None
    mv = mlflow.MlflowClient().get_model_version("fanpin_risk", "1")
    assert mv.run_id == m.mlflow_run_id and mv.aliases == []
    assert mv.tags["model"] == "lightgbm" and mv.tags["households"] == "200" and mv.tags["label"] == "relapse"
    assert mv.tags["data_sha256"] == m.metadata["data_fingerprint"]["sha256"] and "trained_at" in mv.tags
    assert "200户" in mv.description and not any(str(h) in mv.description for h in p["household_id"].head(3))
    for uri in (f"runs:/{m.mlflow_run_id}/model", m.mlflow_model_uri, "models:/fanpin_risk/latest"):
        out = mlflow.pyfunc.load_model(uri).predict(p.head(6))
        np.testing.assert_allclose(out["probability"].to_numpy(), m.predict_proba(p.head(6)).to_numpy())
    # logged as code (models-from-code), so loading it unpickles nothing
    local = Path(mlflow.artifacts.download_artifacts(m.mlflow_model_uri))
    files = [f.name for f in local.rglob("*") if f.is_file()]
    assert not any(f.endswith((".pkl", ".pickle", ".cloudpickle")) for f in files), files


def test_logged_requirements_install_from_an_index_and_the_wheel(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import train

    m = train(make_panel(120, years=range(2020, 2023), seed=3), "rule")
    local = Path(mlflow.artifacts.download_artifacts(m.mlflow_model_uri))
    lines = [ln.strip() for ln in (local / "requirements.txt").read_text().splitlines() if ln.strip()]
    names = {_req_name(ln) for ln in lines if not ln.startswith("./")}
    assert {"lightgbm", "pandas", "numpy", "pyarrow", "scikit-learn", "mlflow", "pandera", "openpyxl"} <= names
    assert f"lightgbm=={importlib.metadata.version('lightgbm')}" in lines
    assert not names & TEST_ONLY, names & TEST_ONLY
    assert not any(_req_name(ln) in ("fanpin-risk", "fanpin_risk") for ln in lines), "no index has fanpin_risk"
    # the package itself: a wheel inside the model folder, named relative to it (pip runs there)
    wheel_lines = [ln for ln in lines if ln.endswith(".whl")]
    assert len(wheel_lines) == 1 and wheel_lines[0].startswith("./artifacts/fanpin_risk-")
    wheel = local / wheel_lines[0]
    with zipfile.ZipFile(wheel) as z:
        names_in = set(z.namelist())
        meta = next(n for n in names_in if n.endswith(".dist-info/METADATA"))
        assert "Name: fanpin_risk" in z.read(meta).decode()
    assert {"fanpin_risk/__init__.py", "fanpin_risk/tracking/_pyfunc.py",
            "fanpin_risk/_data_schema/household_year.csv"} <= names_in
    assert not any("__pycache__" in n for n in names_in)


def test_alias_champion_moves_and_labels_get_their_own_registered_model(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import train
    from fanpin_risk.errors import ModelError

    p = make_panel(150, years=range(2020, 2023), seed=4)
    first = train(p, "rule", alias="champion")
    second = train(p, "scorecard", alias="champion")
    client = mlflow.MlflowClient()
    assert first.mlflow_alias_uri == second.mlflow_alias_uri == "models:/fanpin_risk@champion"
    assert str(client.get_model_version_by_alias("fanpin_risk", "champion").version) == "2"
    assert client.get_model_version("fanpin_risk", "1").aliases == []  # the alias moved, the version stayed
    champion = mlflow.pyfunc.load_model("models:/fanpin_risk@champion").predict(p.head(5))["probability"]
    np.testing.assert_allclose(champion.to_numpy(), second.predict_proba(p.head(5)).to_numpy())
    # promoting an existing version (what `fanpin-risk train --default` does with its new version)
    from fanpin_risk.tracking import set_alias

    assert set_alias("fanpin_risk", 1, "champion") == "models:/fanpin_risk@champion"
    assert str(client.get_model_version_by_alias("fanpin_risk", "champion").version) == "1"
    other = train(p, "rule", label="income", register=True)
    assert other.mlflow_model_uri == "models:/fanpin_risk_income/1"
    unreg = train(p, "rule", register=False)
    assert unreg.mlflow_model_uri == f"runs:/{unreg.mlflow_run_id}/model"
    assert len(client.search_model_versions("name='fanpin_risk'")) == 2
    for bad in ("latest", "v3", "no spaces"):
        with pytest.raises(ModelError, match="alias"):
            train(p, "rule", alias=bad)
    with pytest.raises(ModelError, match="register=False"):
        train(p, "rule", alias="champion", register=False)


def test_backtest_metrics_headline_first_and_per_year_as_steps(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import backtest
    from fanpin_risk.tracking import primary_metrics

    p = make_panel(200, years=range(2020, 2024), seed=7)
    r = backtest(p, models=("rule", "scorecard"), n_boot=5, progress=False, figures=False)
    head = primary_metrics(r.settings["tag"])
    assert head == ["a_pr_auc", "a_recall_at_10pct", "a_brier", "a_roc_auc"]
    for model, rid in r.run_ids.items():
        run = mlflow.get_run(rid)
        assert re.fullmatch(rf"backtest · {model} · 200户 · relapse · \d{{4}}-\d\d-\d\d \d\d:\d\d", run.info.run_name)
        keys = sorted(run.data.metrics)
        assert keys[:4] == sorted(head), keys[:6]  # what the UI's alphabetical lists show first
        assert not [k for k in keys if re.search(r"_20\d\d$", k)], "per-year values are steps, not names"
        pooled = r.pooled.set_index("model").loc[model]
        for name in head:
            assert run.data.metrics[name] == pytest.approx(pooled[name[2:]])
            assert run.data.metrics["pooled_" + name[2:]] == pytest.approx(pooled[name[2:]])
        assert "pooled_pr_auc_lo" in keys and "pooled_pr_auc_hi" in keys
        hist = mlflow.MlflowClient().get_metric_history(rid, "pr_auc")
        # panel 2020–2023: 2023 rows are censored, so the test years are 2021 and 2022
        per_year = r.per_year[r.per_year["model"] == model].set_index("year")["pr_auc"]
        assert {h.step: h.value for h in hist} == pytest.approx({int(y): v for y, v in per_year.items()})
        assert len(mlflow.MlflowClient().get_metric_history(rid, "a_pr_auc")) == 1


def test_use_store_points_a_process_at_the_project_store(project, monkeypatch):
    import mlflow

    from fanpin_risk import tracking

    monkeypatch.chdir(project / "notebooks")
    mlflow.set_tracking_uri(None)
    try:
        uri = tracking.use_store()
        assert uri == f"sqlite:///{project / 'mlruns' / 'mlflow.db'}" == mlflow.get_tracking_uri()
    finally:
        mlflow.set_tracking_uri(None)
    assert not (project / "notebooks" / "mlruns").exists() and not (project / "notebooks" / "mlflow.db").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'elsewhere' / 'm.db'}")
    try:
        assert tracking.use_store() == mlflow.get_tracking_uri() == f"sqlite:///{project / 'elsewhere' / 'm.db'}"
    finally:
        mlflow.set_tracking_uri(None)
    assert (project / "elsewhere" / "artifacts").is_dir()  # the artifact folder beside a new database


def test_fresh_process_finds_registered_model_via_print_uri(project):
    """The documented shell line: export MLFLOW_TRACKING_URI=$(fanpin-risk ui --print-uri), then plain mlflow."""
    from fanpin_risk.api import train

    p = make_panel(120, years=range(2020, 2023), seed=5)
    m = train(p, "scorecard", alias="champion")
    p.head(4).to_parquet(project / "rows.parquet")
    cli = Path(sys.executable).with_name("fanpin-risk")
    (project / "load.py").write_text(
        "import json, sys, mlflow, pandas as pd\n"
        "out = mlflow.pyfunc.load_model('models:/fanpin_risk@champion').predict(pd.read_parquet('../rows.parquet'))\n"
        "print(mlflow.get_tracking_uri())\n"
        "print(mlflow.get_run(sys.argv[1]).info.run_name)\n"
        "print(json.dumps(out['probability'].tolist()))\n")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    line = f'export MLFLOW_TRACKING_URI=$("{cli}" ui --print-uri) && "{sys.executable}" ../load.py {m.mlflow_run_id}'
    done = subprocess.run(["bash", "-c", line], cwd=project / "notebooks", env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    uri, name, probs = done.stdout.strip().splitlines()[-3:]
    assert uri == f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    assert name.startswith("train · scorecard · 120户 · relapse")
    np.testing.assert_allclose(json.loads(probs), m.predict_proba(p.head(4)).to_numpy())
    assert not (project / "notebooks" / "mlflow.db").exists(), "a stray store in the working directory"
    assert not (project / "notebooks" / "mlruns").exists()


def test_cli_train_alias_says_how_to_load_it(project, monkeypatch):
    from typer.testing import CliRunner

    from fanpin_risk.cli import app
    from fanpin_risk.errors import ModelError

    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    bad = runner.invoke(app, ["train", "-n", "100", "-m", "rule", "--alias", "latest", "-o", "m0"])
    # a ModelError (main() prints it as one line, exit 2), raised before any training
    assert isinstance(bad.exception, ModelError) and "reserved" in str(bad.exception)
    assert not (project / "m0").exists() and not (project / "mlruns" / "mlflow.db").exists()
    ok = runner.invoke(app, ["train", "-n", "100", "-m", "rule", "--alias", "champion", "-o", "m1"])
    assert ok.exit_code == 0, ok.output
    assert "models:/fanpin_risk/1 = models:/fanpin_risk@champion" in ok.output
    assert f"export MLFLOW_TRACKING_URI=sqlite:///{project / 'mlruns' / 'mlflow.db'}" in ok.output
    printed = runner.invoke(app, ["ui", "--print-uri"])
    assert printed.exit_code == 0 and printed.output.strip() == f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"


class _FakeDist:
    """An installed (non-editable) distribution: files relative to a site-packages folder."""

    def __init__(self, site: Path, files: list[str]):
        self.site, self.version = site, "9.9.9"
        self.files = [importlib.metadata.PackagePath(f) for f in files]

    def locate_file(self, f):
        return self.site / f


def test_installed_copy_is_repacked_into_an_installable_wheel(tmp_path):
    from fanpin_risk.tracking import _env

    site = tmp_path / "site"
    files = {"fanpin_risk/__init__.py": "x = 1\n", "fanpin_risk/_data_schema/a.csv": "a\n1\n",
             "fanpin_risk/__pycache__/x.pyc": "", "fanpin_risk-9.9.9.dist-info/METADATA": "Name: fanpin_risk\n",
             "fanpin_risk-9.9.9.dist-info/WHEEL": "Wheel-Version: 1.0\n", "fanpin_risk-9.9.9.dist-info/RECORD": "",
             "fanpin_risk-9.9.9.dist-info/INSTALLER": "pip\n", "fanpin_risk-9.9.9.dist-info/direct_url.json": "{}",
             "../../../bin/fanpin-risk": "#!"}
    for f, text in files.items():
        (site / f).parent.mkdir(parents=True, exist_ok=True)
        (site / f).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    _env._repack_installed(_FakeDist(site, list(files)), out)
    with zipfile.ZipFile(out / "fanpin_risk-9.9.9-py3-none-any.whl") as z:
        names = set(z.namelist())
        record = z.read("fanpin_risk-9.9.9.dist-info/RECORD").decode().splitlines()
    assert names == {"fanpin_risk/__init__.py", "fanpin_risk/_data_schema/a.csv", "fanpin_risk-9.9.9.dist-info/METADATA",
                     "fanpin_risk-9.9.9.dist-info/WHEEL", "fanpin_risk-9.9.9.dist-info/RECORD"}
    assert {r.split(",")[0] for r in record} == names
    assert all(re.fullmatch(r"[^,]+,sha256=[A-Za-z0-9_-]{43},\d+", r) for r in record if not r.endswith("RECORD,,"))
    with pytest.raises(RuntimeError, match="no package files"):
        _env._repack_installed(_FakeDist(site, ["fanpin_risk-9.9.9.dist-info/METADATA"]), out)


def test_fingerprint_order_independent():
    from fanpin_risk.panel import data_fingerprint

    p = make_panel(50, years=range(2020, 2022))
    assert data_fingerprint(p) == data_fingerprint(p.sample(frac=1, random_state=1))


def test_train_run_records_the_audition(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import train

    p = make_panel(300, years=range(2020, 2024), seed=8)
    m = train(p)  # no params: the audition chooses
    run = mlflow.get_run(m.mlflow_run_id)
    sel = m.metadata["selection"]
    assert run.data.tags["selected"] == sel["chosen"]
    assert run.data.metrics["audition_log_loss_1"] == pytest.approx(sel["candidates"][0]["log_loss"])
    logged = mlflow.artifacts.load_dict(f"runs:/{m.mlflow_run_id}/selection.json")
    assert logged["chosen"] == sel["chosen"] and len(logged["candidates"]) == len(sel["candidates"])
