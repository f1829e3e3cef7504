"""Ignore zones on real frames: someone who walks only inside a drawn zone (the road behind the
fence) gives no clip, and the same walk outside it gives one; and a zone drawn on the page in a
real browser is saved with its scene, and the next video honours it."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from conftest import EMPTY_ROOM, Scene, Visit, encode, real_frames, shapes_config

from dunkwatch.config import load
from dunkwatch.outputs import Sidecar
from dunkwatch.pipeline.process import analyse
from dunkwatch.pipeline.scoring.scorer_choice import motion_scorer
from dunkwatch.zones import parse_zone

WIDTH, HEIGHT, FPS = 384, 216, 10.0
LEFT = parse_zone("0,0 0.4,0 0.4,1 0,1")  # the left 40 % of the room


def walker_on_the_empty_room(path, x_from: float, x_to: float, seconds: float = 14.0, visit=(5.0, 9.0)):
    """The shared video's empty room, with someone (dark clothes, a head) walking from x_from to
    x_to of the frame and back during `visit`."""
    empty = real_frames(*EMPTY_ROOM, WIDTH, HEIGHT)
    loop = np.concatenate([empty, empty[::-1]])
    n = int(seconds * FPS)
    frames = np.concatenate([loop] * (n // len(loop) + 1))[:n].copy()
    for i, frame in enumerate(frames):
        t = i / FPS
        if visit[0] <= t < visit[1]:
            phase = (t - visit[0]) / (visit[1] - visit[0])
            x = int((x_from + (x_to - x_from) * (1 - abs(2 * phase - 1))) * WIDTH)
            cv2.rectangle(frame, (x - 9, int(HEIGHT * 0.35)), (x + 9, int(HEIGHT * 0.85)), (40, 44, 70), -1)
            cv2.circle(frame, (x, int(HEIGHT * 0.3)), 8, (150, 110, 90), -1, cv2.LINE_AA)
    return encode(frames, path, WIDTH, HEIGHT, FPS, audio=False, preset="veryfast")


@pytest.mark.slow
def test_a_walk_inside_a_zone_gives_no_clip_and_the_same_walk_outside_it_gives_one(tmp_path):
    cfg = shapes_config({}, tmp_path).pipeline
    inside = walker_on_the_empty_room(tmp_path / "inside.mp4", 0.08, 0.3)
    outside = walker_on_the_empty_room(tmp_path / "outside.mp4", 0.6, 0.85)
    assert len(analyse(inside, cfg, motion_scorer(cfg, None)).segments) == 1  # seen without the zone
    ignored = analyse(inside, cfg, motion_scorer(cfg, None), zones=(LEFT,))
    assert ignored.segments == [] and ignored.zones == (LEFT,)
    (seen,) = analyse(outside, cfg, motion_scorer(cfg, None), zones=(LEFT,)).segments
    assert seen.start == pytest.approx(5.0, abs=0.8) and seen.end == pytest.approx(9.0, abs=0.8)


@pytest.mark.slow
def test_a_zone_drawn_on_the_page_is_saved_and_the_next_video_honours_it(workdir, config_file):
    from test_review_page import chromium, free_port, screenshot, serving

    from dunkwatch.service.daemon import Daemon

    court = Scene(duration=12, fps=10, seed=11, visits=[Visit(8.0, 10.0, 0.75, 0.85)])
    encode(court.frames(), workdir / "inbox" / "IMG_0301.MOV", court.width, court.height, court.fps, preset="veryfast")
    cfg = load(
        config_file(
            watch={"stable_seconds": 0.2}, score={"scorer": "motion"}, review={"listen": f"127.0.0.1:{free_port()}"}
        )
    )
    assert Daemon(cfg, once=True).run() == 0  # the court, seen empty, is remembered
    with serving(cfg) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(url + "#courts")
        figure = page.locator("figure.court").first
        figure.scroll_into_view_if_needed()
        box = figure.locator("svg").bounding_box()
        for x, y in ((0.1, 0.05), (0.7, 0.05), (0.7, 0.95), (0.1, 0.95)):  # where the next player walks
            page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
        figure.locator("button.close-zone").click()
        assert figure.locator("polygon").count() == 1
        screenshot(page, "review-zone.png")
        figure.locator("button.save-zones").click()
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
        scene = figure.get_attribute("data-scene")
    (zone,) = json.loads((cfg.paths.state_dir / "scenes" / f"{scene}.zones.json").read_text())["zones"]
    assert [c for point in zone for c in point] == pytest.approx([0.1, 0.05, 0.7, 0.05, 0.7, 0.95, 0.1, 0.95], abs=0.01)

    # The next video of that court: a player walks only inside the zone.
    nxt = Scene(duration=12, fps=10, seed=11, visits=[Visit(5.0, 9.0, 0.25, 0.55)])
    encode(nxt.frames(), workdir / "inbox" / "IMG_0302.MOV", nxt.width, nxt.height, nxt.fps, preset="veryfast")
    assert Daemon(dataclasses.replace(cfg), once=True).run() == 0
    sidecar = Sidecar.read(cfg.paths.outbox / "IMG_0302" / "IMG_0302.json")
    assert sidecar is not None
    assert len(sidecar.ignore_zones) == 1 and sidecar.segments == ()
    without = analyse(cfg.paths.archive / "IMG_0302.MOV", cfg.pipeline, motion_scorer(cfg.pipeline, None), zones=())
    assert len(without.segments) == 1  # the zone, not the video, made the difference


def test_training_frames_are_greyed_with_the_zones_the_video_was_scored_with(tmp_path):
    from dunkwatch.learn.dataset import FrameCache, LabelledVideo

    video = walker_on_the_empty_room(tmp_path / "v.mp4", 0.6, 0.85, seconds=4.0, visit=(1.0, 3.0))
    times = np.array([0.5, 1.5, 2.5])
    cache = FrameCache(tmp_path / "dataset", 64, 5.0)
    plain, _ = cache.frames(LabelledVideo("sha", "v.mp4", video, times, np.zeros(3), np.ones(3)))
    greyed, _ = cache.frames(LabelledVideo("sha", "v.mp4", video, times, np.zeros(3), np.ones(3), zones=(LEFT,)))
    assert (greyed[:, 8:56, 2:22] == 128).all() and not (plain[:, 8:56, 2:22] == 128).all()
    assert np.array_equal(greyed[:, :, 30:], plain[:, :, 30:])  # outside the zone, the same frames
    assert len(list((tmp_path / "dataset").rglob("*.npz"))) == 2  # cached apart: other zones, other frames
