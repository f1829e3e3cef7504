"""Nothing in the inbox can stall or fool the service: FIFOs, symlinks, folders named like videos."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO, make_portrait_mov

from dunkwatch.fsutil import sha256_of
from dunkwatch.service.inbox_rules import EntryKind, entry_kind


def dunkwatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def test_hashing_a_fifo_fails_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    outcome: list = []

    def hash_it():
        try:
            sha256_of(fifo)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=hash_it, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and outcome, "sha256_of blocked on a FIFO"
    assert entry_kind(fifo)[0] is EntryKind.OTHER


def test_fifos_and_folders_are_ignored_and_symlinks_quarantined_as_links(workdir, config_file, tmp_path, portrait_mov):
    inbox = workdir / "inbox"
    (inbox / "x").mkdir()
    os.mkfifo(inbox / "x" / "pipe.mp4")  # once blocked the service in open() for good
    (inbox / "folder.mp4").mkdir()
    secret = tmp_path / "elsewhere" / "secret.mp4"
    make_portrait_mov(secret)
    secret_bytes = secret.read_bytes()
    (inbox / "link.mp4").symlink_to(secret)
    (inbox / "dangling.mov").symlink_to(tmp_path / "nowhere.mov")
    good = inbox / "IMG_0001.MOV"
    good.write_bytes(portrait_mov.read_bytes())
    cfg = config_file(
        score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, export={"timeline": False, "highlight_reel": False}
    )
    try:
        proc = dunkwatch("run", "--once", "--config", str(cfg), timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the service hung on the inbox")
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "archive" / "IMG_0001.MOV").is_file()  # the good video still went through
    assert (inbox / "x" / "pipe.mp4").exists() and (inbox / "folder.mp4").is_dir()  # left alone
    assert proc.stderr.count("pipe.mp4: ignored: not a regular file") == 1
    for name, target in (("link.mp4", secret), ("dangling.mov", tmp_path / "nowhere.mov")):
        moved = workdir / "quarantine" / name
        assert moved.is_symlink() and Path(os.readlink(moved)) == target  # the link itself, not a copy
        reason = (workdir / "quarantine" / f"{name}.error.txt").read_text()
        assert "a symbolic link" in reason and "never followed" in reason
    assert secret.read_bytes() == secret_bytes
    assert not (workdir / "outbox" / "link").exists() and not list((workdir / "archive").glob("link*"))


def test_videos_with_the_same_name_keep_both_results_and_both_can_be_corrected(workdir, config_file, tmp_path):
    import json
    import shutil

    inbox, outbox = workdir / "inbox", workdir / "outbox"
    make_portrait_mov(inbox / "IMG_0001.MOV", player=(1.0, 3.0))
    make_portrait_mov(inbox / "IMG_0001.mp4", player=(3.0, 5.0))  # another video, the same stem
    cfg = config_file(
        score={"scorer": "motion"}, watch={"stable_seconds": 0.2}, export={"timeline": False, "highlight_reel": False}
    )
    assert dunkwatch("run", "--once", "--config", str(cfg)).returncode == 0
    # The phone's numbering starts again: a third video under a name already used.
    make_portrait_mov(tmp_path / "IMG_0001.MOV", player=(2.0, 4.5), duration=7.0)
    shutil.copy(tmp_path / "IMG_0001.MOV", inbox / "IMG_0001.MOV")
    assert dunkwatch("run", "--once", "--config", str(cfg)).returncode == 0

    folders = sorted(p.name for p in outbox.iterdir() if p.is_dir() and p.name != "sessions")  # sessions: the practice
    assert folders == ["IMG_0001", "IMG_0001 (1)", "IMG_0001 (2)"]
    sidecars = [json.loads((outbox / f / "IMG_0001.json").read_text()) for f in folders]
    assert len({s["sha256"] for s in sidecars}) == 3 and all(s["clips"] for s in sidecars)
    for folder, sidecar in zip(folders, sidecars):
        assert all((outbox / folder / clip).is_file() for clip in sidecar["clips"])  # nothing replaced
    assert len(list((workdir / "archive").iterdir())) == 3

    # predictions.csv names each by its folder, so every row copied into corrections is unambiguous.
    predictions = (outbox / "predictions.csv").read_text()
    names = {line.split(",")[0] for line in predictions.splitlines()[1:]}
    assert names == {folder + Path(sidecar["video"]).suffix for folder, sidecar in zip(folders, sidecars)}
    assert len(names) == 3 and "IMG_0001 (2).MOV" in names  # the third came last, whatever the order before
    (workdir / "corrections.csv").write_text(predictions)
    check = dunkwatch("check", "--config", str(cfg))
    assert check.returncode == 0 and "0 error(s)" in check.stdout, check.stdout


def test_a_small_fuzzed_inbox_never_kills_or_hangs_the_service():
    """bench/fuzz_inbox.py with 30 damaged files: each ends done, quarantined or ignored once."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "fuzz_inbox.py"), "--files", "30", "--seed", "2", "--timeout", "300"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("PASS"), proc.stdout + proc.stderr[-2000:]
    assert '"service_died": false' in proc.stdout and '"hung": false' in proc.stdout
