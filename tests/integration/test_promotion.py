"""Promotion against the scoring in use, through the real training job on real processed videos.

Only the fitting is replaced, by hand-made "models" of known quality, so each outcome is certain:
a model that misses players is refused, one that ignores the ball the user marked `empty` is
promoted, and a later worse model is refused against the model now in use.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import Scene, Visit, encode

from dunkwatch import cli
from dunkwatch.config import load
from dunkwatch.learn import fit, train
from dunkwatch.models import registry
from dunkwatch.pipeline.scoring.scorer_choice import make_scorer
from dunkwatch.service.daemon import Daemon

SIZE = 64


class HandMadeModel:
    """Looks like a Keras model to CnnScorer: input_shape, predict_on_batch and save."""

    input_shape = (None, SIZE, SIZE, 3)

    def __init__(self, kind: str):
        self.kind = kind

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "blind":
            return np.zeros((len(x), 1), np.float32)
        r, g, b = (x[..., k].astype(int) for k in range(3))
        red = ((r > 150) & (g < 80) & (b < 80)).sum(axis=(1, 2))  # the players wear red; the ball is orange
        return (red >= 2).astype(np.float32).reshape(-1, 1)

    def save(self, path: str) -> None:
        with open(path, "w") as fh:
            fh.write(self.kind)


def hand_made_training(monkeypatch, kind: str) -> None:
    monkeypatch.setattr(fit, "train_model", lambda *a, **k: (HandMadeModel(kind), "hand-made"))
    # The registry's model files hold the kind; loading one gives that model back.
    monkeypatch.setattr("dunkwatch.models.resnet.load_model", lambda path: HandMadeModel(open(path).read()))


@pytest.fixture(scope="module")
def court_videos(tmp_path_factory):
    """Three court videos, each with a ball the motion model cut a clip of, processed by the service
    once for the module: (the work folder, a copy of it as processed, each video's ball)."""
    from conftest import write_config

    folder = tmp_path_factory.mktemp("promotion")
    work = folder / "work"
    for name in ("inbox", "outbox", "archive", "quarantine", "state"):
        (work / name).mkdir(parents=True)
    balls = {}
    for k, (visit, ball) in enumerate([((3, 7), (11, 14)), ((12, 16), (3, 6)), ((4, 8), (12, 15))]):
        name = f"court_{k}.mp4"
        scene = Scene(duration=18, fps=10, seed=5, visits=[Visit(*visit, 0.2, 0.7)], balls=[ball])
        encode(
            scene.frames(),
            work / "inbox" / name,
            scene.width,
            scene.height,
            scene.fps,
            audio=False,
            preset="veryfast",
        )
        balls[name] = ball
    config = write_config(
        work,
        watch={"stable_seconds": 0.2},
        export={"timeline": False, "highlight_reel": False},
        training={"validation_share": 0.34, "input_size": SIZE},
        score={"runtime": "keras"},  # hand-made models have no OpenVINO export
    )
    assert Daemon(load(config), once=True).run() == 0
    for name, ball in balls.items():
        sidecar = json.loads((work / "outbox" / name[:-4] / f"{name[:-4]}.json").read_text())
        assert len(sidecar["segments"]) == 2, sidecar["segments"]  # the visit, and the ball
    shutil.copytree(work, folder / "as_processed", symlinks=True)
    return work, folder / "as_processed", balls


@pytest.fixture
def processed(court_videos):
    """The module's work folder put back as the service left it: the journal keeps absolute paths,
    so each test gets the same folder, not a copy elsewhere."""
    work, as_processed, balls = court_videos
    shutil.rmtree(work)
    shutil.copytree(as_processed, work, symlinks=True)
    return load(work / "config.toml"), balls


def correct_the_balls(cfg, balls) -> None:
    rows = ["video,start,end,label,note"] + [f"{n},{a},{b},empty,a ball" for n, (a, b) in balls.items()]
    cfg.paths.corrections.write_text("\n".join(rows) + "\n")


def test_without_corrections_nothing_is_trained(processed, monkeypatch):
    cfg, _ = processed
    hand_made_training(monkeypatch, "red")
    result = train.run_training(cfg.learning)
    assert result.status == "skipped" and "no corrections" in result.reason
    assert registry.current_version(cfg.paths.state_dir) is None


def test_a_model_worse_than_motion_is_refused_and_auto_stays_on_motion(processed, monkeypatch):
    cfg, balls = processed
    correct_the_balls(cfg, balls)
    hand_made_training(monkeypatch, "blind")
    result = train.run_training(cfg.learning)
    assert result.status == "kept" and result.reason.startswith("worse than motion"), result.summary()
    assert result.metrics is not None and result.baseline_metrics is not None
    assert result.baseline == "motion" and result.baseline_metrics.false_segments >= 1
    assert result.metrics.events_found == 0 < result.baseline_metrics.events_found
    assert registry.current_version(cfg.paths.state_dir) is None
    assert make_scorer(cfg.pipeline).kind == "motion"


def test_a_model_that_fixes_what_the_user_corrected_is_promoted_then_guards_its_place(processed, monkeypatch, capsys):
    cfg, balls = processed
    correct_the_balls(cfg, balls)
    hand_made_training(monkeypatch, "red")
    result = train.run_training(cfg.learning)
    assert result.status == "promoted", result.summary()
    assert "false clips" in result.reason and "worse on nothing" in result.reason
    assert result.metrics is not None and result.baseline_metrics is not None
    assert result.metrics.false_segments == 0 < result.baseline_metrics.false_segments
    assert result.metrics.events_found == result.baseline_metrics.events_found == result.metrics.events
    meta = registry.metrics(cfg.paths.state_dir, "v0001")
    assert meta["baseline"]["name"] == "motion" and meta["backbone"] == "hand-made"
    assert make_scorer(cfg.pipeline).model_version == "v0001"
    assert cli.main(["models", "--config", str(cfg.source)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("* v0001") and "replaced: motion" in line

    # A blind model now faces the promoted one (gated, as the service runs it), not motion.
    hand_made_training(monkeypatch, "blind")
    again = train.run_training(cfg.learning, force=True)
    assert again.status == "kept" and again.baseline == "model v0001", again.summary()
    assert registry.current_version(cfg.paths.state_dir) == "v0001"


def test_offline_start_trains_the_whole_network_and_says_so(caplog):
    """No ImageNet weights: a frozen random backbone would learn nothing, so all of it trains."""
    with caplog.at_level("WARNING"):
        assert fit.backbone_plan("head", have_imagenet=False) == (True, "random, whole network trained")
    assert "training the whole network" in caplog.text
    assert fit.backbone_plan("head", have_imagenet=True) == (False, "imagenet")
    assert fit.backbone_plan("all", have_imagenet=True) == (True, "imagenet")


def test_on_the_cpu_training_picks_the_smaller_cpu_input_size_and_says_which(caplog):
    from dunkwatch.config import TrainingConfig

    t = TrainingConfig()  # input_size 224, cpu_input_size 96
    with caplog.at_level("INFO"):
        assert fit.training_input_size(t, accelerated=False) == 96
    assert "no GPU: training at 96x96" in caplog.text
    assert fit.training_input_size(t, accelerated=True) == 224
    assert fit.training_input_size(TrainingConfig(input_size=64), accelerated=False) == 64


def test_a_second_training_run_at_the_same_time_does_nothing(processed, monkeypatch):
    import fcntl

    cfg, balls = processed
    correct_the_balls(cfg, balls)
    hand_made_training(monkeypatch, "red")
    with open(cfg.paths.state_dir / train.LOCK_NAME, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the scheduled run, say, is training now
        result = train.run_training(cfg.learning)
    assert result.status == "skipped" and "another training run is in progress" in result.reason
    assert registry.versions(cfg.paths.state_dir) == []
    assert train.run_training(cfg.learning).status == "promoted"  # and once it is done, the next one runs
