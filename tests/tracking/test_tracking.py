import numpy as np
import pytest

from _panel_fixture import make_panel


@pytest.fixture()
def tmp_mlflow(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_logs_run_and_pyfunc(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import train

    p = make_panel(200, years=range(2020, 2023), seed=6)
    m = train(p, "lightgbm", params={"n_estimators": 20, "early_stopping": 5})
    run = mlflow.get_run(m.mlflow_run_id)
    assert run.data.tags["kind"] == "train" and run.data.tags["model"] == "lightgbm"
    assert "train_roc_auc" in run.data.metrics
    assert "data.sha256" in run.data.params
    assert not any(str(h) in str(run.data.params) for h in p["household_id"].head(3))
    pm = mlflow.pyfunc.load_model(f"runs:/{m.mlflow_run_id}/model")
    out = pm.predict(p.head(6))
    np.testing.assert_allclose(out["probability"].to_numpy(), m.predict_proba(p.head(6)).to_numpy())
    assert out["probability"].between(0, 1).all()
    # logged as code (models-from-code), so loading it unpickles nothing
    local = mlflow.artifacts.download_artifacts(f"runs:/{m.mlflow_run_id}/model")
    from pathlib import Path

    files = [f.name for f in Path(local).rglob("*") if f.is_file()]
    assert not any(f.endswith((".pkl", ".pickle", ".cloudpickle")) for f in files), files


def test_backtest_logs_per_year_metrics(tmp_mlflow):
    import mlflow

    from fanpin_risk.api import backtest

    p = make_panel(200, years=range(2020, 2024), seed=7)
    r = backtest(p, models=("rule", "scorecard"), n_boot=0, progress=False)
    run = mlflow.get_run(r.run_ids["scorecard"])
    assert run.data.tags["kind"] == "backtest"
    assert "recall_at_10pct_2022" in run.data.metrics and "pooled_pr_auc" in run.data.metrics
    hist = mlflow.MlflowClient().get_metric_history(run.info.run_id, "roc_auc")
    # panel 2020–2023: 2023 rows are censored, so the test years are 2021 and 2022
    assert sorted(h.step for h in hist) == [2021, 2022]


def test_fingerprint_order_independent():
    from fanpin_risk.panel import data_fingerprint

    p = make_panel(50, years=range(2020, 2022))
    assert data_fingerprint(p) == data_fingerprint(p.sample(frac=1, random_state=1))
