"""Risk models with one interface ("rule", "scorecard", "lightgbm"): estimators, calibration, saving and loading.

:func:`train` fits a :class:`RiskModel` on a canonical panel; a RiskModel
predicts, explains itself (:meth:`RiskModel.contributions`) and saves to a
checksummed directory that :func:`load_model` reads back. :func:`resolve_model`
is how every later stage turns ``model=`` into a model.
"""

from ._models import (
    AUDITION,
    AUDITION_MAX_ROWS,
    CALIBRATION,
    CALIBRATION_FOLDS,
    CALIBRATIONS,
    booster_calibrator,
    anchor_platt,
    audition,
    EARLY_STOPPING,
    LGB_DEFAULTS,
    MAX_TREES,
    MODEL_KINDS,
    MONOTONE,
    SCHEMA_VERSION,
    RiskModel,
    fit_on_features,
    fit_platt,
    lgb_params,
    load_model,
    resolve_model,
    train,
)

__all__ = [
    "train", "load_model", "resolve_model", "RiskModel", "fit_on_features", "fit_platt", "lgb_params",
    "audition", "anchor_platt", "AUDITION", "AUDITION_MAX_ROWS", "CALIBRATION", "CALIBRATION_FOLDS",
    "CALIBRATIONS", "booster_calibrator",
    "MODEL_KINDS", "LGB_DEFAULTS", "MAX_TREES", "EARLY_STOPPING", "MONOTONE", "SCHEMA_VERSION",
]
