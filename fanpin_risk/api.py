"""The user-facing entry points: the core stages plus Dask dispatch and MLflow logging.

Like triage's ``experiments/``, this module only orchestrates: the core
:func:`fanpin_risk.models.train`, :func:`fanpin_risk.evaluation.backtest` and
:func:`fanpin_risk.scoring.score` know nothing of Dask or MLflow; the functions
here add ``client=`` (a Dask DataFrame goes to :mod:`fanpin_risk.scale`) and
run logging (:mod:`fanpin_risk.tracking`). ``fanpin_risk.train``,
``fanpin_risk.backtest``, ``fanpin_risk.cohort_backtest`` and
``fanpin_risk.score`` are these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fanpin_risk import evaluation, io, models, planning, reporting, scoring
from fanpin_risk.errors import ContractError
from fanpin_risk.evaluation import BacktestResult
from fanpin_risk.models import RiskModel
from fanpin_risk.panel import as_panel, data_fingerprint
from fanpin_risk.scale import is_dask, score_dask, train_dask
from fanpin_risk.tracking import check_alias, log_backtest_run, log_train_run

__all__ = ["train", "backtest", "cohort_backtest", "score"]


def train(panel, model: str = "lightgbm", label: str = "relapse", *, seed: int = 0, params: dict | None = None,
          log_to_mlflow: bool = True, run_name: str | None = None, register: bool | str = True,
          alias: str | None = None, client=None, **kwargs) -> RiskModel:
    """Fit a risk model (:func:`fanpin_risk.models.train`), on Dask when given a Dask DataFrame, and log the run.

    Parameters
    ----------
    panel : DataFrame, path or dask DataFrame
        Household-year records, English or Chinese headers.
    model, label, seed, params, **kwargs
        As :func:`fanpin_risk.models.train` (``horizon``, ``label_parts``,
        ``label_rule``, ``lines``, ``feature_params``).
    log_to_mlflow : bool, default True
        Log a run (params, data fingerprint, model) to the project's MLflow store
        and register the model (``docs/notebooks.md``, "MLflow").
    run_name : str, optional
        MLflow run name (default ``train · <model> · <households>户 · <label> · <time>``).
    register : bool or str, default True
        With ``log_to_mlflow``: register the model as a new version of
        ``fanpin_risk`` (``fanpin_risk_<label>`` for another label), or of the
        registered model named by the string; False keeps it in the run only.
    alias : str, optional
        Point this alias at the new version, e.g. ``"champion"`` (what
        ``models:/fanpin_risk@champion`` loads) or ``"challenger"``.
    client : distributed.Client, optional
        With a Dask DataFrame ``panel``: the cluster (see
        :func:`fanpin_risk.scale.train_dask` for how that model differs).

    Returns
    -------
    RiskModel
        Logged: ``mlflow_run_id`` and ``mlflow_model_uri`` (``models:/fanpin_risk/<version>``)
        are set, and ``mlflow_alias_uri`` when ``alias`` was given.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> m = fr.train(fr.simulate(n_households=300, seed=1), model="rule", log_to_mlflow=False)
    >>> m.kind
    'rule'
    """
    if alias is not None:
        check_alias(alias)  # before the training time is spent
    if is_dask(panel):  # features per partition, trees with lightgbm.DaskLGBMClassifier
        keep = {k: v for k, v in kwargs.items() if k in ("horizon", "lines", "feature_params")}
        rm = train_dask(panel, model, label, client=client, seed=seed, params=params, **keep)
    else:
        rm = models.train(panel, model, label, seed=seed, params=params, **kwargs)
    if log_to_mlflow:
        logged = log_train_run(rm, run_name=run_name, register=register, alias=alias)
        rm.mlflow_run_id, rm.mlflow_model_uri, rm.mlflow_alias_uri = logged.run_id, logged.model_uri, logged.alias_uri
    return rm


def _log_backtest(res: BacktestResult, df: pd.DataFrame, params: dict | None) -> None:
    fp = data_fingerprint(df)
    params = params or {}
    for m in res.settings["models"]:
        res.run_ids[m] = log_backtest_run(
            res, model_name=m,
            params={"model": m, "label": res.label_definition, "data": fp, "settings": {
                k: v for k, v in res.settings.items() if k != "models"}, "params": params.get(m, {})})


def _cause_check(df: pd.DataFrame, causes: pd.DataFrame, *, seed: int, budget: float = 0.10):
    """Named main type against the cause record, per year of the record (a model of the years before each)."""
    rows, confusion = [], {}
    years = pd.to_numeric(df["year"], errors="coerce")
    for y in sorted(int(v) for v in pd.unique(causes["year"])):
        if not (years < y).any() or not (years == y).any():
            continue
        m = models.train(df[years < y], "lightgbm", seed=seed)
        ranked = scoring.score(df[years <= y], m, year=y, budget=budget, reasons="budget")
        acc = scoring.cause_accuracy(ranked, causes[causes["year"] == y])
        rows.append({"year": y, **acc.summary})
        confusion[y] = acc.confusion
    cols = ["year", "listed", "with_cause", "main_is_true", "true_in_first_two", "other_named"]
    return pd.DataFrame(rows, columns=cols), confusion


def backtest(panel, models=("rule", "scorecard", "lightgbm"), *args, log_to_mlflow: bool = True,
             lines=None, params: dict | None = None, causes: pd.DataFrame | None = None,
             **kwargs) -> BacktestResult:
    """Rolling-origin backtest (:func:`fanpin_risk.evaluation.backtest`), one MLflow run per model.

    Parameters
    ----------
    panel : DataFrame or path
    models : sequence of {"rule", "scorecard", "lightgbm"}
    log_to_mlflow : bool, default True
        One MLflow run per model, tagged with model, kind and label.
    lines, params, *args, **kwargs
        As :func:`fanpin_risk.evaluation.backtest`.
    causes : DataFrame, optional
        The simulator's cause record (``simulate(..., return_causes=True)``). For each of its years
        that has earlier years, LightGBM (with the audition) is trained on those, the year is scored
        with reasons for the top 10 %, and the named main types are compared with the true causes
        (:func:`fanpin_risk.scoring.cause_accuracy`): ``result.cause_accuracy``, ``result.cause_confusion``,
        and a ``cause_accuracy`` table in the MLflow runs.

    Returns
    -------
    BacktestResult

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> res = fr.backtest(fr.simulate(n_households=300, seed=1), models=("rule",), n_boot=0,
    ...                   log_to_mlflow=False, progress=False, figures=False)
    >>> sorted(res.pooled["model"])  # the baselines are always shown beside the models
    ['lightgbm_raw', 'persistence', 'rule']
    """
    df = as_panel(panel, lines=lines)  # read once; the core takes the canonical frame as it is
    res = evaluation.backtest(df, models, *args, lines=lines, params=params, **kwargs)
    if causes is not None:
        res.cause_accuracy, res.cause_confusion = _cause_check(df, causes, seed=int(kwargs.get("seed", 0)))
    if log_to_mlflow:
        _log_backtest(res, df, params)
    return res


def cohort_backtest(panel, models=("rule", "scorecard", "lightgbm"), *, log_to_mlflow: bool = True,
                    lines=None, params: dict | None = None, **kwargs) -> BacktestResult:
    """Backtest on the eliminated cohort (:func:`fanpin_risk.planning.cohort_backtest`), logged to MLflow.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> res = fr.cohort_backtest(fr.simulate(n_households=400, seed=2), models=("rule",), n_boot=0,
    ...                          log_to_mlflow=False, progress=False, figures=False)
    >>> res.settings["cohort"]
    'eliminated'
    """
    df = as_panel(panel, lines=lines)
    res = planning.cohort_backtest(df, models, lines=lines, params=params, **kwargs)
    if log_to_mlflow:
        _log_backtest(res, df, params)
    return res


def score(records: Any, model: Any = None, *, client: Any = None, **kwargs) -> pd.DataFrame:
    """Ranked list of the latest year (:func:`fanpin_risk.scoring.score`); a Dask DataFrame is scored by partition.

    Parameters
    ----------
    records : DataFrame, path or dask DataFrame
    model : RiskModel, path or None
        None loads the packaged default model.
    client : distributed.Client, optional
        With a Dask DataFrame of records: the cluster to score on (default the
        current client); same result as in memory (``docs/scale.md``).
    **kwargs
        As :func:`fanpin_risk.scoring.score` (``year``, ``budget``, ``quota_by``,
        ``reasons``, ``lines``, ``headers``, ``measures``, ``tier_cutoffs``,
        ``attribute_shocks``).

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> ranked = fr.score(fr.simulate(n_households=200, seed=1), budget=0.1)
    >>> int(ranked["in_budget"].sum())
    20
    """
    if is_dask(records):  # past one machine: see fanpin_risk.scale
        return score_dask(records, model, client=client, **kwargs)
    if client is not None:
        raise ContractError("client= is for a Dask DataFrame of records; pass a pandas frame without client=")
    return scoring.score(records, model, **kwargs)


@dataclass
class AlertResult:
    """What :func:`alerts` found: the alert list, every feed row's match, and the people not in the roster.

    Attributes
    ----------
    alerts : DataFrame
        One row per alerted household (:func:`fanpin_risk.planning.alerts`).
    matches : DataFrame
        Every feed row with its status (matched / not_in_roster / duplicate / bad_id); person hashes, never numbers.
    outside : DataFrame
        People named by a list but not in the roster, counted by township, village and list.
    reports : dict
        The read report of each feed and of the roster (counts only).
    run_id : str or None
        The MLflow run of ``log_to_mlflow=True`` (counts only; see :func:`fanpin_risk.tracking.log_alerts_run`).
    """

    alerts: pd.DataFrame
    matches: pd.DataFrame
    outside: pd.DataFrame
    reports: dict = field(default_factory=dict)
    run_id: str | None = None

    def to_excel(self, path) -> Path:
        """Write the alert workbook for township staff (sheets 预警名单, 名单外人员, 匹配情况)."""
        return reporting.write_alerts_workbook(self.alerts, path, matches=self.matches, outside=self.outside)


def alerts(panel, feeds, model: Any = None, *, roster, as_of, salt: str | None = None, salt_file=None,
           previous: pd.DataFrame | None = None, log_to_mlflow: bool = False, run_name: str | None = None,
           **kwargs) -> AlertResult:
    """Alerts within the year from department push lists (部门筛查预警): read, match, apply, re-score.

    Parameters
    ----------
    panel : DataFrame or path
        The annual household records (history included).
    feeds : path, DataFrame or list of them
        Push lists as the departments send them (xlsx/CSV, GBK, Chinese headers), or frames
        already read with :func:`fanpin_risk.io.read_feed`.
    model : RiskModel, path or None
        The annual list's model (default: the packaged model).
    roster : path or DataFrame
        The member sheet with ID-card numbers (hashed at read time), or a roster frame of
        :func:`fanpin_risk.io.read_roster`.
    as_of : month
        E.g. ``"2026-06"``: events and lists after it are left out.
    salt, salt_file : optional
        The county's salt (else ``FANPIN_SALT`` / ``FANPIN_SALT_FILE``; see docs/alerts.md). The same
        salt must hash the roster and the feeds.
    previous : DataFrame, optional
        An earlier alert list, so that a household already alerted is not "新预警" again.
    log_to_mlflow : bool, default False
        Log the month's counts (match results, ID issues, alerts, triggers, per list and
        township) to the project's MLflow store, to compare months in the UI. Nothing
        row-level is logged. ``run_name`` names the run.
    **kwargs
        As :func:`fanpin_risk.planning.alerts` (``year``, ``visit_within_days``, ``lines``).

    Returns
    -------
    AlertResult
    """
    reports = {}
    if isinstance(roster, pd.DataFrame) and "person_hash" in roster.columns:
        ros = roster
    else:
        ros, reports["roster"] = io.read_roster(roster, salt=salt, salt_file=salt_file)
    read = []
    for i, f in enumerate(feeds if isinstance(feeds, (list, tuple)) else [feeds]):
        if isinstance(f, pd.DataFrame) and "person_hash" in f.columns:
            read.append(f)
        else:
            frame, reports[f"feed {i + 1}"] = io.read_feed(f, salt=salt, salt_file=salt_file)
            read.append(frame)
    matches = io.match_feeds(read, ros)
    resolved = models.resolve_model(model)  # once: the alerts and the run's parameters read the same model
    out = planning.alerts(panel, matches, resolved, as_of=as_of, previous=previous, **kwargs)
    res = AlertResult(out, matches, io.unmatched_by_township(matches), reports)
    if log_to_mlflow:
        from fanpin_risk import tracking

        md = resolved.metadata
        params = {"model": "packaged" if model is None else str(md.get("model")),
                  "model_data_sha256": str(md.get("data_fingerprint", {}).get("sha256", ""))[:16],
                  "model_train_years": md.get("train_years"), "feeds": len(read), "roster_members": len(ros),
                  **{k: v for k, v in kwargs.items() if k in ("year", "visit_within_days")}}
        res.run_id = tracking.log_alerts_run(out, matches, res.outside, as_of=str(as_of), params=params,
                                             run_name=run_name)
    return res
