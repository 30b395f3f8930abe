"""Every notebooks/*.ipynb is committed without outputs and runs top to bottom.

Each notebook is executed with nbclient (kernel python3 of this interpreter) at
``FANPIN_NB_HOUSEHOLDS=600``, with a tmp ``MLFLOW_TRACKING_URI`` and a tmp
working directory, so nothing is written to the project's mlruns/.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
CI_HOUSEHOLDS = "600"
#: Source patterns of a cell that draws (pandas/matplotlib/shap plotting calls).
DRAWS = re.compile(r"plt\.subplots|\.plot\(|\.plot\.|shap\.plots|\.scatter\(|plt\.show")


def test_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_quickstart", "02_bring_your_own_export", "03_backtest_and_model_comparison", "04_explanations",
            "05_intervention_planning", "07_department_alerts"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; strip with "
                       "`python bench/make_notebooks.py --strip`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_size_knob(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "code")
    assert 'N_HOUSEHOLDS = int(os.environ.get("FANPIN_NB_HOUSEHOLDS"' in first, \
        f"{path.name}: the first code cell must set N_HOUSEHOLDS from $FANPIN_NB_HOUSEHOLDS"


def run_notebook(path: Path, workdir: Path, env: dict[str, str], timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Execute ``path`` in ``workdir`` with ``env`` added; return the executed notebook and wall seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
        return nb, time.perf_counter() - t0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    from nbclient.exceptions import CellExecutionError

    env = {"FANPIN_NB_HOUSEHOLDS": CI_HOUSEHOLDS, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "MLFLOW_DISABLE_TELEMETRY": "true", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    stray = NB_DIR / "mlruns"
    had_stray = stray.exists()
    try:
        nb, secs = run_notebook(path, tmp_path, env)
    except CellExecutionError as exc:  # the message shows the failing cell and its traceback
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # a cell that draws must show its picture in the executed notebook: a library that
    # switches the kernel off the inline backend leaves such cells empty
    blank = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and DRAWS.search(c.source)
             and not any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert not blank, f"{path.name}: cells {blank} draw but show no image"
    assert had_stray or not stray.exists(), "a notebook created notebooks/mlruns instead of using the tracking URI"
    assert not (tmp_path / "mlruns").exists(), "MLflow artifacts went to the working directory, not next to the store"
    print(f"{path.name}: {secs:.1f} s")
