"""OpenVINO imported for inference only.

`import openvino` also imports its model converter (`openvino.tools.ovc`), and with it the
converter's telemetry, urllib, http.client, email and 150 more modules: 0.1 CPU-seconds that a
process which only runs compiled graphs (every video's child, `dunkwatch process`) spends for
nothing. OpenVINO's own `__init__` imports the converter inside `try ... except ImportError`, so
it is held back for the one import and fetched on the first `openvino.convert_model` call, which
Keras's export makes when a trained model is converted in the same process."""

from __future__ import annotations

import sys
import threading
from types import ModuleType
from typing import Any

_CONVERTER = "openvino.tools.ovc"
_LOCK = threading.Lock()  # the detector's loader thread and the cnn's runtime may both ask


def import_openvino() -> ModuleType:
    """The `openvino` module, imported without its converter if nothing has imported it yet."""
    with _LOCK:
        if "openvino" in sys.modules:
            return sys.modules["openvino"]
        held_back = _CONVERTER not in sys.modules
        if held_back:
            sys.modules[_CONVERTER] = None  # type: ignore[assignment]  # Python's way to make an import fail
        try:
            import openvino
        finally:
            if held_back and sys.modules.get(_CONVERTER, ...) is None:
                del sys.modules[_CONVERTER]
        if not hasattr(openvino, "convert_model"):
            openvino.convert_model = _convert_model  # what its __init__ would have set
        return openvino


def _convert_model(*args: Any, **kwargs: Any) -> Any:
    """openvino.convert_model, imported on its first call."""
    import openvino
    from openvino.tools.ovc import convert_model

    openvino.convert_model = convert_model
    return convert_model(*args, **kwargs)
