"""No ID-card number, phone number or name from a county export reaches any output, as counties write them.

tests/test_pii_end_to_end.py plants clean PII (valid check digits, one spelling). Here
the export is shaped the way county workbooks and CSV files arrive: household keys that
are the head's ID-card number written with Excel's apostrophe, with a wrong check digit,
in lower case, in full-width digits or stored as numeric cells (cut to 15 significant
digits), spelt one way on the household sheet and another on the member sheet; names
under 户主名称 and 帮扶干部; several numbers in one 联系方式 cell; ID and phone numbers
and names inside 备注; signature lines and footers (填表人：… 联系电话：…) under the
table, in one cell and spread over several. Every made-up value, and the digits that
still identify a person (the first 15 or 17 of an ID-card number), is then looked for
in the frame, the report (str, html, issues, notes, extras), error messages, logs,
warnings, printed output, the ranked list, its xlsx workbook (every cell), the HTML
report, the MLflow store (every file, the sqlite database bytes included) and the
saved model.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import fanpin_risk
from fanpin_risk import contract
from fanpin_risk.errors import FanpinError
from fanpin_risk.io import read_panel
from fanpin_risk.reporting import write_html_report, write_workbook
from fanpin_risk.simulate import simulate

from conftest import fake_id_card

SALT = "county-e2e-salt"
_SURNAMES = "韦覃莫蒙黎陆卢潘罗欧"
_GIVEN = ["春燕", "国栋", "翠花", "明辉", "小兰", "家宝", "俊杰", "美玲", "志强", "秀英", "建华", "丽娟"]
FOOTER_NAMES = ["韦春燕", "覃国栋", "莫文蔚然", "黎明辉"]
FOOTER_PHONES = ["13987650001", "13912340002", "0851-86801234", "13800000003"]


def _wrong_check(i: str) -> str:
    return i[:-1] + ("0" if i[-1] != "0" else "1")


def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in s)


def _people(n: int, start: int) -> tuple[list[str], list[str], list[str]]:
    """n made-up (ID-card number, mobile number, name) triples, distinct in the first 15 ID digits."""
    births = [f"19{40 + (start + k) % 60:02d}{1 + k % 12:02d}{1 + (start + k) % 28:02d}" for k in range(n)]
    ids = [fake_id_card(region="522601", birth=b, seq=f"{(start * 7 + k) % 1000:03d}") for k, b in enumerate(births)]
    phones = [f"1{3 + (start + k) % 7}{(start * 7919 + k * 104729 + 11) % 10**9:09d}" for k in range(n)]
    names = [_SURNAMES[(start + k) % 10] + _GIVEN[(start + 5 * k) % 12] + ("" if k % 3 else "妹") for k in range(n)]
    return ids, phones, names


def _number(i: str):
    """An ID-card number as Excel stores it once the cell is a number (one ending in X stays text)."""
    return float(i) if i.isdigit() else i


# Spellings of the head's ID-card number used as 户编号, on the household sheet and on the member sheet.
_HH_FORMS = [lambda i: i, lambda i: "'" + i, lambda i: i.lower(), _wrong_check, _number, _full_width]
_MEM_FORMS = [lambda i: "'" + i, lambda i: i, lambda i: i.upper(), _wrong_check, _number, lambda i: i]


def _household_sheet(hh: pd.DataFrame, key: dict, heads: dict) -> tuple[pd.DataFrame, list[str]]:
    """The household sheet with PII planted in every place a county puts it, footers included."""
    hids = sorted(key)
    z = contract.export_frame(hh, headers="zh").astype(object)
    cadres = _people(4, 900)[2]
    org = {h: ["县农业农村局", "镇人民政府", "县教育局"][k % 3] for k, h in enumerate(hids)}
    pos = {h: k for k, h in enumerate(hids)}
    z.insert(1, "户主名称", z["户编号"].map(lambda h: heads[h][2]))

    def contact(h: str) -> str:  # several numbers in one cell, spelt as people type them
        p = heads[h][1]
        return f"{p}，0851-8{pos[h]:07d}" if pos[h] % 2 else f"{p}/{p[:3]} {p[3:7]} {p[7:]}"

    z.insert(2, "联系方式", z["户编号"].map(contact))
    z["帮扶干部"] = z["户编号"].map(lambda h: cadres[pos[h] % 4])
    z["帮扶责任人单位"] = z["户编号"].map(org)
    z["户主身份证号"] = z["户编号"].map(lambda h: f"{float(heads[h][0][:17]):.5E}" if pos[h] % 2 else heads[h][0])
    z["备注"] = [f"{heads[h][2]} 身份证{heads[h][0]} 电话{heads[h][1]}" if (pos[h] + y) % 5 == 0 else "无"
                 for h, y in zip(z["户编号"], z["年度"])]
    z["帮扶措施"] = z["户编号"].map(lambda h: ["产业帮扶", "就业帮扶，发放补贴1200元", "公益岗位"][pos[h] % 3])
    # typed into the wrong cells: a phone in 村代码, an ID-card number in 工资性收入 (errors of the strict read)
    z.loc[3, "村代码"] = heads[hids[1]][1]
    z.loc[5, "工资性收入"] = heads[hids[2]][0]
    z["户编号"] = z["户编号"].map(lambda h: _HH_FORMS[pos[h] % 6](key[h]))
    footers = pd.DataFrame([
        {"户编号": f"填表人：{FOOTER_NAMES[0]}　　联系电话：{FOOTER_PHONES[0]}"},
        {"户编号": "单位负责人：", "户主名称": FOOTER_NAMES[2], "联系方式": "联系电话：", "年度": FOOTER_PHONES[1]},
        {"户编号": f"审核人：{FOOTER_NAMES[1]}  电话：{FOOTER_PHONES[2]}  制表日期：2025年1月10日"},
    ], columns=z.columns, dtype=object)
    landlines = [f"0851-8{pos[h]:07d}" for h in hids if pos[h] % 2]
    secrets = [*cadres, *landlines, *FOOTER_NAMES[:3], *FOOTER_PHONES[:3]]
    return pd.concat([z, footers], ignore_index=True), secrets


def _member_sheet(mem: pd.DataFrame, key: dict, heads: dict) -> tuple[pd.DataFrame, list[str]]:
    """The member sheet: keys spelt otherwise than on the household sheet, names, ID numbers, phones, a footer."""
    hids = sorted(key)
    pos = {h: k for k, h in enumerate(hids)}
    z = contract.export_frame(mem, "member").astype(object)
    persons = sorted({(h, n) for h, n in zip(mem["household_id"], mem["member_no"])})
    pids, pphones, pnames = _people(len(persons), 500)
    pk = {p: i for i, p in enumerate(persons)}
    idx = [pk[(h, n)] for h, n in zip(mem["household_id"], mem["member_no"])]
    z.insert(1, "姓名", [pnames[i] for i in idx])
    # the member's own ID-card number: text, apostrophe, or a numeric cell
    z.insert(2, "证件号码", [(pids[i], "'" + pids[i], _number(pids[i]))[i % 3] for i in idx])
    z["手机号"] = [int(pphones[i]) if i % 2 else pphones[i] for i in idx]
    z["备注"] = [f"监护人{pnames[i]}，电话{pphones[i]}" if i % 7 == 0 else "" for i in idx]
    z["户编号"] = z["户编号"].map(lambda h: _MEM_FORMS[pos[h] % 6](key[h]))
    footer = pd.DataFrame([{"户编号": f"填表人：{FOOTER_NAMES[3]} {FOOTER_PHONES[3]}"}], columns=z.columns, dtype=object)
    return pd.concat([z, footer], ignore_index=True), [*pids, *pphones, *pnames, FOOTER_NAMES[3], FOOTER_PHONES[3]]


@pytest.fixture(scope="module")
def county():
    """The simulated county (24 households, 2022–2025) and every planted personal string."""
    hh, mem = simulate(24, years=range(2022, 2026), seed=11, province="全国", return_members=True)
    hids = sorted(hh["household_id"].unique())
    ids, phones, names = _people(len(hids), 0)
    key = dict(zip(hids, ids))
    heads = {h: (i, p, n) for h, i, p, n in zip(hids, ids, phones, names)}
    hz, s1 = _household_sheet(hh, key, heads)
    mz, s2 = _member_sheet(mem, key, heads)
    planted = [*ids, *phones, *names, *s1, *s2]
    raw = hz.to_csv() + mz.to_csv()
    # every string searched for below is in the export: as text, with its check digit spoilt, or as a number
    assert all(p in raw or _wrong_check(p) in raw or (p.isdigit() and repr(float(p)) in raw) for p in planted)
    return hz, mz, planted + [_wrong_check(i) for i in ids], len(hids)


def _write(hz: pd.DataFrame, mz: pd.DataFrame, form: str, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    if form == "xlsx":
        path = folder / "县监测对象信息.xlsx"
        with pd.ExcelWriter(path) as xw:
            hz.to_excel(xw, sheet_name="户信息", index=False)
            mz.to_excel(xw, sheet_name="家庭成员信息", index=False)
        return {"source": path, "member_sheet": "家庭成员信息"}
    hp, mp = folder / "户信息.csv", folder / "家庭成员.csv"
    hz.to_csv(hp, index=False, encoding="gbk")
    mz.to_csv(mp, index=False, encoding="gbk")
    return {"source": hp, "members": mp}


def _variants(secret: str) -> set[str]:
    """The planted string and what still identifies the person: the first 15 and 17 digits, the 11 of a phone."""
    out = {secret, secret.lower()}
    digits = re.sub(r"\D", "", secret)
    if len(digits) >= 15:
        out |= {digits[:15], digits[:17], digits}
    elif len(digits) >= 10:
        out.add(digits)
    return out


def _texts_of_workbook(path: Path) -> str:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                     if v is not None)


@pytest.mark.parametrize("form", ["xlsx", "gbk_csv"])
def test_no_pii_from_a_real_shaped_export_anywhere_downstream(county, form, tmp_path, monkeypatch, caplog, capsys):
    hz, mz, secrets, n_households = county
    assert all(contract.id_card_like(s) for s in secrets if re.fullmatch(r"\d{17}[\dX]", s))
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(store)  # MLflow's default artifact root (./mlruns) lands in the tmp store too
    caplog.set_level(logging.DEBUG)
    files = _write(hz, mz, form, tmp_path / "in")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(FanpinError) as strict:  # the cells typed wrong stop the strict read
            read_panel(**files, salt=SALT)
        raised = str(strict.value)
        assert "village_code" in raised and "not shown" in raised
        df, rep = read_panel(**files, salt=SALT, errors="warn")
        print(rep)
        real = df["household_id"].str.fullmatch(r"h_[0-9a-f]{16}") & df["year"].notna()
        # every household came through under one hashed key per household, every year present
        assert df.loc[real, "household_id"].nunique() == n_households
        assert (df.loc[real].groupby("household_id")["year"].nunique() == 4).all()
        assert df.loc[real, "household_size"].notna().all()  # the member sheet matched every household
        train_rows = df[(df["year"] < 2025).fillna(False).astype(bool)]
        model = fanpin_risk.train(train_rows, model="scorecard", log_to_mlflow=True, seed=0)
        s = fanpin_risk.score(df, model, budget=8)
        assert set(df.loc[real, "household_id"]) <= set(s["household_id"])
        out = tmp_path / "out"
        wb = write_workbook(s, out / "ranked.xlsx")
        html = write_html_report(df, out / "report.html", model=model, n_waterfall=2)
        mdir = model.save(out / "model")

    assert {"户主名称", "联系方式", "帮扶干部", "户主身份证号", "备注"} <= set(rep.dropped_columns)
    assert any(k.startswith("member table: ") and "姓名" in k for k in rep.dropped_columns)
    assert "帮扶责任人单位" in rep.extras.columns and "帮扶措施" in rep.extras.columns
    printed = capsys.readouterr()
    texts = {
        "frame": df.to_csv(index=False),
        "report": "\n".join([str(rep), rep._repr_html_(), rep.issues.to_csv(), repr(rep.notes),
                             repr(rep.dropped_columns), repr(rep.unknown_columns), repr(rep.header_map),
                             rep.extras.to_csv()]),
        "strict read error": raised,
        "score output": s.to_csv(index=False) + repr(s.attrs),
        "workbook": _texts_of_workbook(wb),
        "html": Path(html).read_text(encoding="utf-8"),
        "logs": caplog.text,
        "warnings": "\n".join(str(w.message) for w in caught),
        "stdout/stderr": printed.out + printed.err,
    }
    assert len(texts["workbook"]) > 100 and "<html" in texts["html"].lower()
    blobs = {str(p): p.read_bytes() for root in (store, Path(mdir), out) for p in root.rglob("*") if p.is_file()}
    assert any(k.endswith("mlflow.db") for k in blobs)

    for secret in secrets:
        for v in _variants(secret):
            for where, t in texts.items():
                assert v not in t, f"{v!r} leaked into {where}"
            b = v.encode("utf-8")
            for where, data in blobs.items():
                assert b not in data, f"{v!r} leaked into {where}"
    # nor is any output value an ID-card or phone number, however spelt, or a personal-data label
    for frame in (df, s, rep.extras):
        for c in frame.columns:
            vals = frame[c].dropna()
            if vals.dtype == object or str(vals.dtype) == "str":
                assert not contract.pii_flags(vals.astype(str).tolist()).any(), c


def test_hashed_keys_are_the_same_in_both_formats(county, tmp_path):
    hz, mz, _, n_households = county
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, _ = read_panel(**_write(hz, mz, "xlsx", tmp_path / "a"), salt=SALT, errors="warn")
        b, _ = read_panel(**_write(hz, mz, "gbk_csv", tmp_path / "b"), salt=SALT, errors="warn")
    keys = [set(x.loc[x["year"].notna(), "household_id"]) for x in (a, b)]
    # every key but the numeric ones (an xlsx number cell holds 15 digits, CSV text what pandas wrote) agrees
    numeric = sum(isinstance(k, float) for k in pd.unique(hz["户编号"]))
    assert numeric and len(keys[0] & keys[1]) == n_households - numeric
    assert all(len(k) == n_households for k in keys)
