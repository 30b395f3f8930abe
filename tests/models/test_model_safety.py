"""Model files are data, never code: what load_model refuses and what it never does.

Extends tests/test_models.py (tamper of booster.txt, schema version, determinism,
missing feature column) with the cases it does not cover.
"""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest

from _panel_fixture import make_panel
from fanpin_risk.errors import ModelError
from fanpin_risk.api import train
from fanpin_risk.models import load_model
from fanpin_risk.scoring import score


@pytest.fixture(scope="module")
def panel():
    return make_panel(150, years=range(2020, 2024), seed=7)


@pytest.fixture(scope="module")
def model(panel):
    return train(panel, "lightgbm", params={"n_estimators": 10}, log_to_mlflow=False)


@pytest.fixture
def saved(model, tmp_path):
    return model.save(tmp_path / "m")


def _relist(d, name, data: bytes | None = None) -> None:
    """Rewrite the manifest so that ``name`` is listed with a matching checksum (a consistent tamper)."""
    mf = json.loads((d / "manifest.json").read_text())
    f = d / name
    mf["files"][name] = hashlib.sha256(data if data is not None else f.read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(mf))


class _Bomb:
    """Unpickling this writes a marker file: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("listed", [False, True])
def test_pickle_in_model_directory_is_never_loaded(saved, model, panel, tmp_path, listed):
    marker = tmp_path / "pickle_was_executed"
    for name in ("model.pkl", "booster.pkl", "metadata.pickle"):
        (saved / name).write_bytes(pickle.dumps(_Bomb(marker)))
        if listed:
            _relist(saved, name)
    m = load_model(saved)
    assert not marker.exists()
    np.testing.assert_array_equal(m.predict_proba(panel).to_numpy(), model.predict_proba(panel).to_numpy())
    # sanity: the bomb does go off when unpickled, so the check above can fail
    pickle.loads((saved / "model.pkl").read_bytes()).close()
    assert marker.exists()


@pytest.mark.parametrize("name", ["../outside.json", "sub/../../outside.json", "/tmp/outside.json", "..\\outside.json"])
def test_manifest_listing_a_file_outside_the_directory_is_refused(saved, name):
    data = b'{"x": 1}'
    mf = json.loads((saved / "manifest.json").read_text())
    mf["files"][name] = hashlib.sha256(data).hexdigest()
    (saved / "manifest.json").write_text(json.dumps(mf))
    (saved.parent / "outside.json").write_bytes(data)  # it exists and its checksum matches
    with pytest.raises(ModelError, match="not a file of the model directory"):
        load_model(saved)


def test_edited_metadata_is_refused(saved):
    meta = json.loads((saved / "metadata.json").read_text())
    meta["train_years"] = [1999]
    (saved / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="checksum mismatch for metadata.json"):
        load_model(saved)


def test_consistently_tampered_unreadable_file_is_a_model_error(saved):
    (saved / "model.json").write_text("{not json")
    _relist(saved, "model.json")
    with pytest.raises(ModelError, match="unreadable"):
        load_model(saved)


def test_feature_list_from_another_version_is_refused(saved):
    feats = json.loads((saved / "features.json").read_text())
    key = next(k for k, v in feats.items() if isinstance(v, list) and v and all(isinstance(x, str) for x in v))
    feats[key] = feats[key][:-1]
    (saved / "features.json").write_text(json.dumps(feats))
    _relist(saved, "features.json")
    with pytest.raises(ModelError):
        load_model(saved)


@pytest.mark.parametrize("case", ["no_dir", "file", "bad_manifest", "missing_file"])
def test_broken_model_directories(saved, tmp_path, case):
    if case == "no_dir":
        path, msg = tmp_path / "nope", "no manifest.json"
    elif case == "file":
        path, msg = saved / "metadata.json", "no manifest.json"
    elif case == "bad_manifest":
        (saved / "manifest.json").write_text("{")
        path, msg = saved, "not valid JSON"
    else:
        (saved / "features.json").unlink()
        path, msg = saved, "features.json is missing"
    with pytest.raises(ModelError, match=msg):
        load_model(path)


def test_records_missing_a_model_feature_named_through_score(model, panel):
    # records from an older contract version without the job-loss shock column
    old = panel.drop(columns="shock_job_loss")
    with pytest.raises(ModelError, match="shock_job_loss"):
        model.predict_proba(old)
    with pytest.raises(ModelError, match=r"lack column\(s\) \['shock_job_loss'\].*add them"):
        score(old, model, reasons="none")


def test_score_loads_only_checked_model_directories(saved, panel):
    (saved / "booster.txt").write_text((saved / "booster.txt").read_text() + "\n")
    with pytest.raises(ModelError, match="checksum"):
        score(panel, saved)
    with pytest.raises(ModelError, match="must be a RiskModel"):
        score(panel, object())
