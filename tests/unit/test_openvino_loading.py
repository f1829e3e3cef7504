"""OpenVINO imported for inference leaves its converter out, and still converts when asked."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _fresh(code: str) -> str:
    """Runs `code` in a new interpreter (this one may have imported OpenVINO already); its stdout."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_converter_is_left_out_until_called() -> None:
    out = _fresh(
        """
        import sys
        from dunkwatch.openvino_loading import import_openvino

        ov = import_openvino()
        print("runs", ov.Core().available_devices[:1] == ["CPU"])
        print("converter", "openvino.tools.ovc" in sys.modules, "urllib.request" in sys.modules)
        try:
            ov.convert_model(object())  # reaches the real converter, which refuses an object
        except Exception as exc:
            print("refused by", type(exc).__module__)
        from openvino.tools.ovc import convert_model
        print("now the converter's own", ov.convert_model is convert_model)
        """
    )
    assert out.splitlines() == [
        "runs True",
        "converter False False",
        "refused by openvino.tools.ovc.error",
        "now the converter's own True",
    ]


def test_an_openvino_imported_whole_is_taken_as_it_is() -> None:
    out = _fresh(
        """
        import openvino
        from dunkwatch.openvino_loading import import_openvino

        ov = import_openvino()
        from openvino.tools.ovc import convert_model
        print(ov is openvino, ov.convert_model is convert_model)
        """
    )
    assert out == "True True"
