"""One canonical panel, read once, and what is computed from it: labels and features.

Every later stage takes the frame :func:`as_panel` returns; :func:`select_year`
is the shared first step of scoring and explaining.
"""

from ._cohort import ALL_PARTS, COHORTS, PRE_TRANSFER_PART, eliminated_cohort, next_rows, reentry_labels
from ._features import (CATEGORICAL, EXPECTED_FAILED_CHECKS, INPUT_COLUMNS, LINE_CHANGE, PanelFeatures, forward_line,
                        line_counts, line_growth, line_schedule, next_year_lines)
from ._labels import (DEFINITIONS, GUARANTEES, PARTS, assistance_income, describe_definition, label_parts, make_labels,
                      net_income_per_capita, pre_transfer_income_per_capita)
from ._panel import YearSelection, as_panel, data_fingerprint, is_canonical, select_year

__all__ = [
    "as_panel", "is_canonical", "data_fingerprint", "select_year", "YearSelection",
    "make_labels", "label_parts", "describe_definition", "net_income_per_capita", "DEFINITIONS", "PARTS", "GUARANTEES",
    "ALL_PARTS", "PRE_TRANSFER_PART", "assistance_income", "pre_transfer_income_per_capita",
    "reentry_labels", "eliminated_cohort", "next_rows", "COHORTS",
    "PanelFeatures", "INPUT_COLUMNS", "CATEGORICAL", "EXPECTED_FAILED_CHECKS",
    "LINE_CHANGE", "line_schedule", "line_counts", "line_growth", "forward_line", "next_year_lines",
]
