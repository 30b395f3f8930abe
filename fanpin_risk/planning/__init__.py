"""Planning on top of the ranked list: scenarios (shocks as data), feasible help and the follow-up list of eliminated households."""

from ._alerts import DISASTER_SHARE, RISE, alerts, apply_events, as_month, feed_effects
from ._followup import (
    cohort_backtest,
    score_followup,
)
from ._help import (
    DERIVED,
    measures_path,
    load_help_measures,
    evaluate_condition,
    apply_effects,
    feasible_help,
)
from ._scenario import (
    STEP_TYPES,
    LOWERED_TOLERANCE,
    load_shock,
    apply_shock,
    expected_relapses,
    ScenarioResult,
    scenario,
)

__all__ = [
    "alerts", "apply_events", "as_month", "feed_effects", "DISASTER_SHARE", "RISE",
    "cohort_backtest",
    "score_followup",
    "DERIVED",
    "measures_path",
    "load_help_measures",
    "evaluate_condition",
    "apply_effects",
    "feasible_help",
    "STEP_TYPES",
    "LOWERED_TOLERANCE",
    "load_shock",
    "apply_shock",
    "expected_relapses",
    "ScenarioResult",
    "scenario",
]
