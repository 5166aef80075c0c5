"""Damaging an image on purpose: bytes, integers and named qcow2 header fields.

Corruption cases damage metadata at an offset they computed (usually with
:mod:`iotests.lib.qcow2`) and then watch QEMU detect or repair it. The
writes bypass QEMU entirely, so nothing here may go through a block driver:
these are plain file operations, each printed unless *quiet*, so the golden
shows where a case damaged the image (offsets are image-layout facts,
stable across hosts).
"""

from __future__ import annotations

import os
import struct

from iotests.lib import qcow2
from iotests.lib.filebytes import width_format
from iotests.lib.output import log


def poke(path: str, offset: int, data: bytes, *, quiet: bool = False) -> None:
    """Overwrite *data* at *offset* of *path* without truncating or extending past it."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if not quiet:
        log(f"poke: {len(data)} bytes at offset {offset:#x}: {data.hex()}")


def poke_int(path: str, offset: int, value: int, width: int, *, quiet: bool = False) -> None:
    """Write *value* as a big-endian unsigned integer of *width* bytes at *offset*."""
    poke(path, offset, struct.pack(width_format(width), value), quiet=quiet)


def poke_field(path: str, name: str, value: int, *, quiet: bool = False) -> None:
    """Overwrite qcow2 header field *name* (a key of :data:`~iotests.lib.qcow2.HEADER_FIELDS`)."""
    offset, width = qcow2.HEADER_FIELDS[name]
    poke_int(path, offset, value, width, quiet=True)
    if not quiet:
        log(f"poke: header field {name} = {value:#x}")
