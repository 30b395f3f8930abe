"""MLflow runs of training and backtests: names, metrics, tags, the registered model.

Every run goes to one experiment (``fanpin_risk``, or ``$FANPIN_MLFLOW_EXPERIMENT``)
in the project's store (:mod:`fanpin_risk.tracking._store`), so the MLflow UI
compares models side by side.

Run names say what was run on what: ``"<kind> · <model> · <households>户 · <label> · <YYYY-MM-DD HH:MM>"``,
e.g. ``backtest · lightgbm · 5,000户 · relapse · 2026-12-02 10:40``; runs are
tagged ``kind``, ``model``, ``label`` and ``households``.

Metric names of a backtest run (the same in every run, so Compare lines them up):

- ``a_pr_auc``, ``a_recall_at_10pct``, ``a_brier``, ``a_roc_auc``: the four
  headline metrics, pooled over all test years (``a_`` sorts them first in the
  UI's alphabetical metric lists and is a valid name in search filters:
  ``metrics.a_pr_auc > 0.3``). They are logged first, and the compare view's
  plot opens on the first metric a run holds: ``a_pr_auc``. The recall tag
  follows the run's budget (``a_recall_at_5pct`` with ``k_share=0.05``).
- ``pooled_<metric>``: every pooled metric, the headline ones included, with
  the bootstrap bounds ``pooled_<metric>_lo`` / ``_hi``.
- ``<metric>`` with ``step=<test year>`` (``pr_auc``, ``brier``, ``n``, ...):
  the per-year values as one metric over steps, drawn as a line per run in the
  chart view; its single value in tables is the last test year's.

Training runs log in-sample metrics as ``train_<metric>`` and register the
model (:mod:`fanpin_risk.tracking._registry`). Runs carry the data fingerprint
(row/household counts, years, sha256 of the canonical data), never rows or ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fanpin_risk.errors import ModelError

from ._logged_model import log_model
from ._registry import check_alias, describe_version, registered_model_name
from ._store import experiment_name, store_uris, use_store

__all__ = ["default_run_name", "primary_metrics", "PRIMARY_PREFIX", "TrainRun", "log_train_run", "log_backtest_run"]

#: Prefix of the headline metrics (pooled over the test years): sorts them first.
PRIMARY_PREFIX = "a_"
#: The headline metrics, in the order the docs and model card give them.
_PRIMARY = ("pr_auc", "recall_at_{tag}", "brier", "roc_auc")


def primary_metrics(tag: str = "10pct") -> list[str]:
    """Names of the headline metrics of a backtest run: ``["a_pr_auc", "a_recall_at_10pct", "a_brier", "a_roc_auc"]``."""
    return [PRIMARY_PREFIX + m.format(tag=tag) for m in _PRIMARY]


def default_run_name(kind: str, model: str, *, households: int | None = None, label: str | None = None) -> str:
    """Run name shown in the MLflow UI: ``"backtest · lightgbm · 5,000户 · relapse · 2026-12-02 10:40"``."""
    parts = [kind, model]
    if households is not None:
        parts.append(f"{int(households):,}户")
    if label:
        parts.append(str(label))
    return " · ".join([*parts, time.strftime("%Y-%m-%d %H:%M")])


def _setup():
    """The ``mlflow`` module pointed at the project's store and experiment (created on first use)."""
    # a batch job's log should show our progress, not MLflow's store migrations and download bars
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    use_store()
    import mlflow

    _, artifact_location = store_uris()
    name = experiment_name()
    if mlflow.get_experiment_by_name(name) is None:
        mlflow.create_experiment(name, artifact_location=artifact_location)
    mlflow.set_experiment(name)
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


@contextlib.contextmanager
def _quiet_mlflow_logs():
    """MLflow's and alembic's INFO lines (store migrations) off while we log, the caller's levels back after.

    A batch job's log should show our progress, not MLflow's; the loggers are
    MLflow's, so their levels are restored rather than changed for good.
    """
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    before = [lg.level for lg in loggers]
    # MLflow sets its logger to INFO when first imported: quiet it after that import,
    # or a new store's "Creating initial MLflow database tables" lines get through
    import mlflow  # noqa: F401

    for lg in loggers:
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, before):
            lg.setLevel(lv)


# --------------------------------------------------------------------------- training runs
class TrainRun(NamedTuple):
    """Where a logged training run and its model went."""

    run_id: str
    #: ``models:/<registered model>/<version>``, or ``runs:/<run_id>/model`` when not registered
    model_uri: str
    #: registered model name (None when not registered)
    registered_model: str | None = None
    version: str | None = None
    #: ``models:/<registered model>@<alias>`` when an alias was set
    alias_uri: str | None = None


def log_train_run(model, run_name: str | None = None, *, register: bool | str = True,
                  alias: str | None = None) -> TrainRun:
    """Log one training run (params, label, fingerprint, in-sample metrics, model) and register the model.

    Parameters
    ----------
    model : RiskModel
    run_name : str, optional
        Default ``train · <model> · <households>户 · <label> · <time>``.
    register : bool or str, default True
        Register the model as a new version of ``fanpin_risk`` (``fanpin_risk_<label>``
        for another label); a string names the registered model instead; False
        logs the model in the run only.
    alias : str, optional
        Point this alias of the registered model at the new version
        (``"champion"``: the one ``models:/fanpin_risk@champion`` loads).

    Returns
    -------
    TrainRun
        Run id, model URI, registered model name, version and alias URI.
    """
    if alias is not None:
        check_alias(alias)
        if not register:
            raise ModelError(f"alias={alias!r} needs a registered model: drop register=False")
    with _quiet_mlflow_logs():
        return _log_train_run(model, run_name, register, alias)


def _log_train_run(model, run_name: str | None, register: bool | str, alias: str | None) -> TrainRun:
    mlflow = _setup()
    meta = model.metadata
    fp = meta["data_fingerprint"]
    label = meta["label"]["definition"]
    name = register if isinstance(register, str) else registered_model_name(label) if register else None
    run_name = run_name or default_run_name("train", model.kind, households=fp.get("households"), label=label)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"model": model.kind, "kind": "train", "label": label, "label_definition": label,
                         "households": str(fp.get("households", "")), "package_version": meta["package_version"]})
        params = {"model": model.kind, "seed": meta["seed"], "train_years": meta["train_years"],
                  "n_train_rows": meta["n_train_rows"], "label": meta["label"], "params": meta["params"],
                  "data": fp, "n_features": len(model.feature_names_)}
        if "best_iteration" in meta.get("estimator", {}):
            params["best_iteration"] = meta["estimator"]["best_iteration"]
        mlflow.log_params({k: (str(v)[:500]) for k, v in _flat(params).items()})
        mlflow.log_metrics({f"train_{k}": float(v) for k, v in meta["metrics_in_sample"].items() if _finite(v)})
        sel = meta.get("selection")
        if sel and sel.get("chosen"):  # the audition: every candidate's out-of-time loss, and the choice
            mlflow.set_tag("selected", sel["chosen"])
            mlflow.log_metrics({f"audition_log_loss_{i + 1}": float(c["log_loss"])
                                for i, c in enumerate(sel["candidates"]) if _finite(c["log_loss"])})
            mlflow.log_dict(sel, "selection.json")
        mlflow.log_dict(meta, "metadata.json")
        info = log_model(mlflow, model)
        rid = run.info.run_id
    if name is None:
        return TrainRun(rid, f"runs:/{rid}/model")
    return _register(mlflow, model, info, name, rid, alias)


def _register(mlflow, model, info, name: str, rid: str, alias: str | None) -> TrainRun:
    """A new version of registered model ``name`` (created on first use) for the run's logged model."""
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        # the client, not mlflow.register_model: that one prints "already exists" on stderr every time
        client.create_registered_model(name, description=(
            "fanpin_risk next-year risk model (pyfunc: raw household-year rows in, `probability` out). "
            "Alias `champion` = the model to use (set by `fanpin-risk train --default` or `--alias champion`); "
            f"`models:/{name}/latest` = the newest version."))
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    text, tags = describe_version(model)
    mv = client.create_model_version(name, source=info.model_uri, run_id=rid, tags=tags, description=text,
                                     model_id=info.model_id)
    alias_uri = None
    if alias:
        client.set_registered_model_alias(name, alias, mv.version)
        alias_uri = f"models:/{name}@{alias}"
    return TrainRun(rid, f"models:/{name}/{mv.version}", name, str(mv.version), alias_uri)


# --------------------------------------------------------------------------- backtest runs
def log_backtest_run(result, *, model_name: str, params: dict, run_name: str | None = None, log_model_obj=None) -> str:
    """Log one backtest run for one model: headline, pooled and per-year (step=year) metrics, tables, plots.

    Returns
    -------
    str
        The run id.
    """
    with _quiet_mlflow_logs():
        return _log_backtest_run(result, model_name, params, run_name, log_model_obj)


def _backtest_metrics(result, model_name: str) -> tuple[dict, list[tuple[int, dict]]]:
    """(pooled metrics incl. the headline ``a_*`` copies, [(year, per-year metrics)]) of one model."""
    tag = result.settings.get("tag", "10pct")
    pooled: dict = {}
    for row in result.pooled[result.pooled["model"] == model_name].to_dict("records"):
        vals = {k: float(v) for k, v in row.items() if k != "model" and _finite(v)}
        # headline first: the compare view's plot starts on the first metric the store holds
        pooled.update({a: vals[a[len(PRIMARY_PREFIX):]] for a in primary_metrics(tag) if a[len(PRIMARY_PREFIX):] in vals})
        pooled.update({f"pooled_{k}": v for k, v in vals.items()})
    years = []
    for row in result.per_year[result.per_year["model"] == model_name].to_dict("records"):
        years.append((int(row["year"]), {k: float(v) for k, v in row.items() if k not in ("model", "year") and _finite(v)}))
    return pooled, years


def _log_backtest_run(result, model_name: str, params: dict, run_name: str | None, log_model_obj) -> str:
    mlflow = _setup()
    label = params.get("label", {}).get("definition", "")
    households = params.get("data", {}).get("households")
    run_name = run_name or default_run_name("backtest", model_name, households=households, label=label)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags({"model": model_name, "kind": "backtest", "label": label, "label_definition": label,
                         "households": str(households if households is not None else "")})
        mlflow.log_params({k: str(v)[:500] for k, v in _flat(params).items()})
        pooled, years = _backtest_metrics(result, model_name)
        mlflow.log_metrics(pooled)
        for yr, vals in years:
            mlflow.log_metrics(vals, step=yr)  # one batch per year: a sqlite store commits each call
        _log_tables_and_figures(mlflow, result, model_name)
        if log_model_obj is not None:
            log_model(mlflow, log_model_obj)
        return run.info.run_id


def _log_tables_and_figures(mlflow, result, model_name: str) -> None:
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
