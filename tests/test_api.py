"""The public API: names, docstrings, and functions that share a name with their module."""

from __future__ import annotations

import importlib

import fanpin_risk


def test_every_public_name_resolves_and_is_documented():
    for name in fanpin_risk.__all__:
        obj = getattr(fanpin_risk, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"fanpin_risk.{name} has no docstring"


def test_stage_functions_stay_functions_after_their_modules_are_imported():
    # report imports the score module, cli imports several: the package attribute
    # must remain the function whatever the import order
    for mod in ("scoring", "explain", "simulate", "contract", "evaluation", "planning", "reporting", "cli", "api"):
        importlib.import_module(f"fanpin_risk.{mod}")
    homes = {"score": "fanpin_risk.api", "explain": "fanpin_risk.explain._explain", "validate": "fanpin_risk.contract._validate",
             "backtest": "fanpin_risk.api", "scenario": "fanpin_risk.planning._scenario", "train": "fanpin_risk.api"}
    for name, home in homes.items():
        obj = getattr(fanpin_risk, name)
        assert callable(obj) and obj.__module__ == home, name
    assert callable(fanpin_risk.simulate) and not isinstance(fanpin_risk.simulate, type(fanpin_risk))
