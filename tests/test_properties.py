"""Property-based tests (hypothesis): junk in → the library's own error or a complete frame out.

* read_panel on random frames built from contract fields (random junk values, random
  header languages, dropped columns) either reads or raises a FanpinError, never a
  bare pandas/numpy KeyError/ValueError/TypeError; and every input row is in the
  output or listed in the report (total rows 合计 are the only rows dropped, with a note).
* PanelFeatures.transform on random canonical panels returns one float64 row per
  input row, same index, or raises a FanpinError.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fanpin_risk import contract
from fanpin_risk.errors import FanpinError
from fanpin_risk.panel import PanelFeatures
from fanpin_risk.io import read_panel
from fanpin_risk.simulate import simulate

# No shrinking phase: a failure is reported at once with its example (shrinking wide frames
# can take minutes), which keeps the file inside the CI budget even when it fails.
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FIELDS = contract.fields()
_TYPES = dict(zip(FIELDS["field"], FIELDS["type"]))
_UNITS = dict(zip(FIELDS["field"], FIELDS["unit"].fillna("")))
_ALIASES = {r.field: list(r.aliases) for r in FIELDS.itertuples()}
_ZH = contract.zh_headers()

JUNK = st.one_of(
    st.none(), st.just(""), st.just("nan"), st.just("-"), st.just("合计"), st.just("是"), st.just("否"),
    st.just("1,200元"), st.just("１２"), st.just("1.5万"), st.just("2023年3月"), st.just("脱贫 户"),
    st.just("13800138000"), st.just("not a number"), st.just("  "),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20), st.booleans(),
    st.text(max_size=6), st.dates().map(lambda d: pd.Timestamp(d)),
)


def _good(field: str) -> st.SearchStrategy:
    t = _TYPES[field]
    if field == "year":
        return st.integers(2019, 2026)
    if field == "household_id":
        return st.sampled_from(["A1", "A2", "0003", "52010X", "B7"])
    if _UNITS[field] == "YYYYMM":
        return st.integers(2019, 2025).map(lambda y: y * 100 + 3)
    if t == "integer":
        return st.integers(0, 8)
    if t == "number":
        return st.floats(0, 1e6, allow_nan=False)
    if t == "boolean":
        return st.sampled_from(["是", "否", True, False])
    if t == "category":
        codes = contract.code_list(FIELDS.set_index("field").at[field, "code_list"])
        return st.sampled_from(list(codes))
    return st.sampled_from(["全国", "520102", "云南", "x"])


@st.composite
def raw_frames(draw):
    names = list(FIELDS["field"])
    keep = [f for f in names if draw(st.floats(0, 1)) < 0.8]
    n = draw(st.integers(0, 6))
    cols = {}
    for f in keep:
        lang = draw(st.sampled_from(["en", "zh", "alias"]))
        header = f if lang == "en" or (lang == "alias" and not _ALIASES[f]) else (
            _ZH[f] if lang == "zh" else draw(st.sampled_from(_ALIASES[f])))
        if header in cols:
            continue
        vals = draw(st.lists(st.one_of(_good(f), _good(f), JUNK), min_size=n, max_size=n))
        cols[header] = pd.Series(vals, dtype=object)
    if draw(st.booleans()):
        cols[draw(st.sampled_from(["备注", "extra", "unnamed: 3"]))] = pd.Series(draw(st.lists(JUNK, min_size=n, max_size=n)), dtype=object)
    return pd.DataFrame(cols, index=range(n))


def _n_total_rows(notes) -> int:
    m = [re.search(r"(\d+) total row\(s\)", s) for s in notes]
    return sum(int(x.group(1)) for x in m if x)


@SETTINGS
@given(raw_frames(), st.sampled_from(["warn", "raise"]))
def test_read_panel_reads_or_raises_fanpin_error_and_keeps_rows(df, errors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out, rep = read_panel(df, errors=errors, salt="prop")
        except FanpinError:
            return
    assert list(out.columns) == contract.field_names()
    assert len(out) == len(df) - _n_total_rows(rep.notes)
    assert out.index.equals(pd.RangeIndex(len(out)))
    assert set(rep.issues["level"]) <= {"error", "warning", "info"}


# --------------------------------------------------------------------------- PanelFeatures
@pytest.fixture(scope="module")
def fitted() -> PanelFeatures:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PanelFeatures().fit(simulate(30, years=range(2021, 2025), seed=9, province="全国"))


def _value(field: str) -> st.SearchStrategy:
    t = _TYPES[field]
    if t == "boolean":
        return st.sampled_from([True, False, None])
    if t == "category":
        codes = list(contract.code_list(FIELDS.set_index("field").at[field, "code_list"]))
        return st.one_of(st.none(), st.sampled_from(codes + ["其它值"]))
    if t == "integer":
        return st.one_of(st.none(), st.integers(-2, 40))
    if t == "number":
        return st.one_of(st.none(), st.floats(-1e4, 1e12, allow_nan=False), st.just(0.0))
    return st.one_of(st.none(), st.sampled_from(["全国", "520102", "990003001"]))


@st.composite
def canonical_panels(draw):
    n_hh = draw(st.integers(1, 4))
    rows = []
    for h in range(n_hh):
        years = draw(st.lists(st.integers(2019, 2026), min_size=1, max_size=4, unique=True))
        for y in years:
            r = {f: draw(_value(f)) for f in contract.field_names() if f not in ("household_id", "year", "monitoring_line")}
            r.update(household_id=f"H{h}", year=y, monitoring_line=draw(st.one_of(st.just(7000.0), st.floats(1, 1e5))))
            rows.append(r)
    df = contract.to_canonical_dtypes(pd.DataFrame(rows)[contract.field_names()])
    drop = draw(st.lists(st.sampled_from([f for f in contract.field_names() if f not in ("household_id", "year")]),
                         max_size=3, unique=True))
    df = df.drop(columns=drop)
    # a shuffled, non-default index: the output must keep it
    order = draw(st.permutations(range(len(df))))
    df = df.iloc[list(order)]
    df.index = [f"r{k}" for k in range(len(df))]
    return df


@SETTINGS
@given(panel=canonical_panels())
def test_panel_features_transform_keeps_rows_or_raises_fanpin_error(fitted, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            X = fitted.transform(panel)
        except FanpinError as e:
            assert "lack column" in str(e)  # the only documented refusal: a column it was fitted with
            return
    assert X.index.equals(panel.index)
    assert list(X.columns) == list(fitted.get_feature_names_out())
    assert (X.dtypes == "float64").all()
    assert not np.isinf(X.to_numpy()).any()
