"""MLflow: the project's store, run logging, the registered model, the pyfunc model and the UI server.

- Store: one tracking URI per project (:func:`store_uris`); :func:`use_store`
  (or ``export MLFLOW_TRACKING_URI=$(fanpin-risk ui --print-uri)``) points a
  fresh process at it.
- Runs: :func:`log_train_run`, :func:`log_backtest_run`, :func:`log_alerts_run` (counts only); headline metrics
  ``a_pr_auc``, ``a_recall_at_10pct``, ``a_brier``, ``a_roc_auc`` sort first.
- Registry: each logged training run's model is a version of ``fanpin_risk``;
  ``models:/fanpin_risk@champion`` is the one to use (:func:`model_uri`, :func:`set_alias`).
- Environment: the model carries the package wheel and pinned requirements (:func:`pip_requirements`).

MLflow itself is imported only when a run is logged or the pyfunc model is
loaded, so importing this stage stays cheap.
"""

from ._alerts_run import alert_metrics, log_alerts_run
from ._env import package_wheel, pip_requirements
from ._logged_model import MODEL_ARTIFACT, example_rows, log_model
from ._registry import CHAMPION, REGISTERED_MODEL, check_alias, model_uri, registered_model_name, set_alias
from ._runs import PRIMARY_PREFIX, TrainRun, default_run_name, log_backtest_run, log_train_run, primary_metrics
from ._store import EXPERIMENT, experiment_name, find_store, run_url, store_uris, use_store
from ._ui import UIError, experiment_id, resolve_store, server_command, start_server, stop_server, wait_until_up

__all__ = [
    "EXPERIMENT", "experiment_name", "find_store", "store_uris", "use_store", "run_url",
    "default_run_name", "primary_metrics", "PRIMARY_PREFIX", "TrainRun", "log_train_run", "log_backtest_run",
    "log_alerts_run", "alert_metrics",
    "MODEL_ARTIFACT", "example_rows", "log_model", "package_wheel", "pip_requirements",
    "REGISTERED_MODEL", "CHAMPION", "registered_model_name", "model_uri", "set_alias", "check_alias",
    "FanpinPyfunc",
    "UIError", "resolve_store", "server_command", "experiment_id", "wait_until_up", "stop_server", "start_server",
]


def __getattr__(name: str):
    # FanpinPyfunc subclasses mlflow's PythonModel: importing it imports mlflow
    # (about a second), which a batch job that never logs should not pay.
    if name == "FanpinPyfunc":
        from ._pyfunc import FanpinPyfunc

        return FanpinPyfunc
    raise AttributeError(f"module 'fanpin_risk.tracking' has no attribute {name!r}")
