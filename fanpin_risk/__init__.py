"""fanpin_risk — next-year poverty relapse risk for rural households in China.

Predicts which households in the anti-relapse monitoring system (防止返贫动态监测)
will fall, or fall back, into poverty (返贫/致贫) in the coming year, explains each
prediction in the policy's risk types and ranks households for visits.

The public API is imported lazily, so ``import fanpin_risk`` stays fast and a
batch job that only reads data does not pay for MLflow or SHAP. ``fanpin_risk.score``,
``.explain``, ``.simulate``, ``.validate``, ``.backtest`` and ``.scenario`` are always the functions;
import the rest from their stage (``from fanpin_risk.explain import group_by_risk_type``); the
stages and their order are drawn in ``docs/architecture.md``.

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
alerts(panel, feeds, roster=, as_of=)  alerts within the year from department push lists (部门筛查预警)
lookup_line(df)        monitoring line in force for each row
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY: dict[str, str] = {
    "read_panel": "io",
    "load_sample": "io",
    "validate": "contract",
    "ValidationReport": "contract",
    "lookup_line": "contract",
    "load_lines": "contract",
    "simulate": "simulate",
    "write_sample": "simulate",
    "make_labels": "panel",
    "PanelFeatures": "panel",
    "load_model": "models",
    "RiskModel": "models",
    "BacktestResult": "evaluation",
    "explain": "explain",
    "train": "api",
    "backtest": "api",
    "score": "api",
    "cohort_backtest": "api",
    "alerts": "api",
    "AlertResult": "api",
    "write_workbook": "reporting",
    "write_html_report": "reporting",
    "scenario": "planning",
    "ScenarioResult": "planning",
    "feasible_help": "planning",
    "score_followup": "planning",
    "FanpinError": "errors",
    "ContractError": "errors",
    "ReadError": "errors",
    "MissingLineError": "errors",
    "ModelError": "errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover - static typing only
    from .api import AlertResult, alerts, backtest, cohort_backtest, score, train
    from .contract import ValidationReport, load_lines, lookup_line, validate
    from .errors import ContractError, FanpinError, MissingLineError, ModelError, ReadError
    from .evaluation import BacktestResult
    from .explain import explain
    from .io import load_sample, read_panel
    from .models import RiskModel, load_model
    from .panel import PanelFeatures, make_labels
    from .planning import ScenarioResult, feasible_help, scenario, score_followup
    from .reporting import write_html_report, write_workbook
    from .simulate import simulate, write_sample


class _Package(types.ModuleType):
    # Two stages share their name with their main function (explain.explain,
    # simulate.simulate).
    # Python's import system sets ``fanpin_risk.<submodule>`` to the module object
    # when a submodule is first imported, which would turn ``fanpin_risk.score``
    # from a function into a module depending on import order. Keep the function.
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTION_OVER_MODULE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


_FUNCTION_OVER_MODULE = frozenset({"explain", "simulate"})
sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'fanpin_risk' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
