"""Stand-ins for process_video that run in the service's child process (they must be importable
there): each video's name says what it does."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from dunkwatch.pipeline.worker import Processed


def process(path: Path, cfg, scorer, outbox: Path, progress=None, **_) -> Processed:
    name = Path(path).stem
    if name.startswith("segfault"):
        os.kill(os.getpid(), signal.SIGSEGV)  # what a decoder does on a crafted file
    if name.startswith("hang"):
        time.sleep(3600)  # a read on a hung network mount: no progress, ever
    if name.startswith("slow"):
        for _ in range(80):  # 4 s of work that says it progresses
            progress(0.5)
            time.sleep(0.05)
    out_dir = outbox / name
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = {"segments": [], "clips": [], "highlights": None, "scorer": scorer.name, "model": scorer.model_version,
               "duration": 3.0, "pid": os.getpid()}
    return Processed(sidecar, np.arange(0, 3, 0.5), np.zeros(6), out_dir)
