"""The one MLflow store of a fanpin_risk project, and how a process is pointed at it.

Tracking URI: ``$MLFLOW_TRACKING_URI`` when set, else the project's store: the
nearest ``mlruns/`` folder found walking up from the current directory (the
way git finds ``.git``, so a notebook run from ``notebooks/`` uses the project's
``mlruns/``), else ``./mlruns`` created. The store is
``sqlite:///<root>/mlruns/mlflow.db`` with artifacts under ``<root>/mlruns/artifacts``;
the model registry lives in the same database.

A process that did not log the runs itself (a fresh notebook kernel, a cron
job, ``mlflow models serve``) finds them through :func:`use_store` or
``export MLFLOW_TRACKING_URI=$(fanpin-risk ui --print-uri)``; without either,
MLflow falls back to its own default, a new empty ``./mlflow.db``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

EXPERIMENT = "fanpin_risk"

__all__ = ["EXPERIMENT", "find_store", "store_uris", "use_store", "run_url", "experiment_name"]


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


def _sqlite_artifacts(uri: str) -> str:
    # Artifacts next to the database, not in ./mlruns of whatever the cwd is.
    return (Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts").as_uri()


def store_uris(store: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """(tracking URI, artifact root URI or None) of the store that runs go to.

    Parameters
    ----------
    store : path, optional
        An ``mlruns`` folder (or the folder holding one). Default:
        ``$MLFLOW_TRACKING_URI`` when set (a ``sqlite:///`` store keeps its
        artifacts in ``artifacts/`` next to the database; other stores use
        MLflow's own default), else :func:`find_store`.

    Returns
    -------
    (str, str or None)
        The tracking (and registry) URI, and the artifact root for new experiments.
    """
    if store is None:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri and uri.startswith("sqlite:///"):
            return uri, _sqlite_artifacts(uri)
        if uri:
            return uri, None
        root = find_store()
    else:
        root = Path(store).resolve()
        if root.name != "mlruns" and (root / "mlruns").is_dir():
            root = root / "mlruns"
        (root / "artifacts").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


def use_store(store: str | os.PathLike | None = None) -> str:
    """Point this process's MLflow at the project's store; return its tracking URI.

    Call it before ``mlflow.pyfunc.load_model("models:/fanpin_risk@champion")``
    or ``mlflow.get_run(...)`` in a process that did not log the runs itself:
    MLflow would otherwise look in (and create) ``./mlflow.db``. Logging a
    train or backtest run does the same, so after ``fr.train(...)`` in a
    notebook ``runs:/`` and ``models:/`` URIs resolve without it.

    Parameters
    ----------
    store : path, optional
        As :func:`store_uris` (default ``$MLFLOW_TRACKING_URI``, else the
        nearest ``mlruns/`` above the current directory, else ``./mlruns``).

    Returns
    -------
    str
        The tracking URI now in use (the registry uses the same store), e.g.
        ``sqlite:////home/me/project/mlruns/mlflow.db``.

    Examples
    --------
    >>> from fanpin_risk import tracking
    >>> import mlflow                                           # doctest: +SKIP
    >>> uri = tracking.use_store()                              # doctest: +SKIP
    >>> mlflow.pyfunc.load_model("models:/fanpin_risk@champion")  # doctest: +SKIP
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri, artifacts = store_uris(store)
    if artifacts and artifacts.startswith("file:"):
        # a sqlite URI whose folder does not exist yet (fresh $MLFLOW_TRACKING_URI)
        Path(url2pathname(urlparse(artifacts).path)).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_name() -> str:
    """The one experiment every run goes to: ``fanpin_risk`` or ``$FANPIN_MLFLOW_EXPERIMENT``."""
    return os.environ.get("FANPIN_MLFLOW_EXPERIMENT", EXPERIMENT)


def run_url(run_id: str, experiment_id: str | None = None, *, host: str = "127.0.0.1", port: int = 5000) -> str:
    """URL of a run in the MLflow UI started by ``fanpin-risk ui`` (default host and port)."""
    if experiment_id is None:
        import mlflow

        experiment_id = mlflow.get_run(run_id).info.experiment_id
    return f"http://{host}:{port}/#/experiments/{experiment_id}/runs/{run_id}"
