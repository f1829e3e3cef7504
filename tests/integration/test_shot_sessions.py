"""A practice of shots, as the player gets it: per-shot clips, the session's counts, its makes reel,
its shot map, the status line and the editor timelines' markers."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from shot_scene import Event, render_shots  # noqa: E402
from test_sessions import filmed  # noqa: E402

from dunkwatch.config import load  # noqa: E402
from dunkwatch.media import probe  # noqa: E402
from dunkwatch.outputs import Sidecar  # noqa: E402
from dunkwatch.service.daemon import Daemon  # noqa: E402
from dunkwatch.service.status import collect_status, format_status  # noqa: E402
from dunkwatch.sessions import SessionSidecar  # noqa: E402


def read_sidecar(path: Path) -> Sidecar:
    sidecar = Sidecar.read(path)
    assert sidecar is not None, path
    return sidecar


@pytest.mark.slow
def test_a_practice_of_shots_counts_attempts_and_makes_and_gets_a_makes_reel_and_a_shot_map(
    workdir, config_file, tmp_path
):
    a = render_shots(
        tmp_path / "a.mp4",
        [Event("make", 1.8, spot=0.2, flight=1.1), Event("rim_out", 5.0, spot=0.33, flight=1.0)],
        7.5,
    )
    b = render_shots(
        tmp_path / "b.mp4",
        [Event("make", 1.8, spot=0.25, flight=1.1), Event("airball", 5.0, spot=0.12, flight=1.2)],
        7.5,
    )
    cfg = load(
        config_file(
            watch={"stable_seconds": 0.2}, score={"scorer": "motion"}, export={"timeline": False, "timelines": ["otio"]}
        )
    )
    # a first: its two arcs find the hoop, remembered for b, filmed ten minutes later (one practice).
    filmed(a.path, workdir / "inbox" / "IMG_0501.MOV", "2026-11-30T18:00:00Z")
    assert Daemon(cfg, once=True).run() == 0
    filmed(b.path, workdir / "inbox" / "IMG_0502.MOV", "2026-11-30T18:10:00Z")
    assert Daemon(cfg, once=True).run() == 0

    for name in ("IMG_0501", "IMG_0502"):
        sidecar = read_sidecar(cfg.paths.outbox / name / f"{name}.json")
        assert [a.result for a in sidecar.attempts] == ["make", "miss"], sidecar.attempts
        assert [c.split("_")[-1] for c in sidecar.clips] == ["shot01-make.mp4", "shot02-miss.mp4"]
        otio = (cfg.paths.outbox / name / f"{name}.otio").read_text()
        assert '"shot 1: make"' in otio and '"shot 2: miss"' in otio

    folder = cfg.paths.outbox / "sessions" / "2026-11-30-1800"
    s = SessionSidecar.read(folder / "session.json")
    assert s is not None
    assert (s.attempts, s.makes, s.percentage) == (4, 2, 50.0)
    makes = [
        cfg.paths.outbox / n / read_sidecar(cfg.paths.outbox / n / f"{n}.json").clips[0]
        for n in ("IMG_0501", "IMG_0502")
    ]
    assert s.makes_reel == "2026-11-30-1800_makes.mp4"
    assert s.shot_map is not None
    assert probe(folder / s.makes_reel).duration == pytest.approx(sum(probe(m).duration for m in makes), abs=0.3)
    assert s.shot_map == "2026-11-30-1800_shotmap.png"
    bgr = cv2.imread(str(folder / s.shot_map))
    assert bgr is not None
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert image.shape[1] == 960
    green = ((image[..., 1] > 150) & (image[..., 0] < 90) & (image[..., 2] < 110)).sum()
    red = ((image[..., 0] > 190) & (image[..., 1] < 90) & (image[..., 2] < 90)).sum()
    assert green > 100 and red > 30  # two made discs, two missed crosses
    assert "2 video(s), 4 attempt(s), 2 make(s) (50%)" in format_status(collect_status(cfg.paths))
    assert np.isfinite(probe(folder / "2026-11-30-1800_reel.mp4").duration)


@pytest.mark.slow
def test_the_page_shows_each_shot_with_its_result_poster_and_buttons(workdir, config_file, tmp_path):
    from test_review_page import chromium, free_port, serving

    a = render_shots(
        tmp_path / "a.mp4",
        [Event("make", 1.8, spot=0.2, flight=1.1), Event("rim_out", 5.0, spot=0.33, flight=1.0)],
        7.5,
    )
    cfg = load(
        config_file(
            watch={"stable_seconds": 0.2},
            score={"scorer": "motion"},
            export={"timeline": False, "timelines": []},
            review={"listen": f"127.0.0.1:{free_port()}"},
        )
    )
    filmed(a.path, workdir / "inbox" / "IMG_0601.MOV", "2026-11-30T18:00:00Z")
    assert Daemon(cfg, once=True).run() == 0
    with serving(cfg) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        clips = page.locator(".clip")
        assert clips.count() == 2
        assert [clips.nth(i).locator(".shot").text_content() for i in range(2)] == ["shot, make", "shot, miss"]
        assert page.locator("section.session .attempts").text_content() == "2"
        assert page.locator("section.session .percentage").text_content() == "50"
        assert page.locator("figure.shot-map img").count() == 1
        for i in (1, 2):  # every clip's poster, the second shot's too
            assert page.request.get(f"{url}video/1/poster/{i}").status == 200
        clips.nth(1).locator("button.shot-label[data-label='make']").click()  # the player: that one went in
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
    rows = (cfg.paths.corrections).read_text().splitlines()
    assert rows[-1].split(",")[3] == "make" and rows[-1].startswith("IMG_0601.MOV,")
