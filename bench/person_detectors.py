"""Person detectors that ship inside a package, side by side on the shared real video.

    .venv/bin/python bench/person_detectors.py [--mediapipe-python PATH]

For each candidate, one frame a second of ../shared/data/real/ (six people, each seen from behind by
a high camera, standing still at a table for seconds):
- people: the frames with a person in view it fires on, in all and per visit;
- half size: the same frames shrunk to half (the person half as tall), set into the empty room;
- empty: the empty frames it fires on; ball: empty frames with an orange ball rolling on the floor;
- sitting, lying, on the back: the stills of tests/data/poses/ it fires on (other rooms and people:
  four stills of people seated, two lying on the side or front, two lying on the back);
- ms per frame on this machine.
Confirmation drops a stretch in which the detector sees nobody, so firing on an empty frame keeps
a false clip, and a miss on every look of a visit loses it: both columns count.

mediapipe 0.10.14 pins numpy < 2, so it cannot live beside dunkwatch: give the python of a venv
that has it (`python3 -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.14
'numpy<2' opencv-python-headless==4.10.0.84`) and it is measured in that process on the same frames.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import EMPTY_ROOM, REAL_NAME, SHARED_REAL, real_frames  # noqa: E402

from dunkwatch.pipeline.scoring.person import PersonDetector  # noqa: E402

Detect = Callable[[np.ndarray], bool]
POSES = REPO / "tests" / "data" / "poses"
POSE_SETS = {
    "sitting": ["sitting_classroom.jpg", "sitting_back.jpg", "sitting_high_chair.jpg", "sitting_low_chair.jpg"],
    "lying": ["lying_side.jpg", "lying_stomach.jpg"],
    "on the back": ["lying_back.jpg", "lying_back_far.jpg"],
}


def still(name: str) -> np.ndarray:
    bgr = cv2.imread(str(POSES / name))
    assert bgr is not None, name
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


MEDIAPIPE = r"""
import json, sys, time
import numpy as np, mediapipe as mp
stored = np.load(sys.argv[1])
frames = [stored[k] for k in stored.files]
pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
fired, started = [], time.perf_counter()
for rgb in frames:
    fired.append(pose.process(rgb).pose_landmarks is not None)
print(json.dumps({"fired": fired, "ms": 1000 * (time.perf_counter() - started) / len(frames)}))
"""


def hog_at(side: int) -> Detect:
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(rgb: np.ndarray) -> bool:
        h, w = rgb.shape[:2]
        grey = cv2.cvtColor(
            cv2.resize(rgb, (side, round(h * side / w)), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
        )
        return len(hog.detectMultiScale(grey, hitThreshold=0.5, winStride=(8, 8), padding=(8, 8), scale=1.05)[0]) > 0

    return detect


def haar(name: str) -> Detect:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)

    def detect(rgb: np.ndarray) -> bool:
        grey = cv2.equalizeHist(
            cv2.cvtColor(cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        )
        return len(cascade.detectMultiScale(grey, 1.1, 3, minSize=(40, 40))) > 0

    return detect


def ssdlite(whole: bool) -> Detect:
    """dunkwatch's detector: squares over a kept copy (whole=False: one squashed square, the package's own way)."""
    detector = PersonDetector()
    if whole:
        return lambda rgb: len(detector.find(PersonDetector.prepare(rgb))) > 0
    return lambda rgb: len(detector.find_in(cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_AREA))) > 0


def half_size(frame: np.ndarray, room: np.ndarray) -> np.ndarray:
    """The frame at half size, set bottom centre into the empty room: its person half as tall."""
    h, w = frame.shape[:2]
    out = room.copy()
    out[h - h // 2 :, (w - w // 2) // 2 : (w - w // 2) // 2 + w // 2] = cv2.resize(
        frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA
    )
    return out


def with_ball(frame: np.ndarray, t: float) -> np.ndarray:
    h, w = frame.shape[:2]
    out = frame.copy()
    r = max(3, int(0.025 * w))
    x, y = int((0.1 + 0.8 * (t % 5) / 5) * w), int(h * 0.85)
    cv2.circle(out, (x, y), r, (214, 96, 28), -1, cv2.LINE_AA)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mediapipe-python", help="python of a venv with mediapipe 0.10.14 (see the docstring)")
    args = parser.parse_args()
    truth = json.loads((SHARED_REAL / "ground_truth.json").read_text())[REAL_NAME]
    fps, visits = truth["fps"], truth["person_frames"]
    frames = real_frames(0, truth["frames"] / fps, truth["width"], truth["height"])
    room = frames[int(EMPTY_ROOM[0] * fps)]
    # One frame a second, leaving out a second around each entry and exit (a sliver of a person).
    people = [
        (n, k) for n in range(0, len(frames), int(fps)) for k, (a, b) in enumerate(visits) if a + fps <= n <= b - fps
    ]
    empty = [n for n in range(0, len(frames), int(fps)) if not any(a - fps <= n <= b + fps for a, b in visits)]
    sets = {
        "people": [frames[n] for n, _ in people],
        "half": [half_size(frames[n], room) for n, _ in people],
        "empty": [frames[n] for n in empty],
        "ball": [with_ball(frames[n], n / fps) for n in empty],
        **{key: [still(name) for name in names] for key, names in POSE_SETS.items()},
    }

    candidates: dict[str, Detect] = {
        "SSDLite person (dunkwatch: squares of a 480 px copy)": ssdlite(True),
        "SSDLite person (one squashed 300 px square)": ssdlite(False),
        "HOG, 960 px (the former prior)": hog_at(960),
        "HOG, 640 px": hog_at(640),
        "Haar full body, 640 px": haar("haarcascade_fullbody.xml"),
        "Haar upper body, 640 px": haar("haarcascade_upperbody.xml"),
    }
    results: dict[str, tuple[dict[str, list[bool]], float]] = {}
    for name, detect in candidates.items():
        started, count = time.perf_counter(), 0
        fired = {}
        for key, images in sets.items():
            fired[key] = [detect(rgb) for rgb in images]
            count += len(images)
        results[name] = fired, 1000 * (time.perf_counter() - started) / count
    if args.mediapipe_python:
        with tempfile.TemporaryDirectory() as tmp:
            fired, ms_all = {}, []
            for key, images in sets.items():
                np.savez(Path(tmp) / "f.npz", *images)  # the stills differ in size
                out = subprocess.run(
                    [args.mediapipe_python, "-c", MEDIAPIPE, str(Path(tmp) / "f.npz")],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                fired[key], ms_all = got["fired"], ms_all + [got["ms"]]
            results["mediapipe 0.10.14 BlazePose (complexity 1)"] = fired, float(np.mean(ms_all))

    print(f"{len(people)} frames with a person (6 visits), {len(empty)} empty, one a second\n")
    poses = " | ".join(POSE_SETS)
    print(f"| detector | people | per visit | half size | empty | ball | {poses} | ms/frame |")
    print("| --- | --- | --- | --- | --- | --- |" + " --- |" * len(POSE_SETS) + " --- |")
    for name, (fired, ms) in results.items():
        per = [
            f"{sum(f for f, (_, k) in zip(fired['people'], people) if k == v)}/{sum(1 for _, k in people if k == v)}"
            for v in range(len(visits))
        ]
        print(
            f"| {name} | {sum(fired['people'])}/{len(people)} | {' '.join(per)} | "
            f"{sum(fired['half'])}/{len(people)} | {sum(fired['empty'])}/{len(empty)} | "
            f"{sum(fired['ball'])}/{len(empty)} | "
            + "".join(f"{sum(fired[key])}/{len(names)} | " for key, names in POSE_SETS.items())
            + f"{ms:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
