"""A simulated month: one running service fed about 3,000 real-footage videos filmed over 30 days.

    .venv/bin/python bench/month.py [--days 30] [--practices 2] [--per-practice 50] [--seconds 60:300]
        [--correct-days 1,8,15,22] [--train-every 1] [--kill-day 15] [--full-day 20] [--max-gb G]
        [--no-page] [--keep]

Each simulated day has `--practices` practices (07:00 and 18:00) of `--per-practice` videos, cut
from the shared real video (../shared/data/real) and looped to `--seconds` (1 to 5 minutes), each
with a recording time on that day and a comment of its own so that none is a duplicate (the day's
last video is always the middle length: the child's RSS, read after it, follows its length). They are
written beside the inbox and renamed into it, as a sync client does, for one `dunkwatch run`
(defaults, but for the folders, the review page on a free port, the archive cap and a small
training). The clock is simulated: when a day's videos are done, the bench runs that night's
training as the schedule does (`dunkwatch train`, the command the service's own job runs in a
child process). On the correction days it first appends corrections for the first video of each
practice, as a player would: its first segment is a player, the time before it is empty.
`--train-every N` trains every N-th night only: on 2 cores a night's ResNet50 run on the CPU, its
judging on the validation videos included, takes minutes once there are a few dozen videos.

- `--kill-day`: the service is killed with SIGKILL while that day's videos are in flight, and
  started again.
- `--full-day`: the outbox disk is full: a filler file takes the free space down past the reserve
  (`daemon.min_free_mb`, set so that the reserve sits half of the free space below what is free at
  the start; the filler is allocated, not written). The day's videos must wait in the inbox; after
  `--full-seconds` the filler goes and they must all be processed.
- `archive.max_gb` (default: what a third of the month's originals take) makes retention delete
  originals oldest first from about the tenth day on.

Per day it prints, once the service is idle (the log quiet for 10 s and no sessions' refresh
running): videos so far, service and child RSS (and the child's anonymous part) and fds, the
journal's size (with its WAL), the archive's size (MiB), the page load (median of 3 GETs of `/` on
the service's review page), seconds per video (from the day's drop to its last video done, over its
videos; the bench makes the videos meanwhile), the pipeline's own seconds per minute of video (its
"processed in" log lines: no wait around them), the control's seconds per minute (the same 12
videos, cut once, processed each day by a fresh `dunkwatch process` with an empty state folder,
after one video it does not count, while the service is idle) and the service's over the
control's, originals deleted by retention so far, and errors (videos failed, ERROR lines in the
log, a night's training that failed). At the end: RSS drift after day 2 (end to end, and along the
straight line fitted through every day), the drift of each seconds per minute of video and of the
ratio (leaving out the kill and full-disk days, which wait by design), journal bytes per video, the
worst page load, the archive against max_gb (10^9 bytes), and whether every original is accounted
for: in the archive, or deleted by the rule and logged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service_harness import fds, python_children, rss_mb, wait_for  # noqa: E402

from dunkwatch.media import ffmpeg_exe  # noqa: E402
from dunkwatch.service.retention import TRAINING_RECHECK_S  # noqa: E402
from dunkwatch.store import Store  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real" / "one-by-one-person-detection.mp4"
REAL_SECONDS = 139.0
START = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
PRACTICE_HOURS = (7, 18, 12, 21)  # the first --practices of these
MB = 2**20


def make_video(dest: Path, index: int, seconds: float, when: dt.datetime) -> None:
    """A cut of the real video looped to `seconds`, written beside the inbox and renamed into it."""
    part = dest.parent.parent / "media" / dest.name
    start = (index * 7.3) % (REAL_SECONDS - 10)
    args = ["-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1", "-ss", f"{start:.2f}", "-i", str(REAL)]
    args += ["-t", f"{seconds:.1f}", "-c", "copy", "-metadata", f"comment=month take {index}"]
    args += ["-metadata", f"creation_time={when.strftime('%Y-%m-%dT%H:%M:%SZ')}", str(part)]
    subprocess.run([ffmpeg_exe(), *args], check=True)
    os.replace(part, dest)


REFERENCE_VIDEOS = 12  # the control's fixed set, cut once, processed afresh each day


def make_reference(work: Path, shortest: float, longest: float) -> list[tuple[Path, float]]:
    """The control's videos: cuts like the month's own, made once, never dropped into the inbox."""
    media = work / "reference" / "media"
    media.mkdir(parents=True)
    made = []
    for i in range(REFERENCE_VIDEOS + 1):  # the first warms the process up and is not counted
        seconds = shortest + (longest - shortest) * i / REFERENCE_VIDEOS
        make_video(media / f"REF_{i:03d}.MOV", 9000 + 11 * i, seconds, START)
        made.append((media / f"REF_{i:03d}.MOV", seconds))
    return made


def reference_per_minute(work: Path, videos: list[tuple[Path, float]], config: str) -> float | None:
    """The control: the same videos processed afresh (a new `dunkwatch process`, an empty state
    folder), once the service is idle. On a shared machine the host's own speed moves by tens of
    percent over an hour; the service's seconds a minute over the control's, on the same day, are
    what its own state adds (as the throughput bench reports a ratio to its decode floor). The
    control has no model: a promoted one that the service trusts makes the ratio step, by design."""
    ref = work / "reference"
    for folder in ("state", "outbox"):
        shutil.rmtree(ref / folder, ignore_errors=True)
    (ref / "config.toml").write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "process", "--config", str(ref / "config.toml")]
        + [str(path) for path, _ in videos],
        cwd=ref,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        print(f"the control failed (exit {done.returncode}): {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    # The first video pays for the process's first use of each model; the service paid for its own once.
    return processing_per_minute(done.stdout + done.stderr, {path.name for path, _ in videos[1:]})


def settings(max_gb: float, reserve_mb: int, review: str) -> str:
    """The config both the service and the control run with, but for the folders (the working directory's)."""
    return (
        f"[watch]\nstable_seconds = 0.5\n[review]\n{review}\n"
        f"[archive]\nmax_gb = {max_gb}\n[daemon]\nmin_free_mb = {reserve_mb}\n"
        # The service's own schedule stays off the real clock (the bench runs each night's training).
        '[training]\nschedule = "0 3 29 2 *"\nimagenet = false\nepochs = 2\nmax_frames = 400\ncpu_input_size = 64\n'
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def page_load_ms(port: int) -> float:
    loads = []
    for _ in range(3):
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as reply:
            reply.read()
        loads.append(1000 * (time.perf_counter() - started))
    return statistics.median(loads)


def start_service(work: Path) -> subprocess.Popen:
    log = open(work / "service.log", "a")
    return subprocess.Popen(
        [sys.executable, "-m", "dunkwatch", "run", "--config", str(work / "config.toml")],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def correct(work: Path, names: list[str]) -> int:
    """Corrections for these videos, as a player writes them: the first segment is a player and the
    time before it empty. Returns the rows written."""
    store = Store(work / "state")
    rows = []
    for video in store.finished():
        if video.path.name in names and (sidecar := video.sidecar()) and sidecar.segments:
            first = sidecar.segments[0]
            rows.append(f"{video.path.name},{first.start:.1f},{first.end:.1f},dunk,month bench")
            if first.start > 2.0:
                rows.append(f"{video.path.name},0,{first.start - 1.0:.1f},empty,month bench")
    store.close()
    csv = work / "corrections.csv"
    with open(csv, "a") as out:
        if csv.stat().st_size == 0:
            out.write("video,start,end,label,note\n")
        out.write("".join(row + "\n" for row in rows))
    return len(rows)


def train(work: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "train", "--config", str(work / "config.toml")],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    # The summary, not Keras's epoch lines.
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and "Epoch" not in line]
    said = [line for line in lines if line.split(":")[0] in ("promoted", "kept", "skipped", "failed")]
    return (said or lines or ["?"])[-1][:70] if done.returncode == 0 else f"exit {done.returncode}: {lines[-1][:60]}"


def journal_bytes(state: Path) -> int:
    """The journal's logical size, WAL included, read-only: the file alone jumps with checkpoints."""
    db = sqlite3.connect(f"file:{state / 'journal.sqlite3'}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


def accounted_for(work: Path, dropped: list[str]) -> tuple[int, list[str]]:
    """(originals deleted by retention, names neither archived nor deleted-and-logged)."""
    store = Store(work / "state")
    videos = {v.path.name: v for v in store.all()}
    store.close()
    log = (work / "service.log").read_text(errors="replace")
    deleted, missing = 0, []
    for name in dropped:
        video = videos.get(name)
        if video is None or video.state.value != "done":
            missing.append(f"{name}: {video.state.value if video else 'not in the journal'}")
        elif video.original_deleted is not None:
            deleted += 1
            if name not in log:
                missing.append(f"{name}: deleted but not logged")
        elif video.location is None or not video.location.exists():
            missing.append(f"{name}: not in the archive")
    return deleted, missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--practices", type=int, default=2, choices=range(1, len(PRACTICE_HOURS) + 1))
    parser.add_argument("--per-practice", type=int, default=50)
    parser.add_argument("--seconds", default="60:300", help="a video's length, MIN:MAX seconds")
    parser.add_argument("--correct-days", default="1,8,15,22")
    parser.add_argument("--train-every", type=int, default=1, help="train every N simulated nights (1: nightly)")
    parser.add_argument("--kill-day", type=int, default=15)
    parser.add_argument("--full-day", type=int, default=20)
    parser.add_argument("--full-seconds", type=float, default=30.0)
    parser.add_argument("--max-gb", type=float, default=None)
    parser.add_argument("--no-page", action="store_true", help="the service without its review page")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    shortest, longest = (float(x) for x in args.seconds.split(":"))
    correct_days = {int(d) for d in args.correct_days.split(",") if d}
    per_day = args.practices * args.per_practice
    month_bytes = args.days * per_day * (shortest + longest) / 2 * REAL.stat().st_size / REAL_SECONDS
    max_gb = args.max_gb if args.max_gb is not None else round(month_bytes / 3 / 2**30, 3)
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-month-"))
    (work / "media").mkdir()
    (work / "corrections.csv").touch()
    reserve_mb = int(shutil.disk_usage(work).free / MB / 2)
    port = free_port()
    review = f"enabled = {'false' if args.no_page else 'true'}\n" + f'listen = "127.0.0.1:{port}"'
    (work / "config.toml").write_text(settings(max_gb, reserve_mb, review))
    reference = make_reference(work, shortest, longest)
    control_config = settings(max_gb, reserve_mb, "enabled = false")
    print(f"work folder {work}; archive.max_gb = {max_gb}; reserve {reserve_mb} MB", flush=True)
    proc = start_service(work)
    rows, dropped = [], []
    try:
        while not (work / "inbox").is_dir():
            time.sleep(0.1)
        for day in range(1, args.days + 1):
            plan = []  # (name, seconds, recording time) of the day's videos
            for practice in range(args.practices):
                for k in range(args.per_practice):
                    index = len(dropped) + len(plan)
                    seconds = shortest + (longest - shortest) * ((index * 37) % 100) / 99
                    if practice == args.practices - 1 and k == args.per_practice - 1:
                        # The child's RSS is read after the day's last video, and follows its length:
                        # that video is the same length every day, so the days compare like with like.
                        seconds = (shortest + longest) / 2
                    when = START + dt.timedelta(days=day - 1, hours=PRACTICE_HOURS[practice], minutes=6 * k)
                    plan.append((f"IMG_{day:02d}{practice}{k:03d}.MOV", seconds, when))
            names = [name for name, _, _ in plan]
            filler = work / "outbox-filler"
            if day == args.full_day:
                (work / "outbox").mkdir(exist_ok=True)
                with open(filler, "wb") as f:
                    os.posix_fallocate(f.fileno(), 0, shutil.disk_usage(work).free - (reserve_mb - 64) * MB)
            started = time.monotonic()
            for i, (name, seconds, when) in enumerate(plan):
                make_video(work / "inbox" / name, len(dropped) + i, seconds, when)
            dropped += names
            note = ""
            if day == args.full_day:
                time.sleep(args.full_seconds)
                waiting = sum(1 for n in names if (work / "inbox" / n).exists())
                filler.unlink()
                note = f"disk full {args.full_seconds:.0f} s: {waiting}/{len(names)} waited"
            if day == args.kill_day:
                store_start = len(dropped) - len(names)
                while wait_done(work) < store_start + 1:
                    time.sleep(0.2)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                time.sleep(1.0)
                orphans = [p for p in os.listdir("/proc") if p.isdigit() and is_child_of_work(int(p), work)]
                proc = start_service(work)
                note = f"kill -9, restarted ({len(orphans)} orphans)"
            counts = wait_for(work / "state", len(dropped), proc, 24 * 3600)
            elapsed = time.monotonic() - started
            if day in correct_days:
                firsts = [names[p * args.per_practice] for p in range(args.practices)]
                note += f" {correct(work, firsts)} corrections;"
            trained = train(work) if (day - 1) % args.train_every == 0 else "not this night"
            if trained != "not this night":
                time.sleep(TRAINING_RECHECK_S + 2)  # retention, held off while training read the originals
            wait_idle(work, proc.pid)  # the sessions' refresh and retention's pass after the queue emptied
            children = python_children(proc.pid)
            deleted, _ = accounted_for(work, dropped)
            journal = journal_bytes(work / "state")
            archive = folder_bytes(work / "archive")
            log = (work / "service.log").read_text(errors="replace")
            processing = processing_per_minute(log, set(names))
            control = reference_per_minute(work, reference, control_config)
            row = {
                "day": day,
                "videos": len(dropped),
                "service_rss_mb": round(rss_mb(proc.pid), 1),
                "child_rss_mb": round(rss_mb(children[0]), 1) if children else None,
                "child_anon_mb": round(rss_mb(children[0], "RssAnon"), 1) if children else None,
                "fds": f"{fds(proc.pid)}/{fds(children[0]) if children else '-'}",
                "journal_kb": journal // 1024,
                "archive_bytes": archive,  # compared with the cap unrounded
                "archive_mb": round(archive / MB, 1),
                "page_ms": None if args.no_page else round(page_load_ms(port)),
                "s_per_video": round(elapsed / len(names), 2),
                # Videos differ in length (1 to 5 minutes): per minute of video is what can drift.
                "s_per_minute": round(elapsed / (sum(seconds for _, seconds, _ in plan) / 60), 2),
                "processing_s_per_minute": processing,
                "reference_s_per_minute": control,
                # The service's seconds over a fresh process's on the same day: the host's speed cancels.
                "relative": round(processing / control, 3) if processing and control else None,
                "deleted": deleted,
                # A night's training that stopped on an error is one too (a skip or a kept model is not).
                "errors": counts["failed"] + log.count(" ERROR ") + trained.startswith("exit "),
                "episode": day in (args.kill_day, args.full_day),
                "note": f"{note} train: {trained}".strip(),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        report(rows, max_gb, *accounted_for(work, dropped))
        return 0
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)
        print(f"kept {work}" if args.keep else "", flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def wait_quiet(log: Path, quiet: float = 10.0, timeout: float = 180.0) -> None:
    """Until the service's log has not grown for `quiet` seconds: its work after the day is done."""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = log.stat().st_size
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def wait_idle(work: Path, pid: int, timeout: float = 600.0) -> None:
    """Until the log has been quiet for 10 s with no sessions' refresh running. A refresh says
    nothing until it ends (a 50-clip session took about 20 s), and one still running when the next
    day's videos came counted its time in that day's seconds."""
    deadline = time.monotonic() + timeout
    while True:
        wait_quiet(work / "service.log")
        if not any(b"session_child" in cmdline(c) for c in python_children(pid)) or time.monotonic() > deadline:
            return
        time.sleep(1.0)


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # it ended


PROCESSED = re.compile(r"INFO dunkwatch\.pipeline\.process: (\S+): ([\d.]+) s, .* processed in ([\d.]+) s")


def processing_per_minute(log: str, names: set[str]) -> float | None:
    """The pipeline's own seconds per minute of video for these videos, from the service's log:
    what the day's seconds are without the waits around them (a refresh, the bench making videos)."""
    seconds = minutes = 0.0
    for match in PROCESSED.finditer(log):
        if match.group(1) in names:
            minutes += float(match.group(2)) / 60
            seconds += float(match.group(3))
    return round(seconds / minutes, 2) if minutes else None


def wait_done(work: Path) -> int:
    if not (work / "state" / "journal.sqlite3").exists():
        return 0
    store = Store(work / "state")
    try:
        return store.counts().done
    finally:
        store.close()


def is_child_of_work(pid: int, work: Path) -> bool:
    """A dunkwatch process started in the work folder (cwd) that outlived its service."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"dunkwatch" in cmdline and Path(os.readlink(f"/proc/{pid}/cwd")) == work
    except OSError:
        return False


def report(rows: list[dict], max_gb: float, deleted: int, missing: list[str]) -> None:
    print(
        "\n| day | videos | service RSS | child RSS | child anon | fds | journal | archive | page | s/video "
        "| s/min | processing s/min | control s/min | service / control | deleted | errors |"
    )
    print("|" + " --- |" * 16)
    for r in rows:
        print(
            f"| {r['day']} | {r['videos']} | {r['service_rss_mb']} MB | {r['child_rss_mb']} MB | "
            f"{r['child_anon_mb']} MB | {r['fds']} | "
            f"{r['journal_kb']} KB | {r['archive_mb']} MB | {r['page_ms']} ms | {r['s_per_video']} | "
            f"{r['s_per_minute']} | {r.get('processing_s_per_minute')} | {r.get('reference_s_per_minute')} | "
            f"{r.get('relative')} | "
            f"{r['deleted']} | {r['errors']} |"
        )
    settled = rows[2:] or rows
    # The kill restarts the service: memory is compared within each run of days it lived through.
    kill = next((r["day"] for r in rows if r["episode"] and "kill" in r["note"]), None)
    stretches = [[r for r in settled if kill is None or r["day"] < kill], [r for r in rows if kill and r["day"] > kill]]
    for key in ("service_rss_mb", "child_rss_mb", "child_anon_mb"):
        for stretch in (s for s in stretches if len(s) > 1):
            days = [r["day"] for r in stretch if r[key] is not None]
            values = [r[key] for r in stretch if r[key] is not None]
            # The straight line through every day, beside the two ends: one day's noise moves an end.
            slope, intercept = statistics.linear_regression(days, values)
            start, end = intercept + slope * days[0], intercept + slope * days[-1]
            print(
                f"{key}, days {days[0]} to {days[-1]}: {values[0]} to {values[-1]} "
                f"({100 * (values[-1] / values[0] - 1):+.1f}% end to end; fitted {start:.1f} to {end:.1f}, "
                f"{100 * (end / start - 1):+.1f}%; max {max(values)}; target at most 5%)"
            )
    # A day with a kill or a full disk waits by design: its seconds are no drift.
    for key, what in (
        ("s_per_minute", "seconds per minute of video, drop to done"),
        ("processing_s_per_minute", "seconds per minute of video, the pipeline's own"),
        ("reference_s_per_minute", "seconds per minute of the control: a fresh process, the same videos every day"),
        ("relative", "the pipeline's own over the control's: what the service's state adds"),
    ):
        speed = [r[key] for r in settled if not r["episode"] and r.get(key) is not None]
        if len(speed) < 2:
            continue
        half = len(speed) // 2
        first, last = statistics.mean(speed[:half]), statistics.mean(speed[half:])
        print(
            f"after day 2, {what}: first half {first:.3f}, second half {last:.3f} "
            f"({100 * (last / first - 1):+.1f}%{'' if key == 'reference_s_per_minute' else '; target at most 5%'})"
        )
    per_video = [r["journal_kb"] / r["videos"] for r in settled]
    print(f"journal per video: {min(per_video):.1f} to {max(per_video):.1f} KB (linear: a constant)")
    loads = [r["page_ms"] for r in rows if r["page_ms"] is not None]
    print(f"worst page load: {max(loads)} ms (target at most 300 ms)" if loads else "no page")
    most = max(r["archive_bytes"] for r in rows)  # the service's GB is 10^9 bytes
    verdict = "within" if most <= max_gb * 1e9 else "OVER"
    print(
        f"archive at most {most} bytes ({most / MB:.2f} MiB) against max_gb {max_gb} "
        f"({max_gb * 1e9:.0f} bytes): {verdict}"
    )
    print(f"originals deleted by retention: {deleted}; errors: {sum(r['errors'] for r in rows)}")
    print("every original accounted for" if not missing else f"NOT accounted for: {missing[:10]}")


if __name__ == "__main__":
    sys.exit(main())
