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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import metrics as M
from .features import PanelFeatures
from .labels import _as_panel, make_labels
from .models import MODEL_KINDS, fit_on_features

_FONT = {"font.sans-serif": ["Noto Sans CJK SC", "DejaVu Sans"], "axes.unicode_minus": False}


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

    def tables(self) -> dict[str, pd.DataFrame]:
        """All tables by name (for export and MLflow)."""
        return {"per_year": self.per_year, "pooled": self.pooled, "calibration": self.calibration, "topk": self.topk,
                "equity": self.equity, "county_quota": self.county_quota, "psi": self.psi, "splits": self.splits}

    def summary(self) -> pd.DataFrame:
        """Headline metrics per model: each test year and pooled."""
        tag = self.settings["tag"]
        cols = ["model", "year", "n", "positives", "roc_auc", "pr_auc", f"recall_at_{tag}", f"precision_at_{tag}", "brier"]
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
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with plt.rc_context(_FONT):
        fig, ax = plt.subplots(figsize=(7, 0.6 * len(splits) + 1.2))
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
    import matplotlib.pyplot as plt

    with plt.rc_context(_FONT):
        fig, ax = plt.subplots(figsize=(5, 5))
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
    log_to_mlflow: bool = True,
    progress: bool = True,
    *,
    horizon: int = 1,
    label_lag: int = 0,
    params: dict | None = None,
    lines=None,
    figures: bool = True,
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
        Label definition (see :func:`fanpin_risk.labels.make_labels`).
    k_share, k : float, int
        Visit budget as a share of households and (optionally) a count.
    n_boot : int
        Bootstrap resamples for the confidence intervals (0 = none).
    seed : int
    log_to_mlflow : bool
        One MLflow run per model.
    progress : bool
        Show a rich progress bar.
    horizon, label_lag : int
        See the module docstring for the timing rule.
    params : dict, optional
        ``{model_name: params}`` passed to the estimators.

    Returns
    -------
    BacktestResult
    """
    for m in models:
        if m not in MODEL_KINDS:
            from .errors import ModelError

            raise ModelError(f"unknown model {m!r}; choose from {list(MODEL_KINDS)}")
    df = _as_panel(panel, lines=lines).reset_index(drop=True)
    labels = make_labels(df, label, horizon=horizon)
    lab = labels["label"]
    years = df["year"].astype(int).to_numpy()
    labelled = lab.notna().to_numpy()
    all_years = sorted(set(years.tolist()))
    if first_test_year is None:
        first_test_year = all_years[0] + horizon + label_lag
    test_years = [T for T in all_years if T >= first_test_year and labelled[years == T].any()]
    test_years = [T for T in test_years if training_mask(years, labelled, T, horizon, label_lag).any()]
    if not test_years:
        from .errors import ModelError

        raise ModelError(f"no test year: the panel covers {all_years}; a test year needs labelled rows and "
                         f"training years ≤ T − {horizon + label_lag}")
    params = params or {}
    tag = f"{int(round(k_share * 100))}pct"
    tie = df["household_id"].astype(str).to_numpy()
    county = df["county_code"].astype(str).to_numpy() if "county_code" in df.columns else np.full(len(df), "")

    preds, split_rows, feat_frames = [], [], {}
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("backtest", total=len(test_years) * len(models))
    try:
        for T in test_years:
            trm = training_mask(years, labelled, T, horizon, label_lag)
            tem = labelled & (years == T)
            upto = years <= T
            pf = PanelFeatures().fit(df[trm])
            X = pf.transform(df[upto])
            Xtr, Xte = X.loc[trm[upto]], X.loc[tem[upto]]
            ytr = lab[trm].astype(int).to_numpy()
            feat_frames[T] = Xte
            split_rows.append({"test_year": T, "train_years": sorted(set(years[trm].tolist())), "n_train": int(trm.sum()),
                               "n_test": int(tem.sum()), "train_positive_rate": float(ytr.mean()),
                               "label_unknown_years": [y for y in all_years if y < T and y + horizon > T - label_lag]})
            for m in models:
                if bar is not None:
                    bar.update(task, description=f"test year {T}: {m}")
                impl = fit_on_features(m, Xtr, ytr, years[trm], seed=seed, params=params.get(m))
                p = impl.calibrate(impl.predict_raw(Xte))
                preds.append(pd.DataFrame({"model": m, "year": T, "row": np.where(tem)[0], "household_id": tie[tem],
                                           "county_code": county[tem], "label": lab[tem].astype(int).to_numpy(),
                                           "probability": p}))
                if bar is not None:
                    bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    P = pd.concat(preds, ignore_index=True)
    splits = pd.DataFrame(split_rows)

    # ---------------------------------------------------------------- metrics
    per_year, pooled, cal, topk, quota, eq, psis = [], [], [], [], [], [], []
    feats_test = pd.concat(feat_frames.values())
    grp_src = df.loc[P["row"].unique()]
    for m in models:
        Pm = P[P["model"] == m]
        tp_tot = sel_tot = pos_tot = 0
        tpk_tot = selk_tot = 0
        for T, sub in Pm.groupby("year"):
            r = M.score_all(sub["label"], sub["probability"], k=k, share=k_share, tie_key=sub["household_id"])
            q = M.recall_at_k_within(sub["label"], sub["probability"], sub["county_code"], share=k_share, tie_key=sub["household_id"])
            r[f"county_quota_recall_at_{tag}"] = float(q.loc[q["group"] == "__all__", "recall"].iloc[0])
            if n_boot:
                ci = M.bootstrap_ci(sub["label"], sub["probability"], n_boot=n_boot, seed=seed, share=k_share, k=k,
                                    tie_key=sub["household_id"])
                for c in ci.itertuples():
                    r[f"{c.metric}_lo"], r[f"{c.metric}_hi"] = c.lo, c.hi
            per_year.append({"model": m, "year": int(T), **r})
            quota.append(q.assign(model=m, year=int(T)))
            cal.append(M.calibration_curve(sub["label"], sub["probability"]).assign(model=m, year=int(T)))
            pk = M.precision_recall_at_k(sub["label"], sub["probability"], share=k_share, tie_key=sub["household_id"])
            topk.append({"model": m, "year": int(T), "budget": f"{k_share:.0%}", **pk})
            tp_tot, sel_tot, pos_tot = tp_tot + pk["tp"], sel_tot + pk["k"], pos_tot + pk["positives"]
            if k is not None:
                pk2 = M.precision_recall_at_k(sub["label"], sub["probability"], k=k, tie_key=sub["household_id"])
                topk.append({"model": m, "year": int(T), "budget": str(k), **pk2})
                tpk_tot, selk_tot = tpk_tot + pk2["tp"], selk_tot + pk2["k"]
        r = M.score_all(Pm["label"], Pm["probability"], share=k_share)
        r[f"precision_at_{tag}"], r[f"recall_at_{tag}"] = tp_tot / sel_tot, (tp_tot / pos_tot if pos_tot else np.nan)
        if k is not None:
            r[f"precision_at_{k}"], r[f"recall_at_{k}"] = tpk_tot / selk_tot, (tpk_tot / pos_tot if pos_tot else np.nan)
        qm = pd.concat([x for x in quota if x["model"].iloc[0] == m])
        qa = qm[qm["group"] == "__all__"]
        r[f"county_quota_recall_at_{tag}"] = qa["tp"].sum() / qa["positives"].sum() if qa["positives"].sum() else np.nan
        r["test_years"] = ",".join(str(t) for t in test_years)
        if n_boot:
            # pooled CIs: resample rows within each year (stratified), top-k per year
            rng = np.random.default_rng(seed)
            groups = [g for _, g in Pm.groupby("year")]
            draws = {c: [] for c in ("roc_auc", "pr_auc", "brier", f"recall_at_{tag}", f"precision_at_{tag}")}
            for _ in range(n_boot):
                bs = [g.iloc[rng.integers(0, len(g), len(g))] for g in groups]
                allb = pd.concat(bs)
                draws["roc_auc"].append(M.roc_auc(allb["label"], allb["probability"]))
                draws["pr_auc"].append(M.pr_auc(allb["label"], allb["probability"]))
                draws["brier"].append(M.brier(allb["label"], allb["probability"]))
                tp = sl = ps = 0
                for g in bs:
                    pk = M.precision_recall_at_k(g["label"].to_numpy(), g["probability"].to_numpy(), share=k_share,
                                                 tie_key=g["household_id"].to_numpy())
                    tp, sl, ps = tp + pk["tp"], sl + pk["k"], ps + pk["positives"]
                draws[f"recall_at_{tag}"].append(tp / ps if ps else np.nan)
                draws[f"precision_at_{tag}"].append(tp / sl)
            for c, d in draws.items():
                d = np.asarray(d, float)
                d = d[~np.isnan(d)]
                r[f"{c}_lo"], r[f"{c}_hi"] = (np.quantile(d, [0.025, 0.975]) if len(d) else (np.nan, np.nan))
        pooled.append({"model": m, **r})
        cal.append(M.calibration_curve(Pm["label"], Pm["probability"]).assign(model=m, year=0))
        g = grp_src.loc[Pm["row"].to_numpy()]
        groups_eq = {"county_code": g["county_code"].to_numpy() if "county_code" in g.columns else np.full(len(g), ""),
                     "monitoring_category": g["monitoring_category"].to_numpy(dtype=object) if "monitoring_category" in g.columns else np.full(len(g), None),
                     "has_elderly": (g["n_elderly"].astype("Float64") > 0).to_numpy(dtype=object) if "n_elderly" in g.columns else np.full(len(g), None),
                     "has_disabled": (g["n_disabled"].astype("Float64") > 0).to_numpy(dtype=object) if "n_disabled" in g.columns else np.full(len(g), None)}
        # equity: the top k % is chosen within each year, pooled over years
        sel_rows = []
        for T, sub in Pm.groupby("year"):
            e = M.equity_table(sub["label"], sub["probability"], {a: v[(Pm["year"] == T).to_numpy()] for a, v in groups_eq.items()},
                               share=k_share, tie_key=sub["household_id"])
            sel_rows.append(e.assign(year=int(T)))
        e = pd.concat(sel_rows)
        eq.append(_pool_equity(e).assign(model=m))
        sc = pd.DataFrame({"score": Pm["probability"].to_numpy()})
        psis.append(M.psi_table(sc, Pm["year"].to_numpy()).assign(feature=f"score:{m}"))
    psis.append(M.psi_table(feats_test, np.concatenate([np.full(len(v), t) for t, v in feat_frames.items()])))
    per_year = pd.DataFrame(per_year)
    pooled = pd.DataFrame(pooled)
    res = BacktestResult(
        per_year=per_year, pooled=pooled, calibration=pd.concat(cal, ignore_index=True), topk=pd.DataFrame(topk),
        equity=pd.concat(eq, ignore_index=True), county_quota=pd.concat(quota, ignore_index=True),
        psi=pd.concat(psis, ignore_index=True), splits=splits, predictions=P.drop(columns="row"),
        settings={"models": list(models), "label": label, "horizon": horizon, "label_lag": label_lag, "k_share": k_share,
                  "k": k, "n_boot": n_boot, "seed": seed, "test_years": test_years, "tag": tag,
                  "first_test_year": first_test_year},
    )
    if figures:
        try:
            res.figures = {"splits": _plot_splits(splits, all_years), "calibration": _plot_calibration(res.calibration)}
        except Exception as exc:  # plotting must never break an evaluation
            import warnings

            warnings.warn(f"backtest figures not drawn: {exc}", stacklevel=2)
    if log_to_mlflow:
        from .tracking import data_fingerprint, log_backtest_run

        fp = data_fingerprint(df)
        for m in models:
            res.run_ids[m] = log_backtest_run(
                res, model_name=m,
                params={"model": m, "label": labels.attrs["definition"], "data": fp, "settings": {
                    k_: v for k_, v in res.settings.items() if k_ != "models"}, "params": params.get(m, {})})
    return res


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
