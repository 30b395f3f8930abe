"""The default model's card states the audition and the calibration folds it was built with."""

from fanpin_risk.cli._default_model import _calibration_text, model_card
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
    est = m.metadata["estimator"]
    assert _calibration_text(est) in card
    assert "| persistence |" in card and "| lightgbm_raw |" in card  # baselines beside the model


def test_card_states_the_named_cause_check():
    import fanpin_risk as fr

    p, c = simulate(600, years=range(2020, 2024), seed=3, return_causes=True, cause_years=[2023], cause_draws=2)
    m = train(p)
    bt = fr.backtest(p, models=("lightgbm",), n_boot=0, progress=False, figures=False, log_to_mlflow=False, causes=c)
    card = model_card(m, bt, {"simulate_s": 1.0, "backtest_s": 2.0, "train_s": 3.0}, n=600, seed=3)
    r = bt.cause_accuracy.iloc[0]
    assert "## Named cause" in card
    assert f"| 2023 | {int(r.listed)} | {int(r.with_cause)} | {r.main_is_true:.1%} | {r.true_in_first_two:.1%} |" in card
    bt.cause_accuracy = None
    assert "Not measured (no cause record)" in model_card(m, bt, {"simulate_s": 1.0, "backtest_s": 2.0, "train_s": 3.0},
                                                          n=600, seed=3)


def test_card_says_how_the_probabilities_are_calibrated():
    none = _calibration_text({"calibrator": {"method": "platt", "a": 1.0, "b": 0.0, "fitted": False}, "calibration_folds": []})
    assert 'calibration="none"' in none and "fitted out of time" not in none
    platt = _calibration_text({"calibrator": {"method": "platt", "a": 0.9, "b": -0.2},
                               "calibration_folds": ["year 2023", "year 2022"]})
    assert platt.startswith("Platt calibration fitted out of time on year 2023, year 2022")


def test_card_carries_the_world_table_of_the_benchmark(tmp_path):
    from pathlib import Path

    from fanpin_risk.cli._default_model import worlds_section

    root = Path(__file__).resolve().parents[2]
    sec = worlds_section(root / "bench" / "worlds.md")
    assert sec.startswith("## Beyond this world") and "| lightgbm_raw |" in sec and "| LaborSupply | lightgbm |" in sec
    assert "from the second test year on" in sec
    # the shipped card holds the benchmark's current table (rebuild the card after re-running bench_worlds)
    assert sec in (root / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Not available here" in worlds_section(tmp_path / "missing.md")
