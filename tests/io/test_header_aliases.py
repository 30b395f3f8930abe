"""Headers read from data_schema/header_aliases.csv: the public constants are the file, and each row works."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

import fanpin_risk.io as fio
from fanpin_risk import contract
from fanpin_risk.io import BIRTH_HEADERS, INVERSE_HEADERS, read_panel


def _rows():
    with (contract.schema_dir() / "header_aliases.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _household(n_years: int = 1, **cols) -> pd.DataFrame:
    d = {"户编号": ["H1"] * n_years, "年度": [str(2024 - k) for k in range(n_years)], "县代码": "520102",
         "户类型": "脱贫户", "家庭人口数": "2", "工资性收入": "9000", "生产经营性收入": "0", "转移性收入": "0"}
    d.update(cols)
    return pd.DataFrame(d)


def test_constants_are_the_file_rows_in_order():
    rows = _rows()
    assert INVERSE_HEADERS == {r["header"]: r["field"] for r in rows if r["meaning"] == "negation"}
    assert BIRTH_HEADERS == tuple(r["header"] for r in rows if r["meaning"] == "birth_date")
    assert INVERSE_HEADERS["是否危房户"] == "housing_safe"
    assert BIRTH_HEADERS[0] == "出生日期"


def test_file_rows_name_contract_fields_and_repeat_no_contract_header():
    for r in _rows():
        assert r["field"] in contract.field_names(r["table"]), r
        # the contract files already list their own aliases: this file holds only the others
        assert contract.normalize_header(r["header"]) not in contract.header_map(r["table"]), r


@pytest.mark.parametrize("header", list(INVERSE_HEADERS))
def test_each_inverse_header_negates_its_field(header):
    df, rep = read_panel(_household(2, **{header + "（是/否）": ["是", "否"]}), salt="s")
    assert df["housing_safe"].tolist() == [True, False]  # sorted by year: 2023 否 → safe, 2024 是 → unsafe
    assert rep.header_map[header + "（是/否）"] == "housing_safe"


def test_inverse_header_ignored_when_the_direct_field_is_there():
    df, rep = read_panel(_household(住房安全有保障="是", 是否危房户="是"), salt="s")
    assert df["housing_safe"].tolist() == [True]
    assert "是否危房户" in rep.unknown_columns


@pytest.mark.parametrize("header", BIRTH_HEADERS)
def test_each_birth_header_gives_member_ages(header):
    members = pd.DataFrame({"户编号": ["H1", "H1"], "年度": ["2024", "2024"], "成员序号": ["1", "2"],
                            header: ["1950-05-01", "2015年3月"]})
    df, rep = read_panel(_household(), members=members, salt="s")
    assert (df.loc[0, "n_elderly"], df.loc[0, "n_children"]) == (1, 1)
    assert "member ages derived as year − birth year: 2 from 出生日期" in rep.notes
    assert not any(header in c for c in rep.unknown_columns)


def test_public_names_are_exported():
    for name in fio.__all__:
        assert getattr(fio, name) is not None, name
    assert {"read_panel", "load_sample", "sample_paths", "parse_bool", "parse_number", "parse_month",
            "INVERSE_HEADERS", "BIRTH_HEADERS", "LABOR_VALUES", "WEAK_LABOR", "Source"} <= set(fio.__all__)
