"""Training throughput of the project's own training step, float32 against mixed_bfloat16.

    KERAS_BACKEND=jax python bench/train_throughput.py [--batch 256] [--size 224] [--steps 20]

Builds the production model (ResNet50 + dense head, uint8 input, whole network trainable),
compiles it with `dunkwatch.learn.fit.compile_for_training` and runs `dunkwatch.learn.fit.fit`
on random uint8 frames on one device: one short fit to compile, then a timed fit. Both
precisions run in this one process on the same input, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def measure(policy: str, batch: int, size: int, steps: int) -> float:
    import keras

    from dunkwatch.learn.distribute import plan_training
    from dunkwatch.learn.fit import compile_for_training, fit
    from dunkwatch.models.resnet import build_model

    keras.backend.clear_session()
    plan = plan_training((), policy)  # one device; the policy is what is compared
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch * steps, size, size, 3), dtype=np.uint8)
    y = (rng.random(batch * steps) > 0.5).astype(np.float32)
    w = np.ones(len(x), np.float32)
    with plan.scope():
        model = build_model(size, weights=None, train_backbone=True)
        compile_for_training(model, 1e-4)
    fit(model, x[: batch * 2], y[: batch * 2], w[: batch * 2], batch, 1, plan=plan)  # compile, warm up
    started = time.perf_counter()
    losses = fit(model, x, y, w, batch, 1, plan=plan)
    elapsed = time.perf_counter() - started
    if not np.isfinite(losses[-1]):
        raise SystemExit(f"{policy}: loss is not finite ({losses[-1]})")
    return batch * steps / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per precision")
    args = parser.parse_args()
    import keras

    backend = keras.backend.backend()
    devices = "?"
    if backend == "jax":
        import jax

        devices = ", ".join(str(d) for d in jax.devices())
    print(f"keras {keras.__version__}, backend {backend}, devices: {devices}", flush=True)
    results = {}
    for policy in ("float32", "mixed_bfloat16"):
        results[policy] = measure(policy, args.batch, args.size, args.steps)
        print(
            f"{policy:15} {results[policy]:9.1f} images/s  (batch {args.batch}, {args.size}x{args.size}, "
            f"{args.steps} steps)",
            flush=True,
        )
    ratio = results["mixed_bfloat16"] / results["float32"]
    print(f"mixed_bfloat16 / float32 = {ratio:.2f}x")
    print(
        "RESULT "
        + json.dumps(
            {
                "backend": backend,
                "batch": args.batch,
                "size": args.size,
                "images_per_s": {k: round(v, 1) for k, v in results.items()},
                "bf16_over_fp32": round(ratio, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
