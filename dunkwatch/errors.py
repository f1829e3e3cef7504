"""Typed errors: each one carries a single line the user can act on."""


def one_line(text: object) -> str:
    """A message folded onto one line, for a log line, a journal row or a `.error.txt`."""
    return " ".join(str(text).split())


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
