"""Archive retention in the service: old originals go; those training needs, or the player pinned, stay."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
from conftest import found, make_portrait_mov

from dunkwatch.config import load
from dunkwatch.learn.run_lock import one_run_at_a_time
from dunkwatch.models import registry
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.cutting.export import write_sidecar
from dunkwatch.pipeline.process import Processed
from dunkwatch.service.daemon import Daemon
from dunkwatch.service.retention import DAY, ArchiveRetention
from dunkwatch.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from faulty_process import stand_in_sidecar  # noqa: E402


def process(path, cfg, scorer, outbox, progress=None, **_) -> Processed:
    out_dir = outbox / path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = stand_in_sidecar(path, segments=((1.0, 2.0),))
    write_sidecar(out_dir / f"{path.stem}.json", sidecar)
    return Processed(sidecar, np.arange(0, 3, 0.5), np.zeros(6), out_dir)


def test_old_originals_go_unless_training_needs_them_or_they_are_pinned(workdir, config_file, tmp_path):
    from dunkwatch.review import create_app
    from dunkwatch.service.status import collect_status, format_status

    cfg = load(config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, archive={"keep_days": 30}))
    video = make_portrait_mov(tmp_path / "v.MOV", duration=1.0)
    names = ["A.MOV", "B.MOV", "C.MOV", "D.MOV", "E.MOV"]
    for name in names:
        (workdir / "inbox" / name).write_bytes(video.read_bytes() + name.encode())
    assert Daemon(cfg, once=True, process=process).run() == 0
    archived = {name: workdir / "archive" / name for name in names}
    assert all(p.is_file() for p in archived.values())  # nothing is 30 days old yet

    # B's corrections are not trained on yet; the model in use learnt from D and was judged on C.
    cfg.paths.corrections.write_text("video,start,end,label\nB.MOV,1,2,empty\nD.MOV,1,2,empty\n")
    version = registry.add_version(
        cfg.paths.state_dir,
        lambda p: p.write_bytes(b"model"),
        {"train_videos": ["D.MOV"], "validation_videos": ["C.MOV"]},
    )
    registry.set_current(cfg.paths.state_dir, version)
    client = create_app(cfg).test_client()
    page = client.get("/").get_data(as_text=True)
    csrf = found(r'data-csrf="([^"]+)"', page).group(1)
    store = Store(cfg.paths.state_dir)
    ids = {v.name: v.id for v in store.all()}
    pinned = client.post(
        f"/video/{ids['E.MOV']}/pin", data={"pinned": "1", "csrf": csrf}, headers={"X-CSRF-Token": csrf}
    )
    assert pinned.get_json()["ok"], pinned.get_json()

    # Forty days later, while a training run holds its lock: it may read any original, so none goes.
    retention = ArchiveRetention(cfg.archive, cfg.paths, store, clock=lambda: time.time() + 40 * DAY)
    with one_run_at_a_time(cfg.paths.state_dir) as alone:
        assert alone and retention.run() == []
    assert all(p.is_file() for p in archived.values())
    # Once it has ended.
    deleted = retention.run()
    assert sorted(d.original.name for d in deleted) == ["A.MOV", "D.MOV"]
    assert [name for name, p in archived.items() if p.exists()] == ["B.MOV", "C.MOV", "E.MOV"]
    for name in ("A.MOV", "D.MOV"):  # the clips' folder stays, and says the original is gone
        sidecar = Sidecar.read(workdir / "outbox" / Path(name).stem / f"{Path(name).stem}.json")
        assert sidecar is not None and sidecar.original_deleted is not None and sidecar.segments
    kept = Sidecar.read(workdir / "outbox" / "B" / "B.json")
    assert kept is not None and kept.original_deleted is None
    # Training reads no deleted original.
    assert sorted(v.name for v in store.processed()) == ["B.MOV", "C.MOV", "E.MOV"]
    store.close()

    page = client.get("/").get_data(as_text=True)
    assert page.count("original deleted") == 2 and page.count("original kept: let it go") == 1
    status = format_status(collect_status(cfg.paths, cfg.archive))
    assert re.search(r"archive: [\d.]+ GB in 3 original\(s\) \(deleted after 30 days\)", status), status


def test_a_busy_service_still_looks_at_the_archive_once_a_minute(tmp_path, monkeypatch):
    """A synced backlog kept the queue from emptying, and retention looked only at an idle moment:
    the simulated month's archive grew past max_gb. With videos queued it now looks every
    BUSY_EVERY_S; idle, at once after a new original."""
    from dunkwatch.config import from_dict
    from dunkwatch.service import retention as retention_module

    now = [1000.0]
    monkeypatch.setattr(retention_module.time, "monotonic", lambda: now[0])
    cfg = from_dict({"archive": {"max_gb": 1.0}}, tmp_path)
    cfg.paths.state_dir.mkdir(parents=True)
    store = Store(cfg.paths.state_dir)
    retention = ArchiveRetention(cfg.archive, cfg.paths, store)
    assert retention.due(busy=True)  # never looked: a service that starts busy looks at once
    retention.run()
    retention.soon()  # a video archived its original
    assert retention.due(busy=False) and not retention.due(busy=True)
    now[0] += retention_module.BUSY_EVERY_S
    assert retention.due(busy=True)
    retention.run()
    now[0] += 1.0
    assert not retention.due(busy=False)  # nothing new: the next look in an hour
    store.close()


def test_a_busy_service_looks_after_a_video_never_in_its_place(workdir, config_file, tmp_path, monkeypatch):
    """The look while videos are queued comes after a video, never in its place: the next video
    is claimed (processing) when the queue is read, and one left there would never be processed."""
    import signal

    from dunkwatch.service import retention as retention_module

    monkeypatch.setattr(retention_module, "BUSY_EVERY_S", 0.0)  # a look after every video
    cfg = load(config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, archive={"max_gb": 1e-9}))
    video = make_portrait_mov(tmp_path / "v.MOV", duration=1.0)
    names = [f"IMG_{i}.MOV" for i in range(5)]
    for name in names:
        (workdir / "inbox" / name).write_bytes(video.read_bytes() + name.encode())

    def never_finished(*_: object) -> None:
        raise TimeoutError("the service never finished its inbox: a video was left claimed")

    previous = signal.signal(signal.SIGALRM, never_finished)  # the service wants the main thread
    signal.alarm(120)
    try:
        assert Daemon(cfg, once=True, process=process).run() == 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    store = Store(cfg.paths.state_dir)
    states = {v.name: v.state.value for v in store.all()}
    deleted = [v.name for v in store.all() if v.original_deleted is not None]
    store.close()
    assert states == {name: "done" for name in names}
    assert deleted  # the looks came while videos were still queued, and deleted what max_gb says
