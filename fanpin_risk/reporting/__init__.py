"""What county and village staff read: the visit-list workbook and the self-contained HTML report."""

from ._plotting import (
    CJK_FONTS,
    find_cjk_font,
    cjk_font_available,
    setup_cjk_fonts,
    fig_to_base64,
)
from ._alerts import ALERT_SHEET, MATCH_SHEET, OUTSIDE_SHEET, match_summary, write_alerts_workbook
from ._report import (
    LIST_SHEET,
    SUMMARY_SHEET,
    summary_tables,
    next_line_text,
    staff_list,
    write_workbook,
    write_html_report,
    with_region_names,
)

__all__ = [
    "write_alerts_workbook", "match_summary", "ALERT_SHEET", "OUTSIDE_SHEET", "MATCH_SHEET",
    "with_region_names",
    "CJK_FONTS",
    "find_cjk_font",
    "cjk_font_available",
    "setup_cjk_fonts",
    "fig_to_base64",
    "LIST_SHEET",
    "SUMMARY_SHEET",
    "summary_tables",
    "next_line_text",
    "staff_list",
    "write_workbook",
    "write_html_report",
]
