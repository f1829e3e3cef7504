"""Each video is processed in a child process: a native crash or a stall is the video's, and the
service lives on; TensorFlow's memory stays out of the service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from dunkwatch.config import load
from dunkwatch.service.daemon import Daemon
from dunkwatch.service.video_child import ChildProcessRunner
from dunkwatch.store import Store

HELPERS = Path(__file__).resolve().parents[1] / "helpers"


@pytest.fixture
def faulty(monkeypatch):
    monkeypatch.syspath_prepend(str(HELPERS))  # the spawned child gets this sys.path too
    import faulty_process

    return faulty_process


def service_config(config_file, **daemon):
    return load(
        config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, daemon={"retry_seconds": 0.0, **daemon})
    )


def put(inbox: Path, names: list[str], content: bytes) -> None:
    for name in names:
        (inbox / name).write_bytes(content + name.encode())  # distinct videos


def outcome(cfg) -> dict:
    return {v.name: v for v in Store(cfg.paths.state_dir).all()}


def test_a_segfault_on_a_video_quarantines_it_with_the_signal_and_the_service_lives_on(
    workdir, config_file, portrait_mov, faulty, monkeypatch
):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    cfg = service_config(config_file, max_attempts=2)
    put(workdir / "inbox", ["segfault.MOV", "good.MOV", "arenas.MOV"], portrait_mov.read_bytes())
    assert Daemon(cfg, once=True, videos=ChildProcessRunner(cfg, None, faulty.process)).run() == 0
    rows = outcome(cfg)
    assert rows["good.MOV"].state == "done" and (workdir / "archive" / "good.MOV").is_file()
    assert rows["segfault.MOV"].state == "failed" and rows["segfault.MOV"].attempts == 2
    reason = (workdir / "quarantine" / "segfault.MOV.error.txt").read_text()
    assert "died of SIGSEGV" in reason and "gave up after 2 tries" in reason
    sidecar = rows["good.MOV"].outputs
    assert str(sidecar.folder).endswith("good")
    # The child's threads share two malloc arenas, told to glibc before it starts (see heap.py).
    assert (rows["arenas.MOV"].outputs.folder / "arenas.txt").read_text() == "2"


def test_a_stalled_video_is_stopped_and_retried_while_slow_work_that_progresses_is_left_alone(
    workdir, config_file, portrait_mov, faulty
):
    cfg = service_config(config_file, max_attempts=1, stall_seconds=2.0)
    put(workdir / "inbox", ["hang.MOV", "slow.MOV"], portrait_mov.read_bytes())
    assert Daemon(cfg, once=True, videos=ChildProcessRunner(cfg, None, faulty.process)).run() == 0
    rows = outcome(cfg)
    assert rows["slow.MOV"].state == "done"  # 4 s of work, twice the stall limit, with progress
    assert rows["hang.MOV"].state == "failed"
    assert "no progress for 2 s" in (workdir / "quarantine" / "hang.MOV.error.txt").read_text()


SERVICE = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from dunkwatch.service.daemon import Daemon
from dunkwatch.config import load
cfg = load(sys.argv[1])
code = Daemon(cfg, once=True).run()
print(json.dumps({"code": code, "keras": "keras" in sys.modules, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_cnn_scoring_runs_in_the_child_so_tensorflow_never_loads_in_the_service(workdir, config_file, portrait_mov):
    sys.path.insert(0, str(HELPERS))
    from model_factory import promote_toy_model

    cfg_path = config_file(
        score={"scorer": "cnn"}, watch={"stable_seconds": 0.2}, export={"timeline": False, "highlight_reel": False}
    )
    version = promote_toy_model(workdir / "state", size=32, steps=1)
    (workdir / "inbox" / portrait_mov.name).write_bytes(portrait_mov.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-c", SERVICE, str(cfg_path)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "keras": False, "tensorflow": False}
    sidecar = json.loads((workdir / "outbox" / portrait_mov.stem / f"{portrait_mov.stem}.json").read_text())
    assert (sidecar["scorer"], sidecar["model"]) == ("cnn", version)
    assert f"scoring with cnn model {version}" in proc.stderr  # the child's log reached the service's
