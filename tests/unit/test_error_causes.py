"""A failure's message carries its cause: an extension module whose import fails says only
"initialization failed", and what to fix is in the exception underneath."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from conftest import bare_sidecar

from dunkwatch.errors import raise_interruption, with_causes
from dunkwatch.outputs import SidecarSegment
from dunkwatch.pipeline.cutting import editor_timelines


def import_failure() -> ImportError:
    try:
        try:
            raise MemoryError("cannot allocate the schema registry")
        except MemoryError as exc:
            raise ImportError("initialization failed") from exc
    except ImportError as exc:
        return exc


def test_the_cause_follows_the_message() -> None:
    assert with_causes(import_failure()) == "initialization failed <- MemoryError: cannot allocate the schema registry"


def test_an_exception_without_a_cause_or_a_message() -> None:
    assert with_causes(ValueError("bad\nrow 3")) == "bad row 3"
    assert with_causes(KeyError()) == "KeyError"


def test_a_cause_hidden_on_purpose_stays_hidden() -> None:
    try:
        try:
            raise KeyError("scorer")
        except KeyError:
            raise ValueError("not a dunkwatch sidecar") from None
    except ValueError as exc:
        assert with_causes(exc) == "not a dunkwatch sidecar"


def timelines_failing_with(error: BaseException, folder: Path, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """after_processing of a one-clip video, with OTIO's writer raising `error`."""

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(otio.adapters, "write_to_file", fail)
    sidecar = bare_sidecar(
        video=str(folder / "a.mp4"),
        duration=10.0,
        segments=(SidecarSegment(2.0, 4.0, 1.0, 5.0, 0.9),),
        clips=("a_action01.mp4",),
        fps=30.0,
    )
    return editor_timelines.after_processing(folder, sidecar, folder / "a.mp4", ["otio"])


def test_a_timelines_writer_that_fails_is_reported_with_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = timelines_failing_with(import_failure(), tmp_path, monkeypatch)
    assert message == (
        "cannot write its editor timelines: initialization failed <- MemoryError: cannot allocate the schema registry"
    )
    assert not list(tmp_path.glob("*.otio"))


def import_stopped_by_sigterm() -> ImportError:
    """What pybind11 makes of a SIGTERM handler's SystemExit raised while OTIO initialises."""
    try:
        try:
            raise SystemExit(143)
        except SystemExit as exc:
            raise ImportError("initialization failed") from exc
    except ImportError as exc:
        return exc


def test_a_stop_inside_an_import_failure_is_raised_again() -> None:
    with pytest.raises(SystemExit) as stopped:
        raise_interruption(import_stopped_by_sigterm())
    assert stopped.value.code == 143
    raise_interruption(import_failure())  # an ordinary failure is left to its handler


def test_a_timelines_writer_stopped_by_sigterm_stops_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session child, told to stop while OTIO's extension loaded, logged "initialization
    failed", went on and recorded the session as written without its timelines."""
    with pytest.raises(SystemExit):
        timelines_failing_with(import_stopped_by_sigterm(), tmp_path, monkeypatch)
