"""A small run of bench/kill_torture.py: the service SIGKILLed at random moments, restarted each time."""

import subprocess
import sys

from conftest import REPO


def test_random_kill_9s_lose_nothing_duplicate_nothing_and_blame_no_good_video():
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "kill_torture.py"),
            "--kills",
            "6",
            "--videos",
            "8",
            "--seconds",
            "8",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("PASS"), proc.stdout + proc.stderr[-2000:]
    assert '"kills": 6' in proc.stdout and '"lost": 0' in proc.stdout and '"good_quarantined": 0' in proc.stdout
