"""Writing bytes into an image file on purpose, and reading them back.

Corruption cases damage metadata at an offset they computed (usually with
:mod:`iotests.lib.qcow2`) and then watch QEMU detect or repair it. The writes
bypass QEMU entirely, so nothing here may go through a block driver; these
are plain file operations, big-endian where a width is given because every
on-disk format the cases poke at stores its integers that way.
"""

from __future__ import annotations

import os

from iotests.lib.output import log

_WIDTHS = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}


def peek(path: str, offset: int, length: int) -> bytes:
    """The *length* bytes at *offset* of *path* (short at the end of the file)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def poke(path: str, offset: int, data: bytes, *, quiet: bool = False) -> None:
    """Overwrite *data* at *offset* of *path* without truncating or extending past it.

    Prints what was written unless *quiet*, so the golden shows where a case
    damaged the image (offsets are image-layout facts, stable across hosts).
    """
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if not quiet:
        log(f"poke: {len(data)} bytes at offset {offset:#x}: {data.hex()}")


def _width_format(width: int) -> str:
    try:
        return _WIDTHS[width]
    except KeyError:
        raise ValueError(f"width must be one of {sorted(_WIDTHS)}, not {width}") from None


def peek_int(path: str, offset: int, width: int) -> int:
    """The big-endian unsigned integer of *width* bytes at *offset*."""
    import struct

    data = peek(path, offset, width)
    if len(data) != width:
        raise ValueError(f"{path}: only {len(data)} of {width} bytes at offset {offset:#x}")
    value: int = struct.unpack(_width_format(width), data)[0]
    return value


def poke_int(path: str, offset: int, value: int, width: int, *, quiet: bool = False) -> None:
    """Write *value* as a big-endian unsigned integer of *width* bytes at *offset*."""
    import struct

    poke(path, offset, struct.pack(_width_format(width), value), quiet=quiet)
