"""`make test` brings the Debian packages the suite needs, or stops before the suite saying how.

The recipe runs for real; only `id`, `sudo`, `apt-get` and `dpkg-query` are stand-ins on PATH, so that no test
installs anything or needs another user, and the suite is a stand-in that records being started.
"""

import os
import subprocess
from pathlib import Path

from conftest import REPO


def stand_ins(tmp_path: Path, uid: int, sudo_ok: bool, absent: tuple[str, ...] = ()) -> tuple[Path, dict]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "id": f'case "$1" in -u) echo {uid};; -un) echo player;; *) echo "uid={uid}(player)";; esac',
        "sudo": 'if [ "$1" = -n ]; then shift; fi; [ "$1" = true ] && exit {}; exec "$@"'.format(0 if sudo_ok else 1),
        "apt-get": f'echo "$@" >> {tmp_path}/apt-get.calls',
        # The players' packages: installed unless named in `absent`.
        "dpkg-query": 'for p in "$@"; do :; done; case " {} " in *" $p "*) exit 1;; esac; printf installed'.format(
            " ".join(absent)
        ),
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    # The suite stand-in: a venv whose python records that the suite started.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / ".installed").touch()
    (venv / "bin" / "python").write_text(f"#!/bin/sh\ntouch {tmp_path}/suite-started\n")
    (venv / "bin" / "python").chmod(0o755)
    (venv / "bin" / "ruff").write_text(f"#!/bin/sh\ntouch {tmp_path}/lint-ran\n")  # the lint before the suite
    (venv / "bin" / "ruff").chmod(0o755)
    (venv / "bin" / "mypy").write_text(f"#!/bin/sh\ntouch {tmp_path}/types-ran\n")  # the types, too
    (venv / "bin" / "mypy").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    return venv, env


def make_test(
    tmp_path: Path, chromium: Path, uid: int, sudo_ok: bool, absent: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    venv, env = stand_ins(tmp_path, uid, sudo_ok, absent)
    # The stamp must look newer than pyproject.toml, so make does not try to build the venv.
    os.utime(venv / "bin" / ".installed", (2**31, 2**31))
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "test", f"CHROMIUM={chromium}", f"VENV={venv}", f"BIN={venv / 'bin'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_user_who_cannot_install_gets_one_line_naming_the_command_and_no_suite(tmp_path):
    proc = make_test(tmp_path, tmp_path / "no-chromium", uid=1000, sudo_ok=False)
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if line.startswith("make test:")]
    assert len(ours) == 1 and ours[0].endswith("run: sudo apt-get install chromium"), proc.stderr
    assert not (tmp_path / "suite-started").exists()
    assert not (tmp_path / "apt-get.calls").exists()


def test_root_installs_what_is_missing_then_runs_the_suite(tmp_path):
    proc = make_test(tmp_path, tmp_path / "no-chromium", uid=0, sudo_ok=False)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "apt-get.calls").read_text().splitlines()
    assert calls[0] == "update -qq" and calls[1].split()[-1] == "chromium", calls
    assert (tmp_path / "suite-started").exists() and (tmp_path / "lint-ran").exists()
    assert (tmp_path / "types-ran").exists()


def test_passwordless_sudo_installs_too(tmp_path):
    proc = make_test(tmp_path, tmp_path / "no-chromium", uid=1000, sudo_ok=True)
    assert proc.returncode == 0, proc.stderr
    assert "chromium" in (tmp_path / "apt-get.calls").read_text()


def test_nothing_is_installed_when_everything_is_there(tmp_path):
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    proc = make_test(tmp_path, present, uid=1000, sudo_ok=False)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "apt-get.calls").exists()
    assert (tmp_path / "suite-started").exists() and (tmp_path / "lint-ran").exists()
    assert (tmp_path / "types-ran").exists()


def test_a_missing_player_is_installed_without_desktop_recommends(tmp_path):
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    proc = make_test(tmp_path, present, uid=0, sudo_ok=False, absent=("vlc-bin", "mediainfo"))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "apt-get.calls").read_text().splitlines()
    assert calls == ["update -qq", "install -y -qq --no-install-recommends vlc-bin mediainfo"], calls
    assert (tmp_path / "suite-started").exists()
