"""Score from Spark through the MLflow pyfunc: groupBy(county).applyInPandas, one household's history per group.

Runs where pyspark is importable and Java exists; skipped otherwise (pyspark is
not a dependency of the project and is not installed in CI).
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (optional; see docs/scale.md)")
if shutil.which("java") is None:
    pytest.skip("pyspark needs Java (java not found on PATH)", allow_module_level=True)

from fanpin_risk.simulate import simulate


def test_spark_apply_in_pandas_equals_in_memory(tmp_path, monkeypatch):
    import mlflow
    from pyspark.sql import SparkSession

    import fanpin_risk
    from fanpin_risk import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # Spark's Python workers must run the interpreter that has fanpin_risk and mlflow
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
    import mlflow as ml

    tracking.use_store()
    ml.set_experiment(tracking.EXPERIMENT)
    model = fanpin_risk.load_model()
    with ml.start_run() as run:
        tracking.log_model(ml, model)
    uri = f"runs:/{run.info.run_id}/model"

    panel = simulate(300, years=range(2023, 2026), seed=3)
    expected = model.predict_proba(panel).to_numpy()

    spark = (SparkSession.builder.master("local[1]").appName("fanpin-test")
             .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false").getOrCreate())
    try:
        # Arrow-friendly plain dtypes for Spark; the pyfunc casts back to the contract's dtypes
        pdf = panel.astype({c: "object" for c in panel.columns if str(panel[c].dtype) in ("str", "boolean")})
        pdf = pdf.astype({c: "float64" for c in panel.columns if str(panel[c].dtype) == "Int64"})
        pdf["_row"] = np.arange(len(pdf))
        sdf = spark.createDataFrame(pdf)

        def score_group(g: pd.DataFrame) -> pd.DataFrame:
            m = mlflow.pyfunc.load_model(uri)  # cached per Python worker in real jobs
            p = m.predict(g.drop(columns="_row"))
            return pd.DataFrame({"_row": g["_row"].to_numpy(), "probability": p["probability"].to_numpy()})

        got = (sdf.groupBy("county_code").applyInPandas(score_group, schema="_row long, probability double")
               .toPandas().sort_values("_row"))
    finally:
        spark.stop()
    assert len(got) == len(panel)
    np.testing.assert_allclose(got["probability"].to_numpy(), expected, atol=1e-9)
