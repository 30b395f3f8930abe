"""An alert run in MLflow: how the month's department lists matched and what they raised, in counts only.

A county runs :func:`fanpin_risk.alerts` every month; an analyst compares the
months in the MLflow UI (match rates, people outside the roster, alerts and
triggers by channel). The run holds aggregates and nothing row-level: no
household id, person hash, ID-card number, name or phone, so it can be shared
with the province without a privacy review of its files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from fanpin_risk.reporting import match_summary

from ._runs import _quiet_mlflow_logs, _setup, default_run_name

__all__ = ["log_alerts_run", "alert_metrics"]

_STATUSES = ("matched", "not_in_roster", "duplicate", "bad_id")


def alert_metrics(alerts: pd.DataFrame, matches: pd.DataFrame) -> dict[str, float]:
    """Counts and shares of an alert run: feed rows by status and ID issue, alerts, triggers, risk, per channel.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"kind": ["medical_bill", "medical_bill", "unemployment"],
    ...                   "status": ["matched", "not_in_roster", "matched"], "id_issue": ["", "old_15", ""]})
    >>> a = pd.DataFrame({"trigger_met": [True, False], "alert_status": ["新预警", "已预警"],
    ...                   "risk_before": [0.1, 0.2], "risk_after": [0.4, 0.3], "monitored": ["未纳入监测", "已纳入监测"]})
    >>> d = alert_metrics(a, m)
    >>> d["feed_rows"], d["matched"], d["match_rate"], d["alerted_households"], d["trigger_met"], d["id_old_15"]
    (3.0, 2.0, 0.6666666666666666, 2.0, 1.0, 1.0)
    >>> round(d["mean_risk_change"], 3), d["matched.medical_bill"]
    (0.2, 1.0)
    """
    status = matches["status"].astype("str")
    out: dict[str, float] = {"feed_rows": float(len(matches))}
    for s in _STATUSES:
        out[s] = float((status == s).sum())
    out["match_rate"] = out["matched"] / len(matches) if len(matches) else float("nan")
    if "id_issue" in matches.columns:
        issues = matches["id_issue"].astype("str").value_counts()
        for code in ("old_15", "bad_check_digit", "bad_format", "missing"):
            out[f"id_{code}"] = float(issues.get(code, 0))
    for kind, sub in matches.groupby(matches["kind"].astype("str"), sort=True):
        out[f"rows.{kind}"] = float(len(sub))
        out[f"matched.{kind}"] = float((sub["status"].astype("str") == "matched").sum())
    out["alerted_households"] = float(len(alerts))
    if len(alerts):
        out["trigger_met"] = float(alerts["trigger_met"].astype(bool).sum())
        out["new_alerts"] = float((alerts["alert_status"].astype("str") == "新预警").sum())
        out["risk_rose_again"] = float((alerts["alert_status"].astype("str") == "风险上升").sum())
        out["not_yet_monitored"] = float((alerts["monitored"].astype("str") == "未纳入监测").sum())
        out["mean_risk_before"] = float(alerts["risk_before"].mean())
        out["mean_risk_after"] = float(alerts["risk_after"].mean())
        out["mean_risk_change"] = out["mean_risk_after"] - out["mean_risk_before"]
    return {k: v for k, v in out.items() if v == v}  # MLflow takes no NaN


def log_alerts_run(alerts: pd.DataFrame, matches: pd.DataFrame, outside: pd.DataFrame, *, as_of: str,
                   params: dict | None = None, run_name: str | None = None) -> str:
    """Log one alert run: parameters, :func:`alert_metrics` and count tables (no row of any person or household).

    Parameters
    ----------
    alerts, matches, outside : DataFrame
        The frames of :class:`fanpin_risk.api.AlertResult`. Only counts are taken from them.
    as_of : str
        The month of the alerts (``"2026-06"``): a tag, so months sort and filter in the UI.
    params : dict, optional
        Settings to record (model, visit days ...); values are written as text.
    run_name : str, optional
        Default ``alerts · <as_of> · <n>户 · <time>``.

    Returns
    -------
    str
        The run id.

    Artifacts: ``match_summary.csv`` (rows per list and match result, in Chinese),
    ``outside_by_township.csv`` (people not in the roster per township, village and
    list) and ``alerts_by_township.csv`` (alerted households, triggers and new
    alerts per township).
    """
    with _quiet_mlflow_logs():
        mlflow = _setup()
        name = run_name or default_run_name("alerts", str(as_of), households=len(alerts))
        with mlflow.start_run(run_name=name) as run:
            mlflow.set_tags({"kind": "alerts", "as_of": str(as_of)})
            mlflow.log_params({"as_of": str(as_of), **{k: str(v)[:500] for k, v in (params or {}).items()}})
            mlflow.log_metrics(alert_metrics(alerts, matches))
            with tempfile.TemporaryDirectory() as tmp:
                for fname, table in (("match_summary.csv", match_summary(matches)),
                                     ("outside_by_township.csv", outside),
                                     ("alerts_by_township.csv", _by_township(alerts))):
                    path = Path(tmp) / fname
                    table.to_csv(path, index=False, encoding="utf-8-sig")
                    mlflow.log_artifact(str(path), artifact_path="alerts")
            return run.info.run_id


def _by_township(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alerted households, triggers and new alerts per township (counts)."""
    cols = ["township_code", "预警户数", "达到监测标准", "新预警"]
    if not len(alerts):
        return pd.DataFrame(columns=cols)
    t = pd.DataFrame({"township_code": alerts["township_code"].astype("str").fillna("(未填)"),
                      "trigger": alerts["trigger_met"].astype(bool),
                      "new": alerts["alert_status"].astype("str") == "新预警"})
    g = t.groupby("township_code", sort=True)
    out = pd.DataFrame({"预警户数": g.size(), "达到监测标准": g["trigger"].sum(), "新预警": g["new"].sum()}).reset_index()
    return out.sort_values(["预警户数", "township_code"], ascending=[False, True], kind="stable")[cols]
