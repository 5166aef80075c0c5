"""The real CLI on real QEMU keeps its probe answers in the XDG cache and asks again only on change.

Each QEMU binary is reached through a wrapper that logs its arguments and
execs the real program, so the tests count the processes the runner starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from support.project import needs_qemu

from iotests import command
from iotests.env.binaries import ROLES
from iotests.env.probe_cache import CACHE_FILE

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.qemu, needs_qemu]


@pytest.fixture
def wrapped(tmp_path: Path) -> dict[str, str]:
    """QEMU_*_PROG variables naming logging wrappers of the binaries on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = {}
    for role in ROLES:
        real = shutil.which(role.program)
        if real is None:
            continue
        wrapper = bindir / role.program
        wrapper.write_text(
            f'#!/bin/sh\necho "{role.name} $*" >> {tmp_path}/asked.log\nexec {real} "$@"\n'
        )
        wrapper.chmod(0o755)
        env[role.variable] = str(wrapper)
    return env


def iotests(tmp_path: Path, *args: str, env: dict[str, str]) -> command.Completed:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("IOTESTS_", "XDG_", "QEMU_"))
    }
    environ.update(HOME=str(tmp_path / "home"), IOTESTS_NO_CACHED_BUILD="1", **env)
    result = command.run(
        [sys.executable, "-m", "iotests", *args],
        cwd=tmp_path,
        env=environ,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.output
    return result


def asked(tmp_path: Path) -> list[str]:
    log = tmp_path / "asked.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


LIST = [
    "list",
    "-f",
    "qcow2",
    "--cases-dir",
    str(REPO / "cases"),
    "--expected-dir",
    str(REPO / "expected"),
    "002",
]


@pytest.mark.parametrize("xdg", [True, False], ids=["XDG_CACHE_HOME set", "XDG_CACHE_HOME unset"])
def test_second_run_asks_no_binary_and_the_cache_is_where_xdg_says(
    tmp_path: Path, wrapped: dict[str, str], xdg: bool
) -> None:
    env = {**wrapped, **({"XDG_CACHE_HOME": str(tmp_path / "xdg")} if xdg else {})}
    cache = (tmp_path / "xdg" if xdg else tmp_path / "home" / ".cache") / "iotests" / CACHE_FILE
    iotests(tmp_path, *LIST, env=env)
    first = asked(tmp_path)
    assert "qemu-img --version" in first
    assert "qemu-img --help" in first
    assert cache.is_file()
    second = iotests(tmp_path, *LIST, env=env)
    assert asked(tmp_path) == []
    assert "002" in second.stdout
    # The other place stays empty: one cache, not two.
    other = (tmp_path / "home" / ".cache" if xdg else tmp_path / "xdg") / "iotests"
    assert not other.exists()


def test_a_rebuilt_binary_is_asked_again_and_a_real_run_uses_the_answers(
    tmp_path: Path, wrapped: dict[str, str]
) -> None:
    env = {**wrapped, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    iotests(tmp_path, *LIST, env=env)
    asked(tmp_path)
    img = Path(wrapped["QEMU_IMG_PROG"])
    img.write_text(img.read_text() + "# rebuilt\n")
    iotests(tmp_path, *LIST, env=env)
    assert sorted(asked(tmp_path)) == ["qemu-img --help", "qemu-img --version"]
    results = tmp_path / "results"
    run = iotests(
        tmp_path,
        "run",
        *LIST[1:],
        "-j1",
        "--results-dir",
        str(results),
        env=env,
    )
    assert "002      pass" in run.stdout
    assert not [line for line in asked(tmp_path) if line.endswith(("--version", " help"))]
