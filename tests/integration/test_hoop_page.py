"""A hoop dragged on the page: saved with the court, and the next video's attempts are looked for there.

One shot per video, so the ball's arcs never find the hoop by themselves (attempts.min_shots is 2):
the first video of the court gets a presence clip only; the player drags a box over the rim on the
page's court; the next video of that court, one shot again, is cut as one attempt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from shot_scene import Event, render_shots  # noqa: E402

from dunkwatch.config import load  # noqa: E402
from dunkwatch.outputs import Sidecar  # noqa: E402
from dunkwatch.pipeline.scoring.courts import LearnedEmpty  # noqa: E402
from dunkwatch.pipeline.scoring.decode import VideoReader  # noqa: E402
from dunkwatch.pipeline.scoring.scorer_choice import scene_memory  # noqa: E402


@pytest.mark.slow
def test_a_hoop_dragged_on_the_page_changes_the_next_videos_attempts(workdir, config_file):
    from test_review_page import chromium, free_port, screenshot, serving

    from dunkwatch.service.daemon import Daemon

    cfg = load(
        config_file(
            watch={"stable_seconds": 0.2},
            score={"scorer": "motion"},
            export={"timeline": False, "highlight_reel": False, "timelines": []},
            review={"listen": f"127.0.0.1:{free_port()}"},
        )
    )
    # The court, as an earlier video showed it empty, is remembered (as the motion model would).
    empty = render_shots(workdir / "empty.mp4", [], 1.0, enter=99.0)
    image = next(iter(VideoReader(empty.path, 5.0, max_side=cfg.motion.analysis_size))).image
    memory = scene_memory(cfg.paths.state_dir, cfg.motion)
    (scene,) = memory.remember([LearnedEmpty(image, None)])
    first = render_shots(workdir / "inbox" / "IMG_0401.MOV", [Event("make", 5.5, spot=0.2, flight=1.1)], 8.5)
    assert Daemon(cfg, once=True).run() == 0
    before = Sidecar.read(cfg.paths.outbox / "IMG_0401" / "IMG_0401.json")
    assert before is not None
    assert before.hoop is None and before.attempts == () and len(before.clips) == 1  # one arc: no hoop yet

    x, y, w, h = first.hoop
    with serving(cfg) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(url + "#courts")
        figure = page.locator("figure.court").first
        figure.scroll_into_view_if_needed()
        assert "no hoop yet" in figure.locator(".hoop-state").text_content()
        figure.locator("button.edit-hoop").click()
        box = figure.locator("svg").bounding_box()
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + (x + w) * box["width"], box["y"] + (y + h) * box["height"], steps=5)
        page.mouse.up()
        assert float(figure.locator("rect.hoop").get_attribute("width")) == pytest.approx(w, abs=0.01)
        screenshot(page, "review-hoop.png")
        figure.locator("button.save-hoop").click()
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
        assert figure.get_attribute("data-scene") == scene
    saved = json.loads((cfg.paths.state_dir / "scenes" / f"{scene}.hoop.json").read_text())
    assert saved["source"] == "user" and saved["box"] == pytest.approx([x, y, w, h], abs=0.01)

    # The next video of that court: one make again, now an attempt at the dragged hoop.
    render_shots(workdir / "inbox" / "IMG_0402.MOV", [Event("make", 5.5, spot=0.3, flight=1.0)], 8.5)
    assert Daemon(cfg, once=True).run() == 0
    after = Sidecar.read(cfg.paths.outbox / "IMG_0402" / "IMG_0402.json")
    assert after is not None
    assert after.hoop_source == "user" and after.hoop == pytest.approx((x, y, w, h), abs=0.01)
    (attempt,) = after.attempts
    assert attempt.result == "make" and attempt.rim == pytest.approx(5.5, abs=1.0)
    assert attempt.clip is not None and "shot01-make" in attempt.clip
