"""Household-year features built only from records dated at or before the row's year.

:class:`PanelFeatures` is a scikit-learn transformer. ``fit`` learns the category
levels (monitoring category, household type) and which raw columns the data
had; ``transform`` is pure: the features of household *h* in year *t* depend on
*h*'s own records of years ≤ *t* and nothing else (lags are taken within the
household's history, sorted by year; gaps in the history are measured, not
assumed away).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import ModelError

_BOOL_IN = ("housing_safe", "drinking_water_safe", "compulsory_education_ok", "medical_insured")
_SHOCKS = ("shock_illness", "shock_disaster", "shock_accident", "shock_job_loss", "shock_industry_failure")
_HELP = ("receives_dibao", "receives_tekun", "public_welfare_job")
_COUNTS = ("n_labor", "n_migrant_workers", "n_elderly", "n_children", "n_students", "n_disabled", "n_chronic_ill", "n_serious_ill")
_CATEGORICAL = ("monitoring_category", "household_type")
_RISK_TYPES = tuple(f"risk_type_{i}" for i in range(1, 6))

#: Raw columns the features read (besides household_id and year).
INPUT_COLUMNS = (
    "monitoring_line", "net_income_per_capita", "household_size", "income_wage", "income_business", "expense_business",
    "income_property", "income_transfer", "income_insurance_claims", "expense_medical", "expense_education",
    "migrant_work_months", "microcredit", "identification_month", "elimination_month", "newly_identified",
    "risk_eliminated", "is_key_county", "is_relocated", *_BOOL_IN, *_SHOCKS, *_HELP, *_COUNTS, *_CATEGORICAL, *_RISK_TYPES,
)


# Identifier and place columns: read elsewhere (household_id) or not at all.
_NOT_READ = frozenset({"household_id", "province", "county_code", "township_code", "village_code"})


def _f(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column as float64 array (NaN for missing or absent)."""
    if col not in df.columns:
        return np.full(len(df), np.nan)
    s = df[col]
    if str(s.dtype) == "boolean":
        return s.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(dtype="float64", na_value=np.nan)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    out[~np.isfinite(out)] = np.nan
    return out


class PanelFeatures(BaseEstimator, TransformerMixin):
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

    Attributes
    ----------
    levels_ : dict of str to list of str
        Category levels seen in ``fit`` (one-hot columns; unseen levels → all 0).
    input_columns_ : list of str
        Raw columns present at fit; ``transform`` refuses data missing any.
    feature_names_out_ : ndarray of str

    Notes
    -----
    Leakage guard: every feature of row (h, t) uses records of h with year ≤ t
    only (lags via the household's sorted history); nothing is pooled across
    households at transform time.
    """

    def __init__(self, n_history: int = 3, max_gap: int = 2, clip_ratio: float = 20.0):
        self.n_history = n_history
        self.max_gap = max_gap
        self.clip_ratio = clip_ratio

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: pd.DataFrame, y=None):
        """Learn category levels and the raw columns present.

        Parameters
        ----------
        X : DataFrame
            Canonical panel (see :func:`fanpin_risk.labels._as_panel`).
        y : ignored

        Returns
        -------
        self
        """
        self._check_base(X)
        self.levels_ = {
            c: sorted(str(v) for v in X[c].dropna().unique()) if c in X.columns else [] for c in _CATEGORICAL
        }
        self.input_columns_ = [c for c in INPUT_COLUMNS if c in X.columns]
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
        self._check_fitted()
        self._check_base(X)
        missing = [c for c in self.input_columns_ if c not in X.columns]
        if missing:
            raise ModelError(
                f"the records lack column(s) {missing} that the model was trained with; "
                "add them (empty values are allowed) or retrain without them"
            )
        return self._compute(X, rows)

    def set_output(self, *, transform=None):  # output is always a DataFrame
        """Accepted for scikit-learn compatibility; the output is always pandas."""
        return self

    def get_params_json(self) -> dict:
        """Fitted state as JSON-able dict (for saving without pickle)."""
        self._check_fitted()
        return {"params": self.get_params(), "levels": self.levels_, "input_columns": list(self.input_columns_),
                "feature_names": list(self.feature_names_out_)}

    @classmethod
    def from_json(cls, d: dict) -> "PanelFeatures":
        """Rebuild a fitted transformer from :meth:`get_params_json`."""
        obj = cls(**d["params"])
        obj.levels_ = {k: list(v) for k, v in d["levels"].items()}
        obj.input_columns_ = list(d["input_columns"])
        obj.feature_names_out_ = np.array(obj._names(), dtype=object)
        if list(obj.feature_names_out_) != list(d["feature_names"]):
            raise ModelError("saved feature list does not match this version's PanelFeatures; retrain the model")
        return obj

    # ------------------------------------------------------------------ internals
    def _check_fitted(self):
        if not hasattr(self, "levels_"):
            raise ModelError("PanelFeatures is not fitted; call fit first")

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
        names = list(self._BASE)
        for c in _CATEGORICAL:
            names += [f"{c}={v}" for v in self.levels_.get(c, [])]
        return names

    def _compute(self, X: pd.DataFrame, rows=None) -> pd.DataFrame:
        n = len(X)
        hid = X["household_id"].astype(str).to_numpy()
        year = _f(X, "year")
        order = np.lexsort((year, hid))
        inv = np.empty(n, dtype=np.int64)
        inv[order] = np.arange(n)
        # Only the columns the features read, and no reordering copy when the records
        # are already sorted by household and year (the usual case): at province
        # size a full sorted copy of the records is gigabytes.
        D = X[[c for c in X.columns if c not in _NOT_READ]]
        if not np.array_equal(order, np.arange(n)):
            D = D.iloc[order]
        h = hid[order]
        yr = year[order]
        cr = float(self.clip_ratio)

        def lag(a: np.ndarray, k: int = 1) -> np.ndarray:
            out = np.full(n, np.nan)
            if k < n:
                same = h[k:] == h[:-k]
                out[k:] = np.where(same, a[:-k], np.nan)
            return out

        F: dict[str, np.ndarray] = {}
        line = _f(D, "monitoring_line")
        size = _f(D, "household_size")
        size_pos = np.where(size > 0, size, np.nan)
        wage, bus, exb = _f(D, "income_wage"), _f(D, "income_business"), _f(D, "expense_business")
        prop, trans, claims = _f(D, "income_property"), _f(D, "income_transfer"), _f(D, "income_insurance_claims")
        netbus = bus - np.nan_to_num(exb)
        total = wage + netbus + np.nan_to_num(prop) + trans
        pc = _f(D, "net_income_per_capita")
        pc = np.where(np.isnan(pc), _div(total, size_pos), pc)
        total = np.where(np.isnan(total), pc * size_pos, total)
        F["income_pc"] = pc
        F["log_income_pc"] = np.log1p(np.clip(pc, 0, None))
        ratio = np.clip(_div(pc, line), -cr, cr)
        F["ratio_to_line"] = ratio
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
        prev_year = lag(yr)
        gap = yr - prev_year
        ok = gap <= self.max_gap
        logpc = F["log_income_pc"]
        F["prev_ratio_to_line"] = np.where(ok, lag(ratio), np.nan)
        F["dlog_income_pc"] = np.where(ok, _div(logpc - lag(logpc), gap), np.nan)
        F["d_ratio_to_line"] = np.where(ok, _div(ratio - lag(ratio), gap), np.nan)
        F["years_since_prev_record"] = gap
        # number of prior records: position within the household's sorted rows
        start = np.r_[True, h[1:] != h[:-1]]
        grp_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
        F["n_prior_records"] = (np.arange(n) - grp_start).astype(float)
        hist_l = np.column_stack([logpc] + [lag(logpc, k) for k in range(1, self.n_history)])
        hist_r = np.column_stack([ratio] + [lag(ratio, k) for k in range(1, self.n_history)])
        cnt = np.sum(~np.isnan(hist_l), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(hist_l, axis=1) / np.where(cnt > 0, cnt, np.nan)
            var = np.nansum((hist_l - mean[:, None]) ** 2, axis=1) / np.where(cnt > 1, cnt - 1, np.nan)
        F["vol_log_income_pc"] = np.sqrt(var)
        allnan = np.all(np.isnan(hist_r), axis=1)
        F["min_ratio_to_line_hist"] = np.where(allnan, np.nan, np.nanmin(np.where(allnan[:, None], 0, hist_r), axis=1))
        F["n_below_line_hist"] = np.sum(hist_r < 1, axis=1).astype(float)
        F["n_below_1_5_line_hist"] = np.sum(hist_r < 1.5, axis=1).astype(float)

        med, edu = _f(D, "expense_medical"), _f(D, "expense_education")
        pos_total = np.where(total > 0, total, np.nan)
        rigid = np.nan_to_num(med) + np.nan_to_num(edu)
        rigid = np.where(np.isnan(med) & np.isnan(edu), np.nan, rigid)
        F["rigid_ratio"] = np.clip(np.where(np.isnan(pos_total) & (rigid > 0), cr, _div(rigid, pos_total)), 0, cr)
        F["medical_ratio"] = np.clip(_div(med, pos_total), 0, cr)
        F["medical_to_line"] = np.clip(_div(_div(med, size_pos), line), 0, cr)
        F["education_ratio"] = np.clip(_div(edu, pos_total), 0, cr)
        F["d_rigid_ratio"] = np.where(ok, F["rigid_ratio"] - lag(F["rigid_ratio"]), np.nan)

        F["household_size"] = size
        cnts = {c: _f(D, c) for c in _COUNTS}
        F["labor_share"] = _div(cnts["n_labor"], size_pos)
        F["dependency_ratio"] = np.clip(_div(cnts["n_children"] + cnts["n_elderly"], np.maximum(cnts["n_labor"], 0.5)), 0, cr)
        F["d_household_size"] = np.where(ok, size - lag(size), np.nan)
        F["d_n_labor"] = np.where(ok, cnts["n_labor"] - lag(cnts["n_labor"]), np.nan)
        for c in _COUNTS:
            F[c] = cnts[c]
        F["has_elderly"] = np.where(np.isnan(cnts["n_elderly"]), np.nan, (cnts["n_elderly"] > 0).astype(float))
        F["has_disabled"] = np.where(np.isnan(cnts["n_disabled"]), np.nan, (cnts["n_disabled"] > 0).astype(float))
        F["migrant_months_per_labor"] = np.clip(_div(_f(D, "migrant_work_months"), np.where(cnts["n_labor"] > 0, cnts["n_labor"], np.nan)), 0, 12)
        F["migrant_share"] = _div(cnts["n_migrant_workers"], size_pos)

        fails = []
        for c in _BOOL_IN:
            v = _f(D, c)
            F[f"fail_{c}"] = np.where(np.isnan(v), np.nan, 1.0 - v)
            fails.append(F[f"fail_{c}"])
        fails = np.column_stack(fails)
        F["n_guarantees_failed"] = np.nansum(fails, axis=1)
        F["guarantees_missing"] = np.isnan(fails).sum(axis=1).astype(float)
        shocks = np.column_stack([_f(D, c) for c in _SHOCKS])
        for i, c in enumerate(_SHOCKS):
            F[c] = shocks[:, i]
        F["n_shocks"] = np.nansum(shocks, axis=1)
        F["n_shocks_prev"] = np.where(ok, lag(F["n_shocks"]), np.nan)
        for c in _HELP:
            F[c] = _f(D, c)
        mc = _f(D, "microcredit")
        F["has_microcredit"] = np.where(np.isnan(mc), np.nan, (mc > 0).astype(float))
        F["log_microcredit"] = np.log1p(np.clip(mc, 0, None))

        cat = D["monitoring_category"].astype(str).where(D["monitoring_category"].notna(), "").to_numpy() if "monitoring_category" in D.columns else np.full(n, "")
        htype = D["household_type"].astype(str).where(D["household_type"].notna(), "").to_numpy() if "household_type" in D.columns else np.full(n, "")
        ident = _f(D, "identification_month")
        ident_y = np.floor(ident / 100)
        ident_y = np.where(ident_y <= yr, ident_y, np.nan)  # a month after the record's year is not yet known
        elim = _f(D, "elimination_month")
        elim_y = np.floor(elim / 100)
        elim_y = np.where(elim_y <= yr, elim_y, np.nan)
        monitored = (cat != "") | (htype == "监测户") | ~np.isnan(ident_y)
        F["is_monitored"] = monitored.astype(float)
        reliminated = _f(D, "risk_eliminated")
        closed = (reliminated == 1) | ~np.isnan(elim_y)
        F["open_case"] = (monitored & ~closed).astype(float)
        ni = _f(D, "newly_identified")
        F["newly_identified"] = np.where(np.isnan(ni), (ident_y == yr).astype(float), ni)
        F["years_since_identification"] = yr - ident_y
        F["years_since_elimination"] = yr - elim_y
        F["risk_eliminated"] = reliminated
        rts = [D[c].astype(str).where(D[c].notna(), "").to_numpy() if c in D.columns else np.full(n, "") for c in _RISK_TYPES]
        rt = np.column_stack(rts)
        F["n_risk_types"] = (rt != "").sum(axis=1).astype(float)
        F["risk_illness"] = (rt == "因病").any(axis=1).astype(float)
        F["risk_disability"] = (rt == "因残").any(axis=1).astype(float)
        F["risk_disaster"] = (rt == "因自然灾害").any(axis=1).astype(float)
        F["risk_job"] = (rt == "因务工就业不稳").any(axis=1).astype(float)
        F["risk_labor"] = (rt == "缺劳动力").any(axis=1).astype(float)
        F["is_key_county"] = _f(D, "is_key_county")
        F["is_relocated"] = _f(D, "is_relocated")
        for c, arr in ((_CATEGORICAL[0], cat), (_CATEGORICAL[1], htype)):
            for v in self.levels_.get(c, []):
                F[f"{c}={v}"] = (arr == v).astype(float)

        names = self._names()
        # Fill one Fortran-ordered block (pandas keeps it without a copy) instead of
        # column_stack + astype + reorder, which held three n × 80 copies at once.
        if rows is None:
            pos, index = inv, X.index
        else:
            index = pd.Index(rows)
            if not X.index.is_unique:
                raise ModelError("rows= needs the records' index to be unique; reset_index() first")
            at = X.index.get_indexer(index)
            if (at < 0).any():
                raise ModelError("rows= holds labels that are not in the records' index")
            pos = inv[at]
        mat = np.empty((len(pos), len(names)), dtype="float64", order="F")
        for j, k in enumerate(names):
            mat[:, j] = F[k][pos]
        return pd.DataFrame(mat, index=index, columns=names, copy=False)
