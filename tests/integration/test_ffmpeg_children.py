"""An ffmpeg that dunkwatch started never outlives it: killed with -9 mid-write, the service takes
its ffmpeg with it, so nothing writes on into a `.part` file that the restarted service cleans up
and writes again."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import sys, threading
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from dunkwatch.pipeline.cutting.export import _run_ffmpeg
target = Path(sys.argv[2])
# From a thread, as the service's jobs thread does: a minute of video, far longer than the test.
worker = threading.Thread(target=_run_ffmpeg, args=(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=60",
                          "-c:v", "libx264", "-preset", "veryslow", "-f", "mp4", str(target)], target, 60.0))
worker.start()
print("started", flush=True)
worker.join()
"""


def ffmpeg_writing(target: Path) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(target).encode() in cmdline and b"-i" in cmdline:
                pids.append(int(entry))
    return pids


def test_an_ffmpeg_writing_a_clip_dies_with_a_service_killed_with_minus_9(tmp_path):
    target = tmp_path / ".clip.mp4.part"
    service = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(REPO), str(target)], stdout=subprocess.PIPE, text=True
    )
    assert service.stdout is not None
    assert service.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while not ffmpeg_writing(target) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ffmpeg_writing(target), "ffmpeg never started"
    service.send_signal(signal.SIGKILL)
    service.wait()
    deadline = time.monotonic() + 10
    while ffmpeg_writing(target) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ffmpeg_writing(target), "ffmpeg outlived the service that started it"
