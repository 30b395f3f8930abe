"""io: read county monitoring exports into the canonical household-year frame.

:func:`read_panel` reads an export (Excel, CSV, parquet or a DataFrame, with a
member sheet or not), :func:`load_sample` the sample that ships with the package.
The reading rules, in the order they apply:

Values
    Booleans 是/否 (spaces ignored), true/false, 1/0, Y/N, √/× (:func:`parse_bool`);
    numbers with thousands separators, full-width digits and units (``1,200元``,
    ``3人``, ``1.2万元``; :func:`parse_number`); months as 202103, 2021-03,
    2021年3月, a date or an Excel day serial (:func:`parse_month`); code values lose
    inner spaces (``脱贫 户`` → ``脱贫户``) and values outside the code lists are
    warned about and kept. Headers of :data:`INVERSE_HEADERS` (``是否危房户``) are
    read as the negation of their field (``housing_safe``).

Household fields on member rows
    Household fields repeated on member rows give the household rows when
    ``source`` is None (first non-empty value; 享受低保 / 特困供养: any member) and
    otherwise fill absent or empty household fields.

Merged member keys
    户编号 (and 年度) merged over a household's member rows are filled down within
    each block (a note counts them); rows that cannot be filled are flagged
    ``member_key_missing``. Member keys that match no household key give one
    ``member_key_mismatch`` issue ("leading zeros?" when stripping zeros matches).

Personal data
    Decided per key column (≥ 70 % identifier-looking values: every value hashed)
    and per other column (PII by header or content: dropped, never copied into the
    report); see ``docs/reading.md``.

Member aggregation
    Fills household fields that are missing; when both exist and disagree the
    household value is kept and a ``member_mismatch`` warning is given.
    household_size = number of members; n_labor = labor_skill in
    :data:`LABOR_VALUES` {技能劳动力, 普通劳动力} (+ 弱劳动力或半劳动力 with
    ``count_weak_labor``); n_migrant_workers = work_months > 0;
    migrant_work_months = sum of work_months, each clipped to 0..12 (flagged when
    out of range); n_elderly = age ≥ 65; n_children = age < 16; n_students =
    school_status set and not 学龄前儿童; n_disabled / n_chronic_ill /
    n_serious_ill = health_status contains 残疾 / 长期慢性病 / 患有大病
    (multi-select joined by , ， 、 ;); age = year − birth year, from a
    :data:`BIRTH_HEADERS` column (出生日期) or, when absent, the ID-card number
    (read before the column is dropped); medical_insured = every member insured;
    public_welfare_job = any member with public_welfare_job_months > 0.

Derived fields
    net_income_per_capita = (wage + business − business expense + property +
    transfer) / household_size where empty; newly_identified = identification
    month in the row's year where empty; monitoring_line from
    :func:`fanpin_risk.contract.lookup_line` (own → (province, year) → national →
    :class:`~fanpin_risk.errors.MissingLineError`).

Personal data
    ID-card, phone and name columns are dropped (``report.dropped_columns``) and
    household ids that are ID-card or phone numbers replaced by salted hashes; see
    :func:`fanpin_risk.contract.scrub`.

Department feeds
    :func:`read_feed` reads a department's list (``data_schema/feeds/<kind>.csv``)
    into person hashes (HMAC-SHA256 of the ID-card number with the county's salt,
    :func:`fanpin_risk.contract.person_hash`), :func:`read_roster` the member sheet
    into the same hashes with each member's household, :func:`match_feeds` matches
    them and :func:`unmatched_by_township` counts the people outside the roster.
    See ``docs/alerts.md``.

Alternative headers outside the contract files (inverse questions, birth dates)
are listed in ``data_schema/header_aliases.csv``.
"""

from ._datasets import (
    sample_paths,
    load_sample,
)
from ._feeds import (
    FeedReport,
    read_feed,
)
from ._match import (
    MATCH_STATUSES,
    match_feeds,
    unmatched_by_township,
)
from ._roster import (
    ROSTER_COLUMNS,
    read_roster,
)
from ._headers import (
    INVERSE_HEADERS,
    BIRTH_HEADERS,
)
from ._public import (
    PUBLIC_PANELS,
    public_panel,
)
from ._members import (
    LABOR_VALUES,
    WEAK_LABOR,
)
from ._read import (
    Source,
    read_panel,
)
from ._report import FULL_REPORT_HINT
from ._values import (
    parse_bool,
    parse_number,
    parse_month,
)

__all__ = [
    "FULL_REPORT_HINT",
    "sample_paths",
    "load_sample",
    "Source",
    "INVERSE_HEADERS",
    "BIRTH_HEADERS",
    "LABOR_VALUES",
    "WEAK_LABOR",
    "parse_bool",
    "parse_number",
    "parse_month",
    "read_panel",
    "public_panel",
    "PUBLIC_PANELS",
    "read_feed",
    "FeedReport",
    "read_roster",
    "ROSTER_COLUMNS",
    "match_feeds",
    "unmatched_by_township",
    "MATCH_STATUSES",
]
