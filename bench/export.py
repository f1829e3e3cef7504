"""Clip writing, side by side in one run: the same segments of the same files in each export.mode.

    .venv/bin/python bench/export.py [--only NAME ...]

Inputs (made once into bench/.cache, from bench/throughput.py --4k's renders):
  - 4k30_hevc: 15 s portrait 4K30 HEVC, 8-bit SDR, about 45 Mbit/s, open GOPs of one second;
  - 4k30_hlg: the same as 10-bit HLG;
  - 1080p_h264: 20 s 1080p30 H.264 at about 16 Mbit/s with a keyframe every second and B-frames;
  - 120fps_vfr: 10 s 1080p H.264 at 120 fps with one frame in seven dropped (variable frame rate).
For each input it times write_clips (two clips and the reel) in smart, reencode and copy modes, in
this process (ffmpeg runs as child processes), and checks that every clip decodes without an error
(`ffmpeg -v error -i CLIP -f null -`). Prints a table of times and ratios to reencode, and which
clips were smart-cut (the rest fell back to a re-encode, with the reason).

    .venv/bin/python bench/export.py --process

Also times `dunkwatch process` on 4k30_hevc with clips in the default mode against the analysis
alone (`--no-clips`), both as whole processes.

    .venv/bin/python bench/export.py --short-head

Times smart clips of 4k30_hevc that start just before a keyframe: a head no longer than the
keyframe's decode delay is grown to the next keyframe (VLC would skip it: cut_plan.plan_cut), and
this is what that costs beside a clip with a long head and one with none, and a re-encode.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dunkwatch.config import from_dict  # noqa: E402
from dunkwatch.media import ffmpeg_exe, probe  # noqa: E402
from dunkwatch.pipeline.cutting.export import write_clips  # noqa: E402
from dunkwatch.pipeline.scoring.segment import Segment  # noqa: E402

CACHE = REPO / "bench" / ".cache"
SEGMENTS = {
    "4k30_hevc": ((1.3, 6.7), (8.2, 13.9)),
    "4k30_hlg": ((1.3, 6.7), (8.2, 13.9)),
    "1080p_h264": ((2.3, 8.6), (11.1, 18.4)),
    "120fps_vfr": ((1.2, 4.7), (5.9, 9.3)),
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def inputs() -> dict[str, Path]:
    renders = {"4k30_hevc": CACHE / "4k30_hevc_portrait.mov", "4k30_hlg": CACHE / "4k30_hlg_portrait.mov"}
    if not all(p.exists() for p in renders.values()):
        print("making the 4K renders with bench/throughput.py --4k (minutes)")
        from throughput import make_4k_inputs  # noqa: E402  (bench/ is this script's folder)

        make_4k_inputs()
    made = {}
    for name, render in renders.items():
        # A phone writes a keyframe about every second; x265's default is every 250 frames.
        made[name] = CACHE / f"export_{name}.mov"
        if not made[name].exists():
            hlg = ["colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc"] if name.endswith("hlg") else []
            ffmpeg(
                "-noautorotate",
                "-i",
                str(render),
                "-map",
                "0",
                "-c:a",
                "copy",
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-b:v",
                "45M",
                "-maxrate",
                "45M",
                "-bufsize",
                "45M",
                "-pix_fmt",
                "yuv420p10le" if hlg else "yuv420p",
                "-x265-params",
                ":".join(["log-level=error:keyint=30:min-keyint=30:open-gop=1", *hlg]),
                "-tag:v",
                "hvc1",
                str(made[name]),
            )
    h264 = CACHE / "export_1080p_h264.mp4"
    if not h264.exists():
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1920x1080:r=30:d=20",
            "-f",
            "lavfi",
            "-i",
            "sine=d=20:sample_rate=48000",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "16M",
            "-maxrate",
            "16M",
            "-bufsize",
            "16M",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(h264),
        )
    vfr = CACHE / "export_120fps_vfr.mp4"
    if not vfr.exists():
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1920x1080:r=120:d=10",
            "-f",
            "lavfi",
            "-i",
            "sine=d=10:sample_rate=48000",
            "-vf",
            "select='not(eq(mod(n\\,7)\\,3))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "30M",
            "-g",
            "120",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(vfr),
        )
    return {**made, "1080p_h264": h264, "120fps_vfr": vfr}


class Reasons(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "not smart-cut" in record.getMessage() or "reel is re-encoded" in record.getMessage():
            self.lines.append(record.getMessage())


def clean(path: Path) -> bool:
    return (
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
        ).stderr
        == ""
    )


def time_modes(name: str, video: Path) -> list[tuple[str, str, float, str]]:
    info = probe(video)
    segments = [Segment(start=s, end=e, clip_start=s, clip_end=e, peak=1.0) for s, e in SEGMENTS[name]]
    reasons = Reasons()
    logging.getLogger("dunkwatch.pipeline.cutting.export").addHandler(reasons)
    logging.getLogger("dunkwatch.pipeline.cutting.export").setLevel(logging.INFO)
    rows = []
    for mode in ("smart", "reencode", "copy"):
        with tempfile.TemporaryDirectory(prefix=f"export-{mode}-") as out:
            cfg = from_dict({"export": {"mode": mode}}, Path(out)).export
            reasons.lines.clear()
            started = time.perf_counter()
            clips, reel = write_clips(info, segments, Path(out), cfg)
            elapsed = time.perf_counter() - started
            ok = all(clean(p) for p in [*clips, *([reel] if reel else [])])
            note = "; ".join(reasons.lines) or ("smart-cut" if mode == "smart" else "")
            verdict = ("decodes clean" if ok else "DECODE ERRORS") + (f"; {note}" if note else "")
            rows.append((name, mode, elapsed, verdict))
    logging.getLogger("dunkwatch.pipeline.cutting.export").removeHandler(reasons)
    return rows


def process_times(video: Path) -> list[tuple[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="export-process-") as work:
        config = Path(work) / "config.toml"
        config.write_text('[paths]\nstate_dir = "state"\noutbox = "outbox"\n[export]\ntimeline = false\n')
        for label, extra in (("analysis alone (--no-clips)", ["--no-clips"]), ("with clips, default mode", [])):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dunkwatch",
                    "process",
                    str(video),
                    "--scorer",
                    "motion",
                    "--config",
                    str(config),
                    *extra,
                ],
                check=True,
                cwd=REPO,
                capture_output=True,
            )
            rows.append((label, time.perf_counter() - started))
    return rows


def short_heads(video: Path) -> int:
    """Clips to 6.7 s from 2.9 s (three frames before the keyframe at 3.0), 2.3 s and 3.0 s."""
    from dunkwatch.pipeline.cutting.cut_plan import plan_cut
    from dunkwatch.pipeline.cutting.smart_cut import smart_index

    info = probe(video)
    print("| clip | mode | head frames re-encoded | time |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as out:
        for mode in ("smart", "reencode"):
            cfg = from_dict({"export": {"mode": mode, "highlight_reel": False}}, Path(out)).export
            index = smart_index(info, cfg) if mode == "smart" else None
            for start in (2.9, 2.3, 3.0):
                head = plan_cut(index, start, 6.7).head_frames if index is not None else "all"
                started = time.monotonic()
                write_clips(info, [Segment(start, 6.7, start, 6.7, 1.0)], Path(out), cfg)
                print(f"| {start} to 6.7 s | {mode} | {head} | {time.monotonic() - started:.1f} s |", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="input names to run (default: all)")
    parser.add_argument("--process", action="store_true", help="also time `dunkwatch process` on 4k30_hevc")
    parser.add_argument("--short-head", action="store_true", help="only time clips that start near a keyframe")
    args = parser.parse_args()
    videos = inputs()
    if args.short_head:
        return short_heads(videos["4k30_hevc"])
    if args.only:
        videos = {k: v for k, v in videos.items() if k in args.only}
    rows = []
    for name, video in videos.items():
        for row in time_modes(name, video):
            rows.append(row)
            print(f"{row[0]:11} {row[1]:9} {row[2]:7.1f} s  {row[3]}", flush=True)
    print(f"\n{__import__('os').cpu_count()} CPU(s); command: {' '.join(sys.argv)}")
    print("| input | mode | time | x reencode | clips |")
    print("| --- | --- | --- | --- | --- |")
    reencode = {name: t for name, mode, t, _ in rows if mode == "reencode"}
    for name, mode, elapsed, note in rows:
        print(f"| {name} | {mode} | {elapsed:.1f} s | {elapsed / reencode[name]:.2f}x | {note} |")
    if args.process:
        timed = process_times(videos.get("4k30_hevc", CACHE / "4k30_hevc_portrait.mov"))
        print("\n| 4k30_hevc, `dunkwatch process --scorer motion` | time | x analysis alone |")
        print("| --- | --- | --- |")
        for label, elapsed in timed:
            print(f"| {label} | {elapsed:.1f} s | {elapsed / timed[0][1]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
