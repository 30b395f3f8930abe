import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fanpin_risk import evaluation as M


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    p = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1)
    return y.astype(int), p


def test_against_sklearn():
    y, p = _data()
    assert np.isclose(M.roc_auc(y, p), skm.roc_auc_score(y, p))
    assert np.isclose(M.pr_auc(y, p), skm.average_precision_score(y, p))
    assert np.isclose(M.brier(y, p), skm.brier_score_loss(y, p))
    assert np.isclose(M.log_loss(y, p), skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)))


def test_missing_labels_dropped():
    y = pd.array([1, 0, None, 1], dtype="Int64")
    p = np.array([0.9, 0.1, 0.5, 0.8])
    assert M.roc_auc(y, p) == 1.0


def test_topk_ties_broken_by_key():
    y = np.array([1, 0, 0, 1, 0])
    s = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    key = np.array(["e", "b", "c", "a", "d"])
    r = M.precision_recall_at_k(y, s, k=2, tie_key=key)
    # 0.9 (e) then the tie at 0.5 is broken by key: "a" comes first
    assert r["k"] == 2 and r["tp"] == 2 and r["precision"] == 1.0
    perm = np.array([4, 2, 0, 3, 1])
    r2 = M.precision_recall_at_k(y[perm], s[perm], k=2, tie_key=key[perm])
    assert r2 == r
    assert M.precision_recall_at_k(y, s, share=0.5)["k"] == 3  # ceil(2.5)


def test_calibration_and_psi():
    y, p = _data()
    c = M.calibration_curve(y, p)
    assert c["n"].sum() == len(y) and c["mean_pred"].between(0, 1).all() and c["frac_pos"].between(0, 1).all()
    rng = np.random.default_rng(1)
    a = rng.normal(size=2000)
    assert M.psi(a, rng.normal(size=2000)) < 0.05
    assert M.psi(a, rng.normal(1, 1, size=2000)) > 0.25


def test_bootstrap_seeded_and_covers():
    y, p = _data()
    a = M.bootstrap_ci(y, p, n_boot=50, seed=3)
    b = M.bootstrap_ci(y, p, n_boot=50, seed=3)
    pd.testing.assert_frame_equal(a, b)
    r = a.set_index("metric").loc["roc_auc"]
    assert r["lo"] <= r["estimate"] <= r["hi"]


def test_quota_and_equity():
    y, p = _data(400)
    g = np.repeat(["A", "B", "C", "D"], 100)
    q = M.recall_at_k_within(y, p, g, share=0.1)
    assert (q.loc[q["group"] != "__all__", "k"] == 10).all()
    e = M.equity_table(y, p, {"county": g, "flag": np.arange(400) % 3 == 0}, share=0.1)
    ref = e[(e["attribute"] == "flag") & (e["group"] == "False")]
    assert float(ref["recall_disparity"].iloc[0]) == 1.0
    assert set(e.columns) >= {"recall", "false_omission_rate", "recall_disparity", "false_omission_rate_disparity"}
