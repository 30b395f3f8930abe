"""The MLflow pyfunc model of fanpin_risk (imported only where MLflow is wanted: it imports mlflow)."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from fanpin_risk.models import load_model

__all__ = ["FanpinPyfunc"]


class FanpinPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: raw household-year rows in (feature step included), probabilities out."""

    def load_context(self, context):
        self.model = load_model(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        df = pd.DataFrame(model_input)
        p = self.model.predict_proba(df)
        return pd.DataFrame({"probability": p.to_numpy(dtype=float)})
