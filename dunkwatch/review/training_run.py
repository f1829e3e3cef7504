"""The page's "train now": the same job as `dunkwatch train`, in the background, one at a time."""

from __future__ import annotations

import subprocess
import threading

from dunkwatch.config import Config
from dunkwatch.service.schedule import train_command

TRAIN_LOG = "review-train.log"  # "train now"'s output, in the state dir


class TrainingRun:
    """ "train now": the same job as `dunkwatch train`, in the background, one at a time."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.log_path = cfg.paths.state_dir / TRAIN_LOG
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> bool:
        with self._lock:
            if self.running():
                return False
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "w", encoding="utf-8") as out:
                self._proc = subprocess.Popen(
                    train_command(self.cfg), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            return True

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def tail(self, lines: int = 12) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
