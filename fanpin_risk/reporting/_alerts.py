"""The alert workbook for township staff: alerted households, people not in the roster, and how the lists matched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fanpin_risk import contract

ALERT_SHEET, OUTSIDE_SHEET, MATCH_SHEET = "预警名单", "名单外人员", "匹配情况"
_STATUS_ZH = {"matched": "已匹配", "not_in_roster": "不在花名册", "duplicate": "重复推送", "bad_id": "证件号码无效"}
_PERCENT = ("预警前风险", "预警后风险", "风险变化")


def _kind_names() -> pd.Series:
    return contract.feed_kinds().set_index("kind")["zh_name"]


def match_summary(matches: pd.DataFrame) -> pd.DataFrame:
    """Rows of each feed kind by match status, in Chinese (counts only, never a number or a name)."""
    kinds = _kind_names()
    t = matches.assign(推送名单=matches["kind"].map(kinds).fillna(matches["kind"]),
                       匹配结果=matches["status"].map(_STATUS_ZH).fillna(matches["status"]))
    return t.groupby(["推送名单", "匹配结果"]).size().rename("条数").reset_index()


def write_alerts_workbook(alerts: pd.DataFrame, path: str | Path, *, matches: pd.DataFrame | None = None,
                          outside: pd.DataFrame | None = None) -> Path:
    """Write the alert list (sheet 预警名单, Chinese headers), people outside the roster and the match counts.

    Parameters
    ----------
    alerts : DataFrame
        Output of :func:`fanpin_risk.planning.alerts`.
    path : path
        ``.xlsx`` file to write.
    matches : DataFrame, optional
        Matched feed rows (:func:`fanpin_risk.io.match_feeds`): counted by kind and status on sheet 匹配情况.
    outside : DataFrame, optional
        People named by a list but not in the roster, by township and village
        (:func:`fanpin_risk.io.unmatched_by_township`): sheet 名单外人员, possible 边缘易致贫户 to visit.
    """
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = contract.output_headers("alerts")
    zh = alerts[[c for c in heads if c in alerts.columns]].rename(columns=heads).copy()
    for c in _PERCENT:  # four places are a tenth of a percentage point; more digits only look like data
        if c in zh.columns:
            zh[c] = zh[c].astype("float64").round(4)
    if "是否达到监测标准" in zh.columns:
        zh["是否达到监测标准"] = zh["是否达到监测标准"].map({True: "是", False: "否"}).astype(object)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        zh.to_excel(xw, sheet_name=ALERT_SHEET, index=False)
        if outside is not None:
            out = outside.assign(kind=outside["kind"].map(_kind_names()).fillna(outside["kind"]))
            out = out.rename(columns={"township": "乡镇", "village": "村", "kind": "推送名单", "count": "人数"})
            out.to_excel(xw, sheet_name=OUTSIDE_SHEET, index=False)
        if matches is not None:
            match_summary(matches).to_excel(xw, sheet_name=MATCH_SHEET, index=False)
        ws = xw.sheets[ALERT_SHEET]
        ws.freeze_panes = "B2"
        widths = {"户编号": 16, "预警渠道": 28, "预警事件": 48, "触发条件": 30, "帮扶措施建议": 28, "原因说明": 24}
        for i, col in enumerate(zh.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = widths.get(col, 12)
            if col in _PERCENT:  # read as percentages, still numbers to sort on
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = "0.0%"
        ws.auto_filter.ref = ws.dimensions
    return path
