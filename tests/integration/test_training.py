"""Training on several devices without a GPU, and the BatchNorm trap, each in its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parents[1] / "helpers" / "train_worker.py"


def run_worker(mode: str, env: dict | None = None, timeout: float = 600) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )


def result_of(proc: subprocess.Popen, timeout: float = 600) -> dict:
    out, _ = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, out[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_reports_2_replicas_and_trains_an_epoch():
    result = result_of(run_worker("two-cpus"))
    assert result["backend"] == "tensorflow"
    assert result["replicas"] == 2 and "MirroredStrategy over /cpu:0, /cpu:1" == result["description"]
    assert result["epochs_run"] == 1 and result["predict_finite"]


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_with_two_workers_on_localhost():
    ports = [free_port(), free_port()]
    workers = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        }
        workers.append(run_worker("multi-worker", env={"TF_CONFIG": json.dumps(tf_config)}))
    results = [result_of(w) for w in workers]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]  # only worker 0 writes the model
    assert all(r["epochs_run"] == 1 and r["predict_finite"] for r in results)
    assert results[0]["loss"] == pytest.approx(results[1]["loss"])  # one synchronised run, not two


@pytest.mark.slow
def test_multi_worker_training_follows_the_chiefs_decision_or_every_worker_skips():
    ports = [free_port(), free_port()]
    workers = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        }
        workers.append(run_worker("follow-chief", env={"TF_CONFIG": json.dumps(tf_config)}))
    chief, follower = (result_of(w, timeout=240) for w in workers)
    assert chief["chief"] and not follower["chief"]
    # Worker 1 would have skipped on its own corrections, and the chief's collectives would have hung.
    assert follower["first"]["skip"] is None and follower["first"]["labels_hash"] == "hash-of-the-chief"
    assert follower["first"]["settings"] == {"epochs": 3}
    assert follower["first"]["input_size"] == chief["first"]["input_size"] > 0
    ((name, path, times, labels),) = follower["first"]["train"]
    assert (name, path) == ("A.mp4", "/worker1/A.mp4")  # its own copy of the chief's video
    assert (times, labels) == tuple(chief["first"]["train"][0][2:])
    # The chief then picks a video worker 1 does not have: both skip, neither hangs.
    assert "lacks 1 of the chief's videos (B.mp4)" in follower["second"]["skip"]
    assert chief["second"]["skip"] and chief["second"]["train"] == []


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_judging_by_predict_catches_the_batchnorm_trap_and_recalibration_fixes_it(backend):
    """A net trained from scratch for a few dozen steps looks perfect on training batches, while
    its BatchNorm moving averages still make predict() useless; recalibration fixes that. On a
    small conv net with one BatchNorm: the mechanism (momentum set per batch, statistics read back)
    is the same as ResNet50's, whose 53 BatchNorms the learning loop's real training recalibrates
    (test_learning_loop.py reads it in the log), and building ResNet50 here cost the suite a minute."""
    result = result_of(run_worker("bn-trap-small", env={"KERAS_BACKEND": backend}))
    assert result["backend"] == backend
    assert result["train_mode_accuracy"] >= 0.9
    assert result["predict_accuracy_before"] <= 0.6  # the trap: training accuracy would have lied
    assert result["recalibrated_layers"] == 1
    assert result["predict_accuracy_after"] >= 0.9
