"""Rolling-origin, out-of-time backtest of several risk models.

Timing (horizon h = 1, ``label_lag`` = 0 by default)
----------------------------------------------------
Scoring for test year *T* happens when year *T*'s records are in (after the
year-end data adjustment): features of (h, T) use records ≤ T, and the model
predicts what happens in T + 1. A training row of year *t* carries a label read
from the records of year t + h, so it is known at prediction time exactly when
t + h ≤ T. Training rows satisfy ``t + h ≤ T − label_lag``: by default every
label whose outcome year is ≤ T, i.e. ``t ≤ T − 1``. Where year-T records are
scored before identifications of year T are final (mid-year scoring),
``label_lag=1`` treats the labels of T − 1 as unknown (``t ≤ T − 2``).

Top-k pooled over years: each year selects its own top ``k_share`` (visits are
planned per year); pooled precision/recall add up true positives, selections
and positives over the test years. ROC/PR AUC, Brier and log loss pool the rows.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fanpin_risk import _metrics as M
from fanpin_risk._fonts import cjk_rc
from fanpin_risk.errors import ModelError
from fanpin_risk.models import MODEL_KINDS, audition, fit_on_features, fit_platt
from fanpin_risk.panel import INPUT_COLUMNS, PanelFeatures, as_panel, make_labels

#: Baselines every backtest shows beside the models (``baselines=False`` leaves them out):
#: "persistence" ranks by this year's income ÷ line alone (Platt-scaled on the training
#: rows); "lightgbm_raw" is LightGBM with the library's defaults on the raw contract
#: columns of the scored year, without the history features or constraints.
BASELINES = ("persistence", "lightgbm_raw")



@dataclass
class BacktestResult:
    """Tables and figures of a backtest.

    Attributes
    ----------
    per_year, pooled : DataFrame
        Metrics per model × test year, and pooled over the test years (with
        bootstrap CI columns ``<metric>_lo`` / ``<metric>_hi``).
    calibration : DataFrame
        Reliability bins per model × year (``year = 0`` for pooled).
    topk : DataFrame
        Precision/recall at k and k % per model × year.
    equity : DataFrame
        Recall and false-omission rate by county, monitoring category,
        has-elderly, has-disabled, with disparity vs the largest group (pooled).
    county_quota : DataFrame
        Recall when each county visits its own top k % (per model × year).
    psi : DataFrame
        PSI of each feature and of each model's score between consecutive test years.
    splits : DataFrame
        One row per test year: training years, rows, test rows.
    predictions : DataFrame
        model, year, household_id, county_code, label, probability.
    figures : dict of matplotlib Figures
    run_ids : dict
        MLflow run id per model (filled by :func:`fanpin_risk.api.backtest`).
    label_definition : dict
        The label definition used (:func:`fanpin_risk.panel.make_labels`).
    cause_accuracy : DataFrame or None
        With a cause record (``fanpin_risk.backtest(..., causes=)``, simulated panels): per year, how often the
        named main risk type of the listed households is the true main cause
        (:func:`fanpin_risk.scoring.cause_accuracy`); ``cause_confusion`` holds its confusion table per year.
    """

    per_year: pd.DataFrame
    pooled: pd.DataFrame
    calibration: pd.DataFrame
    topk: pd.DataFrame
    equity: pd.DataFrame
    county_quota: pd.DataFrame
    psi: pd.DataFrame
    splits: pd.DataFrame
    predictions: pd.DataFrame
    settings: dict
    figures: dict = field(default_factory=dict)
    run_ids: dict = field(default_factory=dict)
    label_definition: dict = field(default_factory=dict)
    cause_accuracy: pd.DataFrame | None = None
    cause_confusion: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """All tables by name (for export and MLflow)."""
        out = {"per_year": self.per_year, "pooled": self.pooled, "calibration": self.calibration, "topk": self.topk,
               "equity": self.equity, "county_quota": self.county_quota, "psi": self.psi, "splits": self.splits}
        if self.cause_accuracy is not None:
            out["cause_accuracy"] = self.cause_accuracy
        return out

    def summary(self) -> pd.DataFrame:
        """Headline metrics per model: each test year and pooled."""
        tag = self.settings["tag"]
        cols = ["model", "year", "n", "positives", "roc_auc", "pr_auc", f"recall_at_{tag}", f"precision_at_{tag}", "brier",
                "ece", "calibration_in_the_large"]
        a = self.per_year[cols].copy()
        b = self.pooled.assign(year="pooled")[cols]
        a["year"] = a["year"].astype(str)
        return pd.concat([a, b], ignore_index=True).sort_values(["model", "year"]).reset_index(drop=True)

    def __str__(self) -> str:
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.precision", 3):
            return str(self.summary())


def training_mask(years: np.ndarray, labelled: np.ndarray, test_year: int, horizon: int = 1, label_lag: int = 0) -> np.ndarray:
    """Rows usable for training when predicting in ``test_year``: labelled and ``t + horizon ≤ T − label_lag``."""
    return labelled & (years + horizon <= test_year - label_lag)


def _plot_splits(splits: pd.DataFrame, all_years):
    # a Figure outside pyplot: nothing is registered or shown behind the caller's back,
    # and a notebook displays it where the user asks for it
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(cjk_rc()):
        fig = Figure(figsize=(7, 0.6 * len(splits) + 1.2))
        ax = fig.subplots()
        for i, r in enumerate(splits.itertuples()):
            for y in all_years:
                if y in r.train_years:
                    ax.barh(i, 0.9, left=y - 0.45, color="#4c72b0")
                elif y == r.test_year:
                    ax.barh(i, 0.9, left=y - 0.45, color="#dd8452")
                elif y in r.label_unknown_years:
                    ax.barh(i, 0.9, left=y - 0.45, color="#cccccc")
        ax.set_yticks(range(len(splits)), [f"test {t}" for t in splits["test_year"]])
        ax.set_xticks(list(all_years))
        ax.set_xlabel("record year t (label from t+1)")
        ax.set_title("Rolling-origin splits: blue = train, orange = test, grey = label not yet known")
        fig.tight_layout()
    return fig


def _plot_calibration(cal: pd.DataFrame):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(cjk_rc()):
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        for m, sub in cal[cal["year"] == 0].groupby("model"):
            ax.plot(sub["mean_pred"], sub["frac_pos"], marker="o", label=m)
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        ax.set_title("Calibration (pooled test years)")
        ax.legend()
        fig.tight_layout()
    return fig


def backtest(
    panel,
    models=("rule", "scorecard", "lightgbm"),
    first_test_year: int | None = None,
    label: str = "relapse",
    k_share: float = 0.10,
    k: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
    progress: bool = True,
    *,
    horizon: int = 1,
    label_lag: int = 0,
    params: dict | None = None,
    lines=None,
    figures: bool = True,
    baselines: bool = True,
) -> BacktestResult:
    """Rolling-origin out-of-time evaluation.

    Parameters
    ----------
    panel : DataFrame or path
        Household-year records (English or Chinese headers).
    models : sequence of {"rule", "scorecard", "lightgbm"}
    first_test_year : int, optional
        Default: the first year with at least one training year
        (first panel year + horizon + label_lag).
    label : str
        Label definition (see :func:`fanpin_risk.panel.make_labels`).
    k_share, k : float, int
        Visit budget as a share of households and (optionally) a count.
    n_boot : int
        Bootstrap resamples for the confidence intervals (0 = none).
    seed : int
    progress : bool
        Show a rich progress bar.
    horizon, label_lag : int
        See the module docstring for the timing rule.
    params : dict, optional
        ``{model_name: params}`` passed to the estimators.
    baselines : bool, default True
        Also evaluate :data:`BASELINES` (persistence of this year's income ÷
        line; plain LightGBM on the raw contract columns), so that what the
        features and the model add on this data can be read off.

    Returns
    -------
    BacktestResult
    """
    _check_models(models)
    models = list(models) + [b for b in BASELINES if baselines and b not in models]
    data = _Data.load(panel, label, horizon=horizon, label_lag=label_lag, lines=lines)
    first_test_year, test_years = _test_years(data, first_test_year)
    budget = _Budget(k_share=k_share, k=k, n_boot=n_boot, seed=seed)
    fits = _fit_and_predict(data, test_years, models, seed=seed, params=params or {}, progress=progress)
    res = BacktestResult(
        **_metric_tables(data, fits, models, budget, test_years),
        splits=fits.splits, predictions=fits.predictions.drop(columns="row"),
        label_definition=data.labels.attrs["definition"],
        settings={"models": list(models), "label": label, "horizon": horizon, "label_lag": label_lag,
                  "k_share": k_share, "k": k, "n_boot": n_boot, "seed": seed, "test_years": test_years,
                  "tag": budget.tag, "first_test_year": first_test_year},
    )
    if figures:
        res.figures = _draw_figures(res, data.all_years)
    return res


# ------------------------------------------------------------------ the splits


def _check_models(models) -> None:
    for m in models:
        if m not in MODEL_KINDS and m not in BASELINES:
            raise ModelError(f"unknown model {m!r}; choose from {list(MODEL_KINDS) + list(BASELINES)}")


def raw_contract_matrix(df: pd.DataFrame) -> pd.DataFrame:
    """The contract columns a plain model reads as they are: numbers and booleans as floats, text as codes."""
    out = {}
    for c in INPUT_COLUMNS:
        if c not in df.columns:
            continue
        s = df[c]
        if s.dtype.kind in "biuf" or str(s.dtype) in ("boolean", "Int64", "Float64"):
            out[c] = s.to_numpy(dtype="float64", na_value=np.nan)
        else:  # codes of the sorted values: the same code for the same text in every split
            vals = s.astype("str").where(s.notna())
            levels = sorted(vals.dropna().unique())
            out[c] = pd.Categorical(vals, categories=levels).codes.astype("float64")
            out[c][out[c] < 0] = np.nan
    return pd.DataFrame(out, index=df.index)


def _baseline(m: str, Xtr, Xte, Rtr, Rte, ytr, seed: int) -> np.ndarray:
    """Out-of-time probabilities of a baseline."""
    if m == "persistence":
        fill = float(np.nanmedian(Xtr["ratio_to_line"])) if Xtr["ratio_to_line"].notna().any() else 1.0
        raw_tr = -Xtr["ratio_to_line"].fillna(fill).to_numpy()
        cal = fit_platt(raw_tr, ytr)
        z = cal["a"] * -Xte["ratio_to_line"].fillna(fill).to_numpy() + cal["b"]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    import lightgbm as lgb

    if len(np.unique(ytr)) < 2:
        return np.full(len(Rte), float(np.mean(ytr)))
    b = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "deterministic": True, "seed": seed},
                  lgb.Dataset(Rtr.to_numpy(), ytr, feature_name=list(Rtr.columns)), num_boost_round=100)
    return b.predict(Rte.to_numpy())


@dataclass
class _Data:
    """The panel with its labels, and the per-row arrays every split indexes into."""

    df: pd.DataFrame
    labels: pd.DataFrame
    years: np.ndarray
    labelled: np.ndarray
    all_years: list
    household_id: np.ndarray
    county: np.ndarray
    horizon: int
    label_lag: int

    @classmethod
    def load(cls, panel, label: str, *, horizon: int, label_lag: int, lines=None) -> _Data:
        df = as_panel(panel, lines=lines).reset_index(drop=True)
        labels = make_labels(df, label, horizon=horizon)
        years = df["year"].astype(int).to_numpy()
        county = df["county_code"].astype(str).to_numpy() if "county_code" in df.columns else np.full(len(df), "")
        return cls(df=df, labels=labels, years=years, labelled=labels["label"].notna().to_numpy(),
                   all_years=sorted(set(years.tolist())), household_id=df["household_id"].astype(str).to_numpy(),
                   county=county, horizon=horizon, label_lag=label_lag)

    @property
    def label(self) -> pd.Series:
        return self.labels["label"]

    def train_mask(self, test_year: int) -> np.ndarray:
        return training_mask(self.years, self.labelled, test_year, self.horizon, self.label_lag)

    def test_mask(self, test_year: int) -> np.ndarray:
        return self.labelled & (self.years == test_year)


def _test_years(data: _Data, first_test_year: int | None) -> tuple[int, list[int]]:
    """The first test year (resolved) and the test years that have both test and training rows."""
    if first_test_year is None:
        first_test_year = data.all_years[0] + data.horizon + data.label_lag
    test_years = [T for T in data.all_years if T >= first_test_year and data.labelled[data.years == T].any()]
    test_years = [T for T in test_years if data.train_mask(T).any()]
    if not test_years:
        raise ModelError(f"no test year: the panel covers {data.all_years}; a test year needs labelled rows and "
                         f"training years ≤ T − {data.horizon + data.label_lag}")
    return first_test_year, test_years


@dataclass
class _Fits:
    """Out-of-time predictions of every model and split."""

    predictions: pd.DataFrame  # keeps ``row`` (position in the panel) to look up group attributes
    splits: pd.DataFrame
    test_features: dict  # test year → its test rows' features, for feature PSI


class _Progress:
    """A transient rich bar on a terminal; one line per step on stderr otherwise (a cron job's log); or nothing.

    Piped or logged output gets no bar (rich draws nothing there), so a long
    backtest would be silent: each finished step is a line instead.
    """

    def __init__(self, enabled: bool, total: int):
        self._bar = None
        self._lines = False
        self._total, self._done, self._t0, self._text = total, 0, time.perf_counter(), "backtest"
        if not enabled:
            return
        if sys.stderr.isatty():
            # rich only loads when a bar is shown
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            self._task = self._bar.add_task("backtest", total=total)
        else:
            self._lines = True

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def describe(self, text: str) -> None:
        self._text = text
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        elif self._lines:
            print(f"backtest {self._done}/{self._total}: {self._text} done ({time.perf_counter() - self._t0:.0f} s)",
                  file=sys.stderr, flush=True)


def _fit_and_predict(data: _Data, test_years: list[int], models, *, seed: int, params: dict, progress: bool) -> _Fits:
    preds, split_rows, test_features = [], [], {}
    with _Progress(progress, len(test_years) * len(models)) as bar:
        for T in test_years:
            trm, tem = data.train_mask(T), data.test_mask(T)
            # fitted on training rows only, so no test-year statistic leaks; records ≤ T are all there is at T
            upto = data.years <= T
            X = PanelFeatures().fit(data.df[trm]).transform(data.df[upto])
            Xtr, Xte = X.loc[trm[upto]], X.loc[tem[upto]]
            R = raw_contract_matrix(data.df) if any(m == "lightgbm_raw" for m in models) else None
            ytr = data.label[trm].astype(int).to_numpy()
            test_features[T] = Xte
            split_rows.append(_split_row(data, T, trm, tem, ytr))
            for m in models:
                bar.describe(f"test year {T}: {m}")
                if m in BASELINES:
                    p = _baseline(m, Xtr, Xte, None if R is None else R[trm], None if R is None else R[tem], ytr, seed)
                else:
                    prm, cols = params.get(m), list(Xtr.columns)
                    if m == "lightgbm" and prm is None:  # what train() does: the audition on the training years only
                        prm, cols = _auditioned(Xtr, ytr, data.years[trm], data.household_id[trm], seed)
                    impl = fit_on_features(m, Xtr[cols], ytr, data.years[trm], seed=seed, params=prm)
                    p = impl.calibrate(impl.predict_raw(Xte[cols]))
                preds.append(pd.DataFrame({"model": m, "year": T, "row": np.where(tem)[0],
                                           "household_id": data.household_id[tem], "county_code": data.county[tem],
                                           "label": data.label[tem].astype(int).to_numpy(), "probability": p}))
                bar.advance()
    return _Fits(predictions=pd.concat(preds, ignore_index=True), splits=pd.DataFrame(split_rows),
                 test_features=test_features)


def _auditioned(Xtr: pd.DataFrame, ytr: np.ndarray, years: np.ndarray, households: np.ndarray, seed: int):
    """Parameters and feature columns :func:`fanpin_risk.models.train` would choose on these training rows."""
    block = set(PanelFeatures.HISTORY_FEATURES)
    base = [c for c in Xtr.columns if c not in block]
    sel = audition(Xtr, ytr, years, households, seed=seed, base_features=base)
    chosen = next((c for c in sel["candidates"] if c["name"] == sel["chosen"]), None)
    if chosen is None:
        return None, list(Xtr.columns)
    return dict(chosen["params"]), (list(Xtr.columns) if chosen["history_block"] else base)


def _split_row(data: _Data, T: int, trm: np.ndarray, tem: np.ndarray, ytr: np.ndarray) -> dict:
    return {"test_year": T, "train_years": sorted(set(data.years[trm].tolist())), "n_train": int(trm.sum()),
            "n_test": int(tem.sum()), "train_positive_rate": float(ytr.mean()),
            "label_unknown_years": [y for y in data.all_years
                                    if y < T and y + data.horizon > T - data.label_lag]}


# ------------------------------------------------------------------ metrics


@dataclass(frozen=True)
class _Budget:
    """Visit budget and bootstrap settings shared by every metric."""

    k_share: float
    k: int | None
    n_boot: int
    seed: int

    @property
    def tag(self) -> str:
        return f"{int(round(self.k_share * 100))}pct"


def _metric_tables(data: _Data, fits: _Fits, models, b: _Budget, test_years: list[int]) -> dict[str, pd.DataFrame]:
    """The metric tables of :class:`BacktestResult`, by field name."""
    P = fits.predictions
    per_year, pooled, cal, topk, quota, eq, psis = [], [], [], [], [], [], []
    grp_src = data.df.loc[P["row"].unique()]
    for m in models:
        Pm = P[P["model"] == m]
        ys = _YearScores.of(m, Pm, b)
        per_year += ys.rows
        quota += ys.quota
        cal += ys.calibration
        topk += ys.topk
        pooled.append({"model": m, **_pooled_metrics(Pm, ys, b, test_years)})
        cal.append(M.calibration_curve(Pm["label"], Pm["probability"]).assign(model=m, year=0))
        eq.append(_pool_equity(_equity_by_year(Pm, grp_src, b.k_share)).assign(model=m))
        sc = pd.DataFrame({"score": Pm["probability"].to_numpy()})
        psis.append(M.psi_table(sc, Pm["year"].to_numpy()).assign(feature=f"score:{m}"))
    feats = fits.test_features
    psis.append(M.psi_table(pd.concat(feats.values()), np.concatenate([np.full(len(v), t) for t, v in feats.items()])))
    return {"per_year": pd.DataFrame(per_year), "pooled": pd.DataFrame(pooled),
            "calibration": pd.concat(cal, ignore_index=True), "topk": pd.DataFrame(topk),
            "equity": pd.concat(eq, ignore_index=True), "county_quota": pd.concat(quota, ignore_index=True),
            "psi": pd.concat(psis, ignore_index=True)}


@dataclass
class _YearScores:
    """One model's per-year tables, plus the top-k counts that the pooled precision/recall add up."""

    rows: list = field(default_factory=list)
    quota: list = field(default_factory=list)
    calibration: list = field(default_factory=list)
    topk: list = field(default_factory=list)
    tp: int = 0
    selected: int = 0
    positives: int = 0
    tp_k: int = 0
    selected_k: int = 0

    @classmethod
    def of(cls, m: str, Pm: pd.DataFrame, b: _Budget) -> _YearScores:
        ys = cls()
        for T, sub in Pm.groupby("year"):
            ys.add_year(m, int(T), sub, b)
        return ys

    def add_year(self, m: str, T: int, sub: pd.DataFrame, b: _Budget) -> None:
        y, p, hid = sub["label"], sub["probability"], sub["household_id"]
        r = M.score_all(y, p, k=b.k, share=b.k_share, tie_key=hid)
        q = M.recall_at_k_within(y, p, sub["county_code"], share=b.k_share, tie_key=hid)
        r[f"county_quota_recall_at_{b.tag}"] = float(q.loc[q["group"] == "__all__", "recall"].iloc[0])
        if b.n_boot:
            ci = M.bootstrap_ci(y, p, n_boot=b.n_boot, seed=b.seed, share=b.k_share, k=b.k, tie_key=hid)
            for c in ci.itertuples():
                r[f"{c.metric}_lo"], r[f"{c.metric}_hi"] = c.lo, c.hi
        self.rows.append({"model": m, "year": T, **r})
        self.quota.append(q.assign(model=m, year=T))
        self.calibration.append(M.calibration_curve(y, p).assign(model=m, year=T))
        pk = M.precision_recall_at_k(y, p, share=b.k_share, tie_key=hid)
        self.topk.append({"model": m, "year": T, "budget": f"{b.k_share:.0%}", **pk})
        self.tp, self.selected = self.tp + pk["tp"], self.selected + pk["k"]
        self.positives += pk["positives"]
        if b.k is not None:
            pk2 = M.precision_recall_at_k(y, p, k=b.k, tie_key=hid)
            self.topk.append({"model": m, "year": T, "budget": str(b.k), **pk2})
            self.tp_k, self.selected_k = self.tp_k + pk2["tp"], self.selected_k + pk2["k"]


def _pooled_metrics(Pm: pd.DataFrame, ys: _YearScores, b: _Budget, test_years: list[int]) -> dict:
    """Pooled metrics of one model; top-k counts come from each year's own selection (see the module docstring)."""
    tag = b.tag
    r = M.score_all(Pm["label"], Pm["probability"], share=b.k_share)
    r[f"precision_at_{tag}"] = ys.tp / ys.selected
    r[f"recall_at_{tag}"] = ys.tp / ys.positives if ys.positives else np.nan
    if b.k is not None:
        r[f"precision_at_{b.k}"] = ys.tp_k / ys.selected_k
        r[f"recall_at_{b.k}"] = ys.tp_k / ys.positives if ys.positives else np.nan
    qm = pd.concat(ys.quota)
    qa = qm[qm["group"] == "__all__"]
    r[f"county_quota_recall_at_{tag}"] = qa["tp"].sum() / qa["positives"].sum() if qa["positives"].sum() else np.nan
    r["test_years"] = ",".join(str(t) for t in test_years)
    if b.n_boot:
        r.update(_pooled_bootstrap(Pm, b))
    return r


def _pooled_bootstrap(Pm: pd.DataFrame, b: _Budget) -> dict:
    """Pooled CIs: rows resampled within each year (stratified), top k chosen per year as in the point estimate."""
    tag = b.tag
    rng = np.random.default_rng(b.seed)
    groups = [g for _, g in Pm.groupby("year")]
    draws = {c: [] for c in ("roc_auc", "pr_auc", "brier", f"recall_at_{tag}", f"precision_at_{tag}")}
    for _ in range(b.n_boot):
        bs = [g.iloc[rng.integers(0, len(g), len(g))] for g in groups]
        allb = pd.concat(bs)
        draws["roc_auc"].append(M.roc_auc(allb["label"], allb["probability"]))
        draws["pr_auc"].append(M.pr_auc(allb["label"], allb["probability"]))
        draws["brier"].append(M.brier(allb["label"], allb["probability"]))
        tp = sl = ps = 0
        for g in bs:
            pk = M.precision_recall_at_k(g["label"].to_numpy(), g["probability"].to_numpy(), share=b.k_share,
                                         tie_key=g["household_id"].to_numpy())
            tp, sl, ps = tp + pk["tp"], sl + pk["k"], ps + pk["positives"]
        draws[f"recall_at_{tag}"].append(tp / ps if ps else np.nan)
        draws[f"precision_at_{tag}"].append(tp / sl)
    out = {}
    for c, d in draws.items():
        d = np.asarray(d, float)
        d = d[~np.isnan(d)]
        out[f"{c}_lo"], out[f"{c}_hi"] = (np.quantile(d, [0.025, 0.975]) if len(d) else (np.nan, np.nan))
    return out


def _equity_groups(g: pd.DataFrame) -> dict[str, np.ndarray]:
    """Group attribute of each row; a column the panel lacks gives one missing group."""
    def col(name, values, missing=None):
        return values(g[name]) if name in g.columns else np.full(len(g), missing)

    return {"county_code": col("county_code", lambda s: s.to_numpy(), ""),
            "monitoring_category": col("monitoring_category", lambda s: s.to_numpy(dtype=object)),
            "has_elderly": col("n_elderly", lambda s: (s.astype("Float64") > 0).to_numpy(dtype=object)),
            "has_disabled": col("n_disabled", lambda s: (s.astype("Float64") > 0).to_numpy(dtype=object))}


def _equity_by_year(Pm: pd.DataFrame, grp_src: pd.DataFrame, k_share: float) -> pd.DataFrame:
    # the top k % is chosen within each year (visits are planned per year), pooled afterwards by counts
    groups = _equity_groups(grp_src.loc[Pm["row"].to_numpy()])
    rows = []
    for T, sub in Pm.groupby("year"):
        in_year = (Pm["year"] == T).to_numpy()
        e = M.equity_table(sub["label"], sub["probability"], {a: v[in_year] for a, v in groups.items()},
                           share=k_share, tie_key=sub["household_id"])
        rows.append(e.assign(year=int(T)))
    return pd.concat(rows)


def _draw_figures(res: BacktestResult, all_years) -> dict:
    try:
        return {"splits": _plot_splits(res.splits, all_years), "calibration": _plot_calibration(res.calibration)}
    except Exception as exc:  # plotting must never break an evaluation
        # stacklevel 3: point at the caller of backtest(), not at this helper
        warnings.warn(f"backtest figures not drawn: {exc}", stacklevel=3)
        return {}


def _pool_equity(e: pd.DataFrame) -> pd.DataFrame:
    """Pool per-year equity tables by counts (recall = Σtp/Σpos, FOR = Σmissed/Σnot-selected)."""
    e = e.copy()
    e["tp"] = e["recall"].fillna(0) * e["positives"]
    e["selected"] = e["selection_rate"] * e["n"]
    e["missed"] = e["positives"] - e["tp"]
    g = e.groupby(["attribute", "group"], as_index=False)[["n", "positives", "tp", "selected", "missed"]].sum()
    g["prevalence"] = g["positives"] / g["n"]
    g["selection_rate"] = g["selected"] / g["n"]
    g["recall"] = np.where(g["positives"] > 0, g["tp"] / g["positives"].where(g["positives"] > 0), np.nan)
    notsel = g["n"] - g["selected"]
    g["false_omission_rate"] = g["missed"] / notsel.where(notsel > 0)
    out = []
    for a, sub in g.groupby("attribute", sort=False):
        ref = sub.loc[sub["n"].idxmax()]
        sub = sub.assign(reference_group=ref["group"])
        for c in ("recall", "false_omission_rate", "selection_rate"):
            sub[f"{c}_disparity"] = sub[c] / ref[c] if ref[c] and not np.isnan(ref[c]) else np.nan
        out.append(sub)
    return pd.concat(out, ignore_index=True).drop(columns=["tp", "selected", "missed"])
