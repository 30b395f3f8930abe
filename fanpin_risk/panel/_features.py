"""Household-year features built only from records dated at or before the row's year.

:class:`PanelFeatures` is a scikit-learn transformer. ``fit`` learns the category
levels (monitoring category, household type) and which raw columns the data
had; ``transform`` is pure: the features of household *h* in year *t* depend on
*h*'s own records of years ≤ *t* (lags are taken within the household's history,
sorted by year; gaps in the history are measured, not assumed away) and, in the
history block, on the other households of its village and county in year *t*
(leave-one-out context, :mod:`fanpin_risk.panel._history`); never on a later year's
outcome. One thing of year *t* + 1 is read when ``line_ahead`` is on: the monitoring
line then in force, a published policy figure (the province's line of *t* + 1 where
the records or the fitted schedule hold it, else a projection), so that every record
is judged against the line its outcome will be judged against.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from numbers import Integral, Real

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from fanpin_risk import contract
from fanpin_risk._order import household_order
from fanpin_risk._text import CodedText, encode_text
from fanpin_risk.errors import ModelError

from ._history import CONTEXT_COLUMNS, HISTORY_FEATURES, context_columns, context_totals, history_block

_BOOL_IN = ("housing_safe", "drinking_water_safe", "compulsory_education_ok", "medical_insured")
_SHOCKS = ("shock_illness", "shock_disaster", "shock_accident", "shock_job_loss", "shock_industry_failure")
_HELP = ("receives_dibao", "receives_tekun", "public_welfare_job")
_COUNTS = ("n_labor", "n_migrant_workers", "n_elderly", "n_children", "n_students", "n_disabled", "n_chronic_ill", "n_serious_ill")
CATEGORICAL = ("monitoring_category", "household_type")
_RISK_TYPES = tuple(f"risk_type_{i}" for i in range(1, 6))

#: Raw columns the features read (besides household_id and year).
INPUT_COLUMNS = (
    "monitoring_line", "net_income_per_capita", "household_size", "income_wage", "income_business", "expense_business",
    "income_property", "income_transfer", "income_insurance_claims", "expense_medical", "expense_education",
    "migrant_work_months", "microcredit", "identification_month", "elimination_month", "newly_identified",
    "risk_eliminated", "is_key_county", "is_relocated", *_BOOL_IN, *_SHOCKS, *_HELP, *_COUNTS, *CATEGORICAL, *_RISK_TYPES,
)


# Identifier and place columns: read elsewhere (household_id) or not at all.
_NOT_READ = frozenset({"household_id", "province", "county_code", "township_code", "village_code"})

#: A rise of the line by this factor or more from one year to the next is a change of
#: standard (2020 → 2021: 4000 → 6000, 1.5 ×), not growth: it is never projected forward.
LINE_CHANGE = 1.25


def _f(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column as float64 array (NaN for missing or absent)."""
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return _fs(df[col])


def _fs(s: pd.Series) -> np.ndarray:
    """Series as float64 array (NaN for missing or unreadable)."""
    if s.dtype.kind in "biuf":  # numeric, boolean and their nullable forms convert without parsing
        return s.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(dtype="float64", na_value=np.nan)


def _nansum(arrays: list[np.ndarray]) -> np.ndarray:
    """Elementwise sum ignoring NaN (0 where all are NaN), added in list order."""
    out = np.where(np.isnan(arrays[0]), 0.0, arrays[0])  # not nan_to_num: it would also clip ±inf
    for a in arrays[1:]:
        out = out + np.where(np.isnan(a), 0.0, a)
    return out


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    out[~np.isfinite(out)] = np.nan
    return out


#: scikit-learn estimator checks that cannot pass, declared through sklearn's own
#: ``check_estimator(..., expected_failed_checks=...)``: each feeds a numeric array, and
#: PanelFeatures reads a canonical panel (household_id, year and the contract columns).
#: The properties marked "on a panel" are tested on real panels in
#: tests/panel/test_sklearn_contract.py.
EXPECTED_FAILED_CHECKS: dict[str, str] = {
    "check_fit_score_takes_y": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimators_overwrite_params": "numeric-array input; tested on a panel",
    "check_dont_overwrite_parameters": "numeric-array input; tested on a panel",
    "check_estimators_fit_returns_self": "numeric-array input; tested on a panel",
    "check_readonly_memmap_input": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_n_features_in_after_fitting": "numeric-array input; tested on a panel",
    "check_positive_only_tag_during_fit": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimators_dtypes": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_complex_data": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_dtype_object": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimators_empty_data_messages": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_pipeline_consistency": "numeric-array input; tested on a panel",
    "check_estimator_sparse_tag": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimator_sparse_array": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimator_sparse_matrix": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_estimators_pickle": "numeric-array input; tested on a panel",
    "check_f_contiguous_array_estimator": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_transformer_data_not_an_array": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_transformer_general": "numeric-array input; tested on a panel",
    "check_methods_sample_order_invariance": "numeric-array input; tested on a panel",
    "check_methods_subset_invariance": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_fit2d_1sample": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_fit2d_1feature": "numeric-array input (a panel is a DataFrame with household_id and year)",
    "check_dict_unchanged": "numeric-array input; tested on a panel",
    "check_fit_idempotent": "numeric-array input; tested on a panel",
    "check_fit_check_is_fitted": "numeric-array input; tested on a panel",
    "check_n_features_in": "numeric-array input; tested on a panel",
    "check_fit2d_predict1d": "numeric-array input (a panel is a DataFrame with household_id and year)",
}


def _province_codes(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Province of each record as a code into unique texts ("" where the records have none): the key of the line
    schedule. Only the unique values are turned into text, not every row."""
    if "province" not in X.columns:
        return np.zeros(len(X), dtype="int64"), np.array([""], dtype=object)
    codes, uniq = pd.factorize(X["province"], sort=False)
    names = [str(u) for u in uniq]
    if (codes < 0).any():  # a missing province is ""
        names.append("")
        codes = np.where(codes < 0, len(names) - 1, codes)
    # values that read the same as text (52 and "52", or "" given and missing) are one province
    inv, uniq_names = pd.factorize(pd.Index(names, dtype=object), sort=False)
    return inv[codes].astype("int64"), np.asarray(uniq_names, dtype=object)


def line_schedule(X: pd.DataFrame, counts: pd.DataFrame | None = None) -> dict:
    """Median monitoring line of each (province, year) of the records.

    ``counts`` (columns province, year, line, n: how many records carry each
    line) gives the same schedule for records that are not in memory at once.

    Examples
    --------
    >>> import pandas as pd
    >>> line_schedule(pd.DataFrame({"province": ["贵州", "贵州", "贵州"], "year": [2022, 2023, 2023],
    ...                             "monitoring_line": [6800.0, 7300.0, 7300.0]}))
    {('贵州', 2022): 6800.0, ('贵州', 2023): 7300.0}
    """
    if counts is None:
        if "monitoring_line" not in X.columns or "year" not in X.columns:
            return {}
        counts = line_counts(X)
    c = counts[(counts["n"] > 0) & (counts["line"] > 0)].sort_values(["province", "year", "line"])
    out = {}
    for (p, y), g in c.groupby(["province", "year"], sort=True):
        cum, half = g["n"].cumsum().to_numpy(), g["n"].sum() / 2.0
        v = g["line"].to_numpy()
        i = int(np.searchsorted(cum, half, side="left"))
        # the median of the records: the middle value, or the mean of the two middle ones
        out[(str(p), int(y))] = float((v[i] + v[i + 1]) / 2.0 if cum[i] == half and i + 1 < len(v) else v[i])
    return out


def line_counts(X: pd.DataFrame) -> pd.DataFrame:
    """Records per (province, year, line): what :func:`line_schedule` reads; tables of parts add up."""
    year, line = _f(X, "year"), _f(X, "monitoring_line")
    ok = np.isfinite(year) & np.isfinite(line) & (line > 0)
    pcode, puniq = _province_codes(X)
    df = pd.DataFrame({"p": pcode[ok], "year": year[ok].astype("int64"), "line": line[ok]})
    out = df.groupby(["p", "year", "line"], sort=True).size().rename("n").reset_index()
    out.insert(0, "province", np.asarray(puniq, dtype=object)[out.pop("p").to_numpy()].astype(str))
    return out


def line_growth(lines: dict) -> float | None:
    """Geometric mean of the year-on-year growth of a schedule, changes of standard left out (None: no pair)."""
    g = [lines[(p, y + 1)] / v for (p, y), v in lines.items() if (p, y + 1) in lines]
    g = [r for r in g if 1.0 / LINE_CHANGE < r < LINE_CHANGE]
    return float(np.exp(np.mean(np.log(g)))) if g else None


def _line_lookup(own: dict, lines: dict, published: dict | None):
    """``at(province, year) -> (line, source)``: the records' own schedule, then the published table, then the fitted one."""
    pub, norm = published or {}, {}

    def at(p, y):
        if pub and p not in norm:
            norm[p] = contract.normalize_province(p) if p else ""
        for v, src in ((own.get((p, y)), "records"), (pub.get((norm.get(p), y)), "published"),
                       (lines.get((p, y)), "fitted")):
            if v is not None:
                return v, src
        return np.nan, "projected"

    return at


def _next_factors(X: pd.DataFrame, year: np.ndarray, lines: dict, growth: float | None, published: dict | None):
    """Each record's code into its unique (province, year) and, per pair, next year's line ÷ this year's."""
    pcode, puniq = _province_codes(X)
    yi = np.where(np.isfinite(year), year, 0).astype("int64")  # year 0 is in no schedule
    # unique (province, year) pairs first: a province-size panel has a few dozen of them
    codes, uniq = pd.factorize(pcode.astype("int64") * 100_000 + yi)
    up, uy = np.asarray(puniq, dtype=object)[uniq // 100_000], uniq % 100_000
    at = _line_lookup(line_schedule(X), lines, published)
    cur = np.array([at(p, int(y))[0] for p, y in zip(up, uy)], dtype="float64")
    nxt = np.array([at(p, int(y) + 1)[0] for p, y in zip(up, uy)], dtype="float64")
    g = 1.0 if growth is None else float(growth)
    known = np.isfinite(cur) & np.isfinite(nxt) & (cur > 0)
    return codes, np.where(known, nxt / np.where(cur > 0, cur, 1.0), g)


def forward_line(X: pd.DataFrame, year: np.ndarray, line: np.ndarray, lines: dict, growth: float | None,
                 published: dict | None = None) -> np.ndarray:
    """Each record's line scaled to its province's line of the following year.

    The next year's line is the records' own schedule (median per province and
    year), else a ``published`` table (keys: the short province name of
    :func:`fanpin_risk.contract.normalize_province`, year), else the fitted
    ``lines``; where none holds it, this year's line × ``growth`` (× 1 when
    None). A record whose line differs from its province's median keeps that
    difference.
    """
    if len(line) == 0:
        return line
    codes, factor = _next_factors(X, year, lines, growth, published)
    return line * factor[codes]


def next_year_lines(features: "PanelFeatures", X: pd.DataFrame | None = None, year: int | None = None, *,
                    schedule: dict | None = None) -> pd.DataFrame:
    """The line of the following year that a line-ahead model judges each province's records of ``year`` against.

    Parameters
    ----------
    features : PanelFeatures
        Fitted, with ``line_ahead`` (else the frame is empty).
    X : DataFrame, optional
        Canonical panel rows.
    year : int, optional
        Record year (default: the latest).
    schedule : dict, optional
        The records' line schedule (:func:`line_schedule`) instead of ``X``, for
        records that are not in memory at once.

    Returns
    -------
    pandas.DataFrame
        One row per province with a line that year: ``province`` ("" where the
        records have none), ``year``, ``line`` (the province's median line that
        year), ``next_year``, ``next_line`` and ``source``: "records" (the
        records of the next year), "published" (the line table given to
        :meth:`PanelFeatures.with_published_lines`), "fitted" (the training
        records) or "projected" (this year's line × ``line_growth_``).

    Examples
    --------
    >>> import pandas as pd
    >>> from fanpin_risk.panel import PanelFeatures, next_year_lines
    >>> from fanpin_risk.simulate import simulate
    >>> panel = simulate(50, seed=1, years=[2023, 2024], province="贵州")
    >>> f = PanelFeatures().fit(panel)
    >>> next_year_lines(f, panel)[["year", "next_year", "source"]].to_dict("records")
    [{'year': 2024, 'next_year': 2025, 'source': 'projected'}]
    >>> pub = pd.DataFrame({"province": ["贵州"], "year": [2025], "line": [7900.0]})
    >>> next_year_lines(f.with_published_lines(pub), panel)[["next_line", "source"]].to_dict("records")
    [{'next_line': 7900.0, 'source': 'published'}]
    """
    cols = ["province", "year", "line", "next_year", "next_line", "source"]
    own = line_schedule(X) if schedule is None and X is not None else dict(schedule or {})
    if not getattr(features, "line_ahead", False) or not own:
        return pd.DataFrame(columns=cols)
    y = max(yy for _, yy in own) if year is None else int(year)
    at = _line_lookup(own, getattr(features, "lines_", {}), getattr(features, "published_lines_", None))
    g = getattr(features, "line_growth_", None)
    rows = []
    for p in sorted({p for p, yy in own if yy == y}):
        line, (nxt, src) = own[(p, y)], at(p, y + 1)
        if not np.isfinite(nxt):  # as forward_line: this year's line × the schedule's growth
            nxt, src = line * (1.0 if g is None else float(g)), "projected"
        rows.append({"province": p, "year": y, "line": line, "next_year": y + 1, "next_line": nxt, "source": src})
    return pd.DataFrame(rows, columns=cols)


class PanelFeatures(TransformerMixin, BaseEstimator):
    """Features of each household-year from its own history up to that year.

    Parameters
    ----------
    n_history : int, default 3
        Number of records (this year's and earlier ones) used for the
        multi-year income volatility, minimum and below-line count.
    max_gap : int, default 2
        Year-on-year changes are computed against the previous record when it
        is at most ``max_gap`` years back, divided by the gap; else missing.
    clip_ratio : float, default 20.0
        Ratios (income to line, rigid spending to income, ...) are clipped to
        ``[-clip_ratio, clip_ratio]`` so a near-zero income does not explode.
    history_block : bool, default True
        Add the whole-history and place-context features
        (:mod:`fanpin_risk.panel._history`): long-run income against the line,
        earning capacity, shock counts, illness, disability and assistance over
        every record ≤ t, and leave-one-out shares of the same village and
        county hit by disasters, job loss and illness in the same year.
    line_ahead : bool, default True
        Judge each record of year t against the line of year t + 1, the line
        its outcome is judged against: every ratio to the line (this year's,
        the lags', the history's, the context's) is computed against the
        province's next-year line (the median line of the province's records
        of t + 1, else the fitted schedule ``lines_``), and where neither holds
        it, against this year's line × ``line_growth_``. Without it, a model
        trained across a change of standard (4000 → 6000 in 2021) learns that
        1.3 × the line is poor and then over-predicts every later year
        (docs/modeling.md).

    Attributes
    ----------
    levels_ : dict of str to list of str
        Category levels seen in ``fit`` (one-hot columns; unseen levels → all 0).
    input_columns_ : list of str
        Raw columns present at fit; ``transform`` refuses data missing any.
    lines_ : dict of (str, int) to float
        Median monitoring line of each (province, year) in the fit data
        (``line_ahead`` only; province "" where the records have none).
    line_growth_ : float or None
        Geometric mean of the year-on-year growth of ``lines_`` below
        :data:`LINE_CHANGE`: the projection of a line not yet known (None:
        no such pair, the line is taken as unchanged).
    feature_names_out_ : ndarray of str
    n_features_in_ : int
        Columns of the panel seen in ``fit``.
    feature_names_in_ : ndarray of str
        Their names.

    Notes
    -----
    Leakage guard: every feature of row (h, t) uses records dated ≤ t only:
    h's own (lags and running statistics over its sorted history) and, for the
    context features, the other households of its village and county in year t
    (h's own record left out), never a later year.
    """

    #: Names of the context columns :meth:`context` returns and the features read when present.
    CONTEXT = CONTEXT_COLUMNS
    #: Names of the features the history block adds.
    HISTORY_FEATURES = HISTORY_FEATURES

    # allowed values as data, checked by fit (scikit-learn's own validation)
    _parameter_constraints: dict = {
        "n_history": [Interval(Integral, 1, None, closed="left")],
        "max_gap": [Interval(Integral, 1, None, closed="left")],
        "clip_ratio": [Interval(Real, 0, None, closed="neither")],
        "history_block": ["boolean"],
        "line_ahead": ["boolean"],
    }

    def __init__(self, n_history: int = 3, max_gap: int = 2, clip_ratio: float = 20.0, history_block: bool = True,
                 line_ahead: bool = True):
        self.n_history = n_history
        self.max_gap = max_gap
        self.clip_ratio = clip_ratio
        self.history_block = history_block
        self.line_ahead = line_ahead

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: pd.DataFrame, y=None):
        """Learn category levels, the raw columns present and the line schedule.

        Parameters
        ----------
        X : DataFrame
            Canonical panel (see :func:`fanpin_risk.panel.as_panel`).
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_base(X)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.levels_ = {
            c: sorted(str(v) for v in X[c].dropna().unique()) if c in X.columns else [] for c in CATEGORICAL
        }
        self.input_columns_ = [c for c in INPUT_COLUMNS if c in X.columns]
        self._set_schedule(line_schedule(X) if self.line_ahead else {})
        self.feature_names_out_ = np.array(self._names(), dtype=object)
        return self

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns, in order."""
        self._check_fitted()
        return self.feature_names_out_.copy()

    def transform(self, X: pd.DataFrame, rows=None) -> pd.DataFrame:
        """Compute the features.

        Parameters
        ----------
        X : DataFrame
            Canonical panel rows (any years; history is taken from X itself).
        rows : index-like, optional
            Labels of ``X``'s rows to return (e.g. only the scored year); the
            history is still read from all of ``X``. Saves memory and time when
            scoring one year of a long panel. Default: every row.

        Returns
        -------
        pandas.DataFrame
            float64 features, index = ``X.index`` (or ``rows``), columns = ``get_feature_names_out()``.
        """
        self._check_input(X)
        return self._compute(X, rows)

    def set_output(self, *, transform=None):
        """scikit-learn's output switch: the output is a DataFrame already, so "pandas" and "default" both give one.

        Raises ``ValueError`` for other containers (e.g. "polars").
        """
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"PanelFeatures outputs pandas DataFrames; set_output(transform={transform!r}) is not supported")
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # input is a canonical panel (household_id, year, contract columns): a DataFrame, not a numeric array
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def get_params_json(self) -> dict:
        """Fitted state as JSON-able dict (for saving without pickle)."""
        self._check_fitted()
        return {"params": self.get_params(), "levels": self.levels_, "input_columns": list(self.input_columns_),
                "feature_names": list(self.feature_names_out_),
                "lines": [[p, int(y), float(v)] for (p, y), v in sorted(self.lines_.items())]}

    @classmethod
    def from_json(cls, d: dict) -> "PanelFeatures":
        """Rebuild a fitted transformer from :meth:`get_params_json`."""
        # models saved before the history block or the line ahead existed were fitted without them
        obj = cls(**{"history_block": False, "line_ahead": False, **d["params"]})
        obj.levels_ = {k: list(v) for k, v in d["levels"].items()}
        obj.input_columns_ = list(d["input_columns"])
        obj._set_schedule({(str(p), int(y)): float(v) for p, y, v in d.get("lines", [])})
        obj.feature_names_out_ = np.array(obj._names(), dtype=object)
        if list(obj.feature_names_out_) != list(d["feature_names"]):
            raise ModelError("saved feature list does not match this version's PanelFeatures; retrain the model")
        return obj

    @classmethod
    def from_levels(cls, levels: dict, input_columns, lines: dict | None = None, **params) -> "PanelFeatures":
        """A fitted transformer from category levels, input columns and the line schedule found elsewhere
        (e.g. per Dask partition; ``lines`` as :func:`line_schedule` returns it)."""
        obj = cls(**params)
        obj.levels_ = {c: sorted(levels.get(c, [])) for c in CATEGORICAL}
        obj.input_columns_ = [c for c in INPUT_COLUMNS if c in set(input_columns)]
        obj._set_schedule(dict(lines or {}) if obj.line_ahead else {})
        obj.feature_names_out_ = np.array(obj._names(), dtype=object)
        return obj

    def with_published_lines(self, table) -> "PanelFeatures":
        """This transformer, reading next year's line from a published line table where the records lack it.

        A line-ahead model scores year T against the line of T + 1, which the
        records of T do not hold: without a table it is projected (this
        year's line × ``line_growth_``). Once a province has announced its
        line for T + 1, pass it here (``score(..., lines=table)`` does).
        The records' own lines still come first; the fitted schedule comes
        after the table. The table is not saved with the model.

        Parameters
        ----------
        table : path, DataFrame or None
            A monitoring-line table (:func:`fanpin_risk.contract.load_lines`:
            columns province, year, line; Chinese headers accepted); None
            reads the packaged ``data_schema/monitoring_lines.csv``.

        Returns
        -------
        PanelFeatures
            A shallow copy (``self`` when ``line_ahead`` is off).

        Examples
        --------
        >>> import pandas as pd
        >>> from fanpin_risk.panel import PanelFeatures
        >>> from fanpin_risk.simulate import simulate
        >>> panel = simulate(40, seed=3, years=[2023, 2024], province="贵州")
        >>> f = PanelFeatures().fit(panel)
        >>> pub = f.with_published_lines(pd.DataFrame({"省份": ["贵州省"], "年度": [2025], "监测标准": [8000.0]}))
        >>> last = panel["year"] == 2024
        >>> a = f.transform(panel)["ratio_to_line"][last]
        >>> b = pub.transform(panel)["ratio_to_line"][last]
        >>> bool((b < a).all())  # a higher line next year than projected: every ratio is lower
        True
        """
        self._check_fitted()
        if not self.line_ahead:
            return self
        t = contract.load_lines(table)
        obj = copy.copy(self)
        obj.published_lines_ = {(str(p), int(y)): float(v) for p, y, v in t[["province", "year", "line"]].itertuples(index=False)}
        return obj

    # ------------------------------------------------------------------ internals
    def _set_schedule(self, lines: dict):
        self.lines_ = lines
        self.line_growth_ = line_growth(lines)

    def _line(self, X: pd.DataFrame, plan: dict) -> np.ndarray:
        """The line each record of X is judged against, in X's row order (computed once per plan)."""
        if "line" not in plan:
            line = _f(X, "monitoring_line")
            plan["line"] = forward_line(X, plan["year"], line, getattr(self, "lines_", {}),
                                        getattr(self, "line_growth_", None),
                                        getattr(self, "published_lines_", None)) if self.line_ahead else line
        return plan["line"]

    def _check_fitted(self):
        check_is_fitted(self, "levels_")  # sklearn's NotFittedError, as every estimator raises

    def _check_input(self, X):
        self._check_fitted()
        self._check_base(X)
        missing = [c for c in self.input_columns_ if c not in X.columns]
        if missing:
            raise ModelError(
                f"the records lack column(s) {missing} that the model was trained with; "
                "add them (empty values are allowed) or retrain without them"
            )

    @staticmethod
    def _check_base(X):
        if not isinstance(X, pd.DataFrame):
            raise ModelError("PanelFeatures needs a pandas DataFrame of canonical panel rows")
        for c in ("household_id", "year"):
            if c not in X.columns:
                raise ModelError(f"the records lack column {c!r}")

    _BASE = [
        "income_pc", "log_income_pc", "ratio_to_line", "gap_to_line", "income_missing",
        "share_wage", "share_business", "share_property", "share_transfer", "share_claims", "business_loss",
        "prev_ratio_to_line", "dlog_income_pc", "d_ratio_to_line", "years_since_prev_record", "n_prior_records",
        "vol_log_income_pc", "min_ratio_to_line_hist", "n_below_line_hist", "n_below_1_5_line_hist",
        "rigid_ratio", "medical_ratio", "medical_to_line", "education_ratio", "d_rigid_ratio",
        "household_size", "labor_share", "dependency_ratio", "d_household_size", "d_n_labor",
        *_COUNTS, "has_elderly", "has_disabled", "migrant_months_per_labor", "migrant_share",
        *[f"fail_{c}" for c in _BOOL_IN], "n_guarantees_failed", "guarantees_missing",
        *_SHOCKS, "n_shocks", "n_shocks_prev", *_HELP, "has_microcredit", "log_microcredit",
        "is_monitored", "open_case", "newly_identified", "years_since_identification", "years_since_elimination",
        "risk_eliminated", "n_risk_types", "risk_illness", "risk_disability", "risk_disaster", "risk_job", "risk_labor",
        "is_key_county", "is_relocated",
    ]

    def _names(self) -> list[str]:
        names = list(self._BASE) + (list(HISTORY_FEATURES) if self.history_block else [])
        for c in CATEGORICAL:
            names += [f"{c}={v}" for v in self.levels_.get(c, [])]
        return names

    def _compute(self, X: pd.DataFrame, rows=None) -> pd.DataFrame:
        if rows is None:
            out_pos, index = np.arange(len(X)), X.index
        else:
            index = pd.Index(rows)
            if not X.index.is_unique:
                raise ModelError("rows= needs the records' index to be unique; reset_index() first")
            out_pos = X.index.get_indexer(index)
            if (out_pos < 0).any():
                raise ModelError("rows= holds labels that are not in the records' index")
        mat = self.matrix(X, out_pos)
        return pd.DataFrame(mat, index=index, columns=self._names(), copy=False)

    def plan(self, X: pd.DataFrame) -> dict:
        """Household grouping of the records, computed once for any number of :meth:`matrix` blocks.

        Checks ``X`` as :meth:`transform` does; the returned plan also caches the
        encoded text columns and column arrays, so it belongs to this ``X`` only.
        """
        self._check_input(X)
        return self.plan_base(X)

    @staticmethod
    def plan_base(X: pd.DataFrame) -> dict:
        """The household grouping of :meth:`plan` without the fitted-column check."""
        n = len(X)
        year = _f(X, "year")
        order, new_group = household_order(X["household_id"], year)
        srt = np.arange(n) if order is None else order
        inv = srt if order is None else np.empty(n, dtype=np.int64)
        if order is not None:
            inv[order] = np.arange(n)
        return {"n": n, "year": year, "srt": srt, "inv": inv, "hist": None,
                "gid": np.cumsum(new_group) - 1,  # household of each ordered row
                "grp_start": np.maximum.accumulate(np.where(new_group, np.arange(n), 0)), "text": {}, "arrays": {}}

    def _ordered_core(self, X: pd.DataFrame, plan: dict) -> dict[str, np.ndarray]:
        srt = plan["srt"]
        line = self._line(X, plan)[srt]
        return self._core(lambda name: line if name == "monitoring_line" else
                          _fs(X[name])[srt] if name in X.columns else np.full(len(srt), np.nan), float(self.clip_ratio))

    def _history(self, X: pd.DataFrame, plan: dict) -> dict[str, np.ndarray]:
        """The history block over every ordered record of X, computed once per plan."""
        if plan.get("hist") is None:
            plan["hist"] = history_block(X, plan, self._ordered_core(X, plan), float(self.clip_ratio))
        return plan["hist"]

    def context(self, X: pd.DataFrame, totals: pd.DataFrame | None = None) -> pd.DataFrame:
        """Leave-one-out village and county context of each record (columns ``ctx_*``, X's index).

        Attach these columns to a subset of the panel (``X.join(feats.context(X))``)
        before computing its features, so that the subset keeps the context of
        the whole panel; ``totals`` (:meth:`context_totals` summed over parts of
        the panel) gives the context of a panel that is not in memory at once.
        """
        self._check_base(X)
        plan = self.plan_base(X)
        c = self._ordered_core(X, plan)
        cols = context_columns(X, plan, c["ratio"], c["logpc"], totals)
        return pd.DataFrame({k: cols[k] for k in CONTEXT_COLUMNS}, index=X.index)

    def context_totals(self, X: pd.DataFrame) -> pd.DataFrame:
        """Sums and counts of the context quantities per (level, code, year); tables of parts add up."""
        self._check_base(X)
        plan = self.plan_base(X)
        c = self._ordered_core(X, plan)
        return context_totals(X, plan, c["ratio"], c["logpc"])

    @staticmethod
    def _codes(X: pd.DataFrame, plan: dict, col: str):
        """Codes of a text column, encoded on first use and kept in the plan."""
        if col not in X.columns:
            return None
        if col not in plan["text"]:
            plan["text"][col] = encode_text(X[col])
        return plan["text"][col]

    # Long on purpose (one of the three allowed): the feature block is filled column by
    # column from arrays that stay in registers/cache for one pass; splitting it into
    # helpers would pass a dozen intermediate arrays around and cost the scale
    # benchmark its block reuse (docs/scale.md). Each section is headed by a comment.
    def matrix(self, X: pd.DataFrame, out_pos: np.ndarray, plan: dict | None = None, order: str = "F") -> np.ndarray:
        """Features of the rows at positions ``out_pos`` as one float64 block.

        Only the output rows and the few earlier records their lags read are
        touched: scoring one year of a long panel does not compute features for
        every historical row, and a caller can ask for blocks of a few thousand
        rows at a time (``plan`` from :meth:`plan`) so that no array is large.
        The block is filled column by column, never stacked and reordered;
        ``order="F"`` suits a DataFrame (pandas keeps it without a copy), ``"C"``
        a predictor that reads rows (LightGBM copies anything else).
        """
        plan = self.plan(X) if plan is None else plan
        n, year, srt, gid = plan["n"], plan["year"], plan["srt"], plan["gid"]
        q = plan["inv"][out_pos]  # ordered position of each output row
        # lags look back up to K ordered rows; the union keeps every such run contiguous
        K = max(1, int(self.n_history) - 1)
        if len(q) == 0:
            U = q
        else:
            # a mask over the block's span: np.unique's hashing cost more than the features
            lo, hi = max(int(q.min()) - K, 0), int(q.max()) + 1
            need = np.zeros(hi - lo, dtype=bool)
            need[q - lo] = True
            for k in range(1, K + 1):
                need[q[q - k >= lo] - k - lo] = True
            U = np.flatnonzero(need) + lo
        gU = gid[U]
        at = np.searchsorted(U, q)  # where each output row sits in U
        cr = float(self.clip_ratio)

        whole = len(out_pos) == n and len(U) == n

        line_all = self._line(X, plan)

        def col(c: str, pos: np.ndarray) -> np.ndarray:
            if c == "monitoring_line":
                return line_all[pos]
            if c not in X.columns:
                return np.full(len(pos), np.nan)
            if whole:
                return _fs(X[c])[pos]
            arr = plan["arrays"].get(c)
            if arr is None:
                # float64 columns are read in place; others keep their array and
                # convert only a block's rows (a float copy of every column would
                # double the memory of a province-size panel)
                s = X[c]
                arr = plan["arrays"][c] = s.to_numpy() if s.dtype == np.float64 else s.array
            if isinstance(arr, np.ndarray):
                return arr[pos]
            return _fs(pd.Series(arr.take(pos), copy=False))

        lag_at: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def lag(a: np.ndarray, k: int = 1) -> np.ndarray:
            """a (over U) shifted k records back within the household, at the output rows."""
            if k not in lag_at:  # where to read, and whether that is the same household's record
                src = at - k
                okk = src >= 0
                src = np.where(okk, src, 0)
                okk &= (U[src] == U[at] - k) & (gU[src] == gU[at])
                lag_at[k] = (src, okk)
            src, okk = lag_at[k]
            return np.where(okk, a[src], np.nan)

        # -- the quantities lags read, over U (output rows and their predecessors)
        pu = srt[U]
        c = self._core(lambda name: col(name, pu), cr)
        yr_u = year[pu]
        # -- everything else only at the output rows
        po = out_pos
        cur = {k: v[at] for k, v in c.items()}
        yr = yr_u[at]
        F: dict[str, np.ndarray] = {}
        pc, line, size, size_pos = cur["pc"], cur["line"], cur["size"], cur["size_pos"]
        wage, netbus, prop, trans = cur["wage"], cur["netbus"], cur["prop"], cur["trans"]
        claims = col("income_insurance_claims", po)
        F["income_pc"] = pc
        F["log_income_pc"] = logpc = cur["logpc"]
        F["ratio_to_line"] = ratio = cur["ratio"]
        F["gap_to_line"] = pc - line
        F["income_missing"] = np.isnan(pc).astype(float)
        gross = np.nan_to_num(wage) + np.clip(np.nan_to_num(netbus), 0, None) + np.nan_to_num(prop) + np.nan_to_num(trans) + np.nan_to_num(claims)
        gross = np.where(gross > 0, gross, np.nan)
        F["share_wage"] = _div(wage, gross)
        F["share_business"] = _div(np.clip(netbus, 0, None), gross)
        F["share_property"] = _div(prop, gross)
        F["share_transfer"] = _div(trans, gross)
        F["share_claims"] = _div(claims, gross)
        F["business_loss"] = (netbus < 0).astype(float)

        # history (own records, years ≤ t)
        gap = yr - lag(yr_u)
        ok = gap <= self.max_gap
        F["prev_ratio_to_line"] = np.where(ok, lag(c["ratio"]), np.nan)
        F["dlog_income_pc"] = np.where(ok, _div(logpc - lag(c["logpc"]), gap), np.nan)
        F["d_ratio_to_line"] = np.where(ok, _div(ratio - lag(c["ratio"]), gap), np.nan)
        F["years_since_prev_record"] = gap
        # number of prior records: position within the household's ordered rows
        F["n_prior_records"] = (q - plan["grp_start"][q]).astype(float)
        # the last n_history records, one array per record: elementwise sums in record
        # order (the same arithmetic as a row-wise nansum, without its per-row overhead)
        hist_l = [logpc] + [lag(c["logpc"], k) for k in range(1, self.n_history)]
        hist_r = [ratio] + [lag(c["ratio"], k) for k in range(1, self.n_history)]
        cnt = sum((~np.isnan(h)).astype(np.int64) for h in hist_l)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = _nansum(hist_l) / np.where(cnt > 0, cnt, np.nan)
            var = _nansum([(h - mean) ** 2 for h in hist_l]) / np.where(cnt > 1, cnt - 1, np.nan)
        F["vol_log_income_pc"] = np.sqrt(var)
        low = hist_r[0]
        for h in hist_r[1:]:
            low = np.fmin(low, h)  # NaN only where every record is missing
        F["min_ratio_to_line_hist"] = low
        F["n_below_line_hist"] = sum((h < 1).astype(np.int64) for h in hist_r).astype(float)
        F["n_below_1_5_line_hist"] = sum((h < 1.5).astype(np.int64) for h in hist_r).astype(float)

        med, edu, pos_total = cur["med"], cur["edu"], cur["pos_total"]
        F["rigid_ratio"] = cur["rigid_ratio"]
        F["medical_ratio"] = np.clip(_div(med, pos_total), 0, cr)
        F["medical_to_line"] = np.clip(_div(_div(med, size_pos), line), 0, cr)
        F["education_ratio"] = np.clip(_div(edu, pos_total), 0, cr)
        F["d_rigid_ratio"] = np.where(ok, F["rigid_ratio"] - lag(c["rigid_ratio"]), np.nan)

        F["household_size"] = size
        cnts = {k: (cur["n_labor"] if k == "n_labor" else col(k, po)) for k in _COUNTS}
        F["labor_share"] = _div(cnts["n_labor"], size_pos)
        F["dependency_ratio"] = np.clip(_div(cnts["n_children"] + cnts["n_elderly"], np.maximum(cnts["n_labor"], 0.5)), 0, cr)
        F["d_household_size"] = np.where(ok, size - lag(c["size"]), np.nan)
        F["d_n_labor"] = np.where(ok, cnts["n_labor"] - lag(c["n_labor"]), np.nan)
        for k in _COUNTS:
            F[k] = cnts[k]
        F["has_elderly"] = np.where(np.isnan(cnts["n_elderly"]), np.nan, (cnts["n_elderly"] > 0).astype(float))
        F["has_disabled"] = np.where(np.isnan(cnts["n_disabled"]), np.nan, (cnts["n_disabled"] > 0).astype(float))
        F["migrant_months_per_labor"] = np.clip(_div(col("migrant_work_months", po), np.where(cnts["n_labor"] > 0, cnts["n_labor"], np.nan)), 0, 12)
        F["migrant_share"] = _div(cnts["n_migrant_workers"], size_pos)

        fails = []
        for k in _BOOL_IN:
            v = col(k, po)
            F[f"fail_{k}"] = np.where(np.isnan(v), np.nan, 1.0 - v)
            fails.append(F[f"fail_{k}"])
        fails = np.column_stack(fails)
        F["n_guarantees_failed"] = np.nansum(fails, axis=1)
        F["guarantees_missing"] = np.isnan(fails).sum(axis=1).astype(float)
        for i, k in enumerate(_SHOCKS):
            F[k] = cur["shocks"][:, i]
        F["n_shocks"] = cur["n_shocks"]
        F["n_shocks_prev"] = np.where(ok, lag(c["n_shocks"]), np.nan)
        for k in _HELP:
            F[k] = col(k, po)
        mc = col("microcredit", po)
        F["has_microcredit"] = np.where(np.isnan(mc), np.nan, (mc > 0).astype(float))
        F["log_microcredit"] = np.log1p(np.clip(mc, 0, None))

        cat = CodedText(self._codes(X, plan, "monitoring_category"), po)
        htype = CodedText(self._codes(X, plan, "household_type"), po)
        ident_y = np.floor(col("identification_month", po) / 100)
        ident_y = np.where(ident_y <= yr, ident_y, np.nan)  # a month after the record's year is not yet known
        elim_y = np.floor(col("elimination_month", po) / 100)
        elim_y = np.where(elim_y <= yr, elim_y, np.nan)
        monitored = cat.nonempty() | htype.eq("监测户") | ~np.isnan(ident_y)
        F["is_monitored"] = monitored.astype(float)
        reliminated = col("risk_eliminated", po)
        closed = (reliminated == 1) | ~np.isnan(elim_y)
        F["open_case"] = (monitored & ~closed).astype(float)
        ni = col("newly_identified", po)
        F["newly_identified"] = np.where(np.isnan(ni), (ident_y == yr).astype(float), ni)
        F["years_since_identification"] = yr - ident_y
        F["years_since_elimination"] = yr - elim_y
        F["risk_eliminated"] = reliminated
        rts = [CodedText(self._codes(X, plan, k), po) for k in _RISK_TYPES]
        F["n_risk_types"] = np.sum([t.nonempty() for t in rts], axis=0).astype(float)
        for name, rt in (("risk_illness", "因病"), ("risk_disability", "因残"), ("risk_disaster", "因自然灾害"),
                         ("risk_job", "因务工就业不稳"), ("risk_labor", "缺劳动力")):
            F[name] = np.any([t.eq(rt) for t in rts], axis=0).astype(float)
        F["is_key_county"] = col("is_key_county", po)
        F["is_relocated"] = col("is_relocated", po)
        for k, arr in ((CATEGORICAL[0], cat), (CATEGORICAL[1], htype)):
            for v in self.levels_.get(k, []):
                F[f"{k}={v}"] = arr.eq(v).astype(float)

        if self.history_block:
            for k, v in self._history(X, plan).items():
                F[k] = v[q]

        names = self._names()
        mat = np.empty((len(out_pos), len(names)), dtype="float64", order=order)
        for j, k in enumerate(names):
            mat[:, j] = F[k]
        return mat

    @staticmethod
    def _core(col, cr: float) -> dict[str, np.ndarray]:
        """Income, ratio to the line, rigid spending, size, labour and shocks: what lags read."""
        line = col("monitoring_line")
        size = col("household_size")
        size_pos = np.where(size > 0, size, np.nan)
        parts = {f: col(f) for f, _, _ in contract.INCOME_TERMS}
        wage, bus, exb = parts["income_wage"], parts["income_business"], parts["expense_business"]
        prop, trans = parts["income_property"], parts["income_transfer"]
        netbus = bus - np.nan_to_num(exb)
        total = contract.net_income_total(parts.__getitem__)
        pc = col("net_income_per_capita")
        pc = np.where(np.isnan(pc), _div(total, size_pos), pc)
        total = np.where(np.isnan(total), pc * size_pos, total)
        med, edu = col("expense_medical"), col("expense_education")
        pos_total = np.where(total > 0, total, np.nan)
        rigid = np.nan_to_num(med) + np.nan_to_num(edu)
        rigid = np.where(np.isnan(med) & np.isnan(edu), np.nan, rigid)
        shocks = np.column_stack([col(k) for k in _SHOCKS])
        return {
            "line": line, "size": size, "size_pos": size_pos, "wage": wage, "netbus": netbus, "prop": prop,
            "trans": trans, "pc": pc, "logpc": np.log1p(np.clip(pc, 0, None)),
            "ratio": np.clip(_div(pc, line), -cr, cr), "med": med, "edu": edu, "pos_total": pos_total,
            "rigid_ratio": np.clip(np.where(np.isnan(pos_total) & (rigid > 0), cr, _div(rigid, pos_total)), 0, cr),
            "n_labor": col("n_labor"), "shocks": shocks, "n_shocks": np.nansum(shocks, axis=1),
        }


