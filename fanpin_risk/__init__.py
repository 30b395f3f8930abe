"""fanpin_risk — next-year poverty relapse risk for rural households in China.

Predicts which households in the anti-relapse monitoring system (防止返贫动态监测)
will fall, or fall back, into poverty (返贫/致贫) in the coming year, explains each
prediction in the policy's risk types and ranks households for visits.

The public API is imported lazily, so ``import fanpin_risk`` stays fast and a
batch job that only reads data does not pay for MLflow or SHAP. ``fanpin_risk.score``,
``.explain``, ``.simulate``, ``.validate``, ``.backtest`` and ``.scenario`` are always the functions;
import from their modules (``from fanpin_risk.explain import group_by_risk_type``) for the rest.

Main entry points
-----------------
simulate(...)          synthetic monitoring panel in the data contract (the embedded default data)
read_panel(path, ...)  read and validate a real export (Excel/CSV/parquet, Chinese or English headers)
validate(df)           contract and plausibility checks of a canonical household-year frame
load_sample()          the 500-household sample that ships with the package
make_labels(panel)     next-year relapse labels (censored where year t+1 is missing)
PanelFeatures          scikit-learn transformer: history features dated at or before t
train(panel, ...)      fit a RiskModel ("lightgbm", "scorecard" or "rule")
backtest(panel, ...)   rolling-origin, out-of-time evaluation of several models
load_model(path)       load a saved RiskModel (checksummed, no pickle)
score(records, ...)    ranked list of the latest year with risk tier, reasons and suggested measures
explain(records, ...)  shap.Explanation for beeswarm and waterfall plots
scenario(records, shock)  re-score the latest year under a described shock (epidemic, flood, ...)
feasible_help(records)    the single feasible measure that lowers each household's predicted risk most
score_followup(records)   ranked follow-up list of households whose risk was eliminated (跟踪回访)
lookup_line(df)        monitoring line in force for each row
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "read_panel": "read",
    "validate": "validate",
    "ValidationReport": "validate",
    "simulate": "simulate",
    "write_sample": "simulate",
    "load_sample": "datasets",
    "make_labels": "labels",
    "PanelFeatures": "features",
    "train": "models",
    "load_model": "models",
    "RiskModel": "models",
    "backtest": "backtest",
    "BacktestResult": "backtest",
    "score": "score",
    "explain": "explain",
    "write_workbook": "report",
    "write_html_report": "report",
    "scenario": "scenario",
    "ScenarioResult": "scenario",
    "feasible_help": "counterfactual",
    "cohort_backtest": "cohort",
    "score_followup": "cohort",
    "lookup_line": "contract",
    "load_lines": "contract",
    "FanpinError": "errors",
    "ContractError": "errors",
    "ReadError": "errors",
    "MissingLineError": "errors",
    "ModelError": "errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - static typing only
    from .backtest import BacktestResult, backtest
    from .contract import load_lines, lookup_line
    from .datasets import load_sample
    from .errors import ContractError, FanpinError, MissingLineError, ModelError, ReadError
    from .features import PanelFeatures
    from .labels import make_labels
    from .models import RiskModel, load_model, train
    from .read import read_panel
    from .report import write_html_report, write_workbook
    from .score import score
    from .scenario import ScenarioResult, scenario
    from .counterfactual import feasible_help
    from .cohort import cohort_backtest, score_followup
    from .explain import explain
    from .simulate import simulate, write_sample
    from .validate import ValidationReport, validate


class _Package(types.ModuleType):
    # Five stages share their name with their main function (score.score, ...).
    # Python's import system sets ``fanpin_risk.<submodule>`` to the module object
    # when a submodule is first imported, which would turn ``fanpin_risk.score``
    # from a function into a module depending on import order. Keep the function.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTION_OVER_MODULE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


_FUNCTION_OVER_MODULE = frozenset({"score", "explain", "simulate", "validate", "backtest", "scenario"})
sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'fanpin_risk' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
