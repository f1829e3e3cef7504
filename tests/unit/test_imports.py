"""The pure modules must not pull in TensorFlow or Keras (slow, and not needed to segment)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "dunkwatch.pipeline.scoring.segment",
        "dunkwatch.config",
        "dunkwatch.pipeline.scoring.cnn",
        "dunkwatch.pipeline.scoring.motion",
        "dunkwatch.models.registry",
        "dunkwatch.cli",
        "dunkwatch.service.daemon",
        "dunkwatch.store",
        "dunkwatch.service.status",
        "dunkwatch.service.inbox_rules",
        "dunkwatch.learn.corrections",
        "dunkwatch.learn.train",
        "dunkwatch.learn.dataset",
        "dunkwatch.service.schedule",
        "dunkwatch.service.video_child",
        "dunkwatch.pipeline.scoring.gate",
        "dunkwatch.pipeline.scoring.scorer_choice",
        "dunkwatch.learn.catalogue",
        "dunkwatch.learn.decision",
        "dunkwatch.learn.judge",
        "dunkwatch.learn.fit",
        "dunkwatch.review.service",
    ],
)
def test_module_does_not_import_tensorflow(module):
    code = (
        f"import sys, {module}; "
        "bad = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_segment_config_and_corrections_do_not_import_cv2_or_video_code():
    code = (
        "import sys, dunkwatch.pipeline.scoring.segment, dunkwatch.config, dunkwatch.learn.corrections, "
        "dunkwatch.outputs; "
        "bad = [m for m in ('cv2', 'dunkwatch.pipeline.scoring.decode', 'imageio_ffmpeg') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_the_store_imports_sqlite3():
    root = Path(__file__).resolve().parents[2] / "dunkwatch"
    users = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"^\s*(import sqlite3|from sqlite3)", p.read_text(), re.M)
    )
    assert users == ["store.py"]
