"""Atomic file writes (write a hidden `.part` sibling, fsync, then rename over the target), and
hashing a file without following a link or blocking on a FIFO."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

PART_SUFFIX = ".part"


def part_path(path: Path) -> Path:
    """The temporary name for `path`; hidden, so sync clients and players ignore it."""
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def _fsync(path: Path) -> None:
    if os.path.islink(path):
        return  # a quarantined link: opening it would follow it
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename or link in `folder` durable: until then a power cut can undo it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def leftovers(folder: Path, recursive: bool = False) -> list[Path]:
    """What an interrupted write left in `folder`: hidden `.part` files, and `.part` folders (a
    smart cut's scratch space), outermost first."""
    found = folder.rglob(f".*{PART_SUFFIX}") if recursive else folder.glob(f".*{PART_SUFFIX}")
    return sorted(found, key=lambda p: len(p.parts))


def remove_leftover(path: Path) -> None:
    """Remove one of `leftovers`: a file, or a folder with everything in it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _free_name(dest_dir: Path, name: str, n: int) -> Path:
    p = Path(name)
    return dest_dir / (name if n == 0 else f"{p.stem} ({n}){p.suffix}")


def move_without_overwrite(src: Path, dest_dir: Path) -> Path:
    """Move a file into dest_dir, adding ' (n)' before the suffix rather than replacing anything.

    A hard link claims the name atomically and fails if it is taken; where links cannot be made
    (another file system, some FUSE mounts) the file is copied under a temporary name, fsynced
    and renamed. Either way the source goes only once the destination is complete.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        dest = _free_name(dest_dir, src.name, n)
        n += 1
        try:
            os.link(src, dest, follow_symlinks=False)  # a symlink moves as the link, never its target
            break
        except FileExistsError:
            a, b = os.lstat(src), os.lstat(dest)
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
                break  # linked before a crash, never unlinked: finish that move
            continue
        except OSError:
            if os.path.lexists(dest):
                continue
            with atomic_target(dest) as tmp:
                shutil.copy2(src, tmp, follow_symlinks=False)
            break
    fsync_dir(dest_dir)  # the new name is on disk before the old one goes
    os.unlink(src)
    return dest


_HASH_CHUNK = 4 << 20


def sha256_of(path: Path, on_chunk: Callable[[], None] | None = None) -> str:
    """sha256 of a regular file; a link or FIFO swapped in since the last look raises, never blocks."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            if on_chunk:
                on_chunk()
    return digest.hexdigest()
