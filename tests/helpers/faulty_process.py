"""Stand-ins for process_video that run in the service's child process (they must be importable
there): each video's name says what it does."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from dunkwatch.outputs import ScorerKind, Sidecar, SidecarSegment
from dunkwatch.pipeline.process import Processed


def stand_in_sidecar(
    path: Path,
    scorer: ScorerKind = ScorerKind.MOTION,
    model: str | None = None,
    segments: tuple[tuple[float, float], ...] = (),
) -> Sidecar:
    """A 3 s video's sidecar with these segments and no clips, as a stand-in process returns it."""
    return Sidecar(
        video=str(path),
        sha256="",
        duration=3.0,
        width=64,
        height=48,
        rotation=0,
        scorer=scorer,
        model=model,
        sample_fps=5.0,
        threshold=0.5,
        scenes=(),
        recorded_at=None,
        segments=tuple(SidecarSegment(a, b, a, b, 1.0) for a, b in segments),
        clips=(),
        highlights=None,
        timeline=None,
    )


def process(path: Path, cfg, scorer, outbox: Path, progress=None, cancel=None, **_) -> Processed:
    name = Path(path).stem
    if name.startswith("segfault"):
        os.kill(os.getpid(), signal.SIGSEGV)  # what a decoder does on a crafted file
    if name.startswith("hang"):
        time.sleep(3600)  # a read on a hung network mount: no progress, ever
    if name.startswith("slow"):
        for _tick in range(80):  # 4 s of work that says it progresses, and gives up when asked
            progress(0.5)
            cancel.check()
            time.sleep(0.05)
    out_dir = outbox / name
    out_dir.mkdir(parents=True, exist_ok=True)
    if name.startswith("arenas"):  # what glibc was told about its malloc arenas in this process
        (out_dir / "arenas.txt").write_text(os.environ.get("MALLOC_ARENA_MAX", "glibc's default"))
    sidecar = stand_in_sidecar(Path(path), scorer.kind, scorer.model_version)
    return Processed(sidecar, np.arange(0, 3, 0.5), np.zeros(6), out_dir)
