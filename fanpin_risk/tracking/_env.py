"""What a logged model needs to run elsewhere: fanpin_risk as a wheel, and pinned requirements.

Left to itself MLflow writes ``fanpin-risk==0.1.0`` (on no package index) plus
whatever happens to be imported (``hypothesis`` under pytest), and misses
lightgbm. Instead every logged model carries

- ``artifacts/fanpin_risk-<version>-py3-none-any.whl``: the code that trained it,
  built with ``pip wheel --no-deps`` from the source tree (a checkout, editable
  or not) or repacked from the installed files (a wheel install);
- ``requirements.txt``: the package's declared runtime dependencies pinned to
  the versions installed here (lightgbm, pandas, numpy, pyarrow, scikit-learn,
  mlflow, pandera, openpyxl, …; never the ``test`` extra), then that wheel as
  ``./artifacts/<wheel>``, a path relative to the model folder, which is where
  MLflow's own environment restore (and ``pip install -r requirements.txt``
  run in the downloaded model folder) installs from.

A wheel built from a source tree is cached under
``$XDG_CACHE_HOME/fanpin_risk/wheels`` (``~/.cache/...``), keyed by the source
files' sizes and modification times, so only the first run after an edit pays
the build (about 3 s).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

__all__ = ["package_wheel", "pip_requirements", "DIST_NAME"]

DIST_NAME = "fanpin_risk"
_PKG = Path(__file__).resolve().parents[1]
_ROOT = _PKG.parent
_log = logging.getLogger(__name__)
_warned: set[str] = set()
#: Source paths whose content goes into the wheel (see pyproject.toml's hatch build settings).
_SOURCES = ("fanpin_risk", "data_schema", "models", "pyproject.toml", "README.md")
_KEEP_WHEELS = 3


def _source_tree() -> Path | None:
    """The checkout the running package comes from, or None for an installed copy."""
    pp = _ROOT / "pyproject.toml"
    if not pp.is_file():
        return None
    try:
        name = tomllib.loads(pp.read_text(encoding="utf-8")).get("project", {}).get("name", "")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return _ROOT if name.replace("-", "_") == DIST_NAME else None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fanpin_risk" / "wheels"


def _source_key(root: Path) -> str:
    h = hashlib.sha256()
    for name in _SOURCES:
        p = root / name
        files = [p] if p.is_file() else sorted(p.rglob("*")) if p.is_dir() else []
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                st = f.stat()
                h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _build_from_source(root: Path, out: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
           "--wheel-dir", str(out), str(root)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"`pip wheel --no-deps {root}` failed: {(done.stderr or done.stdout).strip()[-600:]}")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _repack_installed(dist: importlib.metadata.Distribution, out: Path) -> None:
    """Zip the installed package files back into a wheel (a fresh RECORD; no installer files)."""
    files = [f for f in (dist.files or []) if f.parts and f.parts[0] != ".."
             and "__pycache__" not in f.parts and f.suffix != ".pyc"]
    if not any(str(f).replace("\\", "/") == f"{DIST_NAME}/__init__.py" for f in files):
        raise RuntimeError("the installed fanpin_risk has no package files to repack (an editable install "
                           "whose source folder is gone?)")
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    drop = {f"{info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    record = []
    target = out / f"{DIST_NAME}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            arc = "/".join(f.parts)
            if arc in drop:
                continue
            data = Path(dist.locate_file(f)).read_bytes()
            z.writestr(arc, data)
            record.append(_record_line(arc, data))
        record.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")


def _cached_build(key: str, build) -> Path:
    cache = _cache_dir()
    hit = sorted((cache / key).glob("*.whl")) if (cache / key).is_dir() else []
    if hit:
        return hit[0]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        build(Path(tmp))
        built = sorted(Path(tmp).glob("*.whl"))
        if not built:
            raise RuntimeError("the wheel build wrote no .whl file")
        # another process may have finished the same key meanwhile: either copy is the same code
        staged = Path(tmp) / "staged"
        staged.mkdir()
        shutil.move(str(built[0]), staged / built[0].name)
        try:
            os.replace(staged, cache / key)
        except OSError:
            pass
    old = sorted((d for d in cache.iterdir() if d.is_dir() and d.name != key and not d.name.startswith(".")),
                 key=lambda d: d.stat().st_mtime)
    for d in old[: max(0, len(old) - _KEEP_WHEELS + 1)]:
        shutil.rmtree(d, ignore_errors=True)
    return sorted((cache / key).glob("*.whl"))[0]


def package_wheel() -> Path | None:
    """A wheel of the fanpin_risk code running now (cached), or None when none can be made.

    Returns
    -------
    pathlib.Path or None
        The wheel file. None (with one warning per process) when neither a
        source tree nor an installed copy can be packaged, e.g. ``pip wheel``
        cannot reach a package index for the build backend; the logged model
        then loads only where fanpin_risk is installed.
    """
    try:
        root = _source_tree()
        if root is not None:
            return _cached_build("src-" + _source_key(root), lambda out: _build_from_source(root, out))
        dist = importlib.metadata.distribution(DIST_NAME)
        rec = dist.read_text("RECORD") or ""
        key = f"inst-{dist.version}-{hashlib.sha256(rec.encode()).hexdigest()[:16]}"
        return _cached_build(key, lambda out: _repack_installed(dist, out))
    except (OSError, RuntimeError, subprocess.SubprocessError, importlib.metadata.PackageNotFoundError) as exc:
        if "wheel" not in _warned:
            _warned.add("wheel")
            _log.warning("fanpin_risk could not be packaged as a wheel for the logged model (%s); the model "
                         "loads only where fanpin_risk is installed", exc)
        return None


def _declared() -> list[str]:
    """The package's runtime dependencies: pyproject.toml of the source tree, else the installed metadata."""
    root = _source_tree()
    if root is not None:
        return list(tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"])
    try:
        return importlib.metadata.requires(DIST_NAME) or []
    except importlib.metadata.PackageNotFoundError:
        return []


def pip_requirements(wheel_name: str | None = None) -> list[str]:
    """``requirements.txt`` lines of a logged model: runtime dependencies pinned as installed, then the wheel.

    Parameters
    ----------
    wheel_name : str, optional
        File name of the package wheel stored in the model's ``artifacts/``
        folder; added as ``./artifacts/<wheel_name>``.

    Returns
    -------
    list of str
        E.g. ``["numpy==2.4.6", …, "lightgbm==4.7.0", …, "./artifacts/fanpin_risk-0.1.0-py3-none-any.whl"]``.
    """
    out = []
    for spec in _declared():
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra's dependency (the test tools) or another platform's
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        try:
            out.append(f"{req.name}{extras}=={importlib.metadata.version(req.name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(str(req))
    if wheel_name:
        out.append(f"./artifacts/{wheel_name}")
    return out
