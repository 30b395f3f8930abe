"""Dask paths: score and train on a 2-worker LocalCluster equal the in-memory results."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import fanpin_risk
from fanpin_risk.scale import is_dask, score_dask
from fanpin_risk.errors import ContractError, ModelError
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def client():
    # processes: LightGBM's Dask training opens one network socket per worker process
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def panel():
    df = simulate(600, years=range(2021, 2025), seed=7)
    # a household missing the scored year, to check it comes back as not_in_year
    drop = df.index[(df["household_id"] == df["household_id"].iloc[0]) & (df["year"] == 2024)]
    return df.drop(index=drop).reset_index(drop=True)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame):
    from fanpin_risk.scoring import to_headers

    assert list(a.columns) == list(b.columns)
    a, b = to_headers(a, "en"), to_headers(b, "en")
    assert len(a) == len(b)
    pd.testing.assert_series_equal(a["household_id"], b["household_id"])
    np.testing.assert_allclose(a["risk_score"].to_numpy(dtype=float, na_value=np.nan),
                               b["risk_score"].to_numpy(dtype=float, na_value=np.nan), rtol=0, atol=1e-9)
    for c in a.columns:
        if c != "risk_score":
            pd.testing.assert_series_equal(a[c], b[c], check_dtype=True, obj=c)


def test_score_dask_equals_in_memory(client, panel):
    ddf = dd.from_pandas(panel.sample(frac=1.0, random_state=1), npartitions=4)  # histories scattered
    assert is_dask(ddf) and not is_dask(panel)
    mem = fanpin_risk.score(panel, budget=0.1, quota_by="township_code", reasons="budget")
    dist = fanpin_risk.score(ddf, client=client, budget=0.1, quota_by="township_code", reasons="budget")
    assert dist.attrs["backend"] == "dask" and dist.attrs["n_partitions"] >= 2
    _assert_same(mem, dist)
    assert dist.attrs["next_lines"] == mem.attrs["next_lines"] != []
    gone = panel["household_id"].iloc[0]
    assert dist.loc[dist["household_id"] == gone, "status"].item() == "not_in_year"
    assert dist["top_factors"].notna().sum() == dist["in_budget"].sum() > 0


def test_score_dask_all_reasons_zh_and_county_partitions(client, panel):
    ddf = dd.from_pandas(panel, npartitions=3)
    mem = fanpin_risk.score(panel, reasons="all", headers="zh")
    dist = score_dask(ddf, client=client, reasons="all", headers="zh", partition_on="county_code")
    _assert_same(mem, dist)


def test_score_dask_bad_year_is_clear(client, panel):
    with pytest.raises(ContractError, match="2030"):
        score_dask(dd.from_pandas(panel, npartitions=2), client=client, year=2030)


def test_train_dask_close_to_in_memory(client, panel):
    from fanpin_risk import evaluation as M

    train_part = panel[panel["year"] <= 2023]
    params = {"n_estimators": 40}
    dm = fanpin_risk.train(dd.from_pandas(train_part, npartitions=2), client=client, params=params,
                           log_to_mlflow=False)
    mm = fanpin_risk.train(train_part, params={**params, "early_stopping": 40}, log_to_mlflow=False)
    assert dm.metadata["backend"] == "dask" and dm.feature_names_ == mm.feature_names_
    # the line schedule summed over partitions is the in-memory one (lines judged a year ahead)
    assert dm.features_.lines_ == mm.features_.lines_ and len(mm.features_.lines_) >= 2
    assert dm.features_.line_growth_ == mm.features_.line_growth_
    # out of time: features of 2023 rows, label from 2024
    from fanpin_risk.panel import make_labels

    lab = make_labels(panel)["label"]
    rows = panel.index[(panel["year"] == 2023) & lab.notna()]
    y = lab[rows].astype(int).to_numpy()
    pd_ = dm.predict_proba(panel).loc[rows].to_numpy()
    pm = mm.predict_proba(panel).loc[rows].to_numpy()
    auc_d, auc_m = M.score_all(y, pd_)["roc_auc"], M.score_all(y, pm)["roc_auc"]
    # 2 workers: the split of rows over workers varies run to run, so the trees do too;
    # on ~600 out-of-time rows the AUC itself has a standard error of ~0.02
    assert abs(auc_d - auc_m) < 0.05, (auc_d, auc_m)
    assert auc_d > 0.5  # it learned something out of time
    # saved and loaded like any model
    p = dm.save(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"dask_model_{os.getpid()}"))
    again = fanpin_risk.load_model(p)
    np.testing.assert_allclose(again.predict_proba(panel).loc[rows].to_numpy(), pd_, atol=1e-12)
    # the tree count was chosen on the held-out year, within the cap
    assert 1 <= dm.metadata["estimator"]["best_iteration"] <= 40
    assert dm.n_trees == dm.metadata["estimator"]["best_iteration"]
    # one parameter builder: the Dask model has the in-memory model's monotone constraints
    mono = dm.params["monotone_constraints"]
    assert mono == mm.params["monotone_constraints"] and any(v == -1 for v in mono) and any(v == 1 for v in mono)
    assert mono[dm.feature_names_.index("ratio_to_line")] == -1
    # the default ships the booster's own probabilities, as in memory; the held-out year is still counted
    from fanpin_risk.models import booster_calibrator

    est = dm.metadata["estimator"]
    assert est["calibrator"] == booster_calibrator() == mm.metadata["estimator"]["calibrator"]
    held_out = int(((train_part["year"] == 2022) & make_labels(train_part)["label"].notna()).sum())
    assert est["validation_fold"] == "year 2022" and est["valid_rows"] == held_out


def test_train_dask_platt_fits_on_the_held_out_year(client, panel):
    train_part = panel[panel["year"] <= 2023]
    dm = fanpin_risk.train(dd.from_pandas(train_part, npartitions=2), client=client,
                           params={"n_estimators": 20, "calibration": "platt"}, log_to_mlflow=False)
    cal = dm.metadata["estimator"]["calibrator"]
    assert cal["method"] == "platt" and "fitted" not in cal and (cal["a"], cal["b"]) != (1.0, 0.0)
    with pytest.raises(ModelError, match="platt' or 'none'"):
        fanpin_risk.train(dd.from_pandas(train_part, npartitions=2), client=client,
                          params={"calibration": "isotonic"}, log_to_mlflow=False)


def test_train_dask_rejects_other_models(client, panel):
    with pytest.raises(ModelError, match="LightGBM"):
        fanpin_risk.train(dd.from_pandas(panel, npartitions=2), model="scorecard", client=client, log_to_mlflow=False)


def _lgb_data(seed=0, n=3000):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(scale=1.5, size=n) > 0.8).astype(int)
    return X, y


def test_leaf_values_sum_to_the_raw_score():
    import lightgbm as lgb

    from fanpin_risk.scale import leaf_values

    X, y = _lgb_data()
    b = lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1}, lgb.Dataset(X, y), num_boost_round=25)
    leaves = leaf_values(b)
    L = b.predict(X, pred_leaf=True)
    np.testing.assert_allclose(leaves[np.arange(25), L].sum(axis=1), b.predict(X, raw_score=True), rtol=0, atol=1e-9)


def test_tree_count_chosen_as_lightgbm_early_stopping_would():
    """The loss path from leaf outputs and the stopping rule reproduce lightgbm.early_stopping."""
    import lightgbm as lgb

    from fanpin_risk.scale import loss_path_partition, early_stop, leaf_values

    X, y = _lgb_data(1)
    Xv, yv = _lgb_data(2, 2000)
    # a fast learner that overfits, so early stopping really stops
    prm = {"objective": "binary", "num_leaves": 31, "learning_rate": 0.3, "min_data_in_leaf": 5, "verbose": -1,
           "deterministic": True, "num_threads": 1}
    rec: dict = {}
    stopped = lgb.train(prm, lgb.Dataset(X, y), num_boost_round=200,
                        valid_sets=[lgb.Dataset(Xv, yv)], valid_names=["v"],
                        callbacks=[lgb.early_stopping(10, verbose=False), lgb.record_evaluation(rec)])
    full = lgb.train(prm, lgb.Dataset(X, y), num_boost_round=200)
    names = [f"f{i}" for i in range(6)]
    pdf = pd.DataFrame(Xv, columns=names).assign(__y=yv)
    path = loss_path_partition(pdf, full, names, leaf_values(full), rows=700)
    loss = path[[f"t{k}" for k in range(200)]].to_numpy()[0] / path["n"].iloc[0]
    seen = rec["v"]["binary_logloss"]
    np.testing.assert_allclose(loss[:len(seen)], seen, rtol=1e-6)
    assert stopped.best_iteration < 100  # it did stop early
    assert early_stop(loss, 10) == stopped.best_iteration


def test_score_dask_with_context_features_equals_in_memory(client, panel):
    """A model reading the village/county context scores the same on Dask: partitions get the whole panel's context."""
    m = fanpin_risk.train(panel[panel["year"] <= 2023], params={"n_estimators": 30}, log_to_mlflow=False)
    assert m.features_.history_block and "ctx_village_disaster" in m.feature_names_
    ddf = dd.from_pandas(panel.sample(frac=1.0, random_state=2), npartitions=4)
    mem = fanpin_risk.score(panel, m, budget=0.1, reasons="budget")
    dist = fanpin_risk.score(ddf, m, client=client, budget=0.1, reasons="budget")
    _assert_same(mem, dist)
    # an announced next-year line reaches the partitions and the context totals alike
    y = int(panel["year"].max())
    table = pd.DataFrame({"province": [str(panel["province"].iloc[0])], "year": [y + 1], "line": [9500.0]})
    mem = fanpin_risk.score(panel, m, budget=0.1, reasons="budget", lines=table)
    dist = fanpin_risk.score(ddf, m, client=client, budget=0.1, reasons="budget", lines=table)
    _assert_same(mem, dist)
    assert dist.attrs["next_lines"] == mem.attrs["next_lines"] and mem.attrs["next_lines"][0]["next_line"] == 9500.0
