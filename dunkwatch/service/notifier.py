"""Telling the player, through Apprise (ntfy, Telegram, Pushover, email, Matrix, Home Assistant, a
plain JSON endpoint, ...): a session's clips ready, a video quarantined, a model promoted or
kept, a disk that keeps a video waiting.

A message is first written to the journal, then sent by this module's own thread, so sending
never blocks or fails processing, and a stop loses nothing: what was not sent goes at the next
start. A failed send is logged once per message, then retried later, the wait doubling up to an
hour, until MAX_TRIES.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Callable

from dunkwatch.config import NotifyConfig, ReviewConfig, parse_listen
from dunkwatch.learn.decision import TrainingRecord, TrainStatus
from dunkwatch.sessions import Session
from dunkwatch.share_links import SharedKind, ShareKey
from dunkwatch.store import LAST_TRAINING_KEY, Notice, Store

log = logging.getLogger(__name__)

NOTIFIED_TRAINING_KEY = "notified_training"  # the training record last told about
MAX_TRIES = 30  # about a day of retries at the longest wait
MAX_WAIT_SECONDS = 3600.0
POLL_SECONDS = 2.0

Send = Callable[[str, str], bool]  # (title, body) -> delivered


class Event(str, Enum):
    SESSION = "session"
    QUARANTINE = "quarantine"
    MODEL = "model"
    DISK = "disk"

    def __str__(self) -> str:
        return self.value


def apprise_sender(urls: tuple[str, ...]) -> Send:
    import apprise

    # Our own log line says a send failed, once; Apprise would say it at every retry.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    targets = apprise.Apprise()
    for url in urls:
        targets.add(url)
    return lambda title, body: bool(targets.notify(title=title, body=body))


def share_host(review: ReviewConfig) -> str:
    """The host:port a link is made for: review.listen, with a wildcard address named by the machine."""
    host, port = parse_listen(review.listen)
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Notifier:
    def __init__(
        self,
        cfg: NotifyConfig,
        review: ReviewConfig,
        store: Store,
        state_dir: Path,
        send: Send | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg, self.review, self.store, self.state_dir = cfg, review, store, state_dir
        self.enabled = bool(cfg.urls)
        self._send = send
        self.clock = clock

    def wants(self, event: Event) -> bool:
        return self.enabled and event.value in self.cfg.events

    def notify(self, event: Event, title: str, body: str, key: str | None = None, delay: float = 0.0) -> None:
        if self.wants(event):
            self.store.queue_notice(title, body, self.clock() + delay, key)

    # --- the events ------------------------------------------------------------------------------

    def session_ready(self, session: Session) -> None:
        """One message per session, once it has been quiet for notify.session_quiet."""
        if not self.wants(Event.SESSION):
            return
        body = f"{session.counts()} in {len(session.videos)} video(s), {session.in_view:.0f} s with a player in view."
        if self.review.enabled:
            host = share_host(self.review)
            token = ShareKey(self.state_dir).link(SharedKind.SESSION, session.id, host, self.review.share_days)
            body += f" Session reel: http://{host}/s/{token}"
        self.notify(
            Event.SESSION,
            f"dunkwatch: {session.name}: clips ready",
            body,
            key=f"session:{session.id}",
            delay=self.cfg.session_quiet,
        )

    def quarantined(self, name: str, reason: str) -> None:
        self.notify(Event.QUARANTINE, f"dunkwatch: {name} quarantined", reason)

    def waiting_for_space(self, name: str, message: str) -> None:
        self.notify(Event.DISK, f"dunkwatch: {name} waits for disk space", message, key="disk")

    def check_training(self) -> None:
        """A training run (its own process) recorded its outcome: promoted or kept, with the figures."""
        record = TrainingRecord.from_dict(self.store.get_meta(LAST_TRAINING_KEY))
        if record is None or self.store.get_meta(NOTIFIED_TRAINING_KEY) == record.when:
            return
        self.store.set_meta(NOTIFIED_TRAINING_KEY, record.when)
        if record.status is TrainStatus.PROMOTED:
            title = f"dunkwatch: model {record.version} promoted"
        elif record.status is TrainStatus.KEPT:
            title = "dunkwatch: a new model was trained and not promoted"
        else:
            return  # skipped: nothing changed
        self.notify(Event.MODEL, title, record.summary or record.reason)

    # --- sending ---------------------------------------------------------------------------------

    def send_due(self) -> int:
        """Send what is due; returns how many were delivered."""
        if not self.enabled:
            return 0
        if self._send is None:
            self._send = apprise_sender(self.cfg.urls)
        send = self._send
        delivered = 0
        for notice in self.store.due_notices():
            if self._deliver(notice, send):
                delivered += 1
        return delivered

    def _deliver(self, notice: Notice, send: Send) -> bool:
        try:
            ok = send(notice.title, notice.body)
        except Exception as exc:  # a plugin's bug must not stop the thread
            log.debug("notification: %s", exc, exc_info=True)
            ok = False
        if ok:
            self.store.notice_done(notice.id)
            return True
        if notice.tries + 1 >= MAX_TRIES:
            log.error("notification %r: not delivered after %d tries; dropped", notice.title, MAX_TRIES)
            self.store.notice_done(notice.id)
            return False
        wait = min(self.cfg.retry_seconds * 2**notice.tries, MAX_WAIT_SECONDS)
        if notice.tries == 0:
            log.warning(
                "notification %r could not be sent to %s; trying again, first in %.0f s (notify.urls)",
                notice.title,
                ", ".join(u.split("://")[0] + "://…" for u in self.cfg.urls),
                wait,
            )
        self.store.notice_failed(notice.id, self.clock() + wait)
        return False

    def run(self, stopping: threading.Event) -> None:
        """The service's notification thread."""
        while not stopping.wait(POLL_SECONDS):
            try:
                self.check_training()
                self.send_due()
            except Exception:  # a journal hiccup: the next round tries again
                log.exception("notifications")
