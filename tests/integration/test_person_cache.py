"""The person detector's cache: where it lives, and a cold one made whole.

Every other test shares one warm cache (conftest.shared_detector_cache); these start from none.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import real_frames

from dunkwatch.pipeline.scoring.person import PACKAGE_VERSION, detector_cache

# One process's detector on one frame: the boxes it finds, as JSON.
LOOK = """
import json, sys
from pathlib import Path
import numpy as np
from dunkwatch.pipeline.scoring.person import PersonDetector
boxes = PersonDetector(cache=Path(sys.argv[1])).find_in(np.load(sys.argv[2]))
print(json.dumps([[round(v, 4) for v in (b.x0, b.y0, b.x1, b.y1)] for b in boxes]))
"""


def look(cache: Path, frame: Path) -> list:
    proc = subprocess.run([sys.executable, "-c", LOOK, str(cache), str(frame)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_the_cache_is_the_folder_systemd_gives_the_unit_else_the_state_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CACHE_DIRECTORY", f"{tmp_path / 'cache'}:{tmp_path / 'other'}")
    assert detector_cache(tmp_path / "state") == tmp_path / "cache" / "person"
    monkeypatch.delenv("CACHE_DIRECTORY")
    assert detector_cache(tmp_path / "state") == tmp_path / "state" / "person"


def test_a_cold_cache_is_converted_then_compiled_and_finds_the_same_person(tmp_path):
    frame = tmp_path / "frame.npy"
    np.save(frame, real_frames(10.0, 10.1, 768, 432)[0])  # a visit of the shared video
    cache = tmp_path / "person"
    converted = f"ssdlite-{PACKAGE_VERSION}-300"

    from_graph = look(cache, frame)  # read from the package's TensorFlow graph, converted on the way
    assert sorted(p.name for p in cache.iterdir()) == [f"{converted}.bin", f"{converted}.xml"]
    assert len(from_graph) >= 1
    compiled = look(cache, frame)  # read from the converted graph, compiled into OpenVINO's cache
    blobs = list(cache.glob("*.blob"))
    assert len(blobs) == 1
    from_blob = look(cache, frame)  # loaded from the compiled blob
    assert list(cache.glob("*.blob")) == blobs and not list(cache.glob(".*"))  # nothing half-written left
    for boxes in (compiled, from_blob):
        assert np.allclose(boxes, from_graph, atol=0.01), (boxes, from_graph)


def test_an_inline_detector_looks_in_the_calling_thread_and_finds_what_the_shared_graph_finds():
    """Looking ahead lowers its thread's priority: that holds for the inference only if it runs in
    that thread. And an answer made ahead must be the one the looks would have made."""
    import time

    from dunkwatch.pipeline.scoring.person import PersonDetector

    frames = real_frames(8.0, 12.0, 768, 432)[::4]  # a visit of the shared video: people, from behind
    shared = PersonDetector(cache=detector_cache(Path("unused")))  # the warm cache (conftest)
    inline = shared.inline_twin()
    inline.ready()
    kept = [PersonDetector.prepare(frame) for frame in frames]
    thread, process = time.thread_time(), time.process_time()
    found = [inline.find(copy) for copy in kept]
    assert time.thread_time() - thread >= 0.8 * (time.process_time() - process)
    assert found == [shared.find(copy) for copy in kept]  # box for box, to the last bit
    assert sum(map(len, found)) >= len(kept)
