"""Department alerts end to end on simulated county files (GBK CSV and xlsx, Chinese headers): no ID number downstream."""

import logging
import re
import zipfile

import pandas as pd
import pytest

import fanpin_risk
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate_feeds, write_feeds

_ID = re.compile(r"(?<![\d.])(\d{17}[\dX]|\d{15})(?![\d])")


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    fs = simulate_feeds(1200, year=2025, seed=3)
    d = tmp_path_factory.mktemp("county")
    csv = write_feeds(fs, d / "csv", fmt="csv", encoding="gbk", layout="county")
    xlsx = write_feeds(fs, d / "xlsx", fmt="xlsx", layout="county")
    return fs, csv, xlsx


def _files(paths):
    feeds = [p for p in paths if not p.name.startswith(("农户", "家庭成员"))]
    hh = next(p for p in paths if p.name.startswith("农户"))
    mem = next(p for p in paths if p.name.startswith("家庭成员"))
    return hh, mem, feeds


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_alerts_from_county_files(county, fmt, tmp_path, monkeypatch, caplog):
    fs, csv, xlsx = county
    monkeypatch.setenv("FANPIN_SALT", "county-salt-for-tests")
    hh, mem, feeds = _files(csv if fmt == "csv" else xlsx)
    caplog.set_level(logging.DEBUG)
    panel = read_panel(hh)[0]
    res = fanpin_risk.alerts(panel, feeds, roster=mem, as_of="2025-12")
    a, m = res.alerts, res.matches
    # every matched person's household appears once, with a status
    known = (m["status"] == "matched") & (m["list_month"].fillna(m["event_month"]) <= 202512) & (m["event_month"] <= 202512)
    matched = set(m.loc[known, "household_id"].astype(str))
    assert matched and set(a["household_id"]) == matched and a["household_id"].is_unique
    assert a["alert_status"].eq("新预警").all() and a["trigger"].ne("").all()
    # the simulated truth: roster members' events (no typo, not outsiders) are found
    t = fs.truth
    want = set(t.loc[t["noise"].isin(["", "old_15"]) & t["household_id"].notna(), "household_id"].astype(str))
    assert len(want & matched) >= 0.95 * len(want)
    assert (m["status"] == "not_in_roster").sum() >= (t["noise"] == "outsider").sum() * 0.9
    # no ID number anywhere downstream: frames, workbook, logs
    out = res.to_excel(tmp_path / "alerts.xlsx")
    z = zipfile.ZipFile(out)
    texts = ["".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist()),
             a.to_csv(), m.to_csv(), res.outside.to_csv(), str(res.reports), caplog.text, str(a.attrs), str(m.attrs)]
    for text in texts:
        assert not _ID.search(text), _ID.search(text).group(0)[:4] + "…"


def test_alerts_need_the_same_salt(county, monkeypatch):
    fs, csv, _ = county
    hh, mem, feeds = _files(csv)
    monkeypatch.delenv("FANPIN_SALT", raising=False)
    monkeypatch.delenv("FANPIN_SALT_FILE", raising=False)
    with pytest.raises(Exception, match="salt"):
        fanpin_risk.alerts(read_panel(hh)[0], feeds, roster=mem, as_of="2025-06")
    # a list hashed with another salt matches no one
    ros = fanpin_risk.io.read_roster(mem, salt="a")[0]
    other = [fanpin_risk.io.read_feed(f, salt="b")[0] for f in feeds[:2]]
    res = fanpin_risk.alerts(read_panel(hh)[0], other, roster=ros, as_of="2025-12")
    assert res.alerts.empty and (res.matches["status"] != "matched").all()


def test_cli_alerts_with_mlflow_logs_counts_and_nothing_personal(county, tmp_path, monkeypatch):
    """`fanpin-risk alerts --mlflow`: the month's counts in an MLflow run; no ID, person hash or household id in the store."""
    from typer.testing import CliRunner

    from fanpin_risk.cli import app

    fs, csv, _ = county
    hh, mem, feeds = _files(csv)
    monkeypatch.setenv("FANPIN_SALT", "county-salt-for-tests")
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    args = ["alerts", str(hh), *map(str, feeds), "--members", str(mem), "--as-of", "2025-09", "-o",
            str(tmp_path / "a.xlsx"), "--mlflow"]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.kind = 'alerts'")
    assert len(runs) == 1 and runs["tags.as_of"].iloc[0] == "2025-09"
    book = pd.read_excel(tmp_path / "a.xlsx", sheet_name="预警名单")
    assert runs["metrics.alerted_households"].iloc[0] == len(book)
    res = fanpin_risk.alerts(read_panel(hh)[0], feeds, roster=mem, as_of="2025-09")
    assert runs["metrics.matched"].iloc[0] == (res.matches["status"] == "matched").sum()
    assert runs["metrics.trigger_met"].iloc[0] == res.alerts["trigger_met"].sum()
    # every byte of the store: the sqlite database and the artifacts
    households = set(res.alerts["household_id"].astype(str))
    hashes = set(res.matches["person_hash"].dropna())
    files = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name == "match_summary.csv" for p in files) and any(p.name == "alerts_by_township.csv" for p in files)
    for p in files:
        text = p.read_bytes().decode("latin-1") + p.read_bytes().decode("utf-8", "ignore")
        assert not _ID.search(text), (p.name, _ID.search(text).group(0)[:4] + "…")
        assert not re.search(r"P[0-9a-f]{20}", text), p.name
        assert not [h for h in households if h in text], p.name
