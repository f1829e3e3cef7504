"""Run in a subprocess by the training tests: one training job, its outcome printed as JSON.

    python train_worker.py bn-trap        # ResNet50 from scratch: predict() before/after recalibration
    python train_worker.py two-cpus       # MirroredStrategy over two logical CPUs, one epoch
    python train_worker.py multi-worker   # MultiWorkerMirroredStrategy from TF_CONFIG, one epoch
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from model_factory import toy_frames  # noqa: E402


def main(mode: str) -> dict:
    if mode == "two-cpus":
        import tensorflow as tf

        # Before anything else touches TensorFlow: one physical CPU becomes two logical devices.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from dunkwatch.learn.distribute import plan_training
    from dunkwatch.learn.model import build_model
    from dunkwatch.learn.train import compile_for_training, fit, predict_scores, recalibrate_batchnorm

    devices = ("/cpu:0", "/cpu:1") if mode == "two-cpus" else ()
    plan = plan_training(devices, "float32")
    keras.utils.set_random_seed(0)
    x, y = toy_frames(48 if mode == "bn-trap" else 16, 32, seed=0)
    with plan.scope():
        model = build_model(32, weights=None, train_backbone=True)
        compile_for_training(model, 1e-3)
    epochs = 6 if mode == "bn-trap" else 1
    losses = fit(model, x, y, np.ones(len(x), np.float32), plan.global_batch(8), epochs, plan=plan)
    result = {"backend": plan.backend, "replicas": plan.replicas, "description": plan.description,
              "chief": plan.is_chief, "epochs_run": len(losses), "loss": losses[-1]}
    if mode == "bn-trap":
        xv, yv = toy_frames(48, 32, seed=1)
        train_mode = np.asarray(model(x, training=True)).reshape(-1)
        result["train_mode_accuracy"] = float(np.mean((train_mode > 0.5) == y))
        result["predict_accuracy_before"] = float(np.mean((predict_scores(model, xv) > 0.5) == yv))
        result["recalibrated_layers"] = recalibrate_batchnorm(model, x, 16)
        result["predict_accuracy_after"] = float(np.mean((predict_scores(model, xv) > 0.5) == yv))
    else:
        recalibrate_batchnorm(model, x, plan.global_batch(8))  # must work under the strategy too
        result["predict_finite"] = bool(np.all(np.isfinite(predict_scores(model, x))))
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])), flush=True)
    os._exit(0)  # multi-worker collectives can hang interpreter shutdown; the result is out
