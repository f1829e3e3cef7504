"""Throughput against the decode floor, side by side, in one run, on the same inputs.

    .venv/bin/python bench/throughput.py [--quick] [--skip-dvr-scan]

Makes its inputs with the test suite's synthetic court renderer, encoded as 1080p30 H.264 with
audio (the real sample switches between two framings, which is no tripod footage to time):
  - mostly_empty: 3 minutes, a player in view 10% of the time;
  - in_view: 1 minute with a player in view throughout;
  - ten_minutes: mostly_empty over and over for 10 minutes (stream copy), for memory.
Then, for each input, it times:
  - the ffmpeg decode floor: `ffmpeg -i VIDEO -f null -`;
  - the floor when frames nothing refers to are skipped: `ffmpeg -skip_frame noref -i VIDEO -f null -`;
  - `dunkwatch process --no-clips --scorer motion`;
  - the same with `--scorer cnn`, with a 224x224 model made by tests/helpers/model_factory.py;
  - DVR-Scan's defaults, scan only, from its own virtual environment (bench/.dvr-venv; it pulls
    opencv-contrib-python, which would replace the project's cv2).
With --no-attempts, motion also runs with attempts.enabled = false: what finding shots costs
(every frame decoded and looked at in grey), side by side. Every time is a whole process, start
included; peak RSS comes from wait4() for that process.
Every dunkwatch run starts from its own copy of one state folder, as a service that has run before
on this machine finds it: the person detector's graph already converted (once per machine), the
code compiled to bytecode (as `make install` leaves it), no court remembered, so each run is the
first video of its court. With --again, motion (and --before) run a second time on the state their
first run left, the court remembered, as every later video of the same camera finds it.
With --repeat N, the floor and every run are timed N times in turn, and the table gives medians:
of the times, and of each round's ratio to its own round's floor (this machine's speed drifts).
Prints a table of times and ratios to the floor.

    .venv/bin/python bench/throughput.py --4k [--skip-dvr-scan]

iPhone-like 4K instead: 15 s portrait HEVC (stored 3840x2160 with a display matrix, as the phone
stores it) at about 50 Mbit/s for 4K30 and 65 Mbit/s for 4K60, 8-bit SDR, plus a 10-bit HLG 4K30
copy; motion scoring only. For the HLG file it also times the decoder itself both ways, side by
side: frames tone-mapped to SDR through ffmpeg (what dunkwatch does) and PyAV's plain 8-bit
decode of the same file (what it would cost without the tone mapping).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))
sys.path.insert(0, str(REPO / "tests"))

from dunkwatch.media import ffmpeg_exe  # noqa: E402

CACHE = REPO / "bench" / ".cache"
DVR_VENV = REPO / "bench" / ".dvr-venv"
DVR_VERSION = "1.8.2.1"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def render(scene, dest: Path, encoding: list[str] | None = None) -> None:
    """Stream a synthetic scene's frames into ffmpeg with AAC audio; by default upscaled to 1080p30 H.264."""
    encoding = encoding or [
        "-vf",
        "scale=1920:1080:flags=bicubic",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
    ]
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{scene.width}x{scene.height}",
        "-r",
        f"{scene.fps:g}",
        "-i",
        "-",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=amplitude=0.05:sample_rate=44100",
        "-shortest",
        *encoding,
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        str(dest),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for frame in scene.frames():
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg failed writing {dest}")


def make_inputs(quick: bool) -> dict[str, Path]:
    """Synthetic half courts (the test suite's renderer: sensor noise, a player of 6% x 45% of the
    frame), drawn at 480x270 and encoded at 1080p30 so decoding costs what a phone video costs."""
    from conftest import Scene, Visit

    CACHE.mkdir(parents=True, exist_ok=True)
    videos = {
        "mostly_empty": CACHE / "mostly_empty_1080p30.mp4",
        "in_view": CACHE / "in_view_1080p30.mp4",
        "ten_minutes": CACHE / "ten_minutes_1080p30.mp4",
    }
    if not videos["mostly_empty"].exists():
        # 3 minutes, one 18 s visit: in view 10% of the time, as in the article's footage.
        render(
            Scene(width=480, height=270, duration=180.0, visits=[Visit(80.0, 98.0, 0.1, 0.9)]), videos["mostly_empty"]
        )
    if not videos["in_view"].exists():
        # 1 minute of a player shuttling across the court the whole time.
        render(
            Scene(width=480, height=270, duration=60.0, visits=[Visit(0.0, 60.0, 0.15, 0.85, shuttle=6.0)]),
            videos["in_view"],
        )
    if not videos["ten_minutes"].exists():
        listing = CACHE / "ten.txt"
        listing.write_text("".join(f"file '{videos['mostly_empty'].name}'\n" for _ in range(10 // 3 + 1)))
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-t", "600", "-c", "copy", str(videos["ten_minutes"]))
    if quick:
        videos.pop("ten_minutes")
    return videos


def make_4k_inputs() -> dict[str, Path]:
    """Synthetic courts at iPhone 4K: drawn at 480x270, scaled to 3840x2160, encoded as HEVC at the
    phone's bit rates and stored turned (portrait: landscape pixels, a display matrix)."""
    from conftest import Scene, Visit

    CACHE.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, fps, rate, hdr in (
        ("4k30_hevc", 30, "50M", False),
        ("4k60_hevc", 60, "65M", False),
        ("4k30_hlg", 30, "50M", True),
    ):
        dest = CACHE / f"{name}_portrait.mov"
        made[name] = dest
        if dest.exists():
            continue
        scene = Scene(width=480, height=270, fps=float(fps), duration=15.0, visits=[Visit(5.0, 9.0, 0.2, 0.8)])
        colour = (
            [
                "-vf",
                "scale=3840:2160:flags=bicubic,zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:"
                "t=arib-std-b67:m=bt2020nc:p=bt2020:r=tv,format=yuv420p10le",
                "-x265-params",
                "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
                "-color_primaries",
                "bt2020",
                "-color_trc",
                "arib-std-b67",
                "-colorspace",
                "bt2020nc",
            ]
            if hdr
            else ["-vf", "scale=3840:2160:flags=bicubic,format=yuv420p", "-x265-params", "log-level=error"]
        )
        stored = CACHE / f".{name}_stored.mov"
        render(
            scene,
            stored,
            [
                *colour,
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-b:v",
                rate,
                "-maxrate",
                rate,
                "-bufsize",
                rate,
                "-tag:v",
                "hvc1",
            ],
        )
        ffmpeg("-display_rotation", "-90", "-i", str(stored), "-c", "copy", str(dest))
        stored.unlink()
    return made


HDR_DECODE = """
import sys, time, dataclasses
from dunkwatch.media import probe
from dunkwatch.pipeline.scoring.decode import VideoReader
info = probe(sys.argv[1])
for label, view in (("tone-mapped to SDR (ffmpeg)", info),
                    ("plain 8-bit (PyAV)", dataclasses.replace(info, color_transfer=""))):
    started = time.perf_counter()
    n = sum(1 for _ in VideoReader(info.path, 5.0, max_side=320, info=view))
    print(f"{label}|{time.perf_counter() - started:.2f}|{n}", flush=True)
"""


def timed(cmd: list[str], env: dict | None = None, cwd: Path = REPO) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MB of that process, its stdout, its CPU seconds: user + system);
    stderr goes to a file. `python -m dunkwatch` runs the code of `cwd` (the first entry of
    sys.path)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd)
        out = proc.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{err.read().decode(errors='replace')[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def dvr_scan_exe() -> Path | None:
    exe = DVR_VENV / "bin" / "dvr-scan"
    if not exe.exists():
        print(f"setting up DVR-Scan {DVR_VERSION} in {DVR_VENV} (its own venv: it brings opencv-contrib-python)")
        subprocess.run([sys.executable, "-m", "venv", str(DVR_VENV)], check=True)
        subprocess.run([str(DVR_VENV / "bin" / "pip"), "install", "-q", f"dvr-scan=={DVR_VERSION}"], check=True)
    return exe if exe.exists() else None


def prepare_model(state_dir: Path) -> str:
    """In a child process, so TensorFlow's memory never inflates the RSS of the processes timed here
    (a forked child starts out counting its parent's pages)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from model_factory import promote_toy_model; "
        "print(promote_toy_model(__import__('pathlib').Path(sys.argv[1]), size=224))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(state_dir), str(REPO / "tests" / "helpers")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return out.stdout.strip().splitlines()[-1]


def warm_detector(cache: Path) -> None:
    """The person detector's cache as a service that has run before leaves it, and every run uses
    it, as systemd's CacheDirectory= gives the service ($CACHE_DIRECTORY): the graph converted, and
    the looks' and the look-ahead's graphs compiled. In each run's state folder instead, it would
    move with every copy, and OpenVINO keys a compiled graph by its path: every run would compile
    again (0.65 s of CPU each), which a service does once. Twice, in child processes: the first
    start converts the graph, the second compiles the converted one (person._compiled)."""
    code = (
        "from dunkwatch.pipeline.scoring.person import PersonDetector, detector_cache; "
        "d = PersonDetector(cache=detector_cache('unused')); d.ready(); d.inline_twin().ready()"
    )
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "CACHE_DIRECTORY": str(cache)}
        )
    os.environ["CACHE_DIRECTORY"] = str(cache)  # for every run from here on


def compile_code(*trees: Path | None) -> None:
    """Each checkout's modules compiled to bytecode, as `make install` leaves them: a run that
    cannot write them (PYTHONDONTWRITEBYTECODE, or a service's read-only code) would compile them
    again every time."""
    for tree in trees:
        if tree is not None:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "dunkwatch")], check=True)


def boundary_shift(a: list[dict], b: list[dict]) -> str:
    """The largest start/end difference between two segment lists, when they pair up."""
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} segments"
    worst = max((abs(x[k] - y[k]) for x, y in zip(a, b) for k in ("start", "end")), default=0.0)
    return f"{len(a)} segments each, largest boundary difference {worst:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="leave out the 10-minute video")
    parser.add_argument("--skip-dvr-scan", action="store_true")
    parser.add_argument("--only", nargs="*", help="input names to run (default: all)")
    parser.add_argument(
        "--4k",
        dest="four_k",
        action="store_true",
        help="iPhone-like 4K30/4K60 HEVC and a 4K30 HLG file instead, motion only",
    )
    parser.add_argument(
        "--no-prior",
        action="store_true",
        help="also run motion with motion.person_prior = false (the prior's cost, side by side)",
    )
    parser.add_argument("--motion-only", action="store_true", help="leave out the cnn runs")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="also run motion from this checkout of an earlier commit (git worktree add), "
        "side by side with the same inputs and environment",
    )
    parser.add_argument(
        "--no-attempts",
        action="store_true",
        help="also run motion with attempts.enabled = false (what finding shots costs, side by side)",
    )
    parser.add_argument(
        "--no-confirm",
        action="store_true",
        help="also run motion with segment.confirm_people = false (what confirming clips costs; the "
        "synthetic player is no person, so every stretch is looked at as nobody's)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time the floor and every run N times, in turn; give medians (of times, and of each round's "
        "ratio to its own floor)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="also time motion (and --before) a second time on the state the first run left: the "
        "court remembered, as every later video of a camera finds it",
    )
    parser.add_argument(
        "--ungated", action="store_true", help="also run the cnn on every sampled frame and compare segment boundaries"
    )
    args = parser.parse_args()

    videos = make_4k_inputs() if args.four_k else make_inputs(args.quick)
    if args.only:
        videos = {k: v for k, v in videos.items() if k in args.only}
    work = Path(tempfile.mkdtemp(prefix="dunkwatch-throughput-"))
    base = 'outbox = "outbox"\n[export]\ntimeline = false\n'
    gated = base
    ungated = base + "[score]\nmotion_gate = 0.0\n"
    no_prior = base + "[motion]\nperson_prior = false\n"
    no_attempts = base + "[attempts]\nenabled = false\n"
    no_confirm = base + "[segment]\nconfirm_people = false\n"
    with_cnn = not (args.four_k or args.motion_only)
    # What every run starts from, as a service that has run before on this machine: the cnn model
    # promoted, the person detector's graphs converted and compiled (once per machine), no court
    # remembered.
    template = work / "state"
    template.mkdir()
    version = prepare_model(template) if with_cnn else "-"
    warm_detector(work / "cache")
    compile_code(REPO, args.before)
    dvr = None if args.skip_dvr_scan else dvr_scan_exe()
    python = sys.executable
    rows = []
    for name, video in videos.items():
        variants = [("motion", "motion", gated)] + ([("cnn", "cnn", gated)] if with_cnn else [])
        if args.no_prior:
            variants.insert(0, ("motion, no person prior", "motion", no_prior))
        if args.no_attempts:
            variants.insert(0, ("motion, no attempts", "motion", no_attempts))
        if args.no_confirm:
            variants.insert(0, ("motion, no confirmation", "motion", no_confirm))
        if args.ungated and with_cnn and name != "ten_minutes":
            variants.append(("cnn, every frame", "cnn", ungated))
        if args.before:
            variants.insert(0, ("motion, before", "motion", gated))
        runs = [(label, scorer, config, False) for label, scorer, config in variants]
        if args.again:
            runs += [
                (label, "motion", gated, True) for label, _, _ in variants if label in ("motion", "motion, before")
            ]
        # Each round times the floor, then every run, in turn: a machine that speeds up or slows down
        # over the minutes weighs on all of them alike, and each ratio is to its own round's floor.
        timings: dict[str, list[tuple[float, float, float, float]]] = {}  # what -> (s, ratio, rss, cpu) a round
        segments = {}
        for round_ in range(args.repeat):
            floor, floor_rss, _, floor_cpu = timed(
                [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(video), "-f", "null", "-"]
            )
            results = {"ffmpeg decode (floor)": (floor, floor_rss, floor_cpu)}
            # What decoding costs when frames nothing refers to are skipped, as the reader may.
            noref, noref_rss, _, noref_cpu = timed(
                [
                    ffmpeg_exe(),
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-skip_frame",
                    "noref",
                    "-i",
                    str(video),
                    "-f",
                    "null",
                    "-",
                ]
            )
            results["ffmpeg decode, -skip_frame noref"] = (noref, noref_rss, noref_cpu)
            for label, scorer, config, again in runs:
                state = work / f"state-{name}-{round_}-{label.replace(', ', '-').replace(' ', '_')}"
                if not again:  # each run on a copy of the template: the first video of this court
                    shutil.copytree(template, state)
                config_file = state.with_suffix(".toml")
                config_file.write_text(f'[paths]\nstate_dir = "{state.name}"\n' + config)
                cmd = [
                    python,
                    "-m",
                    "dunkwatch",
                    "process",
                    str(video),
                    "--no-clips",
                    "--scorer",
                    scorer,
                    "--config",
                    str(config_file),
                    "--json",
                ]
                elapsed, rss, out, cpu = timed(cmd, cwd=args.before.resolve() if label.endswith(", before") else REPO)
                label = f"{label}, again (court remembered)" if again else label
                results[f"dunkwatch {label}"] = (elapsed, rss, cpu)
                segments[label] = json.loads(out)["segments"]
            for what, (elapsed, rss, cpu) in results.items():
                timings.setdefault(what, []).append((elapsed, elapsed / floor, rss, cpu))
                if args.repeat > 1:
                    print(
                        f"  round {round_ + 1}: {what:28} {elapsed:7.1f} s  {elapsed / floor:5.2f}x  CPU {cpu:5.1f} s",
                        flush=True,
                    )
        results = {}
        ratios = {}
        for what, rounds in timings.items():
            results[what] = (
                statistics.median(t for t, _, _, _ in rounds),
                max(r for _, _, r, _ in rounds),
                statistics.median(c for _, _, _, c in rounds),
            )
            ratios[what] = statistics.median(x for _, x, _, _ in rounds)
        if "cnn, every frame" in segments:
            print(
                f"{name}: cnn boundaries, gated vs every frame: "
                f"{boundary_shift(segments['cnn'], segments['cnn, every frame'])}"
            )
        if dvr is not None and name != "ten_minutes":
            elapsed, rss, _, cpu = timed([str(dvr), "-i", str(video), "-so", "-q"])
            results[f"DVR-Scan {DVR_VERSION} defaults"] = (elapsed, rss, cpu)
        if name.endswith("hlg"):
            out = subprocess.run(
                [python, "-c", HDR_DECODE, str(video)], capture_output=True, text=True, cwd=REPO, check=True
            ).stdout
            decode = {label: (float(t), int(n)) for label, t, n in (line.split("|") for line in out.splitlines())}
            (mapped, n), (plain, _) = decode.values()
            print(
                f"{name}: decoding alone, {n} sampled frames: tone-mapped {mapped:.1f} s, plain 8-bit {plain:.1f} s, "
                f"{mapped / plain:.2f}x",
                flush=True,
            )
        for what, (elapsed, rss, cpu) in results.items():
            ratio = ratios.get(what, elapsed / results["ffmpeg decode (floor)"][0])
            rows.append((name, what, elapsed, ratio, rss, cpu))
            print(f"{name:13} {what:28} {elapsed:7.1f} s  {ratio:5.2f}x  {rss:7.0f} MB  CPU {cpu:5.1f} s", flush=True)

    print()
    print(f"model {version} (224x224), {os.cpu_count()} CPU(s); command: {' '.join(sys.argv)}")
    print("| input | what | time | x decode floor | peak RSS | CPU (user + system) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, what, elapsed, ratio, rss, cpu in rows:
        print(f"| {name} | {what} | {elapsed:.1f} s | {ratio:.2f}x | {rss:.0f} MB | {cpu:.1f} s |")
    keys = ("input", "what", "seconds", "ratio", "rss_mb", "cpu_s")
    print("RESULT " + json.dumps([dict(zip(keys, r)) for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
