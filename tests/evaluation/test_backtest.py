import numpy as np
import pytest

from _panel_fixture import make_panel
from fanpin_risk.api import backtest
from fanpin_risk.evaluation import training_mask
from fanpin_risk.panel import make_labels


@pytest.fixture(scope="module")
def panel():
    return make_panel(400, years=range(2020, 2025), seed=5)


@pytest.fixture(scope="module")
def result(panel):
    return backtest(panel, n_boot=10, log_to_mlflow=False, progress=False,
                    params={"lightgbm": {"n_estimators": 30, "early_stopping": 10}}, k=20)


def test_split_never_uses_unknown_labels(panel, result):
    years = panel["year"].astype(int).to_numpy()
    lab = make_labels(panel)["label"].notna().to_numpy()
    for r in result.splits.itertuples():
        T = r.test_year
        m = training_mask(years, lab, T)
        assert m.any()
        # label of row t comes from the records of t+1, which exist when year T is scored iff t+1 ≤ T
        assert (years[m] + 1 <= T).all()
        assert max(r.train_years) == T - 1
        assert T not in r.train_years
    # 2024 rows are censored (no 2025 records), so they are never a test year
    assert list(result.splits["test_year"]) == [2021, 2022, 2023]
    assert not result.predictions["label"].isna().any()


def test_tables(result):
    assert set(result.per_year["model"]) == {"rule", "scorecard", "lightgbm", "persistence", "lightgbm_raw"}
    for c in ("roc_auc", "pr_auc", "brier", "log_loss", "recall_at_10pct", "precision_at_10pct", "recall_at_20", "roc_auc_lo",
              "calibration_in_the_large", "ece", "mean_probability", "outcome_rate"):
        assert c in result.per_year.columns, c
    assert result.calibration["mean_pred"].between(0, 1).all()
    assert result.predictions["probability"].between(0, 1).all()
    assert {"county_code", "monitoring_category", "has_elderly", "has_disabled"} <= set(result.equity["attribute"])
    assert result.psi["feature"].str.startswith("score:").any()
    assert "splits" in result.figures
    s = result.summary()
    assert (s["year"] == "pooled").sum() == 5


def test_baselines(panel, result):
    """Persistence ranks by this year's income ÷ line; the raw LightGBM sees the contract columns only."""
    from fanpin_risk.evaluation import raw_contract_matrix
    from fanpin_risk.panel import PanelFeatures, as_panel

    P = result.predictions
    T = int(P["year"].max())
    per = P[(P["model"] == "persistence") & (P["year"] == T)]
    df = as_panel(panel).reset_index(drop=True)
    ratio = PanelFeatures().fit(df).transform(df)["ratio_to_line"]
    rows = df.index[(df["year"] == T)]
    r = ratio.loc[rows].set_axis(df.loc[rows, "household_id"].astype(str).to_numpy())
    # a lower income ÷ line never gets a lower probability
    order = r.loc[per["household_id"]].to_numpy()
    p = per["probability"].to_numpy()
    assert (np.diff(p[np.argsort(order)]) <= 1e-12).all()
    R = raw_contract_matrix(df)
    assert "net_income_per_capita" in R.columns and not any(c.startswith(("hist_", "ctx_")) for c in R.columns)
    assert (R.dtypes == "float64").all() and len(R) == len(df)
    # per-year calibration in the large is mean probability − outcome rate
    py = result.per_year
    np.testing.assert_allclose(py["calibration_in_the_large"], py["mean_probability"] - py["outcome_rate"])
    only = backtest(panel, models=("rule",), n_boot=0, log_to_mlflow=False, progress=False, figures=False, baselines=False)
    assert set(only.per_year["model"]) == {"rule"}


def test_label_lag_one_drops_the_last_label_year(panel):
    r = backtest(panel, models=("rule",), n_boot=0, log_to_mlflow=False, progress=False, label_lag=1, figures=False)
    assert list(r.splits["test_year"]) == [2022, 2023]
    assert r.splits.iloc[0]["train_years"] == [2020]
    assert list(r.splits.iloc[1]["train_years"]) == [2020, 2021]
