#!/usr/bin/env bash
# The project's training step on a GPU machine that has JAX but no TensorFlow.
#
#   bash bench/train_gpu.sh [--batch 256] [--size 224] [--steps 20]
#
# Bring the keras wheel (and the two of its needs such images lack) into .whl/ beside the repo
# first, on a machine with pip access (see README, "GPU and multi-machine training"):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
# Prints images per second for float32 and mixed_bfloat16 at batch 256 on one device, and the
# ratio; then the classifier's inference frames per second by batch size (bench/infer_throughput.py,
# which the service's cnn would see on this device). Finishes well inside 8 minutes on one
# H100/H200-class GPU (the timeouts below make sure). Arguments go to the training part only.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/dunkwatch-site .whl/*.whl
    export PYTHONPATH="/tmp/dunkwatch-site:${PYTHONPATH:-}"
fi
export KERAS_BACKEND=jax
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
export PYTHONUNBUFFERED=1
# JAX would otherwise reserve 75% of the card up front; growing is kinder to a shared machine.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
timeout 340 python3 bench/train_throughput.py "$@"
timeout 120 python3 bench/infer_throughput.py
