"""The real thing for ``debian:SUITE``: sid's QEMU tools built from its source package.

Opt-in like the other real builds (``-m slow``): several minutes of compile
on 2 cores, less with a warm ccache. IOTESTS_BUILD_TEST_SUITE names the
source (default ``debian:sid=1:10.2.2+ds-1``, the newest sid upload the
mirror CI reaches serves; plain ``debian:sid`` where a mirror serves 11.x),
IOTESTS_BUILD_TEST_CACHE a persistent cache.
Besides the build, the test proves the promise the adapter makes: the
host's apt sources, indexes and package caches are exactly as before.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from iotests import command
from iotests.build.actions import build_qemu
from iotests.build.config import load_build_config
from iotests.build.sources import DebianSuiteSource, parse_source

HOST_APT = (Path("/etc/apt"), Path("/var/lib/apt/lists"), Path("/var/cache/apt"))


def _host_apt_state() -> dict[str, str]:
    """Every file of the host's apt configuration, indexes and caches, by content."""
    state: dict[str, str] = {}
    for top in HOST_APT:
        for path in sorted(top.rglob("*")) if top.is_dir() else []:
            if path.is_file() and not path.is_symlink() and path.name != "lock":
                try:
                    state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                except PermissionError:
                    state[str(path)] = f"unreadable {path.stat().st_mtime_ns}"
    return state


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.timeout(3600)
def test_tools_profile_from_a_debian_suite(tmp_path: Path, config_file: Path) -> None:
    spec = os.environ.get("IOTESTS_BUILD_TEST_SUITE", "debian:sid=1:10.2.2+ds-1")
    cache = Path(os.environ.get("IOTESTS_BUILD_TEST_CACHE") or tmp_path / "cache")
    config_file.write_text(f"build:\n  cache_dir: {cache}\n")
    before = _host_apt_state()

    first = build_qemu(source=spec, profile="tools", jobs=2)
    source = parse_source(spec, load_build_config())
    assert isinstance(source, DebianSuiteSource)
    assert first.manifest.source["identity"] == source.identity()
    assert first.manifest.version == source.record.upstream
    tree = first.entry.tree
    version = command.run([str(tree / "qemu-img"), "--version"]).stdout
    assert version.startswith(f"qemu-img version {first.manifest.version}")
    for binary in ("qemu-io", "qemu-nbd", "storage-daemon/qemu-storage-daemon"):
        assert command.is_executable(tree / binary), binary
    qsd = command.run([str(tree / "storage-daemon/qemu-storage-daemon"), "--version"]).stdout
    assert first.manifest.version in qsd
    # A crypto backend: configure adds none to a tools-only build by itself.
    luks = command.run(
        [
            str(tree / "qemu-img"), "create", "-f", "luks",
            "--object", "secret,id=s0,data=pass", "-o", "key-secret=s0,iter-time=10",
            str(tmp_path / "t.luks"), "1M",
        ],
        check=False,
    )  # fmt: skip
    assert luks.returncode == 0, luks.output

    started = time.monotonic()
    second = build_qemu(source=spec, profile="tools")
    assert second.no_op
    assert second.entry.key == first.entry.key
    assert time.monotonic() - started < 1.0

    assert _host_apt_state() == before, "the host's apt files changed"
