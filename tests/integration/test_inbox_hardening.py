"""Nothing in the inbox can stall or fool the service: FIFOs, symlinks, folders named like videos."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import REPO, make_portrait_mov
from dunkwatch.pipeline.ingest import EntryKind, entry_kind, sha256_of


def dunkwatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dunkwatch", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)


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


def test_fifos_and_folders_are_ignored_and_symlinks_quarantined_as_links(workdir, config_file, tmp_path,
                                                                          portrait_mov):
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
    cfg = config_file(score={"scorer": "motion"}, watch={"stable_seconds": 0.2},
                      export={"timeline": False, "highlight_reel": False})
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
