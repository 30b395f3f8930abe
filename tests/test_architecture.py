"""The package's layout holds: layers only import downward, no cycles, no private reach-ins, short functions.

These are the numbers of the architecture issue, measured on the source with
``ast`` (imports inside functions included) and checked by import-linter's own
``layers`` contract from pyproject.toml.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "fanpin_risk"
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))

#: Imports of the package's own modules allowed inside functions (heavy optional dependencies).
MAX_IN_FUNCTION = 10
#: Functions allowed over 120 lines (each with a comment saying why).
MAX_LONG = 3


def _modules(pkg: Path) -> dict[str, Path]:
    out = {}
    for f in pkg.rglob("*.py"):
        parts = list(f.relative_to(pkg.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(pkg: Path):
    """(importer, imported module, imported names, inside a function?) for every package-internal import."""
    mods = _modules(pkg)
    found = []
    for m, f in mods.items():
        is_pkg = f.name == "__init__.py"

        def visit(node, in_fn):
            for ch in ast.iter_child_nodes(node):
                fn = in_fn or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef))
                if isinstance(ch, ast.ImportFrom):
                    if ch.level:
                        base = m.split(".") if is_pkg else m.split(".")[:-1]
                        base = base[: len(base) - (ch.level - 1)]
                        tgt = ".".join(base + ([ch.module] if ch.module else []))
                    else:
                        tgt = ch.module or ""
                    if tgt == "fanpin_risk" or tgt.startswith("fanpin_risk."):
                        for a in ch.names:
                            full = f"{tgt}.{a.name}"
                            found.append((m, full if full in mods else tgt, a.name, in_fn))
                elif isinstance(ch, ast.Import):
                    for a in ch.names:
                        if a.name.startswith("fanpin_risk"):
                            found.append((m, a.name, None, in_fn))
                visit(ch, fn)

        visit(ast.parse(f.read_text(encoding="utf-8")), False)
    return mods, found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_import_cycles_counting_imports_inside_functions():
    mods, found = _imports(PKG)
    graph = defaultdict(set)
    for a, b, _, _ in found:
        if b in mods and a != b:
            graph[a].add(b)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def dfs(v, path):
        state[v] = 1
        for w in graph[v]:
            if state.get(w) == 1:
                cycle.extend(path[path.index(w):] + [w])
                return True
            if w not in state and dfs(w, path + [w]):
                return True
        state[v] = 2
        return False

    for v in list(mods):
        if v not in state and dfs(v, [v]):
            break
    assert not cycle, " → ".join(cycle)


def test_few_imports_inside_functions_and_no_importlib():
    mods, found = _imports(PKG)
    inner = [(a, b) for a, b, _, fn in found if fn]
    assert len(inner) <= MAX_IN_FUNCTION, inner
    users = [m for m, f in mods.items() if m != "fanpin_risk" and "import_module" in f.read_text(encoding="utf-8")]
    assert not users, users


def test_no_private_name_taken_from_another_stage():
    _, found = _imports(PKG)
    bad = [(a, b, n) for a, b, n, _ in found
           if n and n.startswith("_") and not n.startswith("__") and _stage(a) != _stage(b)
           and not b.endswith("." + n)]  # a private module of a stage imported whole is a module, not a name
    assert not bad, bad


def test_functions_a_reader_can_hold():
    long = []
    for m, f in _modules(PKG).items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 120:
                long.append((m, node.name, node.end_lineno - node.lineno + 1))
    assert len(long) <= MAX_LONG, long


@pytest.mark.skipif(not Path(LINT).exists(), reason="import-linter is a test dependency")
def test_import_linter_contract_holds_and_catches_an_upward_import(tmp_path):
    ok = subprocess.run([LINT, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:]
    # the same package with one upward import (the contract stage importing scoring) must fail
    copy = tmp_path / "fanpin_risk"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    target = copy / "contract" / "_income.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nfrom fanpin_risk.scoring import score  # noqa\n",
                      encoding="utf-8")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    bad = subprocess.run([LINT, "--config", str(tmp_path / "pyproject.toml"), "--no-cache"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert bad.returncode != 0
    assert "fanpin_risk.contract._income -> fanpin_risk.scoring" in bad.stdout
