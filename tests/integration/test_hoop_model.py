"""The hoop model: make and miss rows train it, a promoted one decides the results.

Shot footage from tests/helpers/shot_scene.py. The service processes two practices, the player
labels each detected shot make or miss on the CSV, and the hoop model's part of `dunkwatch
train` teaches a ResNet50 the rim crops after each labelled rim, judges it on the
held-out practice against the results the player saw, and promotes it or keeps the rules. A
promoted model (a toy one here, so the outcome does not hang on two CPU cores' training) then
decides make or miss for every attempt the pipeline finds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from conftest import REPO, shapes_config  # noqa: E402
from shot_scene import Event, render_shots  # noqa: E402

from dunkwatch.config import load  # noqa: E402
from dunkwatch.hoop import parse_hoop  # noqa: E402
from dunkwatch.learn.catalogue import catalogue  # noqa: E402
from dunkwatch.learn.hoop_learning import HoopFigures, HoopStatus, train_hoop_model  # noqa: E402
from dunkwatch.learn.train import training_plan  # noqa: E402
from dunkwatch.media import probe  # noqa: E402
from dunkwatch.models import registry  # noqa: E402
from dunkwatch.pipeline.process import process_video  # noqa: E402
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer  # noqa: E402
from dunkwatch.pipeline.shots.attempts import Attempt, Kind, Result  # noqa: E402
from dunkwatch.pipeline.shots.rim_model import AFTER_RIM, THROUGH, hoop_state, through_scores  # noqa: E402
from dunkwatch.store import Store  # noqa: E402

TRAINING = {
    "input_size": 32,
    "cpu_input_size": 32,
    "sample_fps": 1.0,
    "fine_tune": "all",
    "imagenet": False,
    "epochs": 1,
    "batch_size": 16,
    "learning_rate": 0.001,
    "validation_share": 0.5,
}
PRACTICES = {
    "a.mp4": [Event("make", 1.8, spot=0.2, flight=1.1), Event("rim_out", 5.0, spot=0.33, flight=1.0)],
    "b.mp4": [Event("make", 1.8, spot=0.25, flight=1.1), Event("airball", 5.0, spot=0.12, flight=1.2)],
}


@pytest.fixture(scope="module")
def practices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shots")
    return {name: render_shots(folder / name, events, 7.5) for name, events in PRACTICES.items()}


def dunkwatch(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


@pytest.mark.slow
def test_make_and_miss_rows_train_the_hoop_model_judged_on_a_held_out_practice(workdir, config_file, practices):
    cfg = config_file(
        watch={"stable_seconds": 0.2},
        training=TRAINING,
        export={"timeline": False, "highlight_reel": False, "timelines": []},
    )
    for name, truth in practices.items():  # a.mp4 first: its two arcs find the hoop b.mp4 then starts with
        shutil.copy(truth.path, workdir / "inbox" / name)
        proc = dunkwatch("run", "--once", "--config", str(cfg))
        assert proc.returncode == 0, proc.stderr
    rows = ["video,start,end,label"]
    shown = {}
    for name in practices:
        sidecar = json.loads((workdir / "outbox" / Path(name).stem / f"{Path(name).stem}.json").read_text())
        assert len(sidecar["attempts"]) == 2, sidecar["attempts"]
        for n, a in enumerate(sidecar["attempts"]):
            label = ["make", "miss"][n]  # the truth of both practices: a make, then a miss
            rows.append(f"{name},{a['start']},{a['end']},{label}")
            shown[(name, n)] = a["result"]
    (workdir / "corrections.csv").write_text("\n".join(rows) + "\n")
    # The hoop model's part of `dunkwatch train` (the presence model's part is tested elsewhere).
    config = load(cfg)
    store = Store(config.paths.state_dir)
    try:
        known = [a.known for a in catalogue(config.paths, store)]
        result = train_hoop_model(config.learning, store, known, lambda: training_plan(config.training))
        # b.mp4 (the newer) is held out: its two labelled shots judge the candidate against what was shown.
        right_shown = sum(
            (shown[("b.mp4", n)] == "make") == (n == 0) and shown[("b.mp4", n)] != "unknown" for n in range(2)
        )
        assert result.status in (HoopStatus.PROMOTED, HoopStatus.KEPT), result.reason
        assert result.candidate is not None
        assert result.baseline == HoopFigures(2, right_shown) and result.candidate.shots == 2
        assert result.facts["train_crops"] == 2 * len(AFTER_RIM)  # a.mp4's two labelled shots
        promoted = registry.current_version(hoop_state(config.paths.state_dir))
        assert (
            (promoted is not None) == (result.status is HoopStatus.PROMOTED) == (result.candidate.right > right_shown)
        )
        if promoted:  # the same rows again: nothing new to learn (a kept model would be tried again)
            again = train_hoop_model(config.learning, store, known, lambda: training_plan(config.training))
            assert again.status is HoopStatus.SKIPPED and promoted in again.reason
    finally:
        store.close()


@pytest.mark.slow
def test_a_promoted_hoop_model_decides_make_or_miss_for_every_attempt(tmp_path, practices):
    from model_factory import promote_toy_model

    version = promote_toy_model(hoop_state(tmp_path / "state"), size=32, steps=1)
    cfg = shapes_config(
        {"paths": {"state_dir": str(tmp_path / "state")}, "export": {"highlight_reel": False, "timeline": False}},
        tmp_path,
    )
    truth = practices["a.mp4"]
    hoop = parse_hoop(truth.hoop_arg)
    done = process_video(truth.path, cfg.pipeline, motion_scorer(cfg.pipeline, None), tmp_path / "out", hoop=hoop)
    sidecar = done.sidecar
    assert sidecar.results_by == version and len(sidecar.attempts) == 2
    # The results are the model's: its highest score on the crops after each rim, against THROUGH.
    from dunkwatch.models.runtime import load_classifier

    classifier = load_classifier(registry.version_dir(hoop_state(tmp_path / "state"), version), "openvino")
    attempts = [
        Attempt(a.start, a.release, a.rim, a.end, Result(a.result), Kind(a.kind), None) for a in sidecar.attempts
    ]
    scores = through_scores(truth.path, probe(truth.path), hoop, attempts, classifier)
    assert [a.result for a in sidecar.attempts] == ["make" if s >= THROUGH else "miss" for s in scores]
    assert np.isfinite(scores).all()


def test_a_broken_hoop_registry_leaves_the_results_to_the_rules_and_the_video_is_processed(tmp_path, practices):
    state = tmp_path / "state"
    (hoop_state(state) / "models").mkdir(parents=True)
    (hoop_state(state) / "models" / "current").write_text("v0009\n")  # points at nothing
    cfg = shapes_config(
        {"paths": {"state_dir": str(state)}, "export": {"highlight_reel": False, "timeline": False}}, tmp_path
    )
    truth = practices["a.mp4"]
    done = process_video(
        truth.path,
        cfg.pipeline,
        motion_scorer(cfg.pipeline, None),
        tmp_path / "out",
        clips=False,
        hoop=parse_hoop(truth.hoop_arg),
    )
    assert done.sidecar.results_by is None and [a.result for a in done.sidecar.attempts] == ["make", "miss"]
