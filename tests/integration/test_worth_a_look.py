"""The page offers first what is worth a player's look: where the scorers disagreed, then where the
score sat near the threshold; an answer there is a correction like any other."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
from conftest import found, make_portrait_mov

from dunkwatch.config import load
from dunkwatch.outputs import SidecarDispute
from dunkwatch.pipeline.cutting.export import write_sidecar
from dunkwatch.pipeline.process import Processed
from dunkwatch.service.daemon import Daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from faulty_process import stand_in_sidecar  # noqa: E402


def process(path, cfg, scorer, outbox, progress=None, **_) -> Processed:
    """disputed.MOV: motion saw a player for a second where the model did not; unsure.MOV: the model's
    score hovered just under the threshold the whole time (a longer stretch, in a newer video)."""
    out_dir = outbox / path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = stand_in_sidecar(path)
    times = np.arange(0.0, 3.0, 0.2)
    if path.stem == "disputed":
        sidecar = dataclasses.replace(sidecar, disputed=(SidecarDispute(1.0, 2.0, False),))
        scores = np.zeros(len(times))
    else:
        scores = np.full(len(times), sidecar.threshold - 0.05)
    write_sidecar(out_dir / f"{path.stem}.json", sidecar)
    return Processed(sidecar, times, scores, out_dir)


def test_the_video_where_motion_and_the_model_differ_is_offered_first_and_an_answer_is_a_correction(
    workdir, config_file, tmp_path
):
    from dunkwatch.review import create_app

    cfg = load(config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2}))
    video = make_portrait_mov(tmp_path / "v.MOV", duration=1.0)
    for name in ("disputed", "unsure"):  # one run each, so the disputed video is the older one
        (workdir / "inbox" / f"{name}.MOV").write_bytes(video.read_bytes() + name.encode())
        assert Daemon(dataclasses.replace(cfg), once=True, process=process).run() == 0

    client = create_app(cfg).test_client()
    page = client.get("/").get_data(as_text=True)
    looks = re.findall(
        r'<li class="look" data-video="(\d+)".*?<a [^>]*>([^<]+)</a> ([\d.]+)–([\d.]+) s:\s*'
        r'<span class="why">([^<]+)</span>',
        page,
        re.S,
    )
    assert [(name, start, end) for _, name, start, end, _ in looks] == [
        ("disputed.MOV", "1.0", "2.0"),
        ("unsure.MOV", "0.0", "3.0"),
    ]
    assert looks[0][4] == "motion saw a player here, the model did not"
    assert looks[1][4] == "the score stayed near the threshold"

    # The player answers the first: a row in the corrections CSV, and the stretch is no longer offered.
    csrf = found(r'data-csrf="([^"]+)"', page).group(1)
    stamp = found(r'data-stamp="([^"]*)"', page).group(1)
    answer = client.post(
        "/corrections",
        data={"video": looks[0][0], "ranges": '[[1.0, 2.0, "empty"]]', "stamp": stamp, "csrf": csrf},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.get_json()["ok"], answer.get_json()
    assert "disputed.MOV,00:01.000,00:02.000,empty" in cfg.paths.corrections.read_text()
    page = client.get("/").get_data(as_text=True)
    assert "disputed.MOV</a>" not in page.split('id="sessions"')[0] and "unsure.MOV</a> 0.0–3.0 s" in page
