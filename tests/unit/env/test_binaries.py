"""Which binary set a run uses: explicit variables first, then PATH."""

from __future__ import annotations

import os
from pathlib import Path

from iotests.env import binaries


def _fake(directory: Path, name: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


def test_variables_win_and_missing_names_the_programs(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    img = _fake(bindir, "qemu-img")
    io = _fake(tmp_path, "my-qemu-io")
    found = binaries.resolve(None, {"QEMU_IO_PROG": io}, use_cache=False, search_path=str(bindir))
    assert found.get("qemu-img") == img
    assert found.get("qemu-io") == io
    assert found.env() == {"QEMU_IMG_PROG": img, "QEMU_IO_PROG": io}
    assert found.missing() == [binaries.ROLES[0].program, "qemu-nbd", "qemu-storage-daemon"]


def test_nothing_missing_when_every_role_is_found(tmp_path: Path) -> None:
    for role in binaries.ROLES:
        _fake(tmp_path, role.program)
    found = binaries.resolve(None, {}, use_cache=False, search_path=str(tmp_path))
    assert found.missing() == []
    assert set(found.env()) == {r.variable for r in binaries.ROLES}
    assert all(os.path.dirname(p) == str(tmp_path) for p in found.env().values())
