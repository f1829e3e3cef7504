"""`dunkwatch train` on two localhost workers (MultiWorkerMirroredStrategy): worker 1 has no
corrections file, so on its own it would skip while the chief trains, and the run would hang.
It follows the chief instead; the chief judges and promotes.

    .venv/bin/python bench/multi_worker_train.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

import toml  # noqa: E402
from conftest import Scene, Visit, encode  # noqa: E402

from dunkwatch.config import load  # noqa: E402
from dunkwatch.service.daemon import Daemon  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def worker_dir(root: Path, conf: dict) -> Path:
    paths = {k: str(root / k) for k in ("inbox", "outbox", "archive", "quarantine")}
    conf = {**conf, "paths": {**paths, "state_dir": str(root / "state"), "corrections": str(root / "corrections.csv")}}
    (root / "config.toml").write_text(toml.dumps(conf))
    return root / "config.toml"


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="dunkwatch-mw-"))
    chief = base / "w0"
    for name in ("inbox", "outbox", "archive", "quarantine", "state"):
        (chief / name).mkdir(parents=True)
    balls = {}
    for k, (visit, ball) in enumerate([((3, 7), (11, 14)), ((12, 16), (3, 6)), ((4, 8), (12, 15))]):
        name = f"court_{k}.mp4"
        scene = Scene(duration=18, fps=10, seed=5, visits=[Visit(*visit, 0.2, 0.7)], balls=[ball])
        encode(
            scene.frames(), chief / "inbox" / name, scene.width, scene.height, scene.fps, audio=False, preset="veryfast"
        )
        balls[name] = ball
    conf = {
        "watch": {"stable_seconds": 0.2},
        "export": {"timeline": False, "highlight_reel": False},
        "training": {"validation_share": 0.34, "input_size": 32, "cpu_input_size": 32, "epochs": 1, "imagenet": False},
    }
    cfg = load(worker_dir(chief, conf))
    assert Daemon(cfg, once=True).run() == 0
    rows = ["video,start,end,label,note"] + [f"{n},{a},{b},empty,a ball" for n, (a, b) in balls.items()]
    cfg.paths.corrections.write_text("\n".join(rows) + "\n")
    follower = base / "w1"
    shutil.copytree(chief, follower)
    (follower / "corrections.csv").unlink()  # never synced to this machine
    ports = [free_port(), free_port()]
    started = time.monotonic()
    procs = []
    for index, root in enumerate((chief, follower)):
        tf_config = {
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": index},
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dunkwatch", "train", "--config", str(worker_dir(root, conf))],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(tf_config)},
            )
        )
    outcomes = []
    for index, proc in enumerate(procs):
        out, _ = proc.communicate(timeout=600)
        outcome = [
            line for line in out.splitlines() if line.split(":")[0] in ("promoted", "kept", "skipped", "trained")
        ]
        outcomes.append(outcome[0] if outcome else f"exit {proc.returncode}, no outcome")
        print(f"worker {index}: exit {proc.returncode}: {outcomes[-1]}")
    print(f"{time.monotonic() - started:.0f} s for both workers")
    shutil.rmtree(base, ignore_errors=True)
    ok = outcomes[0].startswith("promoted") and outcomes[1].startswith("trained")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
