"""Inference throughput of the production classifier, by batch size, as the service's cnn runs it.

    KERAS_BACKEND=jax python bench/infer_throughput.py [--size 224] [--batches 32,64,128,256,512]

Builds the production model (ResNet50 + dense head, uint8 input) and calls `predict_on_batch`
on uint8 frames from host memory, as `CnnScorer.predict_batch` does, so the host-to-device copy
is in the figure. Each batch size is compiled first, then timed over the same number of frames.
Prints frames per second per batch size and precision, in one process on the same input, and
the batch size that was fastest (what the service should use on this device).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def measure(policy: str, size: int, batches: list[int], frames: int) -> dict[int, float]:
    import keras

    from dunkwatch.models.resnet import build_model

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    model = build_model(size, weights=None, train_backbone=False)
    rng = np.random.default_rng(0)
    out = {}
    for batch in batches:
        x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        np.asarray(model.predict_on_batch(x))  # compile this shape
        reps = max(2, frames // batch)
        started = time.perf_counter()
        for _ in range(reps):
            np.asarray(model.predict_on_batch(x))  # np.asarray waits for the device
        out[batch] = batch * reps / (time.perf_counter() - started)
        print(f"{policy:15} batch {batch:5d}: {out[batch]:9.1f} frames/s", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", default="32,64,128,256,512")
    parser.add_argument("--frames", type=int, default=4096, help="frames timed per batch size")
    args = parser.parse_args()
    import keras

    batches = [int(b) for b in args.batches.split(",")]
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}", flush=True)
    results = {policy: measure(policy, args.size, batches, args.frames) for policy in ("float32", "mixed_bfloat16")}
    best = max(((p, b) for p in results for b in results[p]), key=lambda pb: results[pb[0]][pb[1]])
    print(f"fastest: {best[0]} at batch {best[1]}: {results[best[0]][best[1]]:.1f} frames/s")
    print(
        "RESULT "
        + json.dumps(
            {
                "size": args.size,
                "frames_per_s": {p: {str(b): round(v, 1) for b, v in r.items()} for p, r in results.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
