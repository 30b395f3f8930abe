import json

import numpy as np
import pandas as pd
import pytest

from _panel_fixture import make_panel
from fanpin_risk import contract
from fanpin_risk.errors import ModelError
from fanpin_risk.api import train
from fanpin_risk.models import load_model

FAST = {"n_estimators": 40, "early_stopping": 10}


@pytest.fixture(scope="module")
def panel():
    return make_panel(300, years=range(2020, 2024), seed=4)


@pytest.fixture(scope="module")
def lgb_model(panel):
    return train(panel, "lightgbm", params=FAST, log_to_mlflow=False)


@pytest.mark.parametrize("kind", ["rule", "scorecard"])
def test_baselines(panel, kind):
    m = train(panel, kind, log_to_mlflow=False)
    p = m.predict_proba(panel)
    assert p.between(0, 1).all() and p.index.equals(panel.index)
    assert len(m.predict_raw(panel)) == len(panel)
    if kind == "scorecard":
        assert {"feature", "coef"} <= set(m.coefficients().columns)


def test_interface_and_metadata(lgb_model, panel):
    m = lgb_model
    p = m.predict_proba(panel)
    assert p.between(0, 1).all()
    raw = m.decision_function(panel)
    assert np.all(np.diff(p.to_numpy()[np.argsort(raw.to_numpy())]) >= -1e-12)  # calibration is monotone
    assert m.transform(panel).shape == (len(panel), len(m.feature_names_))
    for k in ("label", "train_years", "lines", "package_version", "data_fingerprint", "feature_names", "training_categories"):
        assert k in m.metadata
    assert m.metadata["train_years"] == [2020, 2021, 2022]
    # Chinese headers give the same predictions
    zh = contract.export_frame(panel, headers="zh")
    np.testing.assert_allclose(m.predict_proba(zh).to_numpy(), p.to_numpy())


def test_save_load_round_trip(lgb_model, panel, tmp_path):
    d = lgb_model.save(tmp_path / "m")
    m2 = load_model(d)
    np.testing.assert_array_equal(m2.predict_proba(panel).to_numpy(), lgb_model.predict_proba(panel).to_numpy())
    assert not list(d.glob("*.pkl"))


def test_tampered_and_schema_refused(lgb_model, tmp_path):
    d = lgb_model.save(tmp_path / "m")
    b = (d / "booster.txt").read_text()
    (d / "booster.txt").write_text(b.replace("leaf_value=", "leaf_value=1", 1))
    with pytest.raises(ModelError, match="checksum"):
        load_model(d)
    d2 = lgb_model.save(tmp_path / "m2")
    mf = json.loads((d2 / "manifest.json").read_text())
    mf["schema_version"] = 999
    (d2 / "manifest.json").write_text(json.dumps(mf))
    with pytest.raises(ModelError, match="schema version"):
        load_model(d2)


def test_deterministic(panel, tmp_path):
    a = train(panel, "lightgbm", params=FAST, seed=1, log_to_mlflow=False).save(tmp_path / "a")
    b = train(panel, "lightgbm", params=FAST, seed=1, log_to_mlflow=False).save(tmp_path / "b")
    for f in sorted(p.name for p in a.iterdir()):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_missing_feature_column_refused(lgb_model, panel):
    with pytest.raises(ModelError, match="income_transfer"):
        lgb_model.predict_proba(panel.drop(columns="income_transfer"))


def test_lightgbm_beats_baselines_on_fixture():
    from fanpin_risk.api import backtest

    p = make_panel(3000, years=range(2020, 2025), seed=0)
    r = backtest(p, n_boot=0, log_to_mlflow=False, progress=False, figures=False,
                 params={"lightgbm": {"n_estimators": 150}})
    po = r.pooled.set_index("model")
    assert po.loc["lightgbm", "pr_auc"] > po.loc["rule", "pr_auc"]


def test_lightgbm_is_monotone_in_income_and_guarantees():
    from fanpin_risk.models import MONOTONE
    from fanpin_risk.simulate import simulate

    p = simulate(1500, years=range(2020, 2024), seed=11)
    m = train(p, "lightgbm", params=FAST, log_to_mlflow=False)
    X = m.transform(p)
    base = m.raw_from_features(X)
    for feat, sign in MONOTONE.items():
        if feat not in X.columns:
            continue
        step = X[feat].abs().median() if X[feat].abs().median() > 0 else 1.0
        moved = m.raw_from_features(X.assign(**{feat: X[feat] + step}))
        # more income never raises the raw score; another failing guarantee never lowers it
        assert np.all(sign * (moved - base) >= -1e-9), feat
    # switched off, the constraint is gone from the saved parameters
    free = train(p, "lightgbm", params={**FAST, "monotone": {}}, log_to_mlflow=False)
    assert "monotone_constraints" in m.params
    assert "monotone_constraints" not in free.params


def test_predictions_use_every_core_and_are_the_same_for_any_thread_count(monkeypatch):
    from fanpin_risk.models import resolve_model
    from fanpin_risk.models._models import predict_threads
    from fanpin_risk.explain import feature_frame
    from fanpin_risk.simulate import simulate

    monkeypatch.delenv("FANPIN_THREADS", raising=False)
    assert predict_threads() >= 1
    monkeypatch.setenv("FANPIN_THREADS", "3")
    assert predict_threads() == 3
    monkeypatch.setenv("FANPIN_THREADS", "many")
    with pytest.raises(ModelError, match="FANPIN_THREADS"):
        predict_threads()
    m = resolve_model(None)
    X = feature_frame(m, simulate(300, seed=2))
    out = {}
    for n in ("1", "2"):
        monkeypatch.setenv("FANPIN_THREADS", n)
        out[n] = (m._impl.predict_raw(X), m._impl.contributions(X)[1].to_numpy())
    assert np.array_equal(out["1"][0], out["2"][0]) and np.array_equal(out["1"][1], out["2"][1])
