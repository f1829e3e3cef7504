"""Run in a subprocess by the training tests: one training job, its outcome printed as JSON.

python train_worker.py bn-trap        # ResNet50 from scratch: predict() before/after recalibration
python train_worker.py bn-trap-small  # the same trap on a small conv net with one BatchNorm
python train_worker.py two-cpus       # MirroredStrategy over two logical CPUs, one epoch
python train_worker.py multi-worker   # MultiWorkerMirroredStrategy from TF_CONFIG, one epoch
python train_worker.py follow-chief   # TF_CONFIG workers that decided differently agree on the chief's decision
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


def follow_the_chief() -> dict:
    """Worker 0 (the chief) would train on A.mp4; worker 1 read other corrections and would skip.
    Then the chief chooses B.mp4 too, which worker 1 does not have."""
    import tempfile

    from dunkwatch.config import from_dict
    from dunkwatch.learn.catalogue import ArchivedVideo
    from dunkwatch.learn.corrections import KnownVideo
    from dunkwatch.learn.dataset import LabelledVideo
    from dunkwatch.learn.decision import TrainingDecision, TrainResult, TrainStatus, agree_with_chief
    from dunkwatch.learn.distribute import plan_training

    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    plan = plan_training((), "float32")
    cfg = from_dict({"training": {"imagenet": False}}, Path(tempfile.mkdtemp()))
    here = Path(f"/worker{index}")

    def video(name: str, sha: str) -> LabelledVideo:
        times = np.arange(0.0, 5.0, 0.5)
        return LabelledVideo(sha, name, here / name, times, (times > 2).astype(float), np.ones(len(times)))

    def shown(d: TrainingDecision) -> dict:
        return {
            "skip": d.skip.reason if d.skip else None,
            "labels_hash": d.labels_hash,
            "train": [[v.name, str(v.path), v.times.tolist(), v.labels.tolist()] for v in d.train],
            "input_size": d.input_size,
            "settings": d.settings,
        }

    mine = [ArchivedVideo(KnownVideo("A.mp4", "sha-a", 5.0), here / "A.mp4")]
    if plan.is_chief:
        first = TrainingDecision(None, "hash-of-the-chief", [video("A.mp4", "sha-a")], settings={"epochs": 3})
    else:
        first = TrainingDecision(TrainResult(TrainStatus.SKIPPED, "no corrections to learn from"))
    weights = cfg.paths.state_dir / "weights"
    result = {"chief": plan.is_chief, "first": shown(agree_with_chief(cfg.training, weights, plan, first, mine))}
    second = (
        TrainingDecision(None, "hash-2", [video("A.mp4", "sha-a"), video("B.mp4", "sha-b")]) if plan.is_chief else first
    )
    result["second"] = shown(agree_with_chief(cfg.training, cfg.paths.state_dir / "weights", plan, second, mine))
    return result


def small_model(size: int):
    import keras

    inputs = keras.Input((size, size, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", dtype="float32")(x))


def main(mode: str) -> dict:
    if mode == "follow-chief":
        return follow_the_chief()
    if mode == "two-cpus":
        import tensorflow as tf

        # Before anything else touches TensorFlow: one physical CPU becomes two logical devices.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from dunkwatch.learn.distribute import plan_training
    from dunkwatch.learn.fit import compile_for_training, fit, predict_scores, recalibrate_batchnorm
    from dunkwatch.models.resnet import build_model

    devices = ("/cpu:0", "/cpu:1") if mode == "two-cpus" else ()
    plan = plan_training(devices, "float32")
    keras.utils.set_random_seed(0)
    trap = mode.startswith("bn-trap")
    x, y = toy_frames(48 if trap else 16, 32, seed=0)
    with plan.scope():
        if mode in ("multi-worker", "two-cpus", "bn-trap-small"):
            # The strategies (replicas, lock-step steps, BatchNorm recalibration and predict under
            # them) are what is tested here, not the architecture: a small conv net with a BatchNorm
            # layer saves the suite ResNet50's minute of graph building per process. ResNet50 trains
            # in the BatchNorm tests, and under MultiWorkerMirroredStrategy in bench/multi_worker_train.py.
            model = small_model(32)
        else:
            model = build_model(32, weights=None, train_backbone=True)
        compile_for_training(model, 1e-2 if mode == "bn-trap-small" else 1e-3)  # the small net needs the larger step
    epochs = 6 if trap else 1
    losses = fit(model, x, y, np.ones(len(x), np.float32), plan.global_batch(8), epochs, plan=plan)
    result = {
        "backend": plan.backend,
        "replicas": plan.replicas,
        "description": plan.description,
        "chief": plan.is_chief,
        "epochs_run": len(losses),
        "loss": losses[-1],
    }
    if trap:
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
    if "TF_CONFIG" in os.environ:
        # A worker's gRPC server serves the buffers its peers pull in a collective: one that exits
        # the moment its own side is done can close the socket under a peer still pulling
        # ("Socket closed" in RingReduce). A service's workers stay up; this helper waits a little.
        import time

        time.sleep(3.0)
    os._exit(0)  # multi-worker collectives can hang interpreter shutdown; the result is out
