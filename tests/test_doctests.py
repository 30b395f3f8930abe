"""The docstring examples of the public API run (on the installed package, as a user would import it)."""

import doctest
import importlib
import pkgutil

import pytest

import fanpin_risk

# the two entry-point files run code on import (the CLI, MLflow's models-from-code)
MODULES = [m.name for m in pkgutil.walk_packages(fanpin_risk.__path__, "fanpin_risk.")
           if not m.name.endswith(("__main__", "_pyfunc_entry"))]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
