"""Typed errors: each one carries a single line the user can act on."""


def one_line(text: object) -> str:
    """A message folded onto one line, for a log line, a journal row or a `.error.txt`."""
    return " ".join(str(text).split())


def with_causes(exc: BaseException) -> str:
    """An exception's one line, followed by what caused it: a C extension's import that fails says
    only "initialization failed", and the reason is in its cause."""
    parts = [one_line(exc) or type(exc).__name__]
    seen = {id(exc)}
    cause = _cause_of(exc)
    while cause is not None and id(cause) not in seen and len(parts) < 4:
        seen.add(id(cause))
        parts.append(f"{type(cause).__name__}: {one_line(cause)}" if str(cause) else type(cause).__name__)
        cause = _cause_of(cause)
    return " <- ".join(parts)


def raise_interruption(exc: BaseException) -> None:
    """Re-raise a stop that an ordinary error carries. A SIGTERM handler raises SystemExit; raised
    while an extension module initialises, pybind11 hands it on as an ImportError ("initialization
    failed"), which a handler for a writer's errors would swallow, and the process would go on
    and record half its work as done."""
    seen = {id(exc)}
    cause = _cause_of(exc)
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (SystemExit, KeyboardInterrupt)):
            raise cause
        seen.add(id(cause))
        cause = _cause_of(cause)


def _cause_of(exc: BaseException) -> BaseException | None:
    """What a traceback would show as the cause: `raise ... from None` hides the context."""
    return exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


class DunkwatchError(Exception):
    """Base class; cli turns it into one line on stderr and exit code 2."""


class ConfigError(DunkwatchError):
    """A config key is unknown, of the wrong type or out of bounds."""


class VideoError(DunkwatchError):
    """A file is not a readable video, or a video operation failed."""


class UnreadableError(VideoError):
    """ffmpeg cannot open the file at all: it may be a fake, or a copy still arriving."""


class ExportError(DunkwatchError):
    """ffmpeg could not write a clip, reel or sidecar."""


class ModelError(DunkwatchError):
    """No promoted model, or a model that cannot be loaded."""
