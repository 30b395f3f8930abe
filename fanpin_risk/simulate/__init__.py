"""simulate: the embedded panel simulator (the project's default data set)."""

from ._calibration import monitoring_line_table
from ._codes import (
    CATEGORIES,
    EDUCATION,
    HOUSEHOLD_TYPES,
    LABOR,
    PLACES,
    RELATIONS,
    RISK_TYPES,
    SCHOOL,
    SEXES,
)
from ._causes import CAUSE_MIN_DROP, CAUSES
from ._feeds import FEED_KINDS, FEED_NOISE, FeedSet, simulate_feeds, synthetic_id_numbers, write_feeds
from ._simulate import WORLDS, simulate, simulate_world, write_sample

__all__ = [
    "HOUSEHOLD_TYPES",
    "CATEGORIES",
    "RISK_TYPES",
    "RELATIONS",
    "SEXES",
    "EDUCATION",
    "SCHOOL",
    "LABOR",
    "PLACES",
    "monitoring_line_table",
    "CAUSES",
    "CAUSE_MIN_DROP",
    "simulate",
    "simulate_world",
    "WORLDS",
    "write_sample",
    "FeedSet",
    "FEED_KINDS",
    "FEED_NOISE",
    "synthetic_id_numbers",
    "simulate_feeds",
    "write_feeds",
]
