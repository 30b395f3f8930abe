"""State shared by the reading steps of :func:`fanpin_risk.io.read_panel`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fanpin_risk import contract

#: Column of the raw tables holding each row's number in the file, when ``_Ctx.row_numbers`` asks for it.
SOURCE_ROW = "_source_row"


@dataclass
class _Ctx:
    """What the reading steps learn about the input, gathered for the report."""

    errors: str
    notes: list[str] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    header_map: dict[str, str] = field(default_factory=dict)
    #: Tables read by the CSV parser: their columns are Arrow strings standing in for
    #: the Python strings of the other readers (a fraction of the memory).
    arrow_text: set[str] = field(default_factory=set)
    #: Give each raw table a column :data:`SOURCE_ROW` with the file row of every body row (feeds).
    row_numbers: bool = False

    def issue(self, *, field: str, value: Any, rule: str, level: str, message: str,
              row: Any = None, key: tuple | None = None) -> None:
        # The report may be shared: a value that looks like PII is never kept in it.
        self.issues.append(dict(_row=row, _key=key, field=field, value=contract.mask_value(value),
                                rule=rule, level=level, message=message))
