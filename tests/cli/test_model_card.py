"""The default model's card states the audition and the calibration folds it was built with."""

from fanpin_risk.cli._default_model import model_card
from fanpin_risk.evaluation import backtest
from fanpin_risk.models import train
from fanpin_risk.simulate import simulate


def test_card_lists_the_audition_and_baselines():
    p = simulate(600, years=range(2020, 2024), seed=3)
    m = train(p)
    bt = backtest(p, models=("lightgbm",), n_boot=0, progress=False, figures=False)
    card = model_card(m, bt, {"simulate_s": 1.0, "backtest_s": 2.0, "train_s": 3.0}, n=600, seed=3)
    sel = m.metadata["selection"]
    assert f"| {sel['chosen']} (chosen) |" in card
    for c in sel["candidates"]:
        assert c["name"] in card
    assert ", ".join(m.metadata["estimator"]["calibration_folds"]) in card
    assert "| persistence |" in card and "| lightgbm_raw |" in card  # baselines beside the model
