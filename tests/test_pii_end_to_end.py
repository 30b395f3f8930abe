"""Personal data never leaves read_panel: read → train (MLflow) → score → workbook → HTML → saved model.

The export holds made-up ID-card numbers (valid check digits), mobile numbers and
names, on the household sheet and the member sheet, and uses the head's ID number
as the household key. None of these strings may appear in any output, log, the
MLflow store (every file, the sqlite database bytes included) or the model files.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

from fanpin_risk import contract
from fanpin_risk.contract import is_id_card, is_phone
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate

_SURNAMES = "王李张刘陈杨黄赵吴周"
_GIVEN = ["梓涵", "沐宸", "语桐", "浩然", "雨泽", "可馨", "铭轩", "若汐", "锦程", "安琪", "思远", "诗涵"]


def _people(n: int, id_card, start: int) -> tuple[list[str], list[str], list[str]]:
    """n made-up (ID number, mobile number, name) triples, all distinct."""
    ids = [id_card(region="520102", birth=f"19{60 + (start + k) % 40:02d}0{1 + k % 9}1{k % 10}", seq=f"{(start + k) % 1000:03d}")
           for k in range(n)]
    phones = [f"13{(start + k) % 10}{(start * 7919 + k * 104729) % 10**8:08d}" for k in range(n)]
    names = [_SURNAMES[(start + k) % 10] + _GIVEN[(start + 3 * k) % 12] + ("" if k % 2 else "儿") for k in range(n)]
    return ids, phones, names


@pytest.fixture
def export(tmp_path, id_card):
    hh, mem = simulate(40, years=range(2021, 2026), seed=5, province="全国", return_members=True)
    hids = sorted(hh["household_id"].unique())
    heads, head_phones, head_names = _people(len(hids), id_card, 0)
    key = dict(zip(hids, heads))
    hz = contract.export_frame(hh, headers="zh")
    hz["户编号"] = hz["户编号"].map(key)  # the head's ID number used as household key
    hz.insert(1, "户主姓名", hz["户编号"].map(dict(zip(heads, head_names))))
    hz.insert(2, "联系电话", hz["户编号"].map(dict(zip(heads, head_phones))))
    hz["户主身份证号"] = hz["户编号"]
    mz = contract.export_frame(mem, "member")
    mz["户编号"] = mz["户编号"].map(key)
    persons = sorted({(h, n) for h, n in zip(mem["household_id"], mem["member_no"])})
    pids, pphones, pnames = _people(len(persons), id_card, 500)
    pk = {p: i for i, p in enumerate(persons)}
    idx = [pk[(h, n)] for h, n in zip(mem["household_id"], mem["member_no"])]
    mz.insert(1, "姓名", [pnames[i] for i in idx])
    mz.insert(2, "证件号码", [pids[i] for i in idx])
    mz["手机号"] = [pphones[i] for i in idx]
    path = tmp_path / "county_export.xlsx"
    import pandas as pd

    with pd.ExcelWriter(path) as xw:
        hz.to_excel(xw, sheet_name="户信息", index=False)
        mz.to_excel(xw, sheet_name="成员信息", index=False)
    secrets = [*heads, *head_phones, *head_names, *pids, *pphones, *pnames]
    assert all(is_id_card(s) for s in heads + pids) and all(is_phone(s) for s in head_phones + pphones)
    return path, secrets


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_pii_anywhere_downstream(export, tmp_path, monkeypatch, caplog, capsys):
    path, secrets = export
    store = tmp_path / "store"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(store)  # MLflow's default artifact root (./mlruns) lands in the tmp store too
    caplog.set_level(logging.DEBUG)

    from fanpin_risk.api import train
    from fanpin_risk.reporting import write_html_report, write_workbook
    from fanpin_risk.scoring import score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, rep = read_panel(path, member_sheet="成员信息", salt="unit-test-salt", errors="warn")
        print(rep)
        assert {"户主姓名", "联系电话", "户主身份证号"} <= set(rep.dropped_columns)
        assert any("姓名" in k for k in rep.dropped_columns) and any("证件号码" in k for k in rep.dropped_columns)
        assert df["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").all()
        model = train(df[df["year"] < 2025], "lightgbm", params={"n_estimators": 10}, seed=0)
        s = score(df, model, budget=10)
        assert len(s) == df["household_id"].nunique() == 40
        wb = write_workbook(s, tmp_path / "out" / "list.xlsx")
        html = write_html_report(df, tmp_path / "out" / "report.html", model=model, n_waterfall=2)
        mdir = model.save(tmp_path / "out" / "model")

    out = capsys.readouterr()
    texts = {
        "score output": s.to_csv(index=False),
        "report": str(rep) + rep.issues.to_csv() + " ".join(rep.notes) + str(rep.dropped_columns)
        + (rep.extras.to_csv() if rep.extras is not None else ""),
        "html": Path(html).read_text(encoding="utf-8"),
        "logs": caplog.text,
        "stdout/stderr": out.out + out.err,
    }
    from openpyxl import load_workbook

    book = load_workbook(wb, read_only=True)
    texts["workbook"] = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                                  for v in row if v is not None)
    blobs = {**_all_bytes(store), **_all_bytes(Path(mdir))}
    assert any(k.endswith("mlflow.db") for k in blobs) and any("booster" in k for k in blobs)
    assert len(texts["workbook"]) > 100 and "<html" in texts["html"].lower()

    for secret in secrets:
        variants = {secret, secret.lower(), secret[:17]} if is_id_card(secret) else {secret}
        for v in variants:
            for where, t in texts.items():
                assert v not in t, f"{v!r} leaked into {where}"
            b = v.encode("utf-8")
            for where, data in blobs.items():
                assert b not in data, f"{v!r} leaked into {where}"

    # the data fingerprint in MLflow is counts, years and a hash: never rows or ids
    import mlflow

    run = mlflow.get_run(model.mlflow_run_id)
    data_params = {k: v for k, v in run.data.params.items() if k.startswith("data")}
    assert {k.split(".", 1)[1] for k in data_params} <= {"rows", "households", "years", "first_year", "last_year", "sha256"}
    assert data_params["data.rows"] == str(int((df["year"] < 2025).sum()))
    assert data_params["data.households"] == "40"
    assert len(data_params["data.sha256"]) == 64 and int(data_params["data.sha256"], 16) >= 0
    every = " ".join(f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items())
    assert not any(h in every for h in df["household_id"].unique())  # not even the hashed keys


def test_hashed_keys_stable_across_calls_with_the_same_salt(export):
    path, _ = export
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, _ = read_panel(path, salt="s1", errors="warn")
        b, _ = read_panel(path, salt="s1", errors="warn")
        c, _ = read_panel(path, salt="s2", errors="warn")
    assert a["household_id"].tolist() == b["household_id"].tolist()
    assert set(a["household_id"]).isdisjoint(set(c["household_id"]))
    assert np.array_equal(a["year"].to_numpy(), c["year"].to_numpy())
