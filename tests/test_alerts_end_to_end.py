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
