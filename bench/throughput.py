"""Throughput against the decode floor, side by side, in one run, on the same inputs.

    .venv/bin/python bench/throughput.py [--quick] [--skip-dvr-scan]

Makes its inputs from the real sample footage (samples/one-by-one-person-detection.mp4), scaled
to 1080p30 H.264:
  - mostly_empty: about 2 minutes, a player in view about 10% of the time;
  - in_view: about 1 minute with a player in view throughout;
  - ten_minutes: mostly_empty five times over (stream copy), for memory.
Then, for each input, it times:
  - the ffmpeg decode floor: `ffmpeg -i VIDEO -f null -`;
  - `dunkwatch process --no-clips --scorer motion`;
  - the same with `--scorer cnn`, with a 224x224 model made by tests/helpers/model_factory.py;
  - DVR-Scan's defaults, scan only, from its own virtual environment (bench/.dvr-venv; it pulls
    opencv-contrib-python, which would replace the project's cv2).
Every time is a whole process, start included; peak RSS comes from wait4() for that process.
Prints a table of times and ratios to the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))

from dunkwatch.media import ffmpeg_exe  # noqa: E402

SAMPLE = REPO / "samples" / "one-by-one-person-detection.mp4"
CACHE = REPO / "bench" / ".cache"
DVR_VENV = REPO / "bench" / ".dvr-venv"
DVR_VERSION = "1.8.2.1"
# Frame ranges of the sample (10 fps) with nobody in view, and one visit, from its ground truth.
EMPTY_RANGES = [(0, 59), (200, 226), (450, 501), (701, 744), (870, 919), (1201, 1233), (1361, 1393)]
VISIT = (227, 449)


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def concat_ranges(ranges: list[tuple[int, int]], dest: Path) -> None:
    """The given 10 fps frame ranges of the sample, in order, as 1080p30 H.264."""
    parts = "".join(f"[0:v]trim=start_frame={a}:end_frame={b + 1},setpts=PTS-STARTPTS[v{i}];"
                    for i, (a, b) in enumerate(ranges))
    chain = "".join(f"[v{i}]" for i in range(len(ranges)))
    graph = parts + f"{chain}concat=n={len(ranges)}:v=1:a=0,fps=30,scale=1920:1080[out]"
    ffmpeg("-i", str(SAMPLE), "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "23", "-pix_fmt", "yuv420p", str(dest))


def make_inputs(quick: bool) -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    videos = {"mostly_empty": CACHE / "mostly_empty_1080p30.mp4", "in_view": CACHE / "in_view_1080p30.mp4",
              "ten_minutes": CACHE / "ten_minutes_1080p30.mp4"}
    if not videos["mostly_empty"].exists():
        # About 30 s of empty court four times over, with one 22 s visit in the middle: ~10% in view.
        ranges = EMPTY_RANGES * 2 + [VISIT] + EMPTY_RANGES * 2
        concat_ranges(ranges, videos["mostly_empty"])
    if not videos["in_view"].exists():
        concat_ranges([VISIT, (60, 199), VISIT], videos["in_view"])
    if not videos["ten_minutes"].exists():
        listing = CACHE / "ten.txt"
        listing.write_text("".join(f"file '{videos['mostly_empty'].name}'\n" for _ in range(5)))
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(videos["ten_minutes"]))
    if quick:
        videos.pop("ten_minutes")
    return videos


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of that process tree's largest member, output tail)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            cwd=REPO)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out[-2000:]


def dvr_scan_exe() -> Path | None:
    exe = DVR_VENV / "bin" / "dvr-scan"
    if not exe.exists():
        print(f"setting up DVR-Scan {DVR_VERSION} in {DVR_VENV} (its own venv: it brings opencv-contrib-python)")
        subprocess.run([sys.executable, "-m", "venv", str(DVR_VENV)], check=True)
        subprocess.run([str(DVR_VENV / "bin" / "pip"), "install", "-q", f"dvr-scan=={DVR_VERSION}"], check=True)
    return exe if exe.exists() else None


def prepare_model(state_dir: Path) -> str:
    from model_factory import promote_toy_model

    return promote_toy_model(state_dir, size=224)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="leave out the 10-minute video")
    parser.add_argument("--skip-dvr-scan", action="store_true")
    parser.add_argument("--only", nargs="*", help="input names to run (default: all)")
    args = parser.parse_args()

    videos = make_inputs(args.quick)
    if args.only:
        videos = {k: v for k, v in videos.items() if k in args.only}
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-throughput-"))
    (work / "config.toml").write_text('[paths]\nstate_dir = "state"\noutbox = "outbox"\n'
                                      '[export]\ntimeline = false\n')
    version = prepare_model(work / "state")
    dvr = None if args.skip_dvr_scan else dvr_scan_exe()
    python = sys.executable
    rows = []
    for name, video in videos.items():
        floor, floor_rss, _ = timed([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(video),
                                     "-f", "null", "-"])
        results = {"ffmpeg decode (floor)": (floor, floor_rss)}
        for scorer in ("motion", "cnn"):
            cmd = [python, "-m", "dunkwatch", "process", str(video), "--no-clips", "--scorer", scorer,
                   "--config", str(work / "config.toml"), "--json"]
            elapsed, rss, _ = timed(cmd)
            results[f"dunkwatch {scorer}"] = (elapsed, rss)
        if dvr is not None and name != "ten_minutes":
            elapsed, rss, _ = timed([str(dvr), "-i", str(video), "-so", "-q"])
            results[f"DVR-Scan {DVR_VERSION} defaults"] = (elapsed, rss)
        for what, (elapsed, rss) in results.items():
            rows.append((name, what, elapsed, elapsed / floor, rss))
            print(f"{name:13} {what:28} {elapsed:7.1f} s  {elapsed / floor:5.2f}x  {rss:7.0f} MB", flush=True)

    print()
    print(f"model {version} (224x224), {os.cpu_count()} CPU(s); command: {' '.join(sys.argv)}")
    print("| input | what | time | x decode floor | peak RSS |")
    print("| --- | --- | --- | --- | --- |")
    for name, what, elapsed, ratio, rss in rows:
        print(f"| {name} | {what} | {elapsed:.1f} s | {ratio:.2f}x | {rss:.0f} MB |")
    print("RESULT " + json.dumps([dict(zip(("input", "what", "seconds", "ratio", "rss_mb"), r)) for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
