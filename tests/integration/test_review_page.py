"""The review page, in a real headless Chromium (Debian's, driven by Playwright), and its protocol."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHAPES_TOML, Scene, Visit, encode, found

from dunkwatch.config import load
from dunkwatch.learn.corrections import parse_time
from dunkwatch.store import State, Store

CHROMIUM = "/usr/bin/chromium"
# What a headless Chromium needs on a machine with no way out: no background fetches at all.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Two court videos processed by the service; each gets one clip."""
    root = tmp_path_factory.mktemp("review")
    for name in ("inbox", "outbox", "archive", "quarantine", "state"):
        (root / name).mkdir()
    for name, visit in (("IMG_0201.MOV", (3.0, 6.0)), ("IMG_0202.MOV", (8.0, 11.0))):
        scene = Scene(duration=14, fps=10, seed=11, visits=[Visit(*visit, 0.25, 0.65)])
        encode(
            scene.frames(), root / "inbox" / name, scene.width, scene.height, scene.fps, audio=True, preset="veryfast"
        )
    (root / "config.toml").write_text('[watch]\nstable_seconds = 0.2\n[score]\nscorer = "motion"\n' + SHAPES_TOML)
    cfg = load(root / "config.toml")
    from dunkwatch.service.daemon import Daemon

    assert Daemon(cfg, once=True).run() == 0
    return cfg


@contextmanager
def serving(cfg):
    """The page as `dunkwatch review` serves it, on cfg.review.listen, until the block ends; yields its URL."""
    from dunkwatch.review import serve

    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(cfg, stop), daemon=True)
    thread.start()
    host, port = cfg.review.listen.split(":")
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield f"http://{cfg.review.listen}/"
    finally:
        stop.set()
        thread.join(timeout=5)


@contextmanager
def chromium():
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_server(processed):
    """The page on a free loopback port, as `dunkwatch review` serves it."""
    cfg = dataclasses.replace(
        processed, review=dataclasses.replace(processed.review, listen=f"127.0.0.1:{free_port()}")
    )
    cfg.paths.corrections.unlink(missing_ok=True)
    with serving(cfg) as url:
        yield cfg, url


def video_packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def rows_of(path: Path) -> list[list[str]]:
    import csv

    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


@pytest.mark.slow
def test_in_a_browser_play_a_clip_correct_it_and_the_timeline_and_training_uses_the_rows(page_server):
    cfg, url = page_server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(url)
        articles = page.locator("article.video")
        assert articles.count() == 2
        first = articles.filter(has_text="IMG_0202.MOV")
        second = articles.filter(has_text="IMG_0201.MOV")
        # Play a clip: it plays in the page (H.264), to its end, without a decoding error. It is a
        # smart cut (export.mode's default): re-encoded ends around the original's own packets.
        video = first.locator("video").first
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("v => v.ended || v.error", arg=video.element_handle(), timeout=30000)
        assert video.evaluate("v => v.error === null && v.currentTime > v.duration - 0.2")
        assert video.get_attribute("src").endswith("/clip/1")
        clip_file = next((cfg.paths.outbox / "IMG_0202").glob("IMG_0202_01_*.mp4"))
        assert set(video_packets(clip_file)) & set(video_packets(cfg.paths.archive / "IMG_0202.MOV"))

        # "no player here" on IMG_0202's clip.
        clip = first.locator(".clip").first
        action = (float(clip.get_attribute("data-start")), float(clip.get_attribute("data-end")))
        clip.locator("button.no-player").click()
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
        # "missed a player here": drag across 20%..40% of IMG_0201's timeline.
        track = second.locator("svg.track")
        track.scroll_into_view_if_needed()
        box = track.bounding_box()
        duration = float(second.get_attribute("data-duration"))
        page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.4 * box["width"], box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        page.evaluate("() => document.getElementById('message').className = ''")
        second.locator("button.missed").click()
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
        if os.environ.get("DUNKWATCH_SCREENSHOTS"):  # the README's pictures: make screenshots
            page.screenshot(path=str(Path(os.environ["DUNKWATCH_SCREENSHOTS"]) / "review-page.png"))

        rows = rows_of(cfg.paths.corrections)
        assert rows[0] == ["video", "start", "end", "label", "note"] and len(rows) == 3
        (v1, s1, e1, l1, n1), (v2, s2, e2, l2, _) = rows[1:]
        assert (v1, l1, n1) == ("IMG_0202.MOV", "empty", "review page")
        assert (parse_time(s1), parse_time(e1)) == pytest.approx(action, abs=0.001)
        assert (v2, l2) == ("IMG_0201.MOV", "dunk")
        assert parse_time(s2) == pytest.approx(0.2 * duration, abs=0.15)
        assert parse_time(e2) == pytest.approx(0.4 * duration, abs=0.15)

        # A stale write: the file is edited by hand after the page read it. Refused, nothing merged.
        by_hand = cfg.paths.corrections.read_text() + "IMG_0201.MOV,0:12,0:13,empty,my own row\n"
        cfg.paths.corrections.write_text(by_hand)
        page.evaluate("() => document.getElementById('message').className = ''")
        clip.locator("button.no-player").click()
        page.wait_for_function("() => document.getElementById('message').className === 'error'")
        assert "changed since this page was loaded" in page.locator("#message").text_content()
        assert cfg.paths.corrections.read_text() == by_hand

    # `dunkwatch check` accepts everything the page wrote, and training labels frames by it.
    check = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "check", "--config", str(cfg.source)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert check.returncode == 0 and "3 valid row(s), 0 error(s)" in check.stdout, check.stdout + check.stderr
    from dunkwatch.learn import catalogue
    from dunkwatch.learn.corrections import frame_labels
    from dunkwatch.learn.dataset import sample_times
    from dunkwatch.learn.decision import label_rules

    store = Store(cfg.paths.state_dir)
    try:
        known = [a.known for a in catalogue.catalogue(cfg.paths, store)]  # exactly what `dunkwatch train` reads
        corrections, errors = catalogue.read_corrections(cfg.paths.corrections, known)
        assert errors == [] and len(corrections) == 3
        labels = {}
        for k in known:
            times = sample_times(k.duration, cfg.training.sample_fps)
            saved = store.load_scores(k.sha256)
            assert saved is not None
            times_s, scores, _ = saved
            y, w = frame_labels(
                times, [r for r in corrections if r.sha256 == k.sha256], times_s, scores, label_rules(cfg.training)
            )
            labels[k.name] = (times, y, w)
    finally:
        store.close()
    times, y, w = labels["IMG_0202.MOV"]
    inside = (times >= action[0] + 0.5) & (times <= action[1] - 0.5)
    assert inside.any() and np.all(y[inside] == 0.0) and np.all(w[inside] > 1)  # corrected: empty, weighted
    times, y, w = labels["IMG_0201.MOV"]
    marked = (times > parse_time(s2) + 0.5) & (times < parse_time(e2) - 0.5)
    assert marked.any() and np.all(y[marked] == 1.0) and np.all(w[marked] > 1)  # the dragged range: a player


def test_off_loopback_every_request_needs_the_token(processed):
    from dunkwatch.review import create_app

    client = create_app(processed, token="s3cret").test_client()
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    first = client.get("/?token=s3cret")
    assert first.status_code == 200 and "dunkwatch_token=s3cret" in first.headers["Set-Cookie"]
    assert "HttpOnly" in first.headers["Set-Cookie"] and "SameSite=Strict" in first.headers["Set-Cookie"]
    assert client.get("/").status_code == 200  # the cookie from then on
    assert (
        create_app(processed, token="s3cret")
        .test_client()
        .get("/", headers={"Authorization": "Bearer s3cret"})
        .status_code
        == 200
    )


def test_clips_are_served_with_range_requests_and_only_files_the_journal_lists(processed):
    from dunkwatch.review import create_app

    client = create_app(processed).test_client()
    store = Store(processed.paths.state_dir)
    try:
        video = next(v for v in store.all() if v.outputs and v.outputs.clips)
    finally:
        store.close()
    whole = client.get(f"/video/{video.id}/clip/1")
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/video/{video.id}/clip/1", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.data) == 100 and part.data == whole.data[100:200]
    assert part.headers["Content-Range"].startswith("bytes 100-199/")
    for unknown in (
        f"/video/{video.id}/clip/9",
        "/video/9999/clip/1",
        f"/video/{video.id}/clip/..%2F..%2Fconfig.toml",
        "/video/1/../../config.toml",
        "/static/../__init__.py",
    ):
        assert client.get(unknown).status_code == 404, unknown


def test_posts_from_another_site_or_without_the_form_token_are_refused(processed):
    from dunkwatch.review import create_app

    app = create_app(processed)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    csrf = page.split('data-csrf="')[1].split('"')[0]
    form = {"video": "1", "ranges": '[[1, 2, "empty"]]', "stamp": "none"}
    assert client.post("/corrections", data=form).status_code == 403  # no form token
    assert (
        client.post("/corrections", data={**form, "csrf": csrf}, headers={"Origin": "http://evil.example"}).status_code
        == 403
    )
    assert client.post("/train", data={"csrf": "guess"}).status_code == 403
    assert client.post("/models/use", data={"csrf": csrf, "version": "v9999"}).status_code == 404


def test_an_hevc_clip_gets_a_cached_h264_preview(processed, tmp_path, portrait_mov):
    from dunkwatch.media import probe
    from dunkwatch.review.previews import playable

    clip = tmp_path / "clip.mp4"
    subprocess.run([sys.executable, "-m", "dunkwatch", "--version"], check=True, capture_output=True)
    clip.write_bytes(portrait_mov.read_bytes())
    assert probe(clip).video_codec == "hevc"
    cache = tmp_path / "previews"
    preview = playable(clip, cache)
    info = probe(preview)
    assert preview.parent == cache and (info.video_codec, info.pix_fmt) == ("h264", "yuv420p") and info.has_audio
    assert (info.width, info.height) == (180, 320)  # upright, as the clip is shown
    made = preview.stat().st_mtime_ns
    assert playable(clip, cache) == preview and preview.stat().st_mtime_ns == made  # cached, not made again


def test_retry_moves_a_quarantined_video_back_to_the_inbox_and_use_rolls_back_a_model(workdir, config_file):
    import re

    from dunkwatch.models import registry
    from dunkwatch.review import create_app
    from dunkwatch.service.daemon import Daemon

    (workdir / "inbox" / "broken.mp4").write_bytes(b"not a video at all" * 100)
    cfg = load(config_file(watch={"stable_seconds": 0.2, "unreadable_after": 0.0}, score={"scorer": "motion"}))
    Daemon(cfg, once=True).run()
    assert (workdir / "quarantine" / "broken.mp4").exists()
    for n in (1, 2):
        registry.set_current(
            cfg.paths.state_dir,
            registry.add_version(cfg.paths.state_dir, lambda p: p.write_bytes(b"model"), {"metrics": {"f1": 0.5 * n}}),
        )
    client = create_app(cfg).test_client()
    page = client.get("/").get_data(as_text=True)
    csrf = found(r'data-csrf="([^"]+)"', page).group(1)
    assert "broken.mp4" in page and "not a readable video" in page
    (row,) = Store(cfg.paths.state_dir).all()
    assert client.post(f"/quarantine/{row.id}/retry", data={"csrf": csrf}).status_code == 303
    assert (workdir / "inbox" / "broken.mp4").exists() and not (workdir / "quarantine" / "broken.mp4").exists()
    assert not (workdir / "quarantine" / "broken.mp4.error.txt").exists()
    # The page now lists it as queued, not under Quarantine; the same row goes through the queue again.
    page = client.get("/").get_data(as_text=True)
    quarantine = page[page.index('<section id="quarantine">') :]
    assert "broken.mp4" not in quarantine and "Nothing in quarantine." in quarantine
    card = found(rf'<article class="video" id="video-{row.id}".*?</article>', page, re.S).group(0)
    assert "broken.mp4" in card and ">queued</span>" in card
    assert [r.state for r in Store(cfg.paths.state_dir).all()] == [State.STABLE]
    Daemon(cfg, once=True).run()  # still not a video: tried, and back in the quarantine with its reason
    assert (workdir / "quarantine" / "broken.mp4.error.txt").exists()
    assert [r.state for r in Store(cfg.paths.state_dir).all()] == [State.FAILED]
    assert client.post("/models/use", data={"csrf": csrf, "version": "v0001"}).status_code == 303
    assert registry.current_version(cfg.paths.state_dir) == "v0001"


def test_the_service_serves_the_page_when_review_is_enabled(workdir, config_file):
    import signal
    import urllib.request

    port = free_port()
    config = config_file(
        review={"enabled": True, "listen": f"127.0.0.1:{port}"},
        training={"schedule": "every 6h"},
        score={"scorer": "motion"},
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "dunkwatch", "run", "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200 and "dunkwatch" in response.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the service did not serve the review page")
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err[-2000:]
    assert f"review page: http://127.0.0.1:{port}/" in err


def screenshot(page, name: str, full_page: bool = False) -> None:
    """The README's pictures, made by the tests: DUNKWATCH_SCREENSHOTS=docs make test."""
    if os.environ.get("DUNKWATCH_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["DUNKWATCH_SCREENSHOTS"]) / name), full_page=full_page, scale="css")


@pytest.mark.slow
def test_on_a_phone_one_column_inline_clips_and_a_tap_corrects(page_server):
    cfg, url = page_server
    with chromium() as browser:
        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
        )
        page = phone.new_page()
        page.goto(url)
        assert page.locator("section.session").count() == 1  # both videos: one practice
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scroll
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        screenshot(page, "review-phone.png")
        clip = page.locator(".clip").first
        video = clip.locator("video")
        assert video.get_attribute("playsinline") is not None
        box = video.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "v => v.currentTime > 0.5 && !document.fullscreenElement", arg=video.element_handle(), timeout=20000
        )
        button = clip.locator("button.no-player")
        assert button.bounding_box()["height"] >= 44  # a thumb hits it
        button.tap()
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
    rows = rows_of(cfg.paths.corrections)
    assert len(rows) == 2 and rows[1][3] == "empty"
    assert (parse_time(rows[1][1]), parse_time(rows[1][2])) == pytest.approx(
        (float(clip_attr(cfg, rows[1][0], "start")), float(clip_attr(cfg, rows[1][0], "end"))), abs=0.001
    )


def clip_attr(cfg, video_name: str, key: str) -> float:
    """A video's first segment, as its sidecar has it."""
    from dunkwatch.outputs import Sidecar

    stem = Path(video_name).stem
    sidecar = Sidecar.read(cfg.paths.outbox / stem / f"{stem}.json")
    assert sidecar is not None
    return getattr(sidecar.segments[0], key)


@pytest.mark.slow
def test_keys_move_between_clips_and_mark_one_and_posters_are_made_once(page_server):
    cfg, url = page_server
    posters = cfg.paths.state_dir / "posters"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        shown = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        page.wait_for_function(shown)
        clips = page.locator(".clip")
        assert page.locator(".posters img").count() == clips.count() == 2
        made = {p.name: p.stat().st_mtime_ns for p in posters.glob("*.jpg")}
        assert len(made) == 2
        screenshot(page, "review-sessions.png")
        page.keyboard.press("j")
        page.keyboard.press("j")
        second = clips.nth(1)
        assert "current" in second.get_attribute("class") and "current" not in clips.nth(0).get_attribute("class")
        page.keyboard.press("k")
        page.keyboard.press("j")
        page.keyboard.press("n")  # "no player here" on the clip the keys moved to
        page.wait_for_function("() => document.getElementById('message').className === 'ok'")
        marked = (float(second.get_attribute("data-start")), float(second.get_attribute("data-end")))
        name = second.locator("xpath=ancestor::article").locator("h3").text_content().split()[0]
        page.reload()
        page.wait_for_function(shown)
    assert {p.name: p.stat().st_mtime_ns for p in posters.glob("*.jpg")} == made  # reused, not remade
    rows = rows_of(cfg.paths.corrections)
    assert len(rows) == 2 and (rows[1][0], rows[1][3]) == (name, "empty")
    assert (parse_time(rows[1][1]), parse_time(rows[1][2])) == pytest.approx(marked, abs=0.001)


def test_a_share_link_serves_one_file_without_the_token_until_it_expires_or_the_key_turns(processed):
    from dunkwatch.review import create_app
    from dunkwatch.share_links import SharedKind, ShareKey

    client = create_app(processed, token="s3cret").test_client()  # as off loopback: the page needs its token
    page = client.get("/?token=s3cret").get_data(as_text=True)
    csrf = found(r'data-csrf="([^"]+)"', page).group(1)
    item = found(r'class="share" data-kind="clip" data-item="([0-9]+-1)"', page).group(1)
    made = client.post("/share", data={"csrf": csrf, "kind": "clip", "item": item}).get_json()
    assert made["ok"] and made["url"].startswith("http://localhost/s/")
    link = made["url"].removeprefix("http://localhost")
    session_id = found(r'data-kind="session" data-item="([^"]+)"', page).group(1)
    reel = client.post("/share", data={"csrf": csrf, "kind": "session", "item": session_id}).get_json()
    assert reel["ok"]

    coach = create_app(processed, token="s3cret").test_client()  # no token, no cookie
    assert coach.get("/").status_code == 401
    shown = coach.get(link)
    assert shown.status_code == 200 and f'src="{link}/video"' in shown.get_data(as_text=True)
    ranged = coach.get(link + "/video", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.data) == 100
    assert coach.get(reel["url"].removeprefix("http://localhost") + "/video").status_code == 200
    assert coach.get(link + "/journal.sqlite3").status_code == 404  # nothing else, by any path
    assert coach.get(link + "/video/../../video/1/clip/1").status_code == 404
    assert coach.get("/video/1/clip/1").status_code == 401
    assert coach.get(link, headers={"Host": "elsewhere.example"}).status_code == 404  # made for another host
    assert coach.get("/s/not-a-link").status_code == 404
    forged = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert coach.get(forged).status_code == 403
    old = ShareKey(processed.paths.state_dir).link(SharedKind.CLIP, item, "localhost", 7, now=time.time() - 8 * 86400)
    assert coach.get(f"/s/{old}/video").status_code == 410
    assert client.get("/session/2026-13-99-9999/reel").status_code == 404  # well formed, no such session
    assert client.get("/session/..%2F..%2Fstate/reel").status_code == 404
    assert client.get("/session/x'y/reel").status_code == 404

    rotated = client.post("/share/rotate", data={"csrf": csrf}).get_json()
    assert rotated["ok"] and coach.get(link + "/video").status_code == 403  # every link given out so far
    again = client.post("/share", data={"csrf": csrf, "kind": "clip", "item": item}).get_json()
    assert coach.get(again["url"].removeprefix("http://localhost") + "/video").status_code == 200
    key = processed.paths.state_dir / "share.key"
    before = key.read_text()
    cli = subprocess.run(
        [sys.executable, "-m", "dunkwatch", "review", "--rotate-share-key", "--config", str(processed.source)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert cli.returncode == 0 and "rotated" in cli.stdout and key.read_text() != before
    assert coach.get(again["url"].removeprefix("http://localhost") + "/video").status_code == 403


@pytest.mark.slow
def test_a_shared_clip_opens_in_the_browser_alone(page_server):
    from dunkwatch.share_links import SharedKind, ShareKey
    from dunkwatch.store import Store

    cfg, url = page_server
    (video,) = [v for v in Store(cfg.paths.state_dir).all() if v.name == "IMG_0201.MOV"]
    host = cfg.review.listen
    token = ShareKey(cfg.paths.state_dir).link(SharedKind.CLIP, f"{video.id}-1", host, 7)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto(f"{url}s/{token}")
        assert page.locator("video").count() == 1 and page.locator("article, section, form").count() == 0
        player = page.locator("video")
        player.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("v => v.currentTime > 0.5", arg=player.element_handle(), timeout=20000)
        player.evaluate("v => { v.pause(); v.currentTime = 1.5; }")
        screenshot(page, "review-shared.png")
