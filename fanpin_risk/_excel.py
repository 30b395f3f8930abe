"""Number formats of the workbooks county staff open: shared by planning, reporting and the CLI."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["percent_columns"]

#: Format of a probability a cadre reads as a percentage (the cell keeps the number, so it still sorts).
PERCENT = "0.0%"


def percent_columns(ws, headers: Iterable[str] = (), prefixes: Iterable[str] = ()) -> int:
    """Give the columns of an openpyxl sheet whose header (row 1) is in ``headers`` or starts with one of
    ``prefixes`` the percentage format; returns how many columns were formatted.

    Examples
    --------
    >>> from openpyxl import Workbook
    >>> ws = Workbook().active
    >>> ws.append(["户编号", "当前风险概率", "措施后风险：纳入低保"]); ws.append(["H1", 0.31, 0.12])
    >>> percent_columns(ws, ["当前风险概率"], ["措施后风险："]), ws["B2"].number_format
    (2, '0.0%')
    """
    headers, prefixes = set(headers), tuple(prefixes)
    n = 0
    for (head,) in ws.iter_cols(min_row=1, max_row=1):
        name = str(head.value or "")
        if name in headers or (prefixes and name.startswith(prefixes)):
            for (cell,) in ws.iter_rows(min_row=2, min_col=head.column, max_col=head.column):
                cell.number_format = PERCENT
            n += 1
    return n
