"""The cnn's runtimes: a registry version runs through OpenVINO when its judged export is there,
through Keras when it is not, and both give the same scores to a model's frames."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from dunkwatch.models import registry
from dunkwatch.models import runtime as inference

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from model_factory import toy_frames  # noqa: E402


def test_openvino_and_keras_score_a_version_alike_and_an_old_version_falls_back_to_keras(tmp_path, caplog):
    from dunkwatch.models.resnet import build_model

    model = build_model(32)  # untrained: the runtimes are under test, not what the model learnt

    def keep(path: Path) -> None:  # as training keeps a version
        model.save(str(path))
        inference.export_openvino(model, path.parent)

    folder = registry.version_dir(tmp_path, registry.add_version(tmp_path, keep, {}))
    assert inference.has_openvino(folder)
    x, _ = toy_frames(24, 32, seed=3)

    fast = inference.load_classifier(folder, "openvino")
    exact = inference.load_classifier(folder, "keras")
    assert fast.runtime.startswith("openvino") and exact.runtime == "keras" and fast.input_size == 32
    p_fast, p_exact = fast.predict(x), exact.predict(x)
    assert p_fast.shape == p_exact.shape == (24,)
    assert np.max(np.abs(p_fast - p_exact)) < 0.02, (p_fast, p_exact)  # bfloat16 rounding, no more

    # A version promoted before the export existed was judged through Keras, and keeps running so.
    for name in inference.OPENVINO_FILES:
        (folder / name).unlink()
    with caplog.at_level(logging.INFO, logger="dunkwatch.models.runtime"):
        old = inference.load_classifier(folder, "openvino")
    assert old.runtime == "keras" and "has no OpenVINO export" in caplog.text
    assert np.allclose(old.predict(x), p_exact, atol=1e-5)


def test_auto_runs_keras_where_its_backend_has_a_gpu_and_openvino_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(inference, "_NVIDIA_GPUS", tmp_path / "gpus")
    assert inference.resolve_runtime("auto") == "openvino"
    (tmp_path / "gpus" / "0000:17:00.0").mkdir(parents=True)
    monkeypatch.setattr(inference, "keras_sees_gpu", lambda: False)  # tensorflow-cpu on a GPU machine
    assert inference.resolve_runtime("auto") == "openvino"
    monkeypatch.setattr(inference, "keras_sees_gpu", lambda: True)
    assert inference.resolve_runtime("auto") == "keras"
    assert inference.resolve_runtime("openvino") == "openvino"
