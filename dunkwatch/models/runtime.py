"""How a registry model runs when it scores frames: OpenVINO on the CPU, or Keras on its backend's device.

Training keeps the Keras model (model.keras). The promotion judge exports the candidate to
OpenVINO's format (model.xml + model.bin) and judges it through OpenVINO, so the model the
registry keeps is the one that was judged, run the way it was judged. OpenVINO needs no
TensorFlow in the scoring process (a third of the memory), starts in a fraction of a second, and
runs bfloat16 on CPUs with AMX or AVX512_BF16, which it picks by itself.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dunkwatch.errors import ModelError
from dunkwatch.openvino_loading import import_openvino

log = logging.getLogger(__name__)

OPENVINO_FILES = ("model.xml", "model.bin")  # the graph and its weights, exported side by side
_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver sees


class Classifier(Protocol):
    runtime: str  # "openvino" or "keras", with its precision, for the log and the model's metrics
    input_size: int  # side of the square uint8 frames it takes

    def predict(self, x: np.ndarray) -> np.ndarray: ...  # N x S x S x 3 uint8 -> N float32


class KerasClassifier:
    """A Keras model as it is: on the GPU when the backend has one, else on the CPU in float32."""

    def __init__(self, model: Any) -> None:  # a keras.Model: Keras is untyped
        self.model = model
        self.input_size = int(model.input_shape[1])
        self.runtime = "keras"

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(x), dtype=np.float32).reshape(-1)


class OpenVinoClassifier:
    """An exported model compiled by OpenVINO for this machine's CPU."""

    def __init__(self, xml: Path) -> None:
        try:
            core = import_openvino().Core()
            self.compiled = core.compile_model(core.read_model(str(xml)), "CPU")
        except Exception as exc:
            raise ModelError(f"{xml}: OpenVINO cannot load the model: {exc}") from None
        self.input_size = int(self.compiled.input(0).get_partial_shape()[1].get_length())
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.runtime = f"openvino {precision.to_string()}"  # bf16 where the CPU has it, else f32
        self._request = self.compiled.create_infer_request()

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self._request.infer({0: np.ascontiguousarray(x, dtype=np.uint8)})
        return np.asarray(out[self.compiled.output(0)], dtype=np.float32).reshape(-1)


def gpu_present() -> bool:
    """An NVIDIA GPU the driver sees; checked without importing a framework."""
    try:
        return any(_NVIDIA_GPUS.iterdir())
    except OSError:
        return False


@functools.lru_cache(maxsize=1)  # the backend's devices do not change while the process lives
def keras_sees_gpu() -> bool:
    """Whether Keras' backend can run on a GPU here (tensorflow-cpu cannot, whatever the machine has)."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return any(d.platform == "gpu" for d in jax.devices())
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except Exception:  # a backend without a GPU build raises instead of listing nothing
        return False
    return False


def resolve_runtime(choice: str) -> str:
    """score.runtime: auto is keras where its backend has a GPU (OpenVINO's CPU plugin would leave
    an NVIDIA card idle), else openvino. The framework is imported only where a GPU is present."""
    if choice != "auto":
        return choice
    return "keras" if gpu_present() and keras_sees_gpu() else "openvino"


def has_openvino(folder: Path) -> bool:
    return all((folder / name).is_file() for name in OPENVINO_FILES)


def export_openvino(model: Any, folder: Path) -> None:  # a keras.Model
    """Write a Keras model as model.xml + model.bin into `folder` (a private folder: the caller renames it)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        model.export(str(folder / OPENVINO_FILES[0]), format="openvino", verbose=False)
    except Exception as exc:
        raise ModelError(f"cannot export the model to OpenVINO: {exc}") from None
    if not has_openvino(folder):
        raise ModelError(f"{folder}: the OpenVINO export wrote no {' and '.join(OPENVINO_FILES)}")


def move_openvino(source: Path, dest: Path) -> None:
    """Rename the export into `dest` (both under the registry's folder: one file system, no copy)."""
    for name in OPENVINO_FILES:
        os.replace(source / name, dest / name)


def candidate_classifier(model: Any, runtime: str, scratch: Path) -> Classifier:  # a keras.Model
    """The freshly trained model, run as the service would run it once promoted."""
    if resolve_runtime(runtime) == "keras":
        return KerasClassifier(model)
    export_openvino(model, scratch)
    return OpenVinoClassifier(scratch / OPENVINO_FILES[0])


def load_classifier(version_dir: Path, runtime: str) -> Classifier:
    """A registry version, run as it was judged: through OpenVINO when its export is there.

    Versions promoted before the export existed were judged through Keras, and keep running so.
    """
    runtime = resolve_runtime(runtime)
    if runtime == "openvino" and has_openvino(version_dir):
        return OpenVinoClassifier(version_dir / OPENVINO_FILES[0])
    from dunkwatch.models import registry
    from dunkwatch.models.resnet import load_model

    if runtime == "openvino":
        log.info(
            "%s has no OpenVINO export (promoted before it existed, or judged through Keras): running it through Keras",
            version_dir.name,
        )
    return KerasClassifier(load_model(version_dir / registry.MODEL_FILE))
