"""The fanpin_risk model as MLflow logs it: a pyfunc from code, its signature, example and environment.

The model is logged as code (``_pyfunc_entry.py``, MLflow's models-from-code)
with the saved model directory (JSON and LightGBM text, checked against its
manifest) as an artifact: loading it unpickles nothing. Its environment is the
package wheel and the pinned requirements of :mod:`fanpin_risk.tracking._env`,
so ``pip install -r requirements.txt`` in the downloaded model folder gives a
fresh virtualenv everything ``mlflow.pyfunc.load_model`` needs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fanpin_risk.contract import field_names

from ._env import package_wheel, pip_requirements

__all__ = ["example_rows", "log_model", "MODEL_ARTIFACT"]

#: Name of the logged model inside a run (``runs:/<run_id>/model``).
MODEL_ARTIFACT = "model"


def example_rows() -> pd.DataFrame:
    """Two synthetic household-year rows (one invented household) in the contract's fields."""
    base = {
        "household_id": "EXAMPLE0001", "province": "全国", "county_code": "999999", "township_code": "999999001",
        "village_code": "999999001001", "household_type": "脱贫户", "monitoring_category": "脱贫不稳定户",
        "identification_month": 202303.0, "newly_identified": False, "risk_eliminated": False, "elimination_month": np.nan,
        "risk_type_1": "因病", "risk_type_2": None, "risk_type_3": None, "risk_type_4": None, "risk_type_5": None,
        "household_size": 4.0, "n_labor": 2.0, "n_migrant_workers": 1.0, "migrant_work_months": 8.0, "n_elderly": 1.0,
        "n_children": 1.0, "n_students": 1.0, "n_disabled": 0.0, "n_chronic_ill": 1.0, "n_serious_ill": 0.0,
        "income_wage": 24000.0, "income_business": 9000.0, "expense_business": 3000.0, "income_property": 500.0,
        "income_transfer": 4000.0, "income_insurance_claims": 0.0, "expense_medical": 3000.0, "expense_education": 1500.0,
        "housing_safe": True, "drinking_water_safe": True, "compulsory_education_ok": True, "medical_insured": True,
        "receives_dibao": False, "receives_tekun": False, "public_welfare_job": False, "microcredit": 0.0,
        "shock_illness": False, "shock_disaster": False, "shock_accident": False, "shock_job_loss": False,
        "shock_industry_failure": False, "is_key_county": True, "is_relocated": False,
    }
    rows = []
    for year, line, inc in ((2023, 7000.0, 8625.0), (2024, 7300.0, 7900.0)):
        r = dict(base, year=float(year), monitoring_line=line, net_income_per_capita=inc)
        rows.append(r)
    rows[1]["newly_identified"] = False
    rows[1]["shock_illness"] = True
    return pd.DataFrame(rows)[field_names()]


def _signature(example: pd.DataFrame):
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    # Columns are typed "Any": the model's own reader casts them to the contract's
    # nullable dtypes (Int64/boolean with missing values, Chinese text), which
    # MLflow's strict schema enforcement would otherwise reject.
    cols = [ColSpec(AnyType(), c, required=c in ("household_id", "year")) for c in example.columns]
    return ModelSignature(inputs=Schema(cols), outputs=Schema([ColSpec("double", "probability")]))


def log_model(mlflow, model, name: str = MODEL_ARTIFACT, *, registered_model_name: str | None = None):
    """Log ``model`` as a pyfunc taking raw household-year rows (saved model directory as artifact).

    Parameters
    ----------
    mlflow : module
        The ``mlflow`` module, inside an active run.
    model : RiskModel
    name : str, default "model"
        Name of the logged model in the run (``runs:/<run_id>/<name>``).
    registered_model_name : str, optional
        Register the logged model as a new version of this registered model.

    Returns
    -------
    mlflow.models.model.ModelInfo
        Its ``registered_model_version`` is the new version (None unregistered).
    """
    with tempfile.TemporaryDirectory() as tmp:
        d = model.save(Path(tmp) / "model_dir")
        artifacts = {"model_dir": str(d)}
        wheel = package_wheel()
        if wheel is not None:
            artifacts["package_wheel"] = str(wheel)
        ex = example_rows()
        # models-from-code: the model is logged as a code file, never as a pickle
        entry = str(Path(__file__).with_name("_pyfunc_entry.py"))
        return mlflow.pyfunc.log_model(
            name=name, python_model=entry, artifacts=artifacts, signature=_signature(ex), input_example=ex,
            pip_requirements=pip_requirements(wheel.name if wheel is not None else None),
            registered_model_name=registered_model_name)
