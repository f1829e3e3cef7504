"""Atomic file writes: write a hidden `.part` sibling, fsync, then rename over the target."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PART_SUFFIX = ".part"


def part_path(path: Path) -> Path:
    """The temporary name for `path`; hidden, so sync clients and players ignore it."""
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


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


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def move_without_overwrite(src: Path, dest_dir: Path) -> Path:
    """Move a file into dest_dir, adding ' (n)' before the suffix rather than replacing anything."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    n = 1
    while dest.exists():
        dest = dest_dir / f"{src.stem} ({n}){src.suffix}"
        n += 1
    shutil.move(str(src), str(dest))
    return dest
