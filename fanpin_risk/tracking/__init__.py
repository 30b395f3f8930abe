"""MLflow: the project's store, run logging, the pyfunc model and the UI server.

MLflow itself is imported only when a run is logged or the pyfunc model is
loaded, so importing this stage stays cheap.
"""

from ._runs import (
    EXPERIMENT,
    default_run_name,
    example_rows,
    find_store,
    log_backtest_run,
    log_model,
    log_train_run,
    run_url,
    store_uris,
)
from ._ui import UIError, experiment_id, resolve_store, server_command, start_server, stop_server, wait_until_up

__all__ = [
    "EXPERIMENT", "find_store", "store_uris", "run_url", "default_run_name", "example_rows", "log_model",
    "log_train_run", "log_backtest_run", "FanpinPyfunc",
    "UIError", "resolve_store", "server_command", "experiment_id", "wait_until_up", "stop_server", "start_server",
]


def __getattr__(name: str):
    # FanpinPyfunc subclasses mlflow's PythonModel: importing it imports mlflow
    # (about a second), which a batch job that never logs should not pay.
    if name == "FanpinPyfunc":
        from ._pyfunc import FanpinPyfunc

        return FanpinPyfunc
    raise AttributeError(f"module 'fanpin_risk.tracking' has no attribute {name!r}")
