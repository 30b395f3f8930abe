"""Why a household is at risk: exact contributions (the model explains itself), grouped into the official risk types, in words.

Neither :mod:`fanpin_risk.evaluation` nor this stage imports the other; scoring uses both.
"""

from ._explain import (
    RISK_TYPES,
    FeatureInfo,
    risk_type_map_path,
    feature_info,
    format_value,
    feature_frame,
    contributions,
    GUARANTEE_TYPES,
    GUARANTEES,
    failing_guarantee_types,
    group_by_risk_type,
    SHOCK_TYPES,
    attribute_to_shocks,
    main_risk_types,
    format_risk_type_contributions,
    top_factor_words,
    measures_map_path,
    load_measures_map,
    suggest_measures,
    explain,
)

__all__ = [
    "RISK_TYPES",
    "FeatureInfo",
    "risk_type_map_path",
    "feature_info",
    "format_value",
    "feature_frame",
    "contributions",
    "GUARANTEE_TYPES",
    "GUARANTEES",
    "failing_guarantee_types",
    "group_by_risk_type",
    "SHOCK_TYPES",
    "attribute_to_shocks",
    "main_risk_types",
    "format_risk_type_contributions",
    "top_factor_words",
    "measures_map_path",
    "load_measures_map",
    "suggest_measures",
    "explain",
]
