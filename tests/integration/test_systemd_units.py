"""Both systemd units pass `systemd-analyze verify` (installed by .ci/run), and a typo would not."""

import shutil
import subprocess
from pathlib import Path

from conftest import REPO


def verify(checkout: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(checkout / "systemd" / "verify.sh")], capture_output=True, text=True, timeout=120
    )


def checkout_copy(tmp_path: Path) -> None:
    """The units and a stub executable where ExecStart points, to edit without touching the repo."""
    shutil.copytree(REPO / "systemd", tmp_path / "systemd")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    stub = tmp_path / ".venv" / "bin" / "dunkwatch"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)


def test_both_units_verify():
    proc = verify(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "systemd units verified" in proc.stdout


def test_a_misspelt_key_fails_verification(tmp_path):
    checkout_copy(tmp_path)
    assert verify(tmp_path).returncode == 0
    unit = tmp_path / "systemd" / "user" / "dunkwatch.service"
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restartt=on-failure"))
    proc = verify(tmp_path)
    assert proc.returncode == 1 and "Restartt" in proc.stdout


def test_the_units_run_the_daemon_as_a_notify_service_with_a_watchdog():
    for unit in (REPO / "systemd" / "dunkwatch.service", REPO / "systemd" / "user" / "dunkwatch.service"):
        text = unit.read_text()
        for line in ("Type=notify", "Restart=on-failure", "TimeoutStartSec=", "WatchdogSec=", "NoNewPrivileges=yes"):
            assert line in text, (unit, line)
        assert "dunkwatch run --config" in text
        assert "\nPrivateDevices=" not in text  # it would hide the GPUs


def test_the_system_unit_stays_hardened_to_an_exposure_of_2_or_less(tmp_path):
    checkout_copy(tmp_path)
    proc = verify(tmp_path)
    assert proc.returncode == 0 and "exposure level for dunkwatch.service: 1." in proc.stdout, proc.stdout
    unit = tmp_path / "systemd" / "dunkwatch.service"
    unit.write_text(
        "\n".join(
            line
            for line in unit.read_text().splitlines()
            if not line.startswith(("CapabilityBoundingSet=", "SystemCallFilter=", "Protect"))
        )
    )
    proc = verify(tmp_path)
    assert proc.returncode == 1 and "exposure above 2.0" in proc.stdout, proc.stdout
