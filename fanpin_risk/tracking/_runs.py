"""MLflow tracking for train and backtest runs.

Tracking URI: ``$MLFLOW_TRACKING_URI`` when set, else the project's store:
the nearest ``mlruns/`` folder found walking up from the current directory (the
way git finds ``.git``, so a notebook run from ``notebooks/`` logs into the
project's ``mlruns/``), else ``./mlruns`` created; the store is
``sqlite:///<root>/mlruns/mlflow.db`` with artifacts under ``<root>/mlruns/artifacts``.
Every run goes to one experiment (``fanpin_risk``, or ``$FANPIN_MLFLOW_EXPERIMENT``),
so the MLflow UI compares models side by side. Runs are named
``"<kind> · <model> · <YYYY-MM-DD HH:MM>"`` and tagged ``kind``, ``model`` and
``label``; every backtest run logs the same metric names (``pooled_*``, per
year as ``<metric>_<year>`` and as ``<metric>`` with ``step=year``). Runs carry
the data fingerprint (row/household counts, years, sha256 of the canonical
data) — never rows or ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fanpin_risk.contract import field_names

EXPERIMENT = "fanpin_risk"


def find_store(start: str | os.PathLike | None = None, *, create: bool = True) -> Path:
    """The project's ``mlruns/`` folder: the nearest one at or above ``start``.

    Parameters
    ----------
    start : path, optional
        Where to start looking (default the current directory).
    create : bool, default True
        Create ``<start>/mlruns/artifacts`` when no ``mlruns/`` folder is found.

    Returns
    -------
    pathlib.Path
        The ``mlruns`` folder (absolute).
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "mlruns").is_dir():
            return d / "mlruns"
    root = here / "mlruns"
    if create:
        (root / "artifacts").mkdir(parents=True, exist_ok=True)
    return root


def store_uris(store: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """(tracking URI, artifact root URI or None) of the store that runs go to.

    Parameters
    ----------
    store : path, optional
        An ``mlruns`` folder (or the folder holding one). Default:
        ``$MLFLOW_TRACKING_URI`` when set (a ``sqlite:///`` store keeps its
        artifacts in ``artifacts/`` next to the database; other stores use
        MLflow's own default), else :func:`find_store`.
    """
    if store is None:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri and uri.startswith("sqlite:///"):
            # Artifacts next to the database, not in ./mlruns of whatever the cwd is.
            return uri, (Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts").as_uri()
        if uri:
            return uri, None
        root = find_store()
    else:
        root = Path(store).resolve()
        if root.name != "mlruns" and (root / "mlruns").is_dir():
            root = root / "mlruns"
        (root / "artifacts").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


def run_url(run_id: str, experiment_id: str | None = None, *, host: str = "127.0.0.1", port: int = 5000) -> str:
    """URL of a run in the MLflow UI started by ``fanpin-risk ui`` (default host and port)."""
    if experiment_id is None:
        import mlflow

        experiment_id = mlflow.get_run(run_id).info.experiment_id
    return f"http://{host}:{port}/#/experiments/{experiment_id}/runs/{run_id}"


def default_run_name(kind: str, model: str) -> str:
    """Run name shown in the MLflow UI: ``"backtest · lightgbm · 2026-11-25 21:40"``."""
    return f"{kind} · {model} · {time.strftime('%Y-%m-%d %H:%M')}"


def _setup():
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # a batch job's log should show our progress, not MLflow's store migrations and download bars
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    uri, artifact_location = store_uris()
    exp_name = os.environ.get("FANPIN_MLFLOW_EXPERIMENT", EXPERIMENT)
    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(exp_name)
    if exp is None:
        mlflow.create_experiment(exp_name, artifact_location=artifact_location)
    mlflow.set_experiment(exp_name)
    return mlflow


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v, ensure_ascii=False)
    return out


def _finite(x) -> bool:
    try:
        return x is not None and np.isfinite(float(x))
    except (TypeError, ValueError):
        return False


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


def log_model(mlflow, model, name: str = "model") -> None:
    """Log ``model`` as a pyfunc taking raw rows (saved model directory as artifact)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = model.save(Path(tmp) / "model_dir")
        ex = example_rows()
        # models-from-code: the model is logged as a code file, never as a pickle
        entry = str(Path(__file__).with_name("_pyfunc_entry.py"))
        mlflow.pyfunc.log_model(name=name, python_model=entry, artifacts={"model_dir": str(d)},
                                signature=_signature(ex), input_example=ex)


# --------------------------------------------------------------------------- runs
@contextlib.contextmanager
def _quiet_mlflow_logs():
    """MLflow's and alembic's INFO lines (store migrations) off while we log, the caller's levels back after.

    A batch job's log should show our progress, not MLflow's; the loggers are
    MLflow's, so their levels are restored rather than changed for good.
    """
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, before):
            lg.setLevel(lv)


def log_train_run(model, run_name: str | None = None) -> str:
    """Log one training run (params, label, fingerprint, in-sample metrics, model). Returns the run id."""
    with _quiet_mlflow_logs():
        return _log_train_run(model, run_name)


def _log_train_run(model, run_name: str | None) -> str:
    mlflow = _setup()
    meta = model.metadata
    with mlflow.start_run(run_name=run_name or default_run_name("train", model.kind)) as run:
        mlflow.set_tags({"model": model.kind, "kind": "train", "label": meta["label"]["definition"],
                         "label_definition": meta["label"]["definition"],
                         "package_version": meta["package_version"]})
        params = {"model": model.kind, "seed": meta["seed"], "train_years": meta["train_years"],
                  "n_train_rows": meta["n_train_rows"], "label": meta["label"], "params": meta["params"],
                  "data": meta["data_fingerprint"], "n_features": len(model.feature_names_)}
        if "best_iteration" in meta.get("estimator", {}):
            params["best_iteration"] = meta["estimator"]["best_iteration"]
        mlflow.log_params({k: (str(v)[:500]) for k, v in _flat(params).items()})
        mlflow.log_metrics({f"train_{k}": float(v) for k, v in meta["metrics_in_sample"].items() if _finite(v)})
        mlflow.log_dict(meta, "metadata.json")
        log_model(mlflow, model)
        return run.info.run_id


def log_backtest_run(result, *, model_name: str, params: dict, run_name: str | None = None, log_model_obj=None) -> str:
    """Log one backtest run for one model: per-year metrics (step=year), pooled metrics, tables, plots."""
    with _quiet_mlflow_logs():
        return _log_backtest_run(result, model_name, params, run_name, log_model_obj)


def _log_backtest_run(result, model_name: str, params: dict, run_name: str | None, log_model_obj) -> str:
    mlflow = _setup()
    with mlflow.start_run(run_name=run_name or default_run_name("backtest", model_name)) as run:
        label = params.get("label", {})
        mlflow.set_tags({"model": model_name, "kind": "backtest", "label": label.get("definition", ""),
                         "label_definition": label.get("definition", "")})
        mlflow.log_params({k: str(v)[:500] for k, v in _flat(params).items()})
        py = result.per_year[result.per_year["model"] == model_name]
        for row in py.to_dict("records"):
            yr = int(row["year"])
            vals = {k: float(v) for k, v in row.items() if k not in ("model", "year") and _finite(v)}
            # One batch per year: a sqlite store commits each log call separately.
            mlflow.log_metrics(vals, step=yr)
            mlflow.log_metrics({f"{k}_{yr}": v for k, v in vals.items()})
        po = result.pooled[result.pooled["model"] == model_name]
        for row in po.to_dict("records"):
            mlflow.log_metrics({f"pooled_{k}": float(v) for k, v in row.items() if k != "model" and _finite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            for name, tab in result.tables().items():
                t = tab[tab["model"] == model_name] if "model" in tab.columns else tab
                p = Path(tmp) / f"{name}.csv"
                t.to_csv(p, index=False, encoding="utf-8-sig")
                mlflow.log_artifact(str(p), artifact_path="tables")
            for name, fig in result.figures.items():
                p = Path(tmp) / f"{name}.png"
                fig.savefig(p, dpi=110, bbox_inches="tight")
                mlflow.log_artifact(str(p), artifact_path="figures")
        if log_model_obj is not None:
            log_model(mlflow, log_model_obj)
        return run.info.run_id
