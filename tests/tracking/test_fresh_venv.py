"""The registered model loads in a fresh virtualenv from nothing but its logged requirements.

``python -m venv``, then ``pip install -r requirements.txt`` run in the model
folder downloaded from ``models:/fanpin_risk@champion`` (the package comes from
the wheel inside it, everything else from the package index), then, in that
venv and a working directory of its own, ``mlflow.pyfunc.load_model`` by alias
and ``predict``. Several minutes on a cold pip cache: marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _panel_fixture import make_panel

pytestmark = pytest.mark.slow

LOAD = """
import json, sys, zipfile
import mlflow, pandas as pd
import fanpin_risk
from fanpin_risk.tracking import package_wheel

model = mlflow.pyfunc.load_model("models:/fanpin_risk@champion")
out = model.predict(pd.read_parquet(sys.argv[1]))
wheel = package_wheel()  # an installed copy now: repacked from its files
print(json.dumps({"probability": out["probability"].tolist(), "package": fanpin_risk.__file__,
                  "wheel": sorted(zipfile.ZipFile(wheel).namelist()) if wheel else None}))
"""


def _env(**extra) -> dict:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "PIP_CERT", "PIP_FIND_LINKS",
            "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "PIP_CONFIG_FILE", "HTTPS_PROXY", "HTTP_PROXY",
            "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg", **extra)
    return env


def test_champion_loads_and_predicts_in_a_fresh_venv(tmp_path, monkeypatch):
    import mlflow

    from fanpin_risk.api import train

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    panel = make_panel(200, years=range(2020, 2023), seed=8)
    m = train(panel, "lightgbm", params={"n_estimators": 20, "early_stopping": 5}, alias="champion")
    model_dir = Path(mlflow.artifacts.download_artifacts("models:/fanpin_risk@champion", dst_path=str(tmp_path / "dl")))
    rows = tmp_path / "rows.parquet"
    panel.head(8).to_parquet(rows)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"], cwd=model_dir,
                         env=_env(), capture_output=True, text=True, timeout=1500)
    assert pip.returncode == 0, pip.stderr[-3000:]

    (tmp_path / "work").mkdir()
    (tmp_path / "load.py").write_text(LOAD)
    done = subprocess.run([str(py), str(tmp_path / "load.py"), str(rows)], cwd=tmp_path / "work",
                          env=_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(got["package"]).is_relative_to(venv), "fanpin_risk must come from the wheel, not this checkout"
    np.testing.assert_allclose(got["probability"], m.predict_proba(panel.head(8)).to_numpy(), rtol=1e-9)
    assert all(0 <= p <= 1 for p in got["probability"])
    assert "fanpin_risk/_data_schema/household_year.csv" in got["wheel"]
    assert not list((tmp_path / "work").iterdir()), "nothing (no mlflow.db, no mlruns/) in the working directory"
