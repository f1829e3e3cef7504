"""Giving a video up half-way: the caller hands the pipeline a token, which it checks between
frames and between clips. The progress callback only reports."""

from __future__ import annotations

from typing import Callable


class Cancelled(Exception):
    """The caller gave the video up (the service is stopping): it is redone cleanly later."""


class CancelToken:
    """Asks `asked()` whether the video is given up; `check()` raises Cancelled when it is."""

    def __init__(self, asked: Callable[[], bool]) -> None:
        self._asked = asked

    def cancelled(self) -> bool:
        return self._asked()

    def check(self) -> None:
        if self._asked():
            raise Cancelled()
