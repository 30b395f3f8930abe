"""CLI command ``ui``: the MLflow UI on the project's store (registered by ``cli/_app.py``).

``fanpin-risk ui`` starts ``mlflow server`` (one worker: each costs about
250 MB) against the store that :mod:`fanpin_risk.tracking` logs to, prints the
URL of the experiment page, and on Ctrl-C stops the server and exits quietly.
``fanpin-risk ui --print-uri`` prints only the tracking URI of that store, for
``export MLFLOW_TRACKING_URI=$(fanpin-risk ui --print-uri)`` in a shell or cron job.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fanpin_risk.tracking import UIError, resolve_store, start_server, stop_server


def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    host: Annotated[str, typer.Option(help="Interface to bind (127.0.0.1 = this machine only).")] = "127.0.0.1",
    store: Annotated[Optional[Path], typer.Option(help="mlruns folder to serve (default: $MLFLOW_TRACKING_URI, "
                                                       "else the nearest mlruns/ above the current directory).")] = None,
    print_uri: Annotated[bool, typer.Option("--print-uri", help="Print the store's tracking URI and exit: "
                                            "export MLFLOW_TRACKING_URI=$(fanpin-risk ui --print-uri).")] = False,
) -> None:
    """Open the MLflow UI on the project's runs, to compare models (Ctrl-C stops it)."""
    if print_uri:
        try:
            uri, _ = resolve_store(store)
        except UIError:  # a remote server: that URI is the one to export
            uri = os.environ["MLFLOW_TRACKING_URI"]
        # plain print, no rich markup or wrapping: the line is read by $(...)
        print(uri)
        return
    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    console = Console()
    # Ctrl-C and `kill` both stop the server cleanly; SIGINT is reset in case the
    # shell started us with it ignored (background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with console.status("starting the MLflow UI …"):
            proc, url = start_server(store, host=host, port=port)
    except UIError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    console.print(f"MLflow UI: [bold]{url}[/bold]")
    console.print("Compare models: tick the backtest runs, then Compare. Ctrl-C stops the server.")
    try:
        while proc.poll() is None:
            time.sleep(0.5)
        console.print(f"[red]the MLflow server exited (code {proc.returncode})[/red]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        stop_server(proc)
        console.print("MLflow UI stopped.")
    finally:
        stop_server(proc)
