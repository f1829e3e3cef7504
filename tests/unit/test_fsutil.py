"""Atomic writes and moves that never overwrite: plain files, no video."""

import os

import pytest

from dunkwatch import fsutil
from dunkwatch.fsutil import atomic_target, atomic_write_text, move_without_overwrite


def test_atomic_target_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError):
        with atomic_target(target) as tmp:
            tmp.write_bytes(b"half a clip")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_in_one_step(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_move_never_overwrites_and_keeps_bytes(tmp_path):
    archive = tmp_path / "archive"
    for content in (b"first", b"second"):
        src = tmp_path / "IMG_0001.MOV"
        src.write_bytes(content)
        move_without_overwrite(src, archive)
        assert not src.exists()
    assert (archive / "IMG_0001.MOV").read_bytes() == b"first"
    assert (archive / "IMG_0001 (1).MOV").read_bytes() == b"second"


def test_move_falls_back_to_copy_where_links_fail(tmp_path, monkeypatch):
    def no_links(src, dst, **_):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(fsutil.os, "link", no_links)
    src = tmp_path / "v.mp4"
    src.write_bytes(b"video")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "v.mp4").write_bytes(b"older")
    moved = move_without_overwrite(src, tmp_path / "archive")
    assert moved.name == "v (1).mp4" and moved.read_bytes() == b"video"
    assert (tmp_path / "archive" / "v.mp4").read_bytes() == b"older"
    assert not src.exists()
    assert sorted(os.listdir(tmp_path / "archive")) == ["v (1).mp4", "v.mp4"]


@pytest.mark.parametrize("links_work", [True, False])
def test_a_symlink_moves_as_the_link_never_its_target(tmp_path, monkeypatch, links_work):
    if not links_work:

        def no_links(src, dst, **_):
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(fsutil.os, "link", no_links)
    target = tmp_path / "elsewhere.mp4"
    target.write_bytes(b"private video")
    link = tmp_path / "inbox" / "link.mp4"
    link.parent.mkdir()
    link.symlink_to(target)
    moved = move_without_overwrite(link, tmp_path / "quarantine")
    assert moved.is_symlink() and os.readlink(moved) == str(target)
    assert not os.path.lexists(link) and target.read_bytes() == b"private video"


def test_a_move_makes_the_new_name_durable_before_the_original_goes(tmp_path, monkeypatch):
    order: list[str] = []
    real_fsync_dir, real_unlink = fsutil.fsync_dir, fsutil.os.unlink

    def fsync_dir(folder):
        order.append("fsync " + folder.name)
        return real_fsync_dir(folder)

    def unlink(path):
        order.append("unlink")
        return real_unlink(path)

    monkeypatch.setattr(fsutil, "fsync_dir", fsync_dir)
    monkeypatch.setattr(fsutil.os, "unlink", unlink)
    src = tmp_path / "v.mp4"
    src.write_bytes(b"video")
    move_without_overwrite(src, tmp_path / "archive")
    assert order == ["fsync archive", "unlink"]  # a power cut in between leaves both names, never neither
