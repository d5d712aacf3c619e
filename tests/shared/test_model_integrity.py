"""Model artifacts are verified before loading (issue 10): the files of a logged model are
signed (HMAC, lake key) on its run at training time, and load_model refuses a model whose
files changed since, or that carries no signature, under every URI form the code uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shared.tracking import MODEL_HMAC_TAG, MLflowTracker, ModelIntegrityError


@pytest.fixture
def logged(salesml_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A skops model and a cloudpickle one, logged, registered and promoted."""
    monkeypatch.setenv("SALESML_LAKE_KEY", "test key")
    tracker = MLflowTracker()
    x = np.random.default_rng(0).random((30, 2))
    model = LogisticRegression().fit(x, [0, 1] * 15)
    with tracker.partition_run(None, "integrity", "a", "p") as run:
        uri = tracker.log_model(model)
        pickled = tracker.log_model(model, name="bundle", serialization="cloudpickle")
    version = tracker.register("integrity_m", uri)
    tracker.promote("integrity_m", version)
    return tracker, run.info.run_id, uri, pickled, x, model


def _model_dir(uri: str) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(uri))  # the local store's own folder


def test_untampered_loads_under_every_uri_form(logged):
    tracker, run_id, uri, pickled, x, model = logged
    tags = tracker.client().get_run(run_id).data.tags
    assert tags[MODEL_HMAC_TAG + "model"] and tags[MODEL_HMAC_TAG + "bundle"]
    for form in (uri, "models:/integrity_m@champion", "models:/integrity_m/1", pickled):
        loaded = tracker.load_model(form)
        assert np.allclose(loaded.predict_proba(x), model.predict_proba(x))
    assert tracker.load_model(f"runs:/{run_id}/model") is not None


@pytest.mark.parametrize("which", ["model.skops", "MLmodel", "model.pkl"])
def test_tampered_byte_refuses(logged, which):
    tracker, _, uri, pickled, *_ = logged
    target = uri if which != "model.pkl" else pickled
    path = _model_dir(target) / which
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    forms = [target] + (["models:/integrity_m@champion"] if target == uri else [])
    for form in forms:
        with pytest.raises(ModelIntegrityError, match="artifact changed since training"):
            tracker.load_model(form)


def test_added_file_refuses(logged):
    tracker, _, uri, *_ = logged
    (_model_dir(uri) / "extra.py").write_text("print('hi')")
    with pytest.raises(ModelIntegrityError, match=uri):
        tracker.load_model(uri)


def test_missing_signature_refuses(logged):
    tracker, run_id, uri, *_ = logged
    tracker.client().delete_tag(run_id, MODEL_HMAC_TAG + "model")
    with pytest.raises(ModelIntegrityError, match="no signature"):
        tracker.load_model("models:/integrity_m@champion")


def test_other_key_refuses(logged, monkeypatch):
    tracker, _, uri, *_ = logged
    monkeypatch.setenv("SALESML_LAKE_KEY", "another installation")
    with pytest.raises(ModelIntegrityError):
        tracker.load_model(uri)
