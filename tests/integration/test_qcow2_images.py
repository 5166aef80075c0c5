"""The qcow2 parser against images qemu-img and qemu-io really wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iotests import command
from iotests.lib import qcow2

pytestmark = pytest.mark.qemu

QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
needs_tools = pytest.mark.skipif(
    QEMU_IMG is None or QEMU_IO is None, reason="qemu-img and qemu-io not on PATH"
)


def _img(*args: str) -> None:
    assert QEMU_IMG is not None
    command.run([QEMU_IMG, *args])


def _io(path: Path, *cmds: str) -> None:
    assert QEMU_IO is not None
    command.run([QEMU_IO, "-f", "qcow2", *(a for c in cmds for a in ("-c", c)), str(path)])


@needs_tools
def test_fresh_image_with_backing_and_snapshot(tmp_path: Path) -> None:
    base, img = tmp_path / "base.qcow2", tmp_path / "t.qcow2"
    _img("create", "-q", "-f", "qcow2", str(base), "1M")
    _img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k,refcount_bits=8",
         "-b", str(base), "-F", "qcow2", str(img), "2M")  # fmt: skip
    _io(img, "write -P 0x11 0 4k", "write -c -P 0x22 8k 4k")
    _img("snapshot", "-c", "s1", str(img))

    h = qcow2.read_header(str(img))
    assert (h.version, h.cluster_size, h.refcount_bits, h.size) == (3, 4096, 8, 2 << 20)
    assert h.backing_file == str(base)
    assert h.backing_format == "qcow2"
    assert not h.dirty
    assert not h.corrupt

    data = qcow2.l2_entry(str(img), 0, h)
    assert data is not None
    assert data.allocated
    assert not data.copied  # shared with the snapshot
    assert qcow2.refcount(str(img), data.host_offset, h) == 2
    with open(img, "rb") as f:
        f.seek(data.host_offset)
        assert f.read(4096) == b"\x11" * 4096

    compressed = qcow2.l2_entry(str(img), 8192, h)
    assert compressed is not None
    assert compressed.compressed
    assert qcow2.host_offset(str(img), 4096, h) is None

    assert [(s.id, s.name, s.disk_size) for s in qcow2.snapshots(str(img), h)] == [
        ("1", "s1", 2 << 20)
    ]


@needs_tools
def test_poked_refcount_is_what_check_reports(tmp_path: Path) -> None:
    img = tmp_path / "t.qcow2"
    _img("create", "-q", "-f", "qcow2", str(img), "1M")
    _io(img, "write -P 0x33 0 64k")
    host = qcow2.host_offset(str(img), 0)
    assert host is not None
    from iotests.lib.damage import poke_int

    poke_int(str(img), qcow2.refcount_entry_offset(str(img), host), 5, 2, quiet=True)
    assert QEMU_IMG is not None
    result = command.run([QEMU_IMG, "check", "-f", "qcow2", str(img)], check=False)
    assert f"cluster {host // 65536} refcount=5 reference=1" in result.output
