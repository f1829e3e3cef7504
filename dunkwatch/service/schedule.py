"""The retraining schedule inside the daemon: one APScheduler job, never two at once.

The job runs `dunkwatch train` in a child process, so TensorFlow's memory, threads and any
crash stay out of the long-running service; the worker picks up a promoted model between
videos through the registry's `current` pointer.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dunkwatch.config import Config, parse_schedule

log = logging.getLogger(__name__)

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_weekdays(field: str) -> str:
    """Crontab weekday numbers (0 or 7 = Sunday) as names: APScheduler 3 counts 0 as Monday."""

    def name(token: str) -> str:
        return _CRON_DAYS[int(token)] if token.isdigit() and int(token) <= 7 else token

    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        base = "-".join(name(t) for t in base.split("-"))
        parts.append(base + (slash + step if slash else ""))
    return ",".join(parts)


def make_trigger(schedule: str, timezone: tzinfo | None = None) -> BaseTrigger:
    """The schedule's trigger, in `timezone` (default: the machine's)."""
    kind, value = parse_schedule(schedule)
    if kind == "interval":
        return IntervalTrigger(seconds=value)
    minute, hour, day, month, weekday = value
    days = crontab_weekdays(weekday)
    if not day.startswith("*") and not weekday.startswith("*"):
        # cron(8): when both the day of the month and the weekday are restricted, either one
        # matching runs the job ("30 2 1 * sun": the 1st, and every Sunday). APScheduler's one
        # trigger would want both at once.
        return OrTrigger(
            [
                CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=timezone),
                CronTrigger(minute=minute, hour=hour, month=month, day_of_week=days, timezone=timezone),
            ]
        )
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=timezone)


def next_runs(schedule: str, count: int = 3, now: datetime | None = None) -> list[datetime]:
    """The schedule's next `count` runs after `now` (default: now), in the local time zone."""
    trigger = make_trigger(schedule)
    when = now or datetime.now().astimezone()
    runs: list[datetime] = []
    previous = None
    while len(runs) < count:
        fire = trigger.get_next_fire_time(previous, when)
        if fire is None:
            break
        runs.append(fire)
        previous, when = fire, fire + timedelta(seconds=1)
    return runs


def train_command(cfg: Config) -> list[str]:
    command = [sys.executable, "-m", "dunkwatch", "train"]
    if cfg.source:
        command += ["--config", str(Path(cfg.source).resolve())]
    return command


class RetrainingSchedule:
    """Start, stop and report the scheduled retraining job."""

    def __init__(self, cfg: Config, on_next_run: Callable[[str | None], None]) -> None:
        self.cfg = cfg
        self.on_next_run = on_next_run  # records the next run time, for `dunkwatch status`
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.scheduler = BackgroundScheduler(daemon=True)
        self.job = self.scheduler.add_job(
            self._run,
            make_trigger(cfg.training.schedule),
            id="retrain",
            name="retrain the classifier",
            max_instances=1,  # a long run is never joined by a second one
            coalesce=True,  # runs missed while asleep collapse into one
            misfire_grace_time=int(cfg.training.misfire_grace_seconds),
        )

    def start(self) -> None:
        self.scheduler.start()
        self._report()
        log.info("retraining scheduled (%s); next run %s", self.cfg.training.schedule, self.next_run())

    def next_run(self) -> str | None:
        when = self.job.next_run_time
        return when.isoformat(timespec="seconds") if when else None

    def _report(self) -> None:
        try:
            self.on_next_run(self.next_run())
        except Exception:  # reporting must never break the schedule
            log.debug("cannot record the next training time", exc_info=True)

    def _run(self) -> None:
        with self._lock:
            if self._stopping:
                return
            log.info("scheduled retraining starts: %s", " ".join(train_command(self.cfg)))
            self._child = subprocess.Popen(
                train_command(self.cfg),
                cwd=os.getcwd(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        child = self._child
        assert child.stdout is not None  # started with stdout=PIPE
        for line in child.stdout:  # the child's log, relayed line by line to ours
            log.info("train: %s", line.rstrip())
        code = child.wait()
        with self._lock:
            self._child = None
        if code != 0 and not self._stopping:
            log.error("scheduled retraining failed (exit code %d); the current model stays", code)
        self._report()

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            if self._child is not None and self._child.poll() is None:
                # Training is redone next time; nothing is promoted half-way (the registry writes atomically).
                self._child.terminate()
        self.scheduler.shutdown(wait=False)
