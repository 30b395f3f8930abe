"""Department feeds (部门筛查预警) as data: the kinds of ``data_schema/feeds.csv`` and their fields.

Each kind (medical_bill, education_cost, disaster_victim, ...) has its field table
``data_schema/feeds/<kind>.csv`` with the columns of ``household_year.csv``; the
header machinery reads it as table ``"feed:<kind>"`` (:func:`feed_table`), so
:func:`~fanpin_risk.contract.fields`, :func:`~fanpin_risk.contract.header_map` and
:func:`~fanpin_risk.contract.canonical_dtypes` work for feeds as for the panel.
"""

from __future__ import annotations

import csv
from functools import lru_cache

import pandas as pd

from fanpin_risk.errors import ContractError

from ._schema import FEED_PREFIX, FEEDS, canonical_dtypes, fields, header_map, schema_dir

__all__ = ["feed_kinds", "feed_fields", "feed_table", "feed_dtypes", "FEED_COMMON", "FEED_PREFIX", "FEEDS"]

#: Fields every feed has (the kind's own fields stand between list_month and township).
FEED_COMMON = ("id_number", "event_month", "list_month", "township", "village")


@lru_cache(maxsize=None)
def feed_kinds() -> pd.DataFrame:
    """The feed index ``data_schema/feeds.csv``: one row per kind.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind, zh_name, department, event, threshold_field, threshold,
        threshold_exited, description``; thresholds are float (NaN when the kind has none).

    Examples
    --------
    >>> k = feed_kinds().set_index("kind")
    >>> k.at["medical_bill", "department"], float(k.at["medical_bill", "threshold"])
    ('医保局', 20000.0)
    """
    with (schema_dir() / "feeds.csv").open(encoding="utf-8", newline="") as fh:
        df = pd.DataFrame(list(csv.DictReader(fh))).astype(object)
    for c in ("threshold", "threshold_exited"):
        df[c] = pd.to_numeric(df[c].replace("", None)).astype("float64")
    if df["kind"].duplicated().any():
        raise ContractError("data_schema/feeds.csv repeats a kind")
    return df


def _check_kind(kind: str) -> str:
    kinds = list(feed_kinds()["kind"])
    if kind not in kinds:
        raise ContractError(f"unknown feed kind {kind!r}; known kinds: {', '.join(kinds)}")
    return kind


def feed_table(kind: str) -> str:
    """Table name of a feed kind for the contract functions: ``"feed:<kind>"``.

    Examples
    --------
    >>> feed_table("unsafe_house")
    'feed:unsafe_house'
    """
    return FEED_PREFIX + _check_kind(kind)


def feed_fields(kind: str) -> pd.DataFrame:
    """Field table of feed ``kind`` (``data_schema/feeds/<kind>.csv``), as :func:`~fanpin_risk.contract.fields` gives it.

    Examples
    --------
    >>> list(feed_fields("unsafe_house")["field"])
    ['id_number', 'event_month', 'list_month', 'appraisal', 'township', 'village']
    """
    return fields(feed_table(kind))


def feed_dtypes(kind: str) -> dict[str, str]:
    """Canonical dtype of each field of feed ``kind`` (see :func:`~fanpin_risk.contract.canonical_dtypes`)."""
    return canonical_dtypes(feed_table(kind))


def _check_files() -> None:
    """Every kind of the index has its field table with the common fields, and no table is left over."""
    kinds = set(feed_kinds()["kind"])
    files = {p.stem for p in (schema_dir() / "feeds").glob("*.csv")}
    if kinds != files:
        raise ContractError(f"data_schema/feeds.csv and data_schema/feeds/ disagree: kinds without a table "
                            f"{sorted(kinds - files)}, tables without a kind {sorted(files - kinds)}")
    for k in sorted(kinds):
        missing = set(FEED_COMMON) - set(feed_fields(k)["field"])
        if missing:
            raise ContractError(f"data_schema/feeds/{k}.csv lacks the common field(s) {sorted(missing)}")
    header_map(FEEDS)  # the union: one header may not name two fields
