"""train()'s audition on the user's data and the pooled out-of-time calibration."""

import numpy as np
import pytest

from fanpin_risk.models import AUDITION, anchor_platt, audition, train
from fanpin_risk.panel import make_labels
from fanpin_risk.simulate import simulate


@pytest.fixture(scope="module")
def panel():
    return simulate(1500, years=range(2020, 2025), seed=4)


@pytest.fixture(scope="module")
def model(panel):
    return train(panel)


def test_audition_choice_is_recorded_and_shipped(model):
    sel = model.metadata["selection"]
    assert [c["name"] for c in sel["candidates"]] == [c["name"] for c in AUDITION]
    losses = {c["name"]: c["log_loss"] for c in sel["candidates"]}
    assert sel["chosen"] == min(losses, key=losses.get)  # the lowest out-of-time loss wins
    assert sel["year"] == 2023 and not sel["sampled"]
    chosen = next(c for c in sel["candidates"] if c["name"] == sel["chosen"])
    # the shipped model is the chosen candidate: its size and its feature block
    assert model.params["num_leaves"] == chosen["params"]["num_leaves"]
    assert model.features_.history_block == chosen["history_block"]
    assert ("hist_mean_ratio" in model.feature_names_) == chosen["history_block"]


def test_params_fix_the_choice(panel):
    m = train(panel, params={"num_leaves": 5, "n_estimators": 20})
    assert "selection" not in m.metadata and m.params["num_leaves"] == 5


def test_calibrator_pools_out_of_time_years(model, panel):
    assert model.metadata["estimator"]["calibration_folds"] == []  # the default ships the booster's probabilities
    two = train(panel, params={"num_leaves": 7, "calibration": "platt"})
    assert two.metadata["estimator"]["calibration_folds"] == ["year 2023", "year 2022"]
    one = train(panel, params={"num_leaves": 7, "calibration": "platt", "calibration_folds": 1})
    assert one.metadata["estimator"]["calibration_folds"] == ["year 2023"]


def test_anchor_matches_the_latest_rate(panel):
    m = train(panel, params={"num_leaves": 7, "calibration_anchor": "latest"})
    cal = m.metadata["estimator"]["calibrator"]
    lab = make_labels(panel)["label"]
    rate_2023 = float(lab[(panel["year"] == 2023) & lab.notna()].astype(float).mean())
    assert cal["anchored_rate"] == pytest.approx(rate_2023)
    with pytest.raises(Exception, match="calibration_anchor"):
        train(panel, params={"num_leaves": 7, "calibration_anchor": "first"})


def test_anchor_platt_moves_only_the_level():
    raw = np.linspace(-3, 1, 200)
    y = (np.arange(200) % 4 == 0).astype(int)
    cal = anchor_platt({"method": "platt", "a": 1.0, "b": 0.0}, raw, y)
    assert cal["a"] == 1.0
    assert np.mean(1 / (1 + np.exp(-(raw + cal["b"])))) == pytest.approx(0.25, abs=1e-8)


def test_audition_needs_an_earlier_year():
    X = __import__("pandas").DataFrame({"a": np.arange(10.0)})
    out = audition(X, np.arange(10) % 2, np.full(10, 2024), np.arange(10).astype(str))
    assert out["chosen"] is None and "one labelled year" in out["reason"]


def test_calibration_none_ships_the_boosters_own_probabilities(panel):
    m = train(panel, params={"num_leaves": 7, "calibration": "none"})
    est = m.metadata["estimator"]
    assert est["calibrator"] == {"method": "platt", "a": 1.0, "b": 0.0, "fitted": False}
    assert est["calibration_folds"] == []  # no fold models are fitted for it
    X = m.features_.transform(panel)[m.feature_names_]
    raw = m._impl.booster.predict(X.to_numpy(dtype=float), raw_score=True)
    np.testing.assert_allclose(m._impl.calibrate(raw), 1.0 / (1.0 + np.exp(-raw)), rtol=1e-12)
    anchored = train(panel, params={"num_leaves": 7, "calibration": "none", "calibration_anchor": "latest"})
    cal = anchored.metadata["estimator"]["calibrator"]
    assert cal["a"] == 1.0 and cal["b"] != 0.0 and "anchored_rate" in cal
    with pytest.raises(Exception, match="calibration must be one of"):
        train(panel, params={"num_leaves": 7, "calibration": "beta"})
