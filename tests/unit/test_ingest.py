"""Ignore rules and the stability tracker are pure: no watcher, no clock, no video."""

from pathlib import Path

import pytest

from dunkwatch.config import WatchConfig
from dunkwatch.fsutil import sha256_of
from dunkwatch.service.inbox_rules import FileStabilityTracker, is_candidate, scan_inbox

INBOX = Path("/srv/inbox")
DEFAULTS = WatchConfig()


def candidate(rel: str) -> bool:
    return is_candidate(INBOX / rel, INBOX, DEFAULTS.extensions, DEFAULTS.ignore)


@pytest.mark.parametrize("rel", ["IMG_0001.MOV", "clip.mp4", "sub/dir/clip.M4V", "Mon match.mov"])
def test_videos_are_candidates(rel):
    assert candidate(rel)


@pytest.mark.parametrize(
    "rel",
    [
        ".IMG_0001.MOV.icloud",  # iCloud placeholder
        ".syncthing.IMG_0001.MOV.tmp",  # Syncthing temporary
        "IMG_0001.MOV.part",  # generic partial download
        "IMG_0001.mov.crdownload",  # Chrome download
        "~$IMG_0001.mov",  # Office-style lock file
        ".DS_Store",
        ".hidden.mp4",
        ".dropbox.cache/IMG_0001.MOV",  # inside a dot folder
        "notes.txt",
        "photo.HEIC",  # not a video extension
    ],
)
def test_sync_clients_temporary_files_and_other_files_are_ignored(rel):
    assert not candidate(rel)


def test_paths_outside_the_inbox_are_never_candidates():
    assert not is_candidate(Path("/elsewhere/a.mp4"), INBOX, DEFAULTS.extensions, DEFAULTS.ignore)
    assert not is_candidate(INBOX, INBOX, DEFAULTS.extensions, DEFAULTS.ignore)


def test_the_ignore_list_and_extensions_are_configurable():
    assert is_candidate(INBOX / "game.mts", INBOX, ("mts",), ())
    assert not is_candidate(INBOX / "raw_game.mp4", INBOX, ("mp4",), ("raw_*",))


def test_a_file_is_stable_only_after_size_and_mtime_hold_for_the_whole_period():
    tracker = FileStabilityTracker(stable_seconds=2.0)
    p = Path("a.mp4")
    assert not tracker.observe(p, 100, 1.0, now=0.0)
    assert not tracker.observe(p, 100, 1.0, now=1.9)
    assert not tracker.observe(p, 200, 2.0, now=2.5)  # grew: the clock starts again
    assert tracker.unchanged_for(p, 3.0) == pytest.approx(0.5)
    assert not tracker.observe(p, 200, 2.0, now=4.4)
    assert tracker.observe(p, 200, 2.0, now=4.5)
    assert not tracker.observe(p, 200, 3.0, now=4.6)  # touched (mtime only): not stable any more
    tracker.forget(p)
    assert p not in tracker and tracker.pending() == []


def test_scan_skips_ignored_folders_and_hash_is_sha256(tmp_path):
    (tmp_path / ".stversions").mkdir()
    (tmp_path / ".stversions" / "old.mp4").write_bytes(b"x")
    (tmp_path / "day1").mkdir()
    (tmp_path / "day1" / "a.mp4").write_bytes(b"abc")
    (tmp_path / "b.mov.part").write_bytes(b"x")
    found = list(scan_inbox(tmp_path, DEFAULTS.extensions, DEFAULTS.ignore))
    assert found == [tmp_path / "day1" / "a.mp4"]
    assert sha256_of(found[0]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
