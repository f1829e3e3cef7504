"""Notifications through Apprise to a local HTTP receiver (`json://127.0.0.1:PORT`): one message per
session, not per video; quarantine with its reason; a promotion with its figures; and a receiver
that is down costs one log line, and the message arrives once it is back."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO, Scene, Visit, encode

from dunkwatch.config import ConfigError, load
from dunkwatch.service.daemon import Daemon


class Receiver:
    """What a phone app's server would get: Apprise's JSON posts, collected."""

    def __init__(self, port: int = 0):
        self.messages: list[dict] = []  # Apprise's JSON bodies
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def court(path, seed: int):
    scene = Scene(duration=8, fps=10, seed=seed, visits=[Visit(2.0, 4.5, 0.25, 0.65)])
    return encode(scene.frames(), path, scene.width, scene.height, scene.fps, preset="veryfast")


@pytest.mark.slow
def test_one_message_per_session_and_one_per_quarantined_video(workdir, config_file):
    receiver = Receiver()
    try:
        cfg = load(
            config_file(
                watch={"stable_seconds": 0.2, "unreadable_after": 0.0},
                notify={"urls": [f"json://127.0.0.1:{receiver.port}"], "session_quiet": 0.0},
            )
        )
        for n in (1, 2):  # filmed minutes apart (their file times): one practice
            court(workdir / "inbox" / f"IMG_000{n}.MOV", seed=30 + n)
        (workdir / "inbox" / "broken.mp4").write_bytes(b"not a video at all" * 100)
        assert Daemon(cfg, once=True).run() == 0
    finally:
        receiver.close()
    titles = [m["title"] for m in receiver.messages]
    sessions = [m for m in receiver.messages if "clips ready" in m["title"]]
    assert len(sessions) == 1, titles  # two videos, one practice: one message
    assert "2 clip(s) in 2 video(s)" in sessions[0]["message"]  # no hoop in view: clips, not attempts
    (quarantined,) = [m for m in receiver.messages if "quarantined" in m["title"]]
    assert "broken.mp4" in quarantined["title"] and "not a readable video" in quarantined["message"]
    assert len(receiver.messages) == 2


def test_a_receiver_that_is_down_costs_one_log_line_and_the_message_arrives_later(workdir, config_file, caplog):
    from dunkwatch.service.notifier import Notifier
    from dunkwatch.store import Store

    port = free_port()  # nothing listens there yet
    cfg = load(
        config_file(
            watch={"stable_seconds": 0.2, "unreadable_after": 0.0},
            notify={"urls": [f"json://127.0.0.1:{port}"], "retry_seconds": 1.0},
        )
    )
    (workdir / "inbox" / "broken.mp4").write_bytes(b"not a video at all" * 100)
    with caplog.at_level(logging.WARNING, logger="dunkwatch"):
        assert Daemon(cfg, once=True).run() == 0
    assert (workdir / "quarantine" / "broken.mp4").is_file()  # processing went on
    failed = [r for r in caplog.records if "could not be sent" in r.getMessage()]
    assert len(failed) == 1 and "json://" in failed[0].getMessage()

    receiver = Receiver(port)
    store = Store(cfg.paths.state_dir)
    try:
        notifier = Notifier(cfg.notify, cfg.review, store, cfg.paths.state_dir)  # as the next start would
        deadline = time.monotonic() + 30
        while not receiver.messages and time.monotonic() < deadline:
            notifier.send_due()  # due once the retry wait (1 s here) has passed
            time.sleep(0.2)
        assert store.due_notices() == []
    finally:
        store.close()
        receiver.close()
    (message,) = receiver.messages
    assert "broken.mp4" in message["title"]
    assert len([r for r in caplog.records if "could not be sent" in r.getMessage()]) == 1  # logged once


def test_a_promotion_is_told_with_its_figures_beside_the_baseline(workdir, config_file):
    from dunkwatch.learn.decision import TrainResult, TrainStatus
    from dunkwatch.learn.promotion import Figures
    from dunkwatch.learn.train import _record
    from dunkwatch.service.notifier import Notifier
    from dunkwatch.store import Store

    receiver = Receiver()
    cfg = load(config_file(notify={"urls": [f"json://127.0.0.1:{receiver.port}"]}))
    store = Store(cfg.paths.state_dir)
    try:
        result = TrainResult(
            TrainStatus.PROMOTED,
            "beats motion: false segments 0 < 2",
            "v0003",
            Figures(0.95, 0.9, 0.9245, 3, 3, 0, 400, 2),
            Figures(0.6, 0.9, 0.72, 3, 3, 2, 400, 2),
            "motion",
            "abc",
        )
        _record(store, result)  # what `dunkwatch train` leaves in the journal
        notifier = Notifier(cfg.notify, cfg.review, store, cfg.paths.state_dir)
        notifier.check_training()
        notifier.check_training()  # the same run is told once
        assert notifier.send_due() == 1
    finally:
        store.close()
        receiver.close()
    (message,) = receiver.messages
    assert message["title"] == "dunkwatch: model v0003 promoted"
    assert "F1 0.924" in message["message"] and "motion:" in message["message"] and "F1 0.720" in message["message"]


def test_a_bad_apprise_url_is_a_config_error_naming_the_key_and_notify_test_sends_one(workdir, config_file):
    with pytest.raises(ConfigError, match="notify.urls"):
        load(config_file(notify={"urls": ["nonsense://"]}))
    receiver = Receiver()
    try:
        config = config_file(notify={"urls": [f"json://127.0.0.1:{receiver.port}"]})
        proc = subprocess.run(
            [sys.executable, "-m", "dunkwatch", "notify", "--test", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    finally:
        receiver.close()
    assert proc.returncode == 0, proc.stderr
    assert [m["title"] for m in receiver.messages] == ["dunkwatch: test"]
