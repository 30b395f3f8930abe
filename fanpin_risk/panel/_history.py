"""Whole-history and place-context features (the ``history_block`` of :class:`PanelFeatures`).

Two kinds of quantity that the short lags of the base block cannot see:

*Whole history* — for household *h* in year *t*, statistics over **all** of
*h*'s records dated ≤ *t*: long-run level, trend and minimum of income against
the line, earning capacity (wage per labourer, per migrant month, business
income per labourer, in multiples of the line so that years and provinces
compare), counts of each shock and years since the last one, years with serious
illness or disability, how persistently the household drew dibao or tekun.

*Context* — what happened around the household in the same year: the share of
the other households of its village and of its county hit by a disaster, by a
job loss or by illness, below the line, and their mean income growth. Each is a
leave-one-out mean (the household's own record is taken out), so a household's
context does not move when its own record changes (the cause attribution and
the scenarios change one record and re-evaluate). The previous year's context is
the household's own context in its previous record, and ``ctx_county_disaster_hist``
the mean over its history of the county's disaster share: a county where
disasters are frequent stays marked after a quiet year.

Context needs the other households' records of the same year. A caller that
evaluates only some households (a Dask partition, the explained households of
the cause attribution) first attaches the context columns computed on the whole
panel with :func:`context_columns` (from :func:`context_totals` summed over
partitions): the features read them when present.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Quantities whose leave-one-out means make the context, and the shock each reads.
CONTEXT_QUANTITIES = ("disaster", "job_loss", "illness", "below_line", "income_growth")
CONTEXT_LEVELS = {"village": "village_code", "county": "county_code"}
#: Context columns computed per record (attached by :func:`context_columns`).
CONTEXT_COLUMNS = tuple(f"ctx_{lvl}_{q}" for lvl in CONTEXT_LEVELS for q in CONTEXT_QUANTITIES)

_SHOCK_NAMES = ("shock_illness", "shock_disaster", "shock_accident", "shock_job_loss", "shock_industry_failure")

#: Feature names of the block, in output order.
HISTORY_FEATURES = (
    "hist_mean_ratio", "hist_trend_ratio", "hist_min_ratio", "hist_share_below_line",
    "wage_per_labor_to_line", "hist_wage_per_labor_to_line", "d_wage_per_labor_to_line",
    "wage_per_month_to_line", "hist_wage_per_month_to_line",
    "business_per_labor_to_line", "hist_business_per_labor_to_line",
    *[f"hist_n_{s}" for s in _SHOCK_NAMES], "hist_years_since_shock",
    "hist_years_serious_ill", "hist_years_disabled", "hist_share_dibao", "hist_share_tekun",
    *CONTEXT_COLUMNS,
    "ctx_village_disaster_prev", "ctx_village_job_loss_prev", "ctx_county_disaster_prev", "ctx_county_disaster_hist",
)

_MICRO = 1e6  # income growth is summed in millionths (see _record_quantities)
_GROWTH_CLIP = 1.0  # |Δlog income| above 1 (a factor e) is mostly a recording error; it would dominate a mean


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    out[~np.isfinite(out)] = np.nan
    return out


class _Groups:
    """Running (expanding) statistics within households over rows ordered by (household, year)."""

    def __init__(self, gid: np.ndarray, grp_start: np.ndarray):
        self.gid, self.start = gid, grp_start

    def cumsum(self, a: np.ndarray) -> np.ndarray:
        # per household, not one running sum minus an offset: that would carry the
        # rounding of every earlier household and depend on the order of households
        z = np.where(np.isnan(a), 0.0, a)
        if not len(z):
            return z
        return pd.Series(z).groupby(self.gid, sort=False).cumsum().to_numpy(dtype="float64")

    def count(self, a: np.ndarray) -> np.ndarray:
        return self.cumsum((~np.isnan(a)).astype("float64"))

    def mean(self, a: np.ndarray) -> np.ndarray:
        return _div(self.cumsum(a), self.count(a))

    def cummin(self, a: np.ndarray) -> np.ndarray:
        if not len(a):
            return a.copy()
        s = pd.Series(a).groupby(self.gid, sort=False)
        return s.cummin().groupby(self.gid, sort=False).ffill().to_numpy(dtype="float64", na_value=np.nan)

    def last_where(self, cond: np.ndarray, year: np.ndarray) -> np.ndarray:
        """Latest year ≤ this record's in which ``cond`` held (NaN if never)."""
        if not len(cond):
            return year.copy()
        y = pd.Series(np.where(cond, year, np.nan))
        return y.groupby(self.gid, sort=False).ffill().to_numpy(dtype="float64", na_value=np.nan)

    def prev(self, a: np.ndarray) -> np.ndarray:
        """The previous record's value within the household (NaN at its first record)."""
        out = np.full(len(a), np.nan)
        if len(a) > 1:
            out[1:] = a[:-1]
        first = np.arange(len(a)) == self.start
        out[first] = np.nan
        return out


def _fs(X: pd.DataFrame, c: str) -> np.ndarray:
    if c not in X.columns:
        return np.full(len(X), np.nan)
    s = X[c]
    if s.dtype.kind in "biuf":
        return s.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(dtype="float64", na_value=np.nan)


def _record_quantities(X: pd.DataFrame, srt: np.ndarray, g: _Groups, year: np.ndarray, ratio: np.ndarray,
                       logpc: np.ndarray) -> dict[str, np.ndarray]:
    """Per-record quantities over the ordered rows (positions ``srt`` of X)."""
    col = (lambda c: _fs(X, c)[srt]) if len(srt) else (lambda c: np.zeros(0))
    dy = year - g.prev(year)
    growth = np.where(dy == 1, np.clip(logpc - g.prev(logpc), -_GROWTH_CLIP, _GROWTH_CLIP), np.nan)
    # in whole millionths the village sums are exact integers, so the context does not depend on row order
    growth = np.round(growth * _MICRO)
    return {
        "disaster": col("shock_disaster"), "job_loss": col("shock_job_loss"), "illness": col("shock_illness"),
        "below_line": np.where(np.isnan(ratio), np.nan, (ratio < 1).astype("float64")), "income_growth": growth,
    }


def context_totals(X: pd.DataFrame, plan: dict, ratio: np.ndarray, logpc: np.ndarray) -> pd.DataFrame:
    """Sums and counts of the context quantities per (level, place code, year) of the records in ``X``.

    Tables of disjoint sets of households (Dask partitions) add up to the panel's
    table: sum them by (level, code, year), then pass the result to
    :func:`context_columns`.
    """
    g = _Groups(plan["gid"], plan["grp_start"])
    srt, year = plan["srt"], plan["year"][plan["srt"]]
    qv = _record_quantities(X, srt, g, year, ratio, logpc)
    out = []
    for lvl, code in CONTEXT_LEVELS.items():
        if code not in X.columns:
            continue
        key = pd.DataFrame({"code": X[code].to_numpy()[srt], "year": year})
        parts = {"level": lvl}
        frame = key.assign(**{f"s_{q}": np.nan_to_num(v) for q, v in qv.items()},
                           **{f"n_{q}": (~np.isnan(v)).astype("float64") for q, v in qv.items()})
        t = frame.dropna(subset=["code", "year"]).groupby(["code", "year"], sort=True).sum().reset_index()
        out.append(t.assign(**parts))
    cols = ["level", "code", "year", *[f"{p}_{q}" for q in CONTEXT_QUANTITIES for p in ("s", "n")]]
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)[cols]


def context_columns(X: pd.DataFrame, plan: dict, ratio: np.ndarray, logpc: np.ndarray,
                    totals: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Leave-one-out context of every record of ``X`` (arrays in X's row order).

    ``totals`` (from :func:`context_totals`, summed over the whole panel) lets a
    part of the panel get the context of the whole; by default X's own records.
    """
    g = _Groups(plan["gid"], plan["grp_start"])
    srt, year = plan["srt"], plan["year"][plan["srt"]]
    qv = _record_quantities(X, srt, g, year, ratio, logpc)
    totals = context_totals(X, plan, ratio, logpc) if totals is None else totals
    n = len(X)
    out: dict[str, np.ndarray] = {}
    for lvl, code in CONTEXT_LEVELS.items():
        names = [f"ctx_{lvl}_{q}" for q in CONTEXT_QUANTITIES]
        t = totals[totals["level"] == lvl] if len(totals) else totals
        if code not in X.columns or not len(t):  # no code of this level anywhere (e.g. every county empty)
            out.update({k: np.full(n, np.nan) for k in names})
            continue
        idx = pd.MultiIndex.from_frame(t[["code", "year"]].astype({"year": "float64"}))
        keys = pd.MultiIndex.from_arrays([X[code].to_numpy()[srt], year])
        at = idx.get_indexer(keys)
        found = at >= 0
        for q, name in zip(CONTEXT_QUANTITIES, names):
            v = qv[q]
            own_s, own_n = np.nan_to_num(v), (~np.isnan(v)).astype("float64")
            s = np.where(found, t[f"s_{q}"].to_numpy(dtype="float64")[np.where(found, at, 0)], np.nan) - own_s
            c = np.where(found, t[f"n_{q}"].to_numpy(dtype="float64")[np.where(found, at, 0)], np.nan) - own_n
            res = np.empty(n)
            res[srt] = np.where(c > 0, _div(s, np.where(c > 0, c, np.nan)), np.nan) / (_MICRO if q == "income_growth" else 1.0)
            out[name] = res
    return out


def history_block(X: pd.DataFrame, plan: dict, core: dict[str, np.ndarray], cr: float) -> dict[str, np.ndarray]:
    """Every feature of the block for every record of ``X``, as arrays over X's ordered rows.

    ``core`` holds, over the ordered rows, the base block's per-record arrays
    (``ratio``, ``logpc``, ``line``, ``wage``, ``netbus``, ``n_labor``).
    """
    srt, year = plan["srt"], plan["year"][plan["srt"]]
    g = _Groups(plan["gid"], plan["grp_start"])
    col = (lambda c: _fs(X, c)[srt]) if len(srt) else (lambda c: np.zeros(0))
    ratio, line = core["ratio"], core["line"]
    F: dict[str, np.ndarray] = {}
    # -- income against the line over the whole history
    F["hist_mean_ratio"] = g.mean(ratio)
    x = year - 2000.0  # centred near the data: the running sums stay well conditioned
    ok = ~np.isnan(ratio)
    xs = np.where(ok, x, np.nan)
    n, sx, sy = g.count(ratio), g.cumsum(xs), g.cumsum(ratio)
    sxx, sxy = g.cumsum(xs * xs), g.cumsum(xs * ratio)
    den = n * sxx - sx * sx
    F["hist_trend_ratio"] = np.where((n >= 2) & (den > 1e-9), _div(n * sxy - sx * sy, den), np.nan)
    F["hist_min_ratio"] = g.cummin(ratio)
    F["hist_share_below_line"] = g.mean(np.where(ok, (ratio < 1).astype("float64"), np.nan))
    # -- earning capacity, in multiples of the line so that years and provinces compare
    labour = np.where(core["n_labor"] > 0, core["n_labor"], np.nan)
    wpl = np.clip(_div(_div(core["wage"], labour), line), 0, cr)
    F["wage_per_labor_to_line"] = wpl
    F["hist_wage_per_labor_to_line"] = hist_wpl = g.mean(wpl)
    prev_mean = _div(g.cumsum(wpl) - np.nan_to_num(wpl), g.count(wpl) - (~np.isnan(wpl)))
    F["d_wage_per_labor_to_line"] = wpl - prev_mean
    del hist_wpl
    months = col("migrant_work_months")
    wpm = np.clip(_div(_div(core["wage"], np.where(months > 0, months, np.nan)) * 12.0, line), 0, cr)
    F["wage_per_month_to_line"] = wpm
    F["hist_wage_per_month_to_line"] = g.mean(wpm)
    bpl = np.clip(_div(_div(core["netbus"], labour), line), -cr, cr)
    F["business_per_labor_to_line"] = bpl
    F["hist_business_per_labor_to_line"] = g.mean(bpl)
    # -- shocks, illness, disability and assistance over the history
    any_shock = np.zeros(len(srt), dtype=bool)
    for s in _SHOCK_NAMES:
        v = col(s)
        F[f"hist_n_{s}"] = g.cumsum(v)
        any_shock |= v == 1
    F["hist_years_since_shock"] = year - g.last_where(any_shock, year)
    for name, c in (("hist_years_serious_ill", "n_serious_ill"), ("hist_years_disabled", "n_disabled")):
        v = col(c)
        F[name] = g.cumsum(np.where(np.isnan(v), np.nan, (v > 0).astype("float64")))
    F["hist_share_dibao"] = g.mean(col("receives_dibao"))
    F["hist_share_tekun"] = g.mean(col("receives_tekun"))
    # -- context: attached columns when a caller computed them on the whole panel
    if all(c in X.columns for c in CONTEXT_COLUMNS):
        ctx = {c: _fs(X, c)[srt] for c in CONTEXT_COLUMNS}
    else:
        raw = context_columns(X, plan, ratio, core["logpc"])
        ctx = {c: raw[c][srt] for c in CONTEXT_COLUMNS}
    F.update(ctx)
    dy = year - g.prev(year)
    for name, c in (("ctx_village_disaster_prev", "ctx_village_disaster"), ("ctx_village_job_loss_prev", "ctx_village_job_loss"),
                    ("ctx_county_disaster_prev", "ctx_county_disaster")):
        F[name] = np.where(dy == 1, g.prev(ctx[c]), np.nan)
    F["ctx_county_disaster_hist"] = g.mean(ctx["ctx_county_disaster"])
    return F
