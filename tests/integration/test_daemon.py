"""`dunkwatch run` as systemd runs it: a real subprocess on a temporary inbox, outbox and state."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Scene, Visit, encode, make_portrait_mov, run_ffmpeg

from dunkwatch.store import Store

DAEMON_CONFIG: dict[str, dict[str, Any]] = {
    "score": {"scorer": "motion"},
    "watch": {"stable_seconds": 1.0, "rescan_seconds": 5.0, "unreadable_after": 2.0},
    "daemon": {"max_attempts": 3, "retry_seconds": 0.0},
    "export": {"timeline": False},
}


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None):
    """Poll a condition until a deadline; fail with what was awaited (and the daemon's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"daemon exited with {proc.returncode} while waiting for {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class DaemonProcess:
    def __init__(self, config: Path, log: Path, env: dict | None = None):
        self.config, self.log = config, log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "DaemonProcess":
        with open(self.log, "a") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dunkwatch", "run", "--config", str(self.config)],
                cwd=REPO,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    def stop(self, sig=signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            return self.proc.wait(timeout=timeout)
        return self.proc.returncode if self.proc else 0

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def journal(state: Path) -> list:
    store = Store(state)
    try:
        return store.all()
    finally:
        store.close()


def rows_named(state: Path, name: str) -> list:
    return [v for v in journal(state) if v.name == name]


def status_json(config: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def part_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def court_video(path: Path, duration: float, visits: list[tuple[float, float]], size=(320, 180)) -> Path:
    scene = Scene(width=size[0], height=size[1], duration=duration, visits=[Visit(a, b, 0.2, 0.8) for a, b in visits])
    return encode(scene.frames(), path, scene.width, scene.height, scene.fps, audio=True)


def write_slowly(src: Path, dest: Path, chunks: int, pause: float) -> float:
    """Copy as a sync client does: the final name appears at once and grows chunk by chunk."""
    data = src.read_bytes()
    step = -(-len(data) // chunks)
    with open(dest, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i : i + step])
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(pause)  # the pace of the simulated sync client, not a wait for the daemon
    return time.time()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("daemon-media")
    audio_only = folder / "voice_memo.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", str(audio_only))
    return {
        "phone": make_portrait_mov(folder / "IMG_0100.MOV", duration=6.0),
        "long": court_video(folder / "long_session.mp4", 40.0, [(8.0, 12.0), (25.0, 30.0)]),
        "audio_only": audio_only,
    }


def test_the_daemon_takes_complete_files_once_survives_bad_files_duplicates_and_kill_9(workdir, config_file, media):
    inbox, outbox, state = workdir / "inbox", workdir / "outbox", workdir / "state"
    cfg = config_file(**DAEMON_CONFIG)
    daemon = DaemonProcess(cfg, workdir / "daemon.log").start()
    try:
        # 1. A video arriving slowly under its final name is taken once, only after the last chunk.
        last_chunk_at = write_slowly(media["phone"], inbox / "IMG_0100.MOV", chunks=12, pause=0.3)
        wait_for(lambda: (workdir / "archive" / "IMG_0100.MOV").exists(), 120, "IMG_0100.MOV archived", daemon.proc)
        (row,) = rows_named(state, "IMG_0100.MOV")
        assert row.state == "done" and row.attempts == 1 and row.size == media["phone"].stat().st_size
        assert row.created <= last_chunk_at + 0.5 and row.finished > last_chunk_at
        assert row.sha256 == sha256(media["phone"]) == sha256(workdir / "archive" / "IMG_0100.MOV")
        assert (outbox / "IMG_0100" / "IMG_0100.json").is_file()
        assert daemon.text().count("IMG_0100.MOV: complete") == 1
        assert "IMG_0100.MOV: 6.0 s, 1 segments" in daemon.text()  # the one line per video
        predictions = (outbox / "predictions.csv").read_text().splitlines()
        assert predictions[0] == "video,start,end,label,note"
        assert [line.split(",")[3] for line in predictions[1:]] == ["empty", "dunk", "empty"]

        # 2. Bad files go to quarantine with a reason; a sync client's temporary file is left alone.
        (inbox / "empty.mp4").write_bytes(b"")
        (inbox / "fake.mov").write_text("this is not a video")
        shutil.copy(media["audio_only"], inbox / "voice_memo.mp4")
        (inbox / ".syncthing.x.tmp").write_bytes(b"half a video")
        (inbox / ".syncthing.IMG_0200.MOV.tmp").write_bytes(b"half a video")
        for name, why in [
            ("empty.mp4", "the file is empty"),
            ("fake.mov", "not a media file"),
            ("voice_memo.mp4", "no video stream"),
        ]:
            reason_file = workdir / "quarantine" / f"{name}.error.txt"
            wait_for(reason_file.exists, 60, f"{name} quarantined", daemon.proc)
            assert why in reason_file.read_text() and name in reason_file.read_text()
            assert (workdir / "quarantine" / name).exists()
        assert (inbox / ".syncthing.x.tmp").read_bytes() == b"half a video"
        assert (inbox / ".syncthing.IMG_0200.MOV.tmp").exists()
        assert not rows_named(state, ".syncthing.x.tmp")

        # 3. The same content again under another name is a duplicate: archived, no second set of clips.
        shutil.copy(media["phone"], inbox / "copy of IMG_0100.MOV")
        wait_for(lambda: (workdir / "archive" / "copy of IMG_0100.MOV").exists(), 60, "duplicate archived", daemon.proc)
        (dup,) = rows_named(state, "copy of IMG_0100.MOV")
        assert dup.state == "done" and dup.duplicate_of == row.id
        assert not (outbox / "copy of IMG_0100").exists()

        # 4. SIGKILL while a video is being processed, then a restart.
        shutil.copy(media["long"], inbox / "long_session.mp4")
        wait_for(
            lambda: any(v.state == "processing" for v in rows_named(state, "long_session.mp4")),
            60,
            "long_session.mp4 processing",
            daemon.proc,
        )
        daemon.stop(signal.SIGKILL)
        assert (inbox / "long_session.mp4").exists()  # the original never left the inbox half-way
        daemon.start()
        wait_for(
            lambda: (workdir / "archive" / "long_session.mp4").exists(), 180, "long_session.mp4 archived", daemon.proc
        )
        (long_row,) = rows_named(state, "long_session.mp4")
        # The kill came from outside: not counted against the video (one attempt, one interruption).
        assert long_row.state == "done" and (long_row.attempts, long_row.interruptions) == (1, 1)
        assert sha256(workdir / "archive" / "long_session.mp4") == sha256(media["long"])
        sidecar = json.loads((outbox / "long_session" / "long_session.json").read_text())
        assert len(sidecar["segments"]) == 2
        assert sorted(p.name for p in (outbox / "long_session").glob("*.mp4")) == sorted(
            sidecar["clips"] + [sidecar["highlights"]]
        )

        # 5. Status reports the counts.
        report = wait_for(lambda: (r := status_json(cfg))["counts"]["processing"] == 0 and r, 30, "idle status")
        assert report["counts"]["done"] == 3 and report["counts"]["duplicates"] == 1
        assert report["counts"]["failed"] == 3 and report["queue"] == 0
        assert {Path(q["file"]).name for q in report["quarantine"]} == {"empty.mp4", "fake.mov", "voice_memo.mp4"}
        assert report["model"] is None
    finally:
        code = daemon.stop()
    assert code == 0, daemon.text()[-3000:]

    # Every video ended exactly once, and nothing is half-written or lost.
    rows = journal(state)
    assert sorted(v.name for v in rows) == sorted(
        ["IMG_0100.MOV", "empty.mp4", "fake.mov", "voice_memo.mp4", "copy of IMG_0100.MOV", "long_session.mp4"]
    )
    assert all(v.state in ("done", "failed") and v.location for v in rows)
    assert not part_files(outbox) and not part_files(workdir / "archive")
    assert sorted(p.name for p in inbox.iterdir()) == [".syncthing.IMG_0200.MOV.tmp", ".syncthing.x.tmp"]


def test_systemd_notify_ready_watchdog_and_stopping_and_sigterm_puts_the_video_back(
    workdir, config_file, media, tmp_path
):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.5)
    cfg = config_file(**DAEMON_CONFIG)
    daemon = DaemonProcess(
        cfg, workdir / "daemon.log", env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1500000"}
    ).start()
    messages: list[str] = []

    def received(wanted: str) -> bool:
        try:
            messages.extend(sock.recv(4096).decode().splitlines())
        except socket.timeout:
            pass
        return wanted in messages

    try:
        wait_for(lambda: received("READY=1"), 60, "READY=1", daemon.proc)
        messages.clear()
        wait_for(lambda: received("WATCHDOG=1"), 10, "WATCHDOG=1", daemon.proc)
        # SIGTERM during a video: it is put back, not failed, and done after the restart.
        shutil.copy(media["long"], workdir / "inbox" / "long_session.mp4")
        wait_for(
            lambda: any(v.state == "processing" for v in rows_named(workdir / "state", "long_session.mp4")),
            60,
            "processing",
            daemon.proc,
        )
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=30) == 0
        wait_for(lambda: received("STOPPING=1"), 5, "STOPPING=1")
        (row,) = rows_named(workdir / "state", "long_session.mp4")
        assert row.state == "stable" and row.attempts == 0
        assert (workdir / "inbox" / "long_session.mp4").exists()
        daemon.start()
        wait_for(lambda: (workdir / "archive" / "long_session.mp4").exists(), 180, "archived", daemon.proc)
        (row,) = rows_named(workdir / "state", "long_session.mp4")
        assert row.state == "done" and row.attempts == 1
    finally:
        daemon.stop()
        sock.close()


def test_the_scheduled_retraining_runs_inside_the_daemon_and_corrections_errors_are_logged(workdir, config_file):
    cfg = config_file(**DAEMON_CONFIG, training={"schedule": "every 2s"})
    daemon = DaemonProcess(cfg, workdir / "daemon.log").start()
    try:
        (workdir / "corrections.csv").write_text("video,start,end,label\nIMG_7777.MOV,1,2,dunk\n")
        wait_for(
            lambda: "row 2: unknown video 'IMG_7777.MOV'" in daemon.text(),
            60,
            "the corrections error logged",
            daemon.proc,
        )
        store_meta = lambda key: Store(workdir / "state").get_meta(key)  # noqa: E731
        last = wait_for(lambda: store_meta("last_training"), 90, "a scheduled training run", daemon.proc)
        assert last["status"] == "skipped" and "need at least two labelled videos" in last["reason"]
        assert "scheduled retraining starts" in daemon.text()
        report = status_json(cfg)
        assert report["next_training"] and report["last_training"]["status"] == "skipped"
    finally:
        code = daemon.stop()
    assert code == 0, daemon.text()[-3000:]


def test_polling_mode_takes_a_file_on_a_mount_without_inotify(workdir, config_file, media):
    # No periodic rescan during the test: only the polling observer can find the file.
    cfg = config_file(
        **{**DAEMON_CONFIG, "watch": {**DAEMON_CONFIG["watch"], "polling": True, "rescan_seconds": 3600.0}}
    )
    daemon = DaemonProcess(cfg, workdir / "daemon.log").start()
    try:
        wait_for(lambda: "(polling)" in daemon.text(), 60, "the daemon to start polling", daemon.proc)
        (workdir / "inbox" / "day2").mkdir()
        shutil.copy(media["phone"], workdir / "inbox" / "day2" / "IMG_0100.MOV")
        wait_for(lambda: (workdir / "archive" / "day2" / "IMG_0100.MOV").exists(), 120, "archived", daemon.proc)
        assert (workdir / "outbox" / "day2" / "IMG_0100" / "IMG_0100.json").is_file()
    finally:
        assert daemon.stop() == 0, daemon.text()[-3000:]


def test_an_inbox_folder_deleted_and_made_again_is_watched_again(workdir, config_file, media):
    # No periodic rescan during the test: only a renewed watch can find the file.
    cfg = config_file(**{**DAEMON_CONFIG, "watch": {**DAEMON_CONFIG["watch"], "rescan_seconds": 3600.0}})
    daemon = DaemonProcess(cfg, workdir / "daemon.log").start()
    try:
        wait_for(lambda: "(inotify)" in daemon.text(), 60, "the daemon to watch the inbox", daemon.proc)
        fresh = workdir / "inbox.new"
        fresh.mkdir()
        shutil.copy(media["phone"], fresh / "IMG_0200.MOV")
        (workdir / "inbox").rmdir()
        time.sleep(1.5)  # the deletion's event is handled while there is no inbox (a deliberate gap, not a sync)
        fresh.rename(workdir / "inbox")  # a sync client that makes the folder again, files and all
        wait_for(lambda: (workdir / "archive" / "IMG_0200.MOV").exists(), 30, "archived", daemon.proc)
        assert "was replaced by another folder; watching the new one" in daemon.text()
    finally:
        assert daemon.stop() == 0, daemon.text()[-3000:]
