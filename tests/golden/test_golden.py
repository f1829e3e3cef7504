"""The golden clip: a committed 21 s cut of real footage whose outputs are known frame for frame.

`room_visit.mp4` (see README.md here) shows an empty room, one person who walks in at 4.0 s and
leaves at 17.0 s, and the empty room again. `dunkwatch process`, as a player runs it on the
shipped defaults, must give exactly the sidecar, files and clip frames in `room_visit.expected.json`.

    python tests/golden/test_golden.py      prints what the clip gives now, to compare or commit
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
CLIP = HERE / "room_visit.mp4"
EXPECTED = HERE / "room_visit.expected.json"
# Names that differ from one checkout or CPU to another: where the clip lies, and the remembered
# court's key (a hash of its median image, whose last bit may differ with the decoder's SIMD path).
SCENE_KEY = re.compile(r"^scene-[0-9a-f]{12}$")


def run_golden(workdir: Path) -> tuple[dict[str, Any], Path]:
    """`dunkwatch process --json` on the golden clip with its own state folder: (what the clip
    gives, in the expected file's shape; the folder of its outputs)."""
    config = workdir / "config.toml"
    config.write_text(f'[paths]\nstate_dir = "{workdir / "state"}"\n')
    out = workdir / "out"
    done = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "process", "--json", "--config", str(config), "--out", str(out), str(CLIP)],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sidecar = json.loads(done.stdout)  # one video: one object
    assert sidecar.pop("video") == str(CLIP)
    scenes = sidecar.pop("scenes")
    assert len(scenes) == 1 and SCENE_KEY.match(scenes[0]), scenes
    folder = out / CLIP.stem
    files = sorted(p.name for p in folder.iterdir())
    clips = {name: clip_frames(folder / name) for name in [*sidecar["clips"], sidecar["highlights"]]}
    return {"sidecar": sidecar, "files": files, "clips": clips}, folder


def clip_frames(path: Path) -> dict[str, Any]:
    """A clip's frame count and its first and last frames' times, in seconds of its own timeline."""
    capture = cv2.VideoCapture(str(path))
    times = []
    while capture.grab():
        times.append(round(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000, 3))
    capture.release()
    return {"frames": len(times), "first": times[0], "last": times[-1]}


def grey_frames(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32))
        ok, frame = capture.read()
    capture.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return run_golden(tmp_path_factory.mktemp("golden"))


def test_the_golden_clip_gives_exactly_its_expected_sidecar_files_and_frames(golden):
    got, _ = golden
    expected = json.loads(EXPECTED.read_text())
    assert got["sidecar"] == expected["sidecar"]
    assert got["files"] == expected["files"]
    assert got["clips"] == expected["clips"]


def test_the_clip_holds_the_sources_frames_in_order_not_one_off(golden):
    """Frame for frame: the clip's k-th frame is the source's frame at clip_start + k. Over the
    frames where the person moves, a clip one frame early or late differs far more from its
    source frames than the right one, whose only difference is the re-encoded head."""
    got, folder = golden
    fps = got["sidecar"]["fps"]
    (segment,) = got["sidecar"]["segments"]
    first = round(segment["clip_start"] * fps)
    clip = grey_frames(folder / got["sidecar"]["clips"][0])
    source = grey_frames(CLIP)
    moving = np.abs(np.diff(source, axis=0)).mean(axis=(1, 2)) > 1.0  # frame k to k+1 shows motion
    errors = {}
    for shift in (-1, 0, 1):
        start = first + shift
        pairs = [(k, start + k) for k in range(len(clip)) if 1 <= start + k < len(source) - 1 and moving[start + k]]
        assert len(pairs) > 20  # the visit moves: the comparison has something to tell apart
        errors[shift] = float(np.mean([np.abs(clip[k] - source[s]).mean() for k, s in pairs]))
    assert errors[0] < 2.0, errors  # the right frames, through a re-encode at most
    assert errors[-1] > 2 * errors[0] and errors[1] > 2 * errors[0], errors


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run_golden(Path(tmp))[0], indent=2, sort_keys=True))
