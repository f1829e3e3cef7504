"""Work the service repeats over its whole history (the page's practices, retention's look, the
predictions CSV after each video) holds a page of it at a time, never all of it. In a service that
runs for months, what such a walk holds at its peak stays as the service's memory: the simulated
month at 100 videos a day grew +9.3% over a fortnight with these walks whole."""

from __future__ import annotations

import csv
import sys
import tracemalloc
import weakref
from pathlib import Path
from typing import Any

from conftest import finished_video
from test_sessions_from_journal import journal_of_a_month

from dunkwatch.config import from_dict
from dunkwatch.review.service import ReviewService
from dunkwatch.service import session_outputs
from dunkwatch.service.jobs import update_predictions_csv
from dunkwatch.service.retention import ArchiveRetention
from dunkwatch.store import PAGE_ROWS, Store, Video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from faulty_process import stand_in_sidecar  # noqa: E402

VIDEOS = 3 * PAGE_ROWS + 7  # three pages and a bit


class MostAlive:
    """Counts the objects a factory makes that are alive at once, at most (CPython frees them as
    soon as nothing refers to them, so the count is exact)."""

    def __init__(self) -> None:
        self.alive = self.most = self.made = 0

    def wrap(self, make: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            made = make(*args, **kwargs)
            self.alive += 1
            self.made += 1
            self.most = max(self.most, self.alive)
            weakref.finalize(made, self._gone)
            return made

        return counted

    def _gone(self) -> None:
        self.alive -= 1


def rows_counted(monkeypatch) -> MostAlive:
    rows = MostAlive()
    real = Video.from_row.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Video, "from_row", classmethod(rows.wrap(real)))
    return rows


def test_the_page_lists_a_month_of_practices_holding_a_page_of_rows_and_a_video_or_two(tmp_path, monkeypatch):
    cfg = from_dict({}, tmp_path)
    store = journal_of_a_month(cfg.paths, VIDEOS)
    page = ReviewService(cfg)
    rows = rows_counted(monkeypatch)
    videos = MostAlive()
    monkeypatch.setattr(session_outputs, "SessionVideo", videos.wrap(session_outputs.SessionVideo))

    sessions = page.sessions()

    assert sum(len(s.video_ids) for s in sessions) == VIDEOS and rows.made == VIDEOS and videos.made == VIDEOS
    assert rows.most <= PAGE_ROWS, f"{rows.most} journal rows held at once"
    # The one being counted, and the next being made.
    assert videos.most <= 2, f"{videos.most} whole videos (clips, spans, shots) held at once"
    # The same practices as the sessions' refresh makes of them, numbers and all.
    monkeypatch.undo()
    whole = session_outputs.sessions_of(cfg.paths, cfg.sessions, store)
    assert [(s.id, s.attempts, s.makes, s.clips) for s in sessions] == [
        (s.id, s.attempts, s.makes, s.clips) for s in whole
    ]
    assert [s.video_ids for s in sessions] == [tuple(v.video_id for v in s.videos) for s in whole]
    store.close()


def test_retention_looks_over_the_archive_a_page_of_rows_at_a_time(tmp_path, monkeypatch):
    import datetime as dt

    cfg = from_dict({"archive": {"max_gb": 1e-6}}, tmp_path)  # 1,000 bytes: all but the newest go
    store = Store(cfg.paths.state_dir)
    cfg.paths.archive.mkdir(parents=True)
    start = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone.utc)
    for i in range(VIDEOS):
        video_id = finished_video(store, cfg.paths, i, start + dt.timedelta(minutes=i))
        original = cfg.paths.archive / f"IMG_{i:04d}.MOV"
        original.write_bytes(b"x" * 600)
        store.moved(video_id, original)
    rows = rows_counted(monkeypatch)

    plan = ArchiveRetention(cfg.archive, cfg.paths, store).plan()

    assert plan.originals == 1 and len(plan.deletions) == VIDEOS - 1
    assert rows.made >= VIDEOS and rows.most <= PAGE_ROWS, f"{rows.most} journal rows held at once"
    store.close()


def test_the_predictions_csv_is_rewritten_row_by_row_not_held_whole(tmp_path):
    """One video's rows are replaced and every other row stays as it was, in its place; the
    rewrite holds a row at a time, not a file that grows with every video processed."""
    path = tmp_path / "predictions.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["video", "start", "end", "label", "note"])
        for i in range(20000):
            writer.writerow([f"IMG_{i:05d}.MOV", "00:00.000", "00:03.000", "dunk", 'predicted by "motion", v1'])
    before = path.read_text(encoding="utf-8").splitlines()
    sidecar = stand_in_sidecar(tmp_path / "IMG_00007.MOV", segments=((1.0, 2.0),))

    tracemalloc.start()
    try:
        update_predictions_csv(path, "IMG_00007.MOV", sidecar)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    after = path.read_text(encoding="utf-8").splitlines()
    assert after[: 1 + 7] == before[: 1 + 7] and after[1 + 7 : 20000] == before[1 + 8 :]
    assert [line.split(",")[:4] for line in after[20000:]] == [
        ["IMG_00007.MOV", "00:00.000", "00:01.000", "empty"],
        ["IMG_00007.MOV", "00:01.000", "00:02.000", "dunk"],
        ["IMG_00007.MOV", "00:02.000", "00:03.000", "empty"],
    ]
    size = path.stat().st_size
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"  # whole, it was 13 times the file
    assert not list(tmp_path.glob("*.part*"))  # written under a temporary name, then renamed
