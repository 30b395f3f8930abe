"""Simulated department screening feeds: synthetic ID numbers, events, thresholds, noise, files, determinism."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.simulate import FEED_NOISE, simulate, simulate_feeds, synthetic_id_numbers, write_feeds

YEAR = 2025
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
NOISY = {"outsider": 0.10, "duplicate": 0.08, "typo": 0.05, "old_15": 0.06, "late": 0.20,
         "apostrophe": 0.10, "spaces": 0.05}


def mod11_2(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character, computed from its definition."""
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
    return "10X98765432"[total % 11]


def index() -> pd.DataFrame:
    return pd.read_csv(contract.schema_dir() / "feeds.csv", dtype=str, keep_default_na=False).set_index("kind")


@pytest.fixture(scope="module")
def fs():
    return simulate_feeds(3000, year=YEAR, seed=5)


@pytest.fixture(scope="module")
def noisy():
    return simulate_feeds(5000, year=YEAR, seed=8, noise=NOISY)


@pytest.fixture(scope="module")
def panel():
    hh, mem = simulate(400, years=range(2021, 2026), seed=4, return_members=True)
    return hh, mem, synthetic_id_numbers(mem, seed=4, households=hh)


# --------------------------------------------------------------------------- ID numbers
def test_ids_valid_check_digit_region_birth_date_and_sex(panel):
    hh, mem, ids = panel
    assert ids.index.equals(mem.index) and ids.str.len().eq(18).all()
    assert all(mod11_2(v[:17]) == v[17] for v in ids)
    assert ids.str.startswith("99").all()
    county = mem["household_id"].map(hh.drop_duplicates("household_id").set_index("household_id")["county_code"])
    assert (ids.str[:6] == "99" + county.str[-4:]).all()
    births = [date(int(v[6:10]), int(v[10:12]), int(v[12:14])) for v in ids]  # a real calendar date
    assert [b.year for b in births] == (mem["year"] - mem["age"]).astype(int).tolist()
    odd = ids.str[16].astype(int) % 2 == 1
    assert (odd == (mem["sex"] == "男")).all()
    # one number per person and year, different people different numbers
    per_year = pd.DataFrame({"y": mem["year"], "id": ids})
    assert not per_year.duplicated().any()


def test_ids_stable_across_years_and_independent_of_other_rows(panel):
    hh, mem, ids = panel
    by = mem["year"] - mem["age"]
    same_person = pd.DataFrame({"h": mem["household_id"], "n": mem["member_no"], "b": by, "s": mem["sex"], "id": ids})
    assert same_person.groupby(["h", "n", "b", "s"])["id"].nunique().max() == 1
    assert same_person.groupby("id")[["h", "b", "s"]].nunique().max().max() == 1
    last = mem["year"] == 2024
    alone = synthetic_id_numbers(mem[last], seed=4, households=hh)
    assert alone.equals(ids[last])
    assert not synthetic_id_numbers(mem[last], seed=5, households=hh).equals(ids[last])


def test_ids_follow_a_person_whose_member_number_changes():
    # Head succession renumbers members: the same birth year and sex keep the number.
    mem = pd.DataFrame({"household_id": ["H1", "H1", "H1"], "year": [2023, 2023, 2024], "member_no": [1, 2, 1],
                        "sex": ["男", "女", "女"], "age": [70, 66, 67]})
    ids = synthetic_id_numbers(mem, households=pd.DataFrame({"household_id": ["H1"], "county_code": ["990007"]}))
    assert ids[1] == ids[2] != ids[0]
    assert ids[0].startswith("990007")


# --------------------------------------------------------------------------- events
def test_feedset_holds_the_past_and_the_truth(fs):
    assert fs.households["year"].max() == YEAR - 1 and fs.members["year"].max() == YEAR - 1
    assert (fs.next_year["year"] == YEAR).all() and "id_number" in fs.members
    assert list(fs.feeds) == index().index.tolist()
    assert fs.n_events == len(fs.truth) > 300
    assert fs.identification_month.index.equals(pd.Index(fs.next_year["household_id"]))
    for kind, feed in fs.feeds.items():
        fields = pd.read_csv(contract.schema_dir() / "feeds" / f"{kind}.csv")["field"].tolist()
        assert list(feed.columns) == fields + ["name"], kind
        assert feed["name"].str.fullmatch(r".某某?").all()
        t = fs.truth[fs.truth["kind"] == kind]
        assert (t["row"].to_numpy() == np.arange(len(feed))).all()
        assert (t["event_month"].to_numpy() == feed["event_month"].to_numpy()).all()


def _roster_rows(fs, kind):
    t = fs.truth[(fs.truth["kind"] == kind) & (fs.truth["noise"] != "outsider")]
    assert t["household_id"].notna().all() and t["member_no"].notna().all()
    return t


def test_events_come_from_the_right_households_and_members(fs):
    h1 = fs.next_year.set_index("household_id")
    h0 = fs.households[fs.households["year"] == YEAR - 1].set_index("household_id")
    m1 = fs.next_members.set_index(["household_id", "member_no"])
    m0 = fs.members[fs.members["year"] == YEAR - 1].set_index("id_number")
    checks = {
        "medical_bill": lambda h, m: h["shock_illness"].to_numpy() | (h["expense_medical"] > 0).to_numpy(),
        "education_cost": lambda h, m: (h["expense_education"] > 0).to_numpy()
        & m["school_status"].isin(["普通高中一年级", "普通高中二年级", "普通高中三年级", "中职", "高职高专", "本科"]).to_numpy(),
        "disaster_victim": lambda h, m: h["shock_disaster"].to_numpy(),
        "unemployment": lambda h, m: h["shock_job_loss"].to_numpy(),
        "returned_migrant": lambda h, m: h["shock_job_loss"].to_numpy()
        & m["id_number"].map(m0["work_place"]).isin(["省外", "省内县外"]).to_numpy(),
        "dibao_change": lambda h, m: np.any([h[c].to_numpy() != h0[c].reindex(h.index).to_numpy()
                                             for c in ("receives_dibao", "receives_tekun")], axis=0),
        "disability_certificate": lambda h, m: m["health_status"].str.contains("残疾").to_numpy()
        & ~m["id_number"].map(m0["health_status"]).fillna("").str.contains("残疾").to_numpy(),
        "unsafe_house": lambda h, m: ~h["housing_safe"].to_numpy() & h0["housing_safe"].reindex(h.index).to_numpy(),
    }
    for kind, ok in checks.items():
        t = _roster_rows(fs, kind)
        if kind in ("returned_migrant", "unemployment"):
            t = t[t["noise"] != "duplicate"]  # a duplicate may come from the sister feed
        h = h1.loc[t["household_id"]]
        m = m1.loc[pd.MultiIndex.from_arrays([t["household_id"], t["member_no"]])]
        assert bool(np.all(ok(h, m))), kind
    for kind in ("unsafe_house", "dibao_change"):
        t = _roster_rows(fs, kind)
        assert (m1.loc[pd.MultiIndex.from_arrays([t["household_id"], t["member_no"]]), "relation"] == "户主").all()
    counts = fs.truth.groupby("kind").size()
    assert {"medical_bill", "education_cost", "dibao_change", "returned_migrant"} <= set(counts[counts > 10].index)


def test_clean_ids_are_the_members_ids(fs):
    t = fs.truth[(fs.truth["noise"].isin(["", "late"])) & (fs.truth["id_format"] == "")]
    ids = fs.next_members.set_index(["household_id", "member_no"])["id_number"]
    for kind, g in t.groupby("kind"):
        pushed = fs.feeds[kind]["id_number"].to_numpy()[g["row"].to_numpy()]
        assert (pushed == ids.loc[pd.MultiIndex.from_arrays([g["household_id"], g["member_no"]])].to_numpy()).all()


def test_thresholds_of_the_feed_contract_are_respected(fs):
    idx = index()
    types = fs.households[fs.households["year"] == YEAR - 1].set_index("household_id")["household_type"]
    for kind, field in (("medical_bill", "amount_self_paid"), ("education_cost", "amount")):
        general, exited = float(idx.loc[kind, "threshold"]), float(idx.loc[kind, "threshold_exited"])
        feed, t = fs.feeds[kind], fs.truth[fs.truth["kind"] == kind]
        assert len(feed) and (feed[field] >= min(general, exited)).all()
        typ = t["household_id"].map(types)  # outsiders (no household) are ordinary residents
        low = typ.isin(["脱贫户", "监测户"]).to_numpy()
        amount = feed[field].to_numpy()[t["row"].to_numpy()]
        assert (amount[~low] >= general).all() and (amount[low] >= exited).all()
    bill = fs.feeds["medical_bill"]
    share = bill["amount_self_paid"] / bill["amount_total"]
    assert share.between(0.3 - 1e-3, 0.5 + 1e-3).all()


def test_months_lie_in_the_year_and_lists_follow_events(fs):
    for kind, feed in fs.feeds.items():
        ev, lm = feed["event_month"], feed["list_month"]
        assert (ev // 100 == YEAR).all() and ev.mod(100).between(1, 12).all(), kind
        lag = (lm // 100 - ev // 100) * 12 + lm % 100 - ev % 100
        assert lag.between(0, 5).all(), kind
    t = fs.truth
    lag = (t["list_month"] // 100 - t["event_month"] // 100) * 12 + t["list_month"] % 100 - t["event_month"] % 100
    base = t["noise"] != "duplicate"
    assert lag[base].between(0, 3).all() and ((lag[base] > 0) == t.loc[base, "late"]).all()
    d = fs.feeds["disaster_victim"].merge(fs.truth[fs.truth["kind"] == "disaster_victim"], left_index=True,
                                          right_on="row")
    county = d["household_id"].map(fs.next_year.set_index("household_id")["county_code"])
    assert d[d["noise"] != "outsider"].groupby(county)["event_month_x"].nunique().max() == 1


def test_events_lead_the_identification_month(fs):
    ident = fs.identification_month.dropna()
    ident = ident[ident // 100 == YEAR]
    t = fs.truth[fs.truth["household_id"].isin(ident.index)]
    change = fs.feeds["dibao_change"]["change_type"].to_numpy()
    new_entry = (t["kind"] == "dibao_change").to_numpy() & np.char.startswith(
        change[np.where(t["kind"] == "dibao_change", t["row"], 0)].astype(str), "新增")
    t = t[new_entry | t["kind"].isin(["unemployment", "returned_migrant", "disability_certificate"]).to_numpy()]
    assert len(t) > 10
    first = t.groupby("household_id")["event_month"].min()
    lead = ident.reindex(first.index).to_numpy() - first.to_numpy()
    assert (lead >= 0).all() and (lead <= 3).all()


# --------------------------------------------------------------------------- noise
def test_noise_rates_close_to_the_configured_ones(noisy):
    t = noisy.truth
    base = t[~t["noise"].isin(["outsider", "duplicate"])]
    n = len(base)
    assert n > 1500
    assert abs((t["noise"] == "outsider").sum() / n - NOISY["outsider"]) < 0.03
    assert abs((t["noise"] == "duplicate").sum() / n - NOISY["duplicate"]) < 0.03
    assert abs((base["noise"] == "typo").mean() - NOISY["typo"]) < 0.02
    assert abs((base["noise"] == "old_15").mean() - NOISY["old_15"]) < 0.025
    assert abs(t.loc[t["noise"] != "duplicate", "late"].mean() - NOISY["late"]) < 0.03
    assert abs((t["id_format"] == "apostrophe").mean() - NOISY["apostrophe"]) < 0.03
    assert abs((t["id_format"] == "spaces").mean() - NOISY["spaces"]) < 0.02
    assert abs(FEED_NOISE["outsider"] - 0.05) < 1e-12  # the documented default


def test_noise_shapes_the_ids_as_described(noisy):
    roster = set(noisy.members["id_number"]) | set(noisy.next_members["id_number"])
    for kind, feed in noisy.feeds.items():
        t = noisy.truth[noisy.truth["kind"] == kind].reset_index(drop=True)
        raw = feed["id_number"].to_numpy()[t["row"].to_numpy()]
        ids = pd.Series(raw).str.replace("'", "", regex=False).str.replace(" ", "", regex=False)
        assert ids.str.startswith("99").all()
        fmt = t["id_format"]
        assert pd.Series(raw)[fmt == "apostrophe"].str.startswith("'").all()
        assert pd.Series(raw)[fmt == "spaces"].str.contains(" ").all()
        assert pd.Series(raw)[fmt == ""].str.fullmatch(r"[0-9X]+").all()
        # a duplicate repeats its row's ID as pushed, typos and old forms included
        noise = t["noise"].to_numpy()
        old = ids.str.len().eq(15).to_numpy()
        assert ids[old].str.fullmatch(r"\d{15}").all() and set(noise[old]) <= {"old_15", "duplicate"}
        assert old[noise == "old_15"].all()
        full = ids[~old]
        assert full.str.len().eq(18).all()
        good = np.array([mod11_2(v[:17]) == v[17] for v in full], dtype=bool)
        assert not good[noise[~old] == "typo"].any()
        assert good[~np.isin(noise[~old], ["typo", "duplicate"])].all()
        out = (t["noise"] == "outsider").to_numpy()
        assert not ids[out].isin(roster).any() and t.loc[out, "household_id"].isna().all()
        assert feed["township"].notna().all() and feed["village"].str.endswith("村").all()
    dup = noisy.truth[noisy.truth["noise"] == "duplicate"]
    pushed = noisy.truth[noisy.truth["noise"] != "duplicate"]
    key = ["household_id", "member_no"]
    assert dup.set_index(key).index.isin(pushed.set_index(key).index).all()


def test_bad_noise_settings_raise():
    with pytest.raises(ValueError, match="unknown noise"):
        simulate_feeds(50, noise={"typos": 0.1})
    with pytest.raises(ValueError, match="noise shares"):
        simulate_feeds(50, noise={"late": 1.5})
    with pytest.raises(ValueError, match="sets"):
        simulate_feeds(50, years=[2024])


# --------------------------------------------------------------------------- determinism and files
def test_same_seed_same_feeds_other_seed_other_feeds(fs):
    again = simulate_feeds(3000, year=YEAR, seed=5)
    for kind in fs.feeds:
        pd.testing.assert_frame_equal(fs.feeds[kind], again.feeds[kind])
    pd.testing.assert_frame_equal(fs.truth, again.truth)
    other = simulate_feeds(3000, year=YEAR, seed=6)
    assert not other.feeds["medical_bill"].equals(fs.feeds["medical_bill"])


def test_gbk_csv_files_read_back_with_chinese_headers(fs, tmp_path):
    paths = write_feeds(fs, tmp_path)
    idx = index()
    assert [p.name for p in paths[:len(idx)]] == [f"{z}_{YEAR}.csv" for z in idx["zh_name"]]
    for kind, path in zip(idx.index, paths):
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # GBK, not UTF-8
        back = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
        zh = pd.read_csv(contract.schema_dir() / "feeds" / f"{kind}.csv")["zh_header"].tolist()
        assert list(back.columns) == ["姓名"] + zh
        assert back["证件号码"].tolist() == fs.feeds[kind]["id_number"].tolist()
    households, members = (pd.read_csv(p, encoding="gbk", dtype=str) for p in paths[-2:])
    assert households.columns[0] == "户编号" and len(households) == len(fs.households)
    assert "证件号码" in members.columns and "成员序号" in members.columns and len(members) == len(fs.members)
    assert members["证件号码"].tolist() == fs.members["id_number"].tolist()


def test_county_layout_title_rows_in_csv_and_xlsx(fs, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    csv = write_feeds(fs, tmp_path / "csv", layout="county")[0]
    first = csv.read_text(encoding="gbk").splitlines()[0]
    assert first.startswith("XX县医保局大额医疗费用推送名单（2025年")
    back = pd.read_csv(csv, encoding="gbk", dtype=str, skiprows=1)
    assert list(back.columns[:3]) == ["序号", "姓名", "证件号码"] and len(back) == len(fs.feeds["medical_bill"])
    assert back["证件号码"].str.startswith("'").mean() > 0.15
    fs = simulate_feeds(150, year=YEAR, seed=3)  # openpyxl is slow: a small county for the workbooks
    xlsx = write_feeds(fs, tmp_path / "xlsx", fmt="xlsx", layout="county")
    assert xlsx[0].name == f"大额医疗费用_{YEAR}.xlsx"
    ws = openpyxl.load_workbook(xlsx[0]).active
    assert str(ws.cell(1, 1).value).startswith("XX县医保局") and ws.merged_cells.ranges
    assert ws.cell(2, 3).value == "证件号码" and isinstance(ws.cell(3, 3).value, str)
    sheet = pd.read_excel(xlsx[0], header=1, dtype=str)
    assert len(sheet) == len(fs.feeds["medical_bill"])
    plain = write_feeds(fs, tmp_path / "plain", fmt="xlsx")
    assert pd.read_excel(plain[0], dtype=str).columns[1] == "证件号码"
