"""No ffmpeg runs without a bound: a hung export is stopped and retried, and SIGTERM stops it at once."""

from __future__ import annotations

import time

import pytest

from dunkwatch.config import ExportConfig
from dunkwatch.media import probe
from dunkwatch.pipeline.cutting import export


class Stopping(Exception):
    pass


@pytest.fixture
def hanging_ffmpeg(tmp_path, monkeypatch):
    """An "ffmpeg" that never finishes, as on a stalled network mount."""
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    monkeypatch.setattr(export, "ffmpeg_exe", lambda: str(fake))


def test_a_hung_export_is_stopped_at_its_bound_as_a_retryable_error(
    portrait_mov, tmp_path, hanging_ffmpeg, monkeypatch
):
    monkeypatch.setattr(export, "FFMPEG_START_SECONDS", 1.0)
    monkeypatch.setattr(export, "FFMPEG_SECONDS_PER_MEDIA_SECOND", 0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="still writing after 2 s"):
        export.cut_clip(probe(portrait_mov), 1.0, 3.0, tmp_path / "clip.mp4", ExportConfig())
    assert time.monotonic() - started < 10
    assert list(tmp_path.glob(".*.part")) == [] and not (tmp_path / "clip.mp4").exists()


def test_stopping_the_service_stops_a_long_export_at_once(portrait_mov, tmp_path, hanging_ffmpeg):
    calls = []

    def stop():
        calls.append(1)
        if len(calls) >= 2:
            raise Stopping()

    started = time.monotonic()
    with pytest.raises(Stopping):
        export.cut_clip(probe(portrait_mov), 1.0, 3.0, tmp_path / "clip.mp4", ExportConfig(), stop)
    assert time.monotonic() - started < 5  # not the minute-plus bound
    assert list(tmp_path.glob(".*.part")) == []
