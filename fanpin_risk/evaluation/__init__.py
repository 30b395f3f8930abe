"""Out-of-time evaluation: rolling-origin splits, metrics with bootstrap intervals, equity and drift.

:func:`backtest` never imports :mod:`fanpin_risk.explain` and is not imported by
it; ``fanpin_risk.backtest`` (:func:`fanpin_risk.api.backtest`) adds MLflow runs.
"""

from fanpin_risk._metrics import (
    bootstrap_ci,
    brier,
    calibration_curve,
    equity_table,
    log_loss,
    pr_auc,
    precision_recall_at_k,
    psi,
    psi_table,
    recall_at_k_within,
    resolve_k,
    roc_auc,
    score_all,
    top_k_mask,
)

from ._backtest import BASELINES, BacktestResult, backtest, raw_contract_matrix, training_mask

__all__ = [
    "backtest", "BacktestResult", "training_mask", "BASELINES", "raw_contract_matrix",
    "roc_auc", "pr_auc", "brier", "log_loss", "calibration_curve", "resolve_k", "top_k_mask",
    "precision_recall_at_k", "recall_at_k_within", "equity_table", "psi", "psi_table", "score_all", "bootstrap_ci",
]
