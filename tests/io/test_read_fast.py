"""The vectorised read paths give what the per-value parsers give, cell by cell.

``read_panel`` parses each distinct value of a text column once (plain ASCII numbers
by Arrow), pre-filters PII candidates with Arrow kernels and reads plain CSV files
with Arrow's parser. These tests build inputs whose expected values and issues come
from the public per-value functions (``parse_number``, ``parse_bool``, ``is_phone``,
``is_id_card``), so a fast path that drifted from them fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fanpin_risk import contract
from fanpin_risk.io import parse_bool, parse_number, read_panel

from conftest import fake_id_card

FORMS = ["csv", "csv_quoted", "frame_object", "frame_str"]


def table(n: int, **cols) -> pd.DataFrame:
    """Raw household rows with the required fields; ids sort in row order (report rows = input rows)."""
    d = {"户编号": [f"H{i:06d}" for i in range(n)], "年度": ["2024"] * n, "县代码": ["520102"] * n,
         "户类型": ["脱贫户"] * n, "家庭人口数": ["3"] * n, "工资性收入": ["1000"] * n,
         "生产经营性收入": ["0"] * n, "转移性收入": ["0"] * n}
    d.update(cols)
    return pd.DataFrame(d, dtype=object)


def read(df: pd.DataFrame, form: str, tmp_path, **kw):
    """read_panel on ``df`` given as a plain CSV (Arrow's parser), a CSV pandas must parse, or a DataFrame."""
    if form.startswith("csv"):
        path = tmp_path / f"{form}.csv"
        text = df.to_csv(index=False)
        if form == "csv_quoted":  # a quoted title line: only pandas' parser may read this file
            text = '"监测对象,信息表"\n' + text
        path.write_text(text, encoding="utf-8")
        df = path
    elif form == "frame_str":
        df = df.astype("str")
    return read_panel(df, errors="warn", salt="s", **kw)


def expected_numbers(cells, parse):
    """Per cell: (value or NaN, issue value or None), with the PII rule applied first."""
    out = []
    for v in cells:
        if v is None or v.strip().lower() in ("", "nan", "-", "null", "n/a"):
            out.append((math.nan, None))
        elif contract.is_phone(v) or contract.is_id_card(v) or _huge(v):
            out.append((math.nan, "***"))  # 15+ digits in an amount or count field is an identifier, not a number
        else:
            try:
                out.append((parse(v), None))
            except ValueError:
                out.append((math.nan, v))
    return out


def _huge(v) -> bool:
    try:
        return abs(parse_number(v)) >= 1e14
    except (ValueError, TypeError, OverflowError):
        return False


def issues_wanted(want):
    """Parse issues as read_panel lists them per column: the PII cells first, then the unreadable ones."""
    return ([(k, shown) for k, (_, shown) in enumerate(want) if shown == "***"]
            + [(k, shown) for k, (_, shown) in enumerate(want) if shown not in (None, "***")])


def parse_issues(rep, field):
    e = rep.issues[(rep.issues["rule"] == "parse") & (rep.issues["field"] == field)]
    return list(zip(e["row"].astype(int), e["value"]))


NUMBERS = ["1200", "1200.50", "-300", "0", "-0", ".5", "7.", "00012", "1,200", "1,200 元", "1.5万元", " 12 ", "１２００",
           "3人", "6个月", "2023年", "1e3", "+5", "12 345.5", "1，200", "约一万", "abc", "1.2.3", "元", "", "-", "nan",
           "13812345678", "１３８１２３４５６７８", "138-1234-5678", "0851-1234567", fake_id_card(), fake_id_card(seq="002")[:17] + "0",
           "12345678901234567890", "0.1000000000000000055511151231257827021181583404541015625", "9" * 400]


@pytest.mark.parametrize("form", FORMS)
def test_number_column_mixing_readable_unreadable_and_pii(form, tmp_path):
    cells = NUMBERS * 2
    df, rep = read(table(len(cells), 工资性收入=cells), form, tmp_path)
    want = expected_numbers(cells, parse_number)
    got = df["income_wage"].tolist()
    for k, ((value, _), g) in enumerate(zip(want, got)):
        assert (math.isnan(value) and math.isnan(g)) or g == value, (k, cells[k], g, value)
    assert parse_issues(rep, "income_wage") == issues_wanted(want)
    text = rep.issues.to_csv() + " ".join(rep.notes) + df.to_csv()
    assert "13812345678" not in text and fake_id_card() not in text


@pytest.mark.parametrize("form", FORMS)
def test_integer_column_whole_numbers_only(form, tmp_path):
    cells = ["3", "3.0", "3.5", "4人", "9223372036854775807", "9223372036854775808", "-2", "", "x", "１", "2e1", "007"]

    def whole(v):
        x = parse_number(v)
        if not float(x).is_integer() or abs(x) >= 2**63:
            raise ValueError(v)
        return int(x)

    df, rep = read(table(len(cells), 劳动力人数=cells), form, tmp_path)
    want = expected_numbers(cells, whole)
    assert df["n_labor"].dtype == "Int64"
    assert [None if pd.isna(g) else int(g) for g in df["n_labor"]] == [None if shown is not None or value != value else value
                                                                        for value, shown in want]
    assert parse_issues(rep, "n_labor") == issues_wanted(want)


BOOLS = ["是", "否", " 是 ", "否\u3000", "Y", "n", "1", "0", "1.0", "0.0", "√", "×", "true", "FALSE", "有", "无", "ｙｅｓ",
         "是否", "maybe", "2", "", "-", "N/A", "<NA>"]


@pytest.mark.parametrize("form", FORMS)
def test_yes_no_variants(form, tmp_path):
    df, rep = read(table(len(BOOLS), 享受低保=BOOLS), form, tmp_path)
    want, bad = [], []
    for k, v in enumerate(BOOLS):
        if v.strip().lower() in ("", "-", "n/a", "<na>"):
            want.append(pd.NA)
            continue
        try:
            want.append(parse_bool(v))
        except ValueError:
            want.append(pd.NA)
            bad.append((k, v))
    assert df["receives_dibao"].dtype == "boolean"
    assert df["receives_dibao"].tolist() == want
    assert parse_issues(rep, "receives_dibao") == bad


@pytest.mark.parametrize("form", FORMS)
def test_many_distinct_values_one_bad_cell(form, tmp_path):
    rng = np.random.default_rng(0)
    cells = [f"{x:.{d}f}" for x, d in zip(rng.uniform(0, 1e6, 4000), rng.integers(0, 7, 4000))]
    cells[2777] = "约一万"
    df, rep = read(table(len(cells), 合规自付支出=cells), form, tmp_path)
    got = df["expense_medical"].to_numpy()
    assert np.isnan(got[2777]) and parse_issues(rep, "expense_medical") == [(2777, "约一万")]
    keep = np.arange(len(cells)) != 2777
    want = np.array([float(c) for k, c in enumerate(cells) if keep[k]])
    assert (got[keep] == want).all()  # bit for bit: Arrow's parser rounds as float() does


@pytest.mark.parametrize("form", FORMS)
def test_codes_keep_leading_zeros_and_are_normalised(form, tmp_path):
    df, rep = read(table(4, 户编号=["000123", " 000124 ", "０００１２５", "H1"], 县代码=["001234", " 520102", "５２０１０２", "0"],
                         村代码=["520102001001"] * 4, 户类型=["脱贫 户", "脱贫户", "\u3000脱贫户", "脱贫戶"]), form, tmp_path)
    assert df["household_id"].tolist() == ["000123", "000124", "000125", "H1"]
    assert df["county_code"].tolist() == ["001234", "520102", "520102", "0"]
    assert df["village_code"].tolist() == ["520102001001"] * 4
    assert df["household_type"].tolist() == ["脱贫户", "脱贫户", "脱贫户", "脱贫戶"]
    assert str(df["county_code"].dtype) == "str" and str(df["household_type"].dtype) == "str"


@pytest.mark.parametrize("form", FORMS)
def test_missing_value_spellings(form, tmp_path):
    cells = ["", " ", "nan", "NaN", "NULL", "none", "-", "--", "—", "/", "N/A", "<NA>", "ｎａｎ", "\u3000", "0"]
    df, rep = read(table(len(cells), 财产性收入=cells, 致贫返贫风险1=cells), form, tmp_path)
    assert df["income_property"].isna().tolist() == [True] * (len(cells) - 1) + [False]
    assert df["risk_type_1"].isna().tolist() == [True] * (len(cells) - 1) + [False]
    assert parse_issues(rep, "income_property") == []


@pytest.mark.parametrize("form", FORMS)
def test_pii_in_unexpected_columns_is_removed(form, tmp_path, id_card):
    n = 12
    phones = [f"139{k:08d}" for k in range(n)]
    ids = [id_card(birth=f"19{60 + k}0101", seq=f"{k:03d}") for k in range(n)]
    credit = [ids[0], "30000", phones[1], "１３９" + phones[2][3:], ids[3].lower(), "5"] * (n // 6)
    df, rep = read(table(n, 备注=phones, 村名=ids, 小额信贷金额=credit), form, tmp_path)
    assert {"备注", "村名"} <= set(rep.dropped_columns)
    assert rep.extras is None or not ({"备注", "村名"} & set(rep.extras.columns))
    assert df["microcredit"].isna().tolist() == [True, False, True, True, True, False] * (n // 6)
    assert parse_issues(rep, "microcredit") == [(k, "***") for k in range(n) if k % 6 not in (1, 5)]
    hashed, rep2 = read(table(n, 户编号=[ids[k] if k % 3 == 0 else f"H{k:06d}" for k in range(n)]), form, tmp_path)
    assert hashed["household_id"].str.fullmatch(r"h_[0-9a-f]{16}").sum() == 4
    text = df.to_csv() + rep.issues.to_csv() + " ".join(rep.notes) + str(rep) + hashed.to_csv() + str(rep2)
    assert not any(s in text for s in phones + ids + [i.lower() for i in ids])


def test_extras_are_object_text_as_read(tmp_path):
    notes = ["a", " b ", "", "0012"]
    df, rep = read(table(4, 备注=notes), "csv", tmp_path)
    assert rep.extras["备注"].dtype == object and rep.extras["备注"].tolist() == notes


def test_arrow_and_pandas_csv_parsers_agree(tmp_path):
    raw = table(6, 工资性收入=["1,200 元", "x", "", "12", "１２", "13812345678"], 享受低保=["是", "否", "", "Y", "2", "1"],
                识别监测时间=["2024-03", "202404", "", "2024年5月", "44256", "202413"], 备注=["a", "b", "c", "d", "e", "f"])
    plain = read(raw, "csv", tmp_path)
    quoted = read(raw, "csv_quoted", tmp_path)
    pd.testing.assert_frame_equal(plain[0], quoted[0], check_exact=True)
    pd.testing.assert_frame_equal(plain[1].issues, quoted[1].issues, check_exact=True)
    pd.testing.assert_frame_equal(plain[1].extras, quoted[1].extras, check_exact=True)


TRICKY = ["13812345678", "+8613812345678", "8613812345678", "010-12345678", "0851-1234567", "08511234567", "1381234567",
          "13812345678.0", "１３８１２３４５６７８", " 138 1234 5678 ", "138-1234-5678", fake_id_card(), fake_id_card().lower(),
          fake_id_card() + ".0", fake_id_card()[:6] + "-" + fake_id_card()[6:], "-" + fake_id_card(), "520102800101123",
          "H0000001", "5201020010", "123456789", "", "1.5万元", 13812345678, 13812345678.0, None, float("nan"),
          np.str_("13912345678"), "٣٨١٢٣٤٥٦٧٨١"]


def test_pii_prefilter_never_hides_a_match():
    exact = [contract.is_id_card(v) or contract.is_phone(v) for v in TRICKY]
    assert contract.id_or_phone(TRICKY).tolist() == exact
    text = [v for v in TRICKY if isinstance(v, str)]
    assert contract.id_or_phone(pd.array(text, dtype="str")).tolist() == [contract.is_id_card(v) or contract.is_phone(v)
                                                                            for v in text]
    rng = np.random.default_rng(1)
    alphabet = list("0123456789-+. xX,") + ["元", "１", "\u3000"]
    vals = ["".join(rng.choice(alphabet, rng.integers(1, 22))) for _ in range(3000)]
    assert contract.id_or_phone(vals).tolist() == [contract.is_id_card(v) or contract.is_phone(v) for v in vals]
