from __future__ import annotations

import pandas as pd
import pytest

from fanpin_risk import contract as privacy
from fanpin_risk.io import read_panel


def _hh(ids, years=None, **extra) -> pd.DataFrame:
    n = len(ids)
    d = {"户编号": ids, "年度": years or [2023] * n, "县代码": ["520102"] * n, "户类型": ["脱贫户"] * n,
         "家庭人口数": [2] * n, "工资性收入": [9000] * n, "生产经营性收入": [1000] * n, "转移性收入": [500] * n}
    d.update(extra)
    return pd.DataFrame(d)


def _dump(df: pd.DataFrame, rep) -> str:
    return " ".join([df.to_csv(), rep.issues.to_csv(), str(rep), repr(rep.dropped_columns), repr(rep.notes),
                     repr(rep.header_map), "" if rep.extras is None else rep.extras.to_csv()])


def test_is_id_card(id_card):
    good = id_card()
    assert privacy.is_id_card(good)
    assert privacy.is_id_card(good.lower()) == privacy.is_id_card(good)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert not privacy.is_id_card(wrong)  # bad check digit
    assert not privacy.is_id_card(id_card(birth="19801301"))  # no month 13
    assert privacy.is_id_card("520102800101123")  # old 15-digit form
    assert not privacy.is_id_card("H0000001") and not privacy.is_id_card("5201020010") and not privacy.is_id_card(None)


def test_id_card_x_check_digit(id_card):
    # find a made-up number whose check digit is X
    ids = [id_card(seq=f"{k:03d}") for k in range(40)]
    x = [i for i in ids if i.endswith("X")]
    assert x and all(privacy.is_id_card(i) for i in x)


@pytest.mark.parametrize("v,expected", [("13812345678", True), ("+8613812345678", True), ("138 1234 5678", True),
                                        ("0851-86801234", True), ("085186801234", True), ("12812345678", False),
                                        ("520102", False), ("H0000001", False)])
def test_is_phone(v, expected):
    assert privacy.is_phone(v) is expected


def test_hash_id_format_and_salt(id_card):
    h = privacy.hash_id(id_card(), "s1")
    assert h.startswith("h_") and len(h) == 18
    assert h == privacy.hash_id(" " + id_card() + " ", "s1")
    assert h != privacy.hash_id(id_card(), "s2")


def test_detect_pii_by_header_and_content(id_card):
    df = pd.DataFrame({
        "户主姓名": ["a", "b", "c"], "联系电话": ["x", "y", "z"], "备注": ["13812345678", "13912345678", None],
        "其他号": [id_card(seq="001"), id_card(seq="002"), id_card(seq="003")], "成员": ["王小明", "李红", "张伟"],
        "户类型": ["脱贫户", "脱贫户", "监测户"], "收入": [1, 2, 3],
    })
    found = privacy.detect_pii(df)
    assert set(found) == {"户主姓名", "联系电话", "备注", "其他号", "成员"}
    assert "header" in found["户主姓名"] and "content" in found["备注"] and "content" in found["成员"]


def test_read_panel_drops_pii_and_never_shows_values(id_card):
    phone, idno = "13812345678", id_card(seq="777")
    raw = _hh(["A1", "A2"], **{"户主姓名": ["王大山", "李小河"], "户联系电话": [phone, "13987654321"],
                              "身份证号": [idno, id_card(seq="778")], "备用": [phone, "13987654321"],
                              "工资性收入": ["9000", phone]})
    df, rep = read_panel(raw, errors="warn")
    assert set(rep.dropped_columns) == {"户主姓名", "户联系电话", "身份证号", "备用"}
    text = _dump(df, rep)
    for secret in (phone, idno, "王大山", "13987654321"):
        assert secret not in text
    assert (rep.issues["value"] == "***").any()  # the phone typed into an income cell is masked


def test_household_id_hashed_consistently(id_card, monkeypatch):
    monkeypatch.delenv("FANPIN_SALT", raising=False)
    a, b = id_card(seq="101"), "13812345678"
    raw = _hh([a, a, b, "PLAIN1"], years=[2022, 2023, 2023, 2023])
    mem = pd.DataFrame({"户编号": [a, a, a, b, "PLAIN1"], "年度": [2022, 2023, 2023, 2023, 2023], "成员序号": [1, 1, 2, 1, 1]})
    df, rep = read_panel(raw, members=mem, salt="pepper", errors="warn")
    ha = privacy.hash_id(a, "pepper")
    assert df["household_id"].tolist().count(ha) == 2 and privacy.hash_id(b, "pepper") in set(df["household_id"])
    assert "PLAIN1" in set(df["household_id"])
    # the member table was matched after hashing: household_size comes from members (2 in 2023 for a)
    assert df.set_index(["household_id", "year"]).loc[(ha, 2023), "household_size"] == 2
    assert (rep.issues["rule"] == "member_mismatch").sum() == 3  # table says 2 everywhere; members 1,2,1,1
    assert a not in _dump(df, rep) and "random_salt" not in set(rep.issues["rule"])


def test_salt_from_env_and_random(id_card, monkeypatch):
    a = id_card(seq="202")
    monkeypatch.setenv("FANPIN_SALT", "envsalt")
    df, rep = read_panel(_hh([a]))
    assert df.loc[0, "household_id"] == privacy.hash_id(a, "envsalt")
    monkeypatch.delenv("FANPIN_SALT")
    df1, rep1 = read_panel(_hh([a]))
    df2, _ = read_panel(_hh([a]))
    assert df1.loc[0, "household_id"] != df2.loc[0, "household_id"]
    assert "random_salt" in set(rep1.warnings["rule"]) and any("random" in n for n in rep1.notes)


def test_scrub_public_api(id_card):
    df = pd.DataFrame({"household_id": [id_card(), "X"], "手机号": ["13812345678", None], "v": [1, 2]})
    out, notes = privacy.scrub(df, "s")
    assert list(out.columns) == ["household_id", "v"]
    assert out.loc[0, "household_id"] == privacy.hash_id(id_card(), "s") and out.loc[1, "household_id"] == "X"
    assert "13812345678" not in " ".join(notes) and any("手机号" in n for n in notes)
