"""The real thing: QEMU's tools from Debian's source package, then the quick group on them.

About 3 minutes of compile on 2 cores (less with a warm ccache), so it is
opt-in: it runs only when ``-m`` names the ``slow`` marker (see conftest.py),
e.g. ``pytest -m slow tests/integration/build``. Set
IOTESTS_BUILD_TEST_CACHE to a persistent directory to keep the build between
runs; by default it builds into the test's temporary directory.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from iotests import command
from iotests.build.actions import build_qemu
from iotests.build.cache import default_build_dir
from iotests.build.config import CONFIG_ENV
from iotests.build.sources import DebianSource
from iotests.errors import BuildError

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.timeout(2400)
def test_tools_profile_from_debian_source(tmp_path: Path, config_file: Path) -> None:
    try:
        DebianSource("debian").identity()
    except BuildError as exc:
        pytest.skip(f"no Debian qemu source package here: {exc}")
    cache = Path(os.environ.get("IOTESTS_BUILD_TEST_CACHE") or tmp_path / "cache")
    config_file.write_text(f"build:\n  default_source: debian\n  cache_dir: {cache}\n")

    first = build_qemu(source="debian", profile="tools")
    tree = first.entry.tree
    version = command.run([str(tree / "qemu-img"), "--version"]).stdout
    assert version.startswith(f"qemu-img version {first.manifest.version}")
    assert first.manifest.version.startswith("7.2")
    assert "--disable-install-blobs" in first.manifest.configure
    for binary in ("qemu-io", "qemu-nbd", "storage-daemon/qemu-storage-daemon"):
        assert command.is_executable(tree / binary), binary

    started = time.monotonic()
    second = build_qemu(source="debian", profile="tools")
    assert second.no_op
    assert time.monotonic() - started < 1.0
    assert default_build_dir() == tree

    # The runner reads the repository's own iotests.yaml (cases/, expected/). It
    # gets its own per-case timeout, well inside ours: killed from outside, it
    # could not take its cases' processes down with it.
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    run = command.run(
        [
            sys.executable,
            "-m",
            "iotests",
            "run",
            "-f",
            "qcow2",
            "-g",
            "quick",
            "--build-dir",
            str(tree),
            "-j",
            "2",
            "--timeout",
            "300",
        ],
        env=env,
        cwd=REPO,
        check=False,
        timeout=1800,
    )
    assert run.returncode == 0, run.output[-3000:]
