"""`dunkwatch status`: the journal, the quarantine and the model registry, summarised."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from dunkwatch.config import Config
from dunkwatch.disk_space import SPACE_KEY
from dunkwatch.errors import ModelError
from dunkwatch.learn import registry
from dunkwatch.store import Store


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def quarantined(folder: Path) -> list[dict]:
    """Files in the quarantine with the reason written beside each."""
    found = []
    if folder.is_dir():
        for reason_file in sorted(folder.rglob("*.error.txt")):
            video = reason_file.with_name(reason_file.name[: -len(".error.txt")])
            if os.path.lexists(video):  # a quarantined symlink counts even when it points nowhere
                found.append({"file": str(video), "reason": reason_file.read_text(encoding="utf-8",
                                                                                   errors="replace").strip()})
    return found


def collect_status(cfg: Config) -> dict:
    store = Store(cfg.paths.state_dir)
    try:
        counts = store.counts()
        errors = [{"video": v.name, "state": v.state, "error": v.error, "when": _when(v.updated)}
                  for v in store.recent(limit=5, with_error=True)]
        recent = [{"video": v.name, "state": v.state, "sha256": (v.sha256 or "")[:12],
                   "attempts": v.attempts, "duplicate_of": v.duplicate_of, "when": _when(v.updated)}
                  for v in store.recent(limit=10)]
        next_training = store.get_meta("next_training")
        last_training = store.get_meta("last_training")
        waiting = store.get_meta(SPACE_KEY)
    finally:
        store.close()
    try:
        model = registry.current_version(cfg.paths.state_dir)
    except ModelError as exc:
        model = f"broken: {exc}"
    return {
        "counts": counts,
        "queue": counts["seen"] + counts["stable"] + counts["processing"],
        "last_errors": errors,
        "recent": recent,
        "quarantine": quarantined(cfg.paths.quarantine),
        "model": model,
        "next_training": next_training,
        "last_training": last_training,
        "waiting_for_space": waiting,
        "journal": str(Path(cfg.paths.state_dir) / "journal.sqlite3"),
    }


def format_status(report: dict) -> str:
    c = report["counts"]
    lines = [f"videos: {c['done']} done ({c['duplicates']} duplicates), {c['failed']} failed, "
             f"{c['processing']} processing, {c['stable']} queued, {c['seen']} arriving",
             f"queue: {report['queue']}",
             f"model: {report['model'] or 'none promoted (motion scorer)'}",
             f"next training: {report['next_training'] or 'not scheduled'}"]
    if report.get("waiting_for_space"):
        w = report["waiting_for_space"]
        lines.append(f"waiting for disk space since {_when(w['since'])}: {w['video']}: {w['message']}")
    if report.get("last_training"):
        lines.append(f"last training: {report['last_training']}")
    if report["last_errors"]:
        lines.append("last errors:")
        lines += [f"  {e['when']}  {e['video']} ({e['state']}): {e['error']}" for e in report["last_errors"]]
    if report["quarantine"]:
        lines.append(f"quarantine ({len(report['quarantine'])}):")
        lines += [f"  {Path(q['file']).name}: {q['reason']}" for q in report["quarantine"]]
    return "\n".join(lines)
