"""Reading bytes of an image file beneath QEMU: what a block driver must not be asked.

Parsers of on-disk metadata (:mod:`iotests.lib.qcow2`) and cases that
assert what QEMU wrote read the file directly; big-endian where a width is
given, because every on-disk format the cases look into stores its
integers that way. Writing on purpose is :mod:`iotests.lib.damage`.
"""

from __future__ import annotations

import struct

from iotests.lib.errors import ImageFormatError

_WIDTHS = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}


def peek(path: str, offset: int, length: int) -> bytes:
    """The *length* bytes at *offset* of *path* (short at the end of the file)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def width_format(width: int) -> str:
    """The :mod:`struct` format of a big-endian unsigned integer of *width* bytes."""
    try:
        return _WIDTHS[width]
    except KeyError:
        raise ValueError(f"width must be one of {sorted(_WIDTHS)}, not {width}") from None


def peek_int(path: str, offset: int, width: int) -> int:
    """The big-endian unsigned integer of *width* bytes at *offset*.

    :raises ImageFormatError: when the file ends before it (a ValueError too).
    """
    data = peek(path, offset, width)
    if len(data) != width:
        raise ImageFormatError(f"{path}: only {len(data)} of {width} bytes at offset {offset:#x}")
    value: int = struct.unpack(width_format(width), data)[0]
    return value
