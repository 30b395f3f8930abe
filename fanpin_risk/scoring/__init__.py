"""The ranked list: :func:`score` = select the year → predict → rank, budget, tiers → reasons → columns.

The ranking, budget and tier step (:mod:`fanpin_risk.scoring._rank`) is shared
with the Dask scorer in :mod:`fanpin_risk.scale`.
"""

from ._cause_check import CauseAccuracy, cause_accuracy, named_types
from ._rank import TIER_CUTOFFS, TIERS, assign_tiers, budget_mask, in_budget_ranked, rank_order
from ._score import NOT_EXPLAINED, REASONS_ALL_MAX, SCORE_COLUMNS, SCORE_COLUMNS_ZH, STATUS_ZH, score, to_headers

__all__ = [
    "score", "to_headers", "SCORE_COLUMNS", "SCORE_COLUMNS_ZH", "STATUS_ZH", "REASONS_ALL_MAX", "NOT_EXPLAINED",
    "TIER_CUTOFFS", "TIERS", "rank_order", "in_budget_ranked", "budget_mask", "assign_tiers",
    "cause_accuracy", "CauseAccuracy", "named_types",
]
