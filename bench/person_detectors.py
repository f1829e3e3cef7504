"""Person detectors that ship inside a package, side by side on the shared real video.

    .venv/bin/python bench/person_detectors.py

For each candidate, one frame a second of ../shared/data/real/: how many of the frames with a
person in view it fires on (per visit), how many of the empty frames it fires on, and its time per
frame on this machine. The motion model uses a detector one way only (a detection says "not
empty"), so firing on an empty frame is the costly mistake, and a miss costs little.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import REAL_NAME, SHARED_REAL, real_frames  # noqa: E402
from dunkwatch.pipeline.person import PersonDetector  # noqa: E402


def hog_at(side: int):
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(rgb):
        h, w = rgb.shape[:2]
        grey = cv2.cvtColor(cv2.resize(rgb, (side, round(h * side / w)), interpolation=cv2.INTER_AREA),
                            cv2.COLOR_RGB2GRAY)
        return len(hog.detectMultiScale(grey, hitThreshold=0.5, winStride=(8, 8), padding=(8, 8), scale=1.05)[0])
    return detect


def haar(name: str):
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)

    def detect(rgb):
        grey = cv2.equalizeHist(cv2.cvtColor(cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA),
                                             cv2.COLOR_RGB2GRAY))
        return len(cascade.detectMultiScale(grey, 1.1, 3, minSize=(40, 40)))
    return detect


def dunkwatch_prior():
    detector = PersonDetector()
    return lambda rgb: len(detector.find(PersonDetector.prepare(rgb)))


def main() -> int:
    truth = json.loads((SHARED_REAL / "ground_truth.json").read_text())[REAL_NAME]
    fps, visits = truth["fps"], truth["person_frames"]
    frames = real_frames(0, truth["frames"] / fps, truth["width"], truth["height"])
    picked = range(0, len(frames), int(fps))

    def visit_of(n: int) -> int:
        return next((k for k, (a, b) in enumerate(visits) if a <= n <= b), -1)

    candidates = {
        "HOG, 640 px": hog_at(640),
        "HOG, 960 px": hog_at(960),
        "dunkwatch prior (HOG, kept at 480, looked at 960)": dunkwatch_prior(),
        "Haar full body, 640 px": haar("haarcascade_fullbody.xml"),
        "Haar upper body, 640 px": haar("haarcascade_upperbody.xml"),
    }
    print(f"{len(picked)} frames, one a second; per visit: frames fired on / frames with that visit")
    for name, detect in candidates.items():
        per = {}
        started = time.perf_counter()
        for n in picked:
            v = visit_of(n)
            seen, fired = per.get(v, (0, 0))
            per[v] = (seen + 1, fired + (detect(frames[n]) > 0))
        ms = 1000 * (time.perf_counter() - started) / len(picked)
        people = [per[k] for k in sorted(per) if k >= 0]
        total = sum(f for _, f in people), sum(s for s, _ in people)
        print(f"{name:52} people {total[0]:3}/{total[1]:<3} visits "
              f"{' '.join(f'{f}/{s}' for s, f in people):34} empty {per[-1][1]}/{per[-1][0]}  {ms:5.1f} ms/frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
