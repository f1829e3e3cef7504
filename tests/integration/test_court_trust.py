"""Trust per court: a promoted model scores only the courts whose videos it was judged on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import encode, shapes_config

from dunkwatch.media import probe
from dunkwatch.models import registry
from dunkwatch.models.court_trust import courts_in_use
from dunkwatch.pipeline.scoring.courts import LearnedEmpty
from dunkwatch.pipeline.scoring.decode import frames_at
from dunkwatch.pipeline.scoring.scorer_choice import ScorerPerVideo, pick_scorer, scene_memory


def court_video(path: Path, horizontal: bool) -> Path:
    """Two courts a camera could film: stripes one way or the other, with a block moving across."""
    y, x = np.mgrid[0:72, 0:128]
    stripes = ((x // 16) % 2 if horizontal else (y // 12) % 2).astype(np.uint8)
    court = np.stack([60 + 120 * stripes, 90 + 60 * stripes, 140 - 80 * stripes], axis=-1).astype(np.uint8)
    frames = []
    for i in range(20):
        frame = court.copy()
        frame[30:50, 5 + 5 * i : 25 + 5 * i] = (250, 40, 40)
        frames.append(frame)
    return encode(frames, path, 128, 72, 10.0, audio=False)


def remember_courts(cfg, videos: list[Path]) -> list[str]:
    """Each video's first frame remembered as an empty court, as the motion model would; their keys."""
    memory = scene_memory(cfg.state_dir, cfg.motion)
    keys = []
    for video in videos:
        image = frames_at(video, probe(video), [0.0], cfg.motion.analysis_size)[0]
        assert image is not None
        keys += memory.remember([LearnedEmpty(image, None)])
    return keys


def test_a_model_judged_on_court_a_scores_a_while_court_b_keeps_its_scorer(tmp_path, workdir):
    from dunkwatch.models.resnet import build_model
    from dunkwatch.pipeline.process import process_video
    from dunkwatch.review import create_app
    from dunkwatch.service.status import collect_status, format_status

    state = workdir / "state"
    cfg = shapes_config({"paths": {"state_dir": str(state)}, "score": {"batch_size": 4}}, workdir)
    a, b = court_video(tmp_path / "a.mp4", True), court_video(tmp_path / "b.mp4", False)
    court_a, court_b = remember_courts(cfg.pipeline, [a, b])
    assert court_a != court_b
    model = build_model(input_size=32, weights=None, dense_units=(8, 8, 8))
    # An untrained model that sees nobody, whatever its random start (a seedless one sometimes saw the block).
    top = model.get_layer("player_in_view")
    kernel, bias = top.get_weights()
    top.set_weights([np.zeros_like(kernel), np.full_like(bias, -8.0)])
    v1 = registry.add_version(state, lambda p: model.save(p), {"courts": [court_a], "previous": None})
    registry.set_current(state, v1)

    memory = scene_memory(state, cfg.motion)
    scorers = ScorerPerVideo(cfg.pipeline, "auto", memory)
    on_a = process_video(a, cfg.pipeline, scorers.for_video(a), workdir / "outbox", clips=False, memory=memory).sidecar
    on_b = process_video(b, cfg.pipeline, scorers.for_video(b), workdir / "outbox", clips=False, memory=memory).sidecar
    assert (on_a.scorer, on_a.model, on_a.court) == ("cnn", v1, court_a)
    # The untrained model sees nobody where motion sees the block: the page will offer that first.
    assert [d.model_in_view for d in on_a.disputed] == [False] and on_b.disputed == ()
    assert (on_b.scorer, on_b.model, on_b.court) == ("motion", None, court_b)

    # A later model judged on B only: B takes it, A keeps the model it had; `cnn` forces the newest.
    v2 = registry.add_version(state, lambda p: model.save(p), {"courts": [court_b], "previous": v1})
    registry.set_current(state, v2)
    assert pick_scorer(cfg.pipeline, "auto", memory, a).version == v1
    assert pick_scorer(cfg.pipeline, "auto", memory, b).version == v2
    assert pick_scorer(cfg.pipeline, "cnn", memory, a).version == v2
    assert (
        process_video(
            a, cfg.pipeline, scorers.for_video(a), workdir / "outbox", clips=False, memory=memory
        ).sidecar.model
        == v1
    )
    status = collect_status(cfg.paths)
    assert [(c.court, c.version) for c in status.courts] == [*sorted([(court_a, v1), (court_b, v2)]), (None, None)]
    assert f"court {court_a}: model {v1}" in format_status(status)
    assert "court no remembered court: motion" in format_status(status)
    page = create_app(cfg).test_client().get("/").get_data(as_text=True)
    assert f'{court_a} · <span class="court-scorer">scored by model {v1}</span>' in page
    assert f'{court_b} · <span class="court-scorer">scored by model {v2}</span>' in page


def test_trust_follows_the_lineage_and_a_version_without_courts_is_trusted_everywhere(tmp_path):
    def add(meta: dict) -> str:
        version = registry.add_version(tmp_path, lambda p: p.write_bytes(b"model"), meta)
        registry.set_current(tmp_path, version)
        return version

    old = add({"f1": 1.0})  # promoted before courts were recorded
    a_only = add({"courts": ["scene-a"], "previous": old})
    rejected = add({"courts": ["scene-a", "scene-b", None], "previous": a_only})
    registry.set_current(tmp_path, a_only)  # the player switched back on the page
    unplaced = add({"courts": [None], "previous": a_only})

    assert registry.lineage(tmp_path, unplaced) == [unplaced, a_only, old]
    scorers = {c.court: c.version for c in courts_in_use(tmp_path, unplaced, ["scene-a", "scene-b"])}
    assert scorers == {"scene-a": a_only, "scene-b": old, None: unplaced}
    assert rejected not in scorers.values()
    # Courts keep their scorer through pruning.
    trusted = {version for version in scorers.values() if version is not None}  # none is None
    assert registry.prune(tmp_path, 1, also_keep=trusted) == [rejected]
    assert {c.court: c.version for c in courts_in_use(tmp_path, unplaced, ["scene-a", "scene-b"])} == scorers
