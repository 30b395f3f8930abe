"""The MLflow UI server on the project's store: start, wait, stop.

``mlflow server`` (one worker: each costs about 250 MB) against the store that
:mod:`fanpin_risk.tracking` logs to; ``fanpin-risk ui`` (:mod:`fanpin_risk.cli`)
is the command around it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from fanpin_risk.errors import FanpinError

from ._store import EXPERIMENT, store_uris

__all__ = ["UIError", "resolve_store", "server_command", "experiment_id", "wait_until_up", "stop_server", "start_server"]


class UIError(FanpinError, RuntimeError):
    """The MLflow UI could not be started (port taken, store unusable, server died)."""


def resolve_store(store: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """(backend store URI, artifact root URI or None) the UI should serve.

    Parameters
    ----------
    store : path, optional
        An ``mlruns`` folder (or the folder holding one). Default: the store
        training and backtest runs go to (``$MLFLOW_TRACKING_URI``, else the
        nearest ``mlruns/`` above the current directory, else ``./mlruns``).

    Raises
    ------
    UIError
        When ``$MLFLOW_TRACKING_URI`` points at a remote server (open that
        server's own UI instead) and no ``store`` is given.
    """
    uri, artifacts = store_uris(store)
    if uri.startswith(("http://", "https://", "databricks")):
        raise UIError(f"MLFLOW_TRACKING_URI={uri} is a tracking server: open its own UI in a browser, "
                      "or pass --store PATH to serve a local mlruns folder")
    if artifacts is None and uri.startswith("sqlite:///"):
        # Same layout as tracking.store_uris: artifacts next to the database.
        artifacts = (Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts").as_uri()
    return uri, artifacts


def server_command(backend_uri: str, artifact_root: str | None, *, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
    """The ``mlflow server`` command line (one worker, artifacts read from the local store)."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
           "--host", host, "--port", str(port), "--workers", "1"]
    if artifact_root:
        # Runs store file:// artifact locations; the server reads them directly,
        # so no artifact proxy (and no ./mlartifacts folder) is needed.
        cmd += ["--default-artifact-root", artifact_root, "--no-serve-artifacts"]
    return cmd


def experiment_id(backend_uri: str, name: str | None = None) -> str | None:
    """Id of the project's experiment in the store, or None when it has no runs yet."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    name = name or os.environ.get("FANPIN_MLFLOW_EXPERIMENT", EXPERIMENT)
    try:
        exp = MlflowClient(tracking_uri=backend_uri).get_experiment_by_name(name)
    except Exception:  # an empty or new store: the server creates the tables
        return None
    return None if exp is None else exp.experiment_id


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server binds: a port left in TIME_WAIT by a UI stopped a moment ago is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_up(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> bool:
    """Poll ``url`` until it answers 200 (True), the process exits or ``timeout`` passes (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def stop_server(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate the server and its workers (its own process group), then reap it."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def start_server(store: str | os.PathLike | None = None, *, host: str = "127.0.0.1", port: int = 5000,
                 timeout: float = 60.0, log_path: str | os.PathLike | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow server`` on the project's store and wait until it answers.

    Parameters
    ----------
    store : path, optional
        See :func:`resolve_store`.
    host, port : str, int
        Where to listen (default local only: 127.0.0.1:5000).
    timeout : float
        Seconds to wait for the server to answer ``/health``.
    log_path : path, optional
        File for the server's own output (default a temporary file).

    Returns
    -------
    (subprocess.Popen, str)
        The server process (stop it with :func:`stop_server`) and the UI URL,
        pointing at the project's experiment when it exists.

    Raises
    ------
    UIError
        Port in use, or the server exited or did not answer within ``timeout``
        (the message names its log file).
    """
    backend, artifacts = resolve_store(store)
    if not _port_free(host, port):
        raise UIError(f"port {port} on {host} is in use (another MLflow UI?): pass --port with a free port")
    log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="fanpin-mlflow-ui-", suffix=".log")[1])
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    with open(log_path, "ab") as log:
        # Own session: Ctrl-C in the terminal reaches only the CLI, which then
        # stops the whole server group itself (no worker left behind).
        proc = subprocess.Popen(server_command(backend, artifacts, host=host, port=port), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    base = f"http://{host}:{port}"
    try:
        up = wait_until_up(f"{base}/health", proc, timeout)
    except BaseException:  # Ctrl-C while waiting: leave no server behind
        stop_server(proc)
        raise
    if not up:
        stop_server(proc)
        tail = Path(log_path).read_text(errors="replace")[-1500:]
        raise UIError(f"the MLflow server did not start on {base} within {timeout:.0f} s; its log ({log_path}) ends:\n{tail}")
    exp = experiment_id(backend)
    return proc, f"{base}/#/experiments/{exp}/runs" if exp is not None else base
