"""scripts/install-deps stops at the first failed step, with one line naming it.

The real script runs in a copy of the checkout with a PATH of its own: the
real shell tools, the real Python (for the virtual environment), and stub
apt-get, dpkg-query, id and sudo that fail on demand and log their calls,
so no test changes this machine's packages. README's commands on a real
clean Debian are proved by scripts/test-fresh-debian (CI, not pytest).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from iotests import command

REPO = Path(__file__).resolve().parents[2]
#: What install-deps and scripts/nox use besides the stubs (bash runs through /usr/bin/env).
REAL_TOOLS = (
    "bash",
    "env",
    "dirname",
    "basename",
    "sha256sum",
    "cut",
    "cat",
    "rm",
    "sh",
    "grep",
    "head",
    "awk",
)


@dataclass
class Machine:
    """A checkout copy and the PATH its install-deps sees."""

    repo: Path
    bin: Path
    log: Path

    def stub(self, name: str, body: str) -> None:
        """An executable *name* that logs its arguments, then runs *body* (sh)."""
        path = self.bin / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >>"{self.log}"\n{body}\n')
        path.chmod(0o755)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def install_deps(self, uid: int = 0) -> command.Completed:
        env = {
            "PATH": str(self.bin),
            "FAKE_UID": str(uid),
            "HOME": str(self.repo.parent / "home"),
            # pip may use no index, no config file and no cache: nothing to fetch.
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_NO_CACHE_DIR": "1",
        }
        return command.run(
            [str(self.repo / "scripts" / "install-deps")],
            env=env,
            cwd=self.repo,
            check=False,
            merge_stderr=False,
            timeout=120,
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    for name in ("install-deps", "nox"):
        shutil.copy2(REPO / "scripts" / name, repo / "scripts" / name)
    (repo / "scripts" / "invoke").symlink_to("nox")
    shutil.copy2(REPO / "pyproject.toml", repo / "pyproject.toml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in REAL_TOOLS:
        real = shutil.which(tool)
        assert real is not None, f"{tool} is needed to run install-deps"
        (bin_dir / tool).symlink_to(real)
    # The Python that runs the tests stands in for the system python3.
    (bin_dir / "python3").symlink_to(sys.executable)
    m = Machine(repo=repo, bin=bin_dir, log=tmp_path / "calls.log")
    m.stub("id", 'echo "${FAKE_UID:-0}"')
    return m


def last_line(result: command.Completed) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def test_failed_apt_update_stops_before_anything_else(machine: Machine) -> None:
    machine.stub("dpkg-query", "exit 1")
    machine.stub("apt-get", "exit 100")
    result = machine.install_deps()
    assert result.returncode == 1, result.output
    assert last_line(result) == "install-deps: apt-get update failed (see above)"
    assert [c.split()[0:2] for c in machine.calls() if c.startswith("apt-get")] == [
        ["apt-get", "update"]
    ]
    assert not (machine.repo / ".venv").exists()


def test_failed_apt_install_names_the_packages(machine: Machine) -> None:
    machine.stub(
        "dpkg-query",
        'case "$*" in *qemu-utils*|*valgrind*) exit 1;; esac; echo -n "install ok installed"',
    )
    machine.stub(
        "apt-get", 'case "$1" in update) exit 0;; esac; echo "E: no such package" >&2; exit 100'
    )
    result = machine.install_deps()
    assert result.returncode == 1, result.output
    assert (
        last_line(result) == "install-deps: apt-get install failed (see above): qemu-utils valgrind"
    )
    assert "E: no such package" in result.stderr
    assert not (machine.repo / ".venv").exists()


def test_not_root_without_sudo_stops_before_apt(machine: Machine) -> None:
    machine.stub("dpkg-query", "exit 1")
    machine.stub("apt-get", "exit 0")
    result = machine.install_deps(uid=1000)
    assert result.returncode == 1, result.output
    assert last_line(result).startswith("install-deps: not root and sudo is missing: run as root")
    assert not [c for c in machine.calls() if c.startswith("apt-get")]


def test_not_root_runs_apt_through_sudo_and_stays_noninteractive(machine: Machine) -> None:
    machine.stub(
        "dpkg-query", 'case "$*" in *gnupg*) exit 1;; esac; echo -n "install ok installed"'
    )
    # Like sudo's env_reset: the command gets a clean environment.
    machine.stub("sudo", f'exec env -i PATH="{machine.bin}" "$@"')
    machine.stub(
        "apt-get",
        'echo "apt-get sees DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >>"$0.log"; [ "$1" = update ]',
    )
    result = machine.install_deps(uid=1000)
    assert result.returncode == 1, result.output
    assert last_line(result) == "install-deps: apt-get install failed (see above): gnupg"
    sudo_calls = [c for c in machine.calls() if c.startswith("sudo")]
    assert [c.split()[1:4] for c in sudo_calls] == [
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    ] * 2
    assert (machine.bin / "apt-get.log").read_text().splitlines() == [
        "apt-get sees DEBIAN_FRONTEND=noninteractive"
    ] * 2


def test_failed_pip_install_stops_and_leaves_no_stamp(machine: Machine) -> None:
    machine.stub("dpkg-query", 'echo -n "install ok installed"')
    machine.stub("apt-get", "exit 100")
    result = machine.install_deps()
    assert result.returncode == 1, result.output
    venv = machine.repo / ".venv"
    assert last_line(result) == (
        f"install-deps: pip could not install the toolkit with nox, uv and invoke into {venv}"
        " (see above)"
    )
    assert (venv / "bin" / "python").exists()
    assert not (venv / ".install-deps-stamp").exists()
    assert not [c for c in machine.calls() if c.startswith("apt-get")]


@pytest.mark.parametrize("tool", ["nox", "invoke"])
def test_wrapper_without_venv_names_install_deps(machine: Machine, tool: str) -> None:
    result = command.run(
        [str(machine.repo / "scripts" / tool), "--version"], check=False, merge_stderr=False
    )
    assert result.returncode == 127
    assert result.stderr == (
        f"{tool}: {machine.repo}/.venv/bin/{tool} is missing: run ./scripts/install-deps first\n"
    )


def test_invoke_wrapper_finds_tasks_from_any_directory(machine: Machine, tmp_path: Path) -> None:
    venv_bin = machine.repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "invoke").write_text('#!/bin/sh\necho "$@"\n')
    (venv_bin / "invoke").chmod(0o755)
    result = command.run(
        [str(machine.repo / "scripts" / "invoke"), "--list"], cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.output
    assert result.stdout == f"--search-root {machine.repo} --list\n"


def test_too_old_python_is_refused_before_the_venv(machine: Machine) -> None:
    machine.stub("dpkg-query", 'echo -n "install ok installed"')
    machine.stub("apt-get", "exit 100")
    (machine.bin / "python3").unlink()
    machine.stub("python3", "echo 3.10")
    result = machine.install_deps()
    assert result.returncode == 1, result.output
    assert last_line(result) == (
        "install-deps: python3 is Python 3.10; the toolkit needs 3.11 or later (set IOTESTS_PYTHON)"
    )
    assert not (machine.repo / ".venv").exists()
