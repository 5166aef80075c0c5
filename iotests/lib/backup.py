"""Backups as an external tool runs them: dirty extents over NBD, copied piece by piece.

A backup application learns which ranges changed from a ``qemu:dirty-bitmap``
meta context of an NBD export and copies only those; these helpers do the
same with QEMU's own tools, so a case can restore the result and compare
it with the disk it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from iotests.lib.env import case_env
from iotests.lib.exports import QMPExport
from iotests.lib.extents import dirty_extents
from iotests.lib.image import img_map
from iotests.lib.names import Endpoint
from iotests.lib.output import log
from iotests.lib.protocol import qemu_io
from iotests.lib.qmp import QMPServer
from iotests.lib.tools import qemu_img


def bitmap_extents(server: QMPServer, node: str, bitmap: str) -> list[tuple[int, int]]:
    """The dirty extents of *bitmap* of *node*, as a third-party NBD client learns them.

    The node is exported with the bitmap (writable while the bitmap still
    records, since QEMU refuses an enabled bitmap on a read-only export) and
    ``qemu-img map`` reads the ``qemu:dirty-bitmap:NAME`` context.
    """
    info = server.bitmap(node, bitmap)
    recording = bool(info and info.get("recording"))
    with QMPExport(
        server, node, f"map-{bitmap}", bitmaps=[bitmap], writable=recording, quiet=True
    ) as export:
        return dirty_extents(img_map(export.image_opts(bitmap=bitmap), image_opts=True))


def log_extents(extents: Sequence[tuple[int, int]], what: str = "dirty") -> None:
    """Print extents one a line as ``dirty: START+LENGTH``."""
    if not extents:
        log(f"{what}: none")
    for start, length in extents:
        log(f"{what}: {start}+{length}")


def copy_extents(
    source: Endpoint, extents: Sequence[tuple[int, int]], target: str, target_fmt: str
) -> None:
    """Copy *extents* of an export into the same offsets of *target*, as a backup tool would.

    Each extent is read over NBD through a raw offset/size window (so only
    those bytes cross the wire) into a scratch file, then written into the
    target image with qemu-io.
    """
    window = ",".join(source.image_opts().split(",")[1:])  # the export, without "driver=raw"
    for start, length in extents:
        piece = str(case_env().test_dir / f"extent-{start}-{length}.raw")
        src = f"driver=raw,offset={start},size={length},{window}"
        qemu_img("convert", "--image-opts", src, "-O", "raw", piece, quiet=True).require()
        qemu_io(target, f"write -s {piece} {start} {length}", fmt=target_fmt, quiet=True)
        Path(piece).unlink()
