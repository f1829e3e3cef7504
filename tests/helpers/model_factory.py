"""A small trained model in a registry, for tests and benchmarks that need a promoted cnn model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def toy_frames(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Court-coloured noise; every other frame has a red 'player' block somewhere."""
    rng = np.random.default_rng(seed)
    x = rng.integers(60, 120, (n, size, size, 3), dtype=np.uint8)
    y = (np.arange(n) % 2).astype(np.float32)
    block = max(12, size // 4)
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, size - block, 2)
        x[i, r : r + block, c : c + block // 2] = (220, 40, 40)
    return x, y


def promote_toy_model(state_dir: Path, size: int = 224, steps: int = 2) -> str:
    """Build the production architecture at `size`, train it a few steps, register and promote it."""
    from dunkwatch.learn.fit import compile_for_training, fit
    from dunkwatch.models import registry
    from dunkwatch.models.resnet import build_model
    from dunkwatch.models.runtime import export_openvino

    model = build_model(size, weights=None, train_backbone=False)
    compile_for_training(model, 1e-3)
    x, y = toy_frames(8 * steps, size, seed=0)
    fit(model, x, y, np.ones(len(x), np.float32), 8, 1)

    def write(path: Path) -> None:  # as training keeps a version: the Keras model and its OpenVINO export
        model.save(str(path))
        export_openvino(model, path.parent)

    version = registry.add_version(state_dir, write, {"metrics": {"f1": 0.0}, "toy": True})
    registry.set_current(state_dir, version)
    return version
