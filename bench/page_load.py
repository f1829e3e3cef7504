"""The review page's load time with a month of practice behind it.

    .venv/bin/python bench/page_load.py [--videos 3000] [--loads 5]

Fills a journal as a month of use would (videos of 1 to 5 minutes, two practices a day over 30
days, each with a sidecar, stored scores and two clips listed), then times GET / through Flask's
test client, a whole render, and prints the median and the worst of `--loads` loads, twice: with
the journal unchanged since the last load (the sessions as last grouped), and right after a
commit to the journal, as after a video ends (the sessions grouped again). Issue 33's target: at
most 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dunkwatch.config import from_dict  # noqa: E402
from dunkwatch.outputs import ScorerKind, Sidecar, SidecarSegment, VideoOutputs  # noqa: E402
from dunkwatch.pipeline.cutting.export import write_sidecar  # noqa: E402
from dunkwatch.store import State, Store  # noqa: E402


def month(cfg, videos: int) -> None:
    store = Store(cfg.paths.state_dir)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
    per_practice = max(1, videos // 60)
    for i in range(videos):
        practice, k = divmod(i, per_practice)
        when = start + dt.timedelta(days=practice // 2, hours=9 * (practice % 2), minutes=6 * k)
        name = f"IMG_{i:05d}"
        duration = 60.0 + 240.0 * ((i * 37) % 100) / 100
        folder = cfg.paths.outbox / name
        folder.mkdir(parents=True)
        segments = tuple(SidecarSegment(a, a + 8.0, a - 1.0, a + 9.5, 1.0) for a in (10.0, duration / 2))
        clips = (f"{name}_01.mp4", f"{name}_02.mp4")
        sidecar = Sidecar(
            video=str(cfg.paths.archive / f"{name}.MOV"),
            sha256=f"{i:064x}",
            duration=duration,
            width=1920,
            height=1080,
            rotation=0,
            scorer=ScorerKind.MOTION,
            model=None,
            sample_fps=5.0,
            threshold=0.5,
            scenes=(),
            recorded_at=when.isoformat(),
            segments=segments,
            clips=clips,
            highlights=None,
            timeline=None,
        )
        write_sidecar(folder / f"{name}.json", sidecar)
        row = store.note_seen(cfg.paths.inbox / f"{name}.MOV", 1000, when.timestamp())
        store.mark_stable(row.id, 1000, when.timestamp(), sidecar.sha256)
        store.finish(row.id, State.DONE, outputs=VideoOutputs.of(sidecar, folder))
        times = np.arange(0.0, duration, 0.2)
        store.save_scores(sidecar.sha256, ScorerKind.MOTION, None, times, (np.sin(times) + 1) / 2)
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-page-"))
    try:
        cfg = from_dict({}, work)
        for folder in (cfg.paths.outbox, cfg.paths.state_dir, cfg.paths.archive):
            folder.mkdir(parents=True)
        started = time.monotonic()
        month(cfg, args.videos)
        print(f"journal of {args.videos} videos filled in {time.monotonic() - started:.0f} s")
        from dunkwatch.review import create_app

        client = create_app(cfg).test_client()
        client.get("/")  # first load: imports and the template compiled
        for changed in (False, True):
            loads = []
            for i in range(args.loads):
                if changed:
                    store = Store(cfg.paths.state_dir)
                    store.set_meta("page_load_bench", i)  # a commit, as when a video ends
                    store.close()
                t = time.perf_counter()
                page = client.get("/")
                loads.append(time.perf_counter() - t)
                assert page.status_code == 200
            print(
                f"page load with {args.videos} videos, journal {'just changed' if changed else 'unchanged'}: "
                f"median {1000 * statistics.median(loads):.0f} ms, worst {1000 * max(loads):.0f} ms "
                f"({args.loads} loads; target at most 300 ms)"
            )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
