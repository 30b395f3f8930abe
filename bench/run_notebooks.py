"""Run every notebooks/*.ipynb at full size and print each one's wall time.

    python bench/run_notebooks.py                      # FANPIN_NB_HOUSEHOLDS=5000 (the notebooks' default)
    python bench/run_notebooks.py --households 600     # CI size
    python bench/run_notebooks.py --keep out/          # also keep the executed notebooks (with outputs)

MLflow runs go to a temporary store (``MLFLOW_TRACKING_URI``) and files the
notebooks write to a temporary folder, so the project's mlruns/ is untouched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("--keep", type=Path, default=None, help="Folder for the executed notebooks.")
    ap.add_argument("names", nargs="*", help="Only notebooks whose name contains one of these.")
    a = ap.parse_args()
    paths = [p for p in sorted(NB_DIR.glob("*.ipynb")) if not a.names or any(n in p.name for n in a.names)]
    failed = 0
    print(f"households={a.households}, cpus={os.cpu_count()}")
    for p in paths:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({"FANPIN_NB_HOUSEHOLDS": str(a.households), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
                               "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
            nb = nbformat.read(p, as_version=4)
            t0 = time.perf_counter()
            try:
                NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
                status = "ok"
            except Exception as exc:  # report and go on with the others
                status, failed = f"FAILED: {str(exc).splitlines()[-1][:200] if str(exc) else type(exc).__name__}", failed + 1
            secs = time.perf_counter() - t0
            print(f"{p.name:45s} {secs:7.1f} s  {status}", flush=True)
            if a.keep:
                a.keep.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, a.keep / p.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
