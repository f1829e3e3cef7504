"""The daemon's fault handling, in process: transient errors, crash recovery, poison videos."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_portrait_mov

from dunkwatch.config import load
from dunkwatch.errors import ExportError, VideoError
from dunkwatch.outputs import ScorerKind, VideoOutputs
from dunkwatch.pipeline.process import Processed
from dunkwatch.service.daemon import Daemon
from dunkwatch.service.jobs import is_transient
from dunkwatch.store import State, Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from faulty_process import stand_in_sidecar  # noqa: E402


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> Path:
    return make_portrait_mov(tmp_path_factory.mktemp("faults") / "IMG_0300.MOV", duration=3.0)


def daemon_config(config_file, **daemon):
    return load(
        config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, daemon={"retry_seconds": 0.0, **daemon})
    )


def next_job_name(store: Store) -> str:
    job = store.next_job()
    assert job is not None
    return job.name


def fake_sidecar(path: Path, outbox: Path) -> Processed:
    sidecar = stand_in_sidecar(path, segments=((1.0, 2.0),))
    return Processed(sidecar, np.arange(0, 3, 0.2), np.zeros(15), outbox / path.stem)


def test_an_io_error_is_retried_with_back_off_not_quarantined(workdir, config_file, small_video):
    cfg = daemon_config(config_file, max_attempts=4)
    (workdir / "inbox" / small_video.name).write_bytes(small_video.read_bytes())
    calls = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        calls.append(path)
        if len(calls) < 3:  # a flaky USB disk (a full one waits: see the disk-full tests below)
            raise OSError(errno.EIO, "Input/output error", str(outbox))
        return fake_sidecar(path, outbox)

    assert Daemon(cfg, once=True, process=process).run() == 0
    assert len(calls) == 3
    (row,) = Store(cfg.paths.state_dir).all()
    assert row.state == "done" and row.attempts == 3
    assert (workdir / "archive" / small_video.name).exists()


def test_a_transient_error_that_persists_ends_in_quarantine_after_max_attempts(workdir, config_file, small_video):
    cfg = daemon_config(config_file, max_attempts=2)
    (workdir / "inbox" / small_video.name).write_bytes(small_video.read_bytes())

    def process(path, cfg, scorer, outbox, progress=None, **_):
        raise ExportError(f"{outbox}/x.mp4: ffmpeg failed: Input/output error")

    assert Daemon(cfg, once=True, process=process).run() == 0
    (row,) = Store(cfg.paths.state_dir).all()
    assert row.state == "failed" and row.attempts == 2
    assert row.error is not None and "gave up after 2 tries" in row.error
    reason = (workdir / "quarantine" / f"{small_video.name}.error.txt").read_text()
    assert "Input/output error" in reason


def test_a_bad_video_is_not_retried(workdir, config_file, small_video):
    cfg = daemon_config(config_file, max_attempts=4)
    (workdir / "inbox" / small_video.name).write_bytes(small_video.read_bytes())
    calls = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        calls.append(path)
        raise VideoError(f"{path}: truncated or damaged: frames stop at 1.0 s of 3.0 s")

    Daemon(cfg, once=True, process=process).run()
    assert len(calls) == 1
    assert "truncated" in (workdir / "quarantine" / f"{small_video.name}.error.txt").read_text()


def test_transient_classification():
    assert is_transient(OSError(errno.ENOSPC, "full"))
    assert is_transient(ExportError("x: ffmpeg failed: No space left on device"))
    assert not is_transient(ExportError("x: ffmpeg failed: Invalid data found when processing input"))
    assert not is_transient(VideoError("x: not a readable video"))
    assert is_transient(RuntimeError("a bug"))


def test_recovery_after_kill_9_finishes_moves_requeues_and_cleans_part_files(workdir, config_file, small_video):
    cfg = daemon_config(config_file, max_attempts=3)
    inbox = workdir / "inbox"
    store = Store(cfg.paths.state_dir)
    # A: killed while processing. B: done, killed before its move. C: killed three times already.
    rows = {}
    for name in ("A.MOV", "B.MOV", "C.MOV"):
        path = inbox / name
        path.write_bytes(small_video.read_bytes())
        st = path.stat()
        rows[name] = store.note_seen(path, st.st_size, st.st_mtime).id
        store.mark_stable(rows[name], st.st_size, st.st_mtime, f"hash-{name}")
    assert [next_job_name(store) for _ in range(3)] == ["A.MOV", "B.MOV", "C.MOV"]
    store.finish(rows["B.MOV"], State.DONE, outputs=VideoOutputs())
    for _ in range(2):  # C was being processed in each of three runs that died
        store.requeue(rows["C.MOV"], 0.0, "interrupted")
        assert next_job_name(store) == "C.MOV"
    # The last run died of a segfault (faulthandler's report): the videos it was on are to blame.
    (cfg.paths.state_dir / "fatal-signals.log").write_text("Fatal Python error: Segmentation fault\n\nThread ...\n")
    leftover = workdir / "outbox" / "A" / ".A_01_00m01s.mp4.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a clip")
    scratch = workdir / "outbox" / "A" / ".A_02_00m09s.smartk3j9x2.part"  # a smart cut's, killed mid-way
    (scratch / ".smart-q1w2e3").mkdir(parents=True)
    (scratch / ".smart-q1w2e3" / "head.mp4").write_bytes(b"half a head")
    (scratch / "video.mp4").write_bytes(b"half a video")
    store.close()

    calls = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        calls.append(path.name)
        return fake_sidecar(path, outbox)

    Daemon(cfg, once=True, process=process).run()
    assert calls == ["A.MOV"]
    assert not leftover.exists() and not scratch.exists()
    by_name = {v.name: v for v in Store(cfg.paths.state_dir).all()}
    assert by_name["A.MOV"].state == "done" and by_name["A.MOV"].attempts == 2
    assert by_name["B.MOV"].state == "done" and (workdir / "archive" / "B.MOV").exists()
    c_error = by_name["C.MOV"].error
    assert by_name["C.MOV"].state == "failed" and c_error is not None and "crashed the service 3 times" in c_error
    assert "Segmentation fault" in c_error
    assert (workdir / "quarantine" / "C.MOV").exists()
    assert not list(inbox.iterdir())


def test_a_newly_promoted_model_is_picked_up_between_videos_not_during_one(
    workdir, config_file, small_video, monkeypatch
):
    import dunkwatch.pipeline.scoring.scorer_choice as scorer_choice
    from dunkwatch.models import registry

    cfg = load(config_file(watch={"stable_seconds": 0.2}))  # scorer auto
    for name in ("first.MOV", "second.MOV"):
        (workdir / "inbox" / name).write_bytes(small_video.read_bytes() + name.encode())  # distinct content

    class FakeScorer:
        def __init__(self, version):
            self.kind, self.model_version = (ScorerKind.CNN if version else ScorerKind.MOTION), version

    def fake_scorer_for(cfg, version, memory):
        return FakeScorer(version)

    monkeypatch.setattr(scorer_choice, "scorer_for", fake_scorer_for)
    used = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        used.append((path.name, scorer.model_version))
        if not registry.versions(cfg.state_dir):
            # Training promotes v0001 while the first video is being processed.
            version = registry.add_version(cfg.state_dir, lambda p: p.write_bytes(b"model"), {"f1": 1.0})
            registry.set_current(cfg.state_dir, version)
        return fake_sidecar(path, outbox)

    Daemon(cfg, once=True, process=process).run()
    assert [version for _, version in used] == [None, "v0001"]


def test_a_service_killed_from_outside_does_not_count_against_its_video(workdir, config_file, small_video):
    from dunkwatch.service.originals import OUTSIDE_DEATHS_PER_ATTEMPT

    cfg = daemon_config(config_file, max_attempts=2)
    path = workdir / "inbox" / "A.MOV"
    path.write_bytes(small_video.read_bytes())
    store = Store(cfg.paths.state_dir)
    st = path.stat()
    video_id = store.note_seen(path, st.st_size, st.st_mtime).id
    store.mark_stable(video_id, st.st_size, st.st_mtime, "hash-A")
    store.close()
    deaths = OUTSIDE_DEATHS_PER_ATTEMPT * 2
    for death in range(1, deaths + 1):  # kill -9 (or systemctl restart) each time it works on A
        store = Store(cfg.paths.state_dir)
        assert next_job_name(store) == "A.MOV"
        store.close()
        Daemon(cfg, once=True, process=lambda *a, **k: pytest.fail("not reached")).originals.recover()
        row = Store(cfg.paths.state_dir).get(video_id)
        assert row is not None
        if death < deaths:
            assert (row.state, row.attempts, row.interruptions) == ("stable", 0, death)
    assert row is not None and row.state == "failed" and row.error is not None
    assert f"stopped {deaths} times" in row.error  # an OOM loop still ends


def test_a_full_disk_makes_the_video_wait_in_the_inbox_without_counting_an_attempt(
    workdir, config_file, small_video, monkeypatch, caplog
):
    import logging
    import time

    import dunkwatch.disk_space as disk_space
    from dunkwatch.service.status import collect_status, format_status

    cfg = daemon_config(config_file, max_attempts=1)
    original = workdir / "inbox" / small_video.name
    original.write_bytes(small_video.read_bytes())
    free = {"bytes": 10 * disk_space.MB}
    monkeypatch.setattr(disk_space, "free_bytes", lambda path: free["bytes"])
    calls = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        calls.append(path)
        return fake_sidecar(path, outbox)

    with caplog.at_level(logging.WARNING):
        assert Daemon(cfg, once=True, process=process).run() == 0
    assert calls == [] and original.exists() and list((workdir / "outbox").iterdir()) == []
    (row,) = Store(cfg.paths.state_dir).all()
    assert row.state == "stable" and row.attempts == 0  # waiting never uses up an attempt
    assert any("waiting for disk space" in r.getMessage() for r in caplog.records)
    status = format_status(collect_status(cfg.paths))
    assert "waiting for disk space" in status and "daemon.min_free_mb" in status and small_video.name in status

    free["bytes"] = 10**12  # the user makes room
    time.sleep(1.1)  # the retry is due a second later
    assert Daemon(cfg, once=True, process=process).run() == 0
    assert len(calls) == 1
    (row,) = Store(cfg.paths.state_dir).all()
    assert row.state == "done" and row.attempts == 1
    assert "waiting for disk space" not in format_status(collect_status(cfg.paths))


def test_a_disk_that_fills_during_a_write_makes_the_video_wait_as_a_full_disk_does(
    workdir, config_file, small_video, caplog
):
    import errno
    import logging
    import time

    from dunkwatch.errors import ExportError

    cfg = daemon_config(config_file, max_attempts=1)  # one counted failure would quarantine it
    original = workdir / "inbox" / small_video.name
    original.write_bytes(small_video.read_bytes())
    # Space taken by something else after the check: our own write fails, then ffmpeg's says so.
    failures = [
        OSError(errno.ENOSPC, "No space left on device", str(workdir / "outbox" / "clip.mp4.part")),
        ExportError(f"{small_video.name}: ffmpeg failed: Error writing trailer: No space left on device"),
    ]
    calls = []

    def process(path, cfg, scorer, outbox, progress=None, **_):
        calls.append(path)
        if failures:
            raise failures.pop(0)
        return fake_sidecar(path, outbox)

    with caplog.at_level(logging.WARNING):
        for _round in range(3):
            assert Daemon(cfg, once=True, process=process).run() == 0
            time.sleep(1.1)  # a wait for space is tried again a second later
    assert len(calls) == 3 and not (workdir / "quarantine" / small_video.name).exists()
    (row,) = Store(cfg.paths.state_dir).all()
    assert row.state == "done" and row.attempts == 1  # the two waits used up no attempt
    assert sum("waiting for disk space" in r.getMessage() for r in caplog.records) == 2


def test_clips_that_would_not_fit_stop_before_the_output_folder_exists(workdir, config_file, small_video, monkeypatch):
    import dunkwatch.disk_space as disk_space
    from dunkwatch.pipeline.process import process_video
    from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer

    cfg = daemon_config(config_file)
    size = small_video.stat().st_size
    monkeypatch.setattr(disk_space, "free_bytes", lambda path: size // 4 + int(cfg.daemon.min_free_mb * disk_space.MB))
    outbox = workdir / "outbox"
    with pytest.raises(disk_space.OutOfSpace, match="MB of clips plus the reserve"):
        process_video(small_video, cfg.pipeline, motion_scorer(cfg.pipeline, None), outbox)
    assert list(outbox.iterdir()) == []


def test_the_outputs_estimate_scales_with_the_clipped_seconds():
    from dunkwatch.disk_space import outputs_estimate

    assert outputs_estimate(1000, 100.0, [10.0, 5.0], reencode=False, reel=False) == 150
    assert outputs_estimate(1000, 100.0, [10.0, 5.0], reencode=False, reel=True) == 300
    assert outputs_estimate(1000, 100.0, [10.0, 5.0], reencode=True, reel=True) == 600
    assert outputs_estimate(1000, 100.0, [], reencode=True, reel=True) == 0
