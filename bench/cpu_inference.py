"""The cnn's CPU runtimes side by side: Keras (TensorFlow, float32) against OpenVINO, on the same frames.

    .venv/bin/python bench/cpu_inference.py [--size 224] [--batch 32] [--frames 640]

Builds the production model (ResNet50 + dense head, uint8 input, random weights), saves it as the
registry does (model.keras and the OpenVINO export), then, each runtime in its own process so
that its peak memory is its own, loads it through `dunkwatch.models.runtime` exactly as the service's
video worker does and times `predict` over the same frames in batches of `--batch`. Prints load
time, frames per second, peak RSS, the ratio to Keras, and the largest score difference from
Keras (OpenVINO runs bfloat16 on CPUs with AMX or AVX512_BF16, float32 elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD = """
import json, resource, sys, time
import numpy as np
from pathlib import Path
from dunkwatch.models.runtime import load_classifier
folder, runtime = Path(sys.argv[1]), sys.argv[2]
batch, frames, size = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
started = time.perf_counter()
classifier = load_classifier(folder, runtime)
x = np.random.default_rng(0).integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
first = classifier.predict(x[:batch])  # the first call compiles or traces
loaded = time.perf_counter() - started
started = time.perf_counter()
scores = np.concatenate([classifier.predict(x[i:i + batch]) for i in range(0, frames, batch)])
elapsed = time.perf_counter() - started
np.save(sys.argv[6], scores)
print(json.dumps({"runtime": classifier.runtime, "load_s": loaded, "fps": frames / elapsed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=640)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-cpu-inference-"))
    build = (
        "import sys; from pathlib import Path; from dunkwatch.models.resnet import build_model; "
        "from dunkwatch.models.runtime import export_openvino; m = build_model(int(sys.argv[2])); "
        "m.save(str(Path(sys.argv[1]) / 'model.keras')); export_openvino(m, Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", build, str(work), str(args.size)], check=True, cwd=REPO, capture_output=True)
    import numpy as np

    rows = []
    for runtime in ("keras", "openvino"):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(work),
                runtime,
                str(args.batch),
                str(args.frames),
                str(args.size),
                str(work / f"{runtime}.npy"),
            ],
            check=True,
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keras_scores = np.load(work / "keras.npy")
    print(
        f"{os.cpu_count()} CPU(s), {args.size}x{args.size}, batch {args.batch}, {args.frames} frames; "
        f"command: {' '.join(sys.argv)}"
    )
    print("| runtime | load and first batch | frames/s | x Keras | peak RSS | largest score difference from Keras |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row, runtime in zip(rows, ("keras", "openvino")):
        diff = float(np.max(np.abs(np.load(work / f"{runtime}.npy") - keras_scores)))
        print(
            f"| {row['runtime']} | {row['load_s']:.1f} s | {row['fps']:.1f} | {row['fps'] / rows[0]['fps']:.2f}x "
            f"| {row['rss_mb']:.0f} MB | {diff:.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
