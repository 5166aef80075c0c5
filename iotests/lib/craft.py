"""Building images of read-only formats byte by byte.

QEMU can read bochs, cloop and dmg images but cannot create them, so cases that
test those drivers build small images here, from the published layouts,
with :mod:`struct` and :mod:`zlib`. The functions are pure: they return the
file's bytes, which makes them testable without QEMU.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping, Sequence

SECTOR = 512
BOCHS_UNALLOCATED = 0xFFFFFFFF


def bochs_image(
    disk_size: int,
    extent_size: int,
    extents: Mapping[int, tuple[bytes, Sequence[int]]],
) -> bytes:
    """A bochs "growing" redolog image (version 2).

    :param extents: extent index -> (extent data, indexes of the sectors
        marked present in that extent's bitmap). Sectors not marked read as
        zeroes whatever the data holds; extents not listed are unallocated.
    """
    sectors_per_extent = extent_size // SECTOR
    catalog_entries = -(-disk_size // extent_size)
    bitmap_size = -(-sectors_per_extent // 8)
    bitmap_blocks = -(-bitmap_size // SECTOR)
    header = struct.pack(
        "<32s16s16sIIIIIIQ",
        b"Bochs Virtual HD Image",
        b"Redolog",
        b"Growing",
        0x00020000,
        SECTOR,
        catalog_entries,
        bitmap_size,
        extent_size,
        0,
        disk_size,
    ).ljust(SECTOR, b"\0")
    catalog = [BOCHS_UNALLOCATED] * catalog_entries
    blocks = b""
    for slot, (index, (data, present)) in enumerate(sorted(extents.items())):
        catalog[index] = slot
        bitmap = bytearray(bitmap_blocks * SECTOR)
        for sector in present:
            bitmap[sector // 8] |= 1 << (sector % 8)
        blocks += bytes(bitmap) + data.ljust(extent_size, b"\0")[:extent_size]
    return header + struct.pack(f"<{catalog_entries}I", *catalog) + blocks


CLOOP_PREAMBLE = b"#!/bin/sh\n#V2.0 Format\n"


def cloop_image(data: bytes, block_size: int) -> bytes:
    """A cloop (V2) image of *data*, each block zlib-compressed on its own.

    *data* is padded with zeroes to a whole number of blocks.
    """
    if block_size % SECTOR or block_size <= 0:
        raise ValueError(f"block size {block_size} is not a positive multiple of {SECTOR}")
    n_blocks = -(-len(data) // block_size)
    padded = data.ljust(n_blocks * block_size, b"\0")
    chunks = [zlib.compress(padded[i * block_size : (i + 1) * block_size]) for i in range(n_blocks)]
    offsets = [128 + 8 + 8 * (n_blocks + 1)]
    for chunk in chunks:
        offsets.append(offsets[-1] + len(chunk))
    head = CLOOP_PREAMBLE.ljust(128, b"\0") + struct.pack(">II", block_size, n_blocks)
    return head + struct.pack(f">{n_blocks + 1}Q", *offsets) + b"".join(chunks)


#: dmg chunk types this module can build.
DMG_ZEROES, DMG_RAW, DMG_ZLIB = 0x00000000, 0x00000001, 0x80000005
_DMG_LAST = 0xFFFFFFFF


def dmg_image(chunks: Sequence[tuple[int, bytes | int]]) -> bytes:
    """A UDIF (dmg) image: a data fork, a plist with one 'mish' block, a koly trailer.

    :param chunks: in disk order, ``(type, data)`` with type :data:`DMG_RAW`
        or :data:`DMG_ZLIB` and *data* a whole number of sectors, or
        ``(DMG_ZEROES, sectors)``.
    """
    fork = b""
    entries = b""
    sector = 0
    for kind, payload in chunks:
        if kind == DMG_ZEROES:
            if not isinstance(payload, int):
                raise TypeError("a zero chunk takes a sector count")
            count, stored = payload, b""
        else:
            if isinstance(payload, int) or len(payload) % SECTOR:
                raise ValueError("a data chunk takes whole sectors of bytes")
            count = len(payload) // SECTOR
            stored = zlib.compress(payload) if kind == DMG_ZLIB else payload
        entries += struct.pack(">IIQQQQ", kind, 0, sector, count, len(fork), len(stored))
        fork += stored
        sector += count
    entries += struct.pack(">IIQQQQ", _DMG_LAST, 0, sector, 0, len(fork), 0)
    mish = struct.pack(">IIQQQ", 0x6D697368, 1, 0, sector, 0).ljust(204, b"\0") + entries
    plist = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
        b"<key>resource-fork</key><dict><key>blkx</key><array><dict>"
        b"<key>Name</key><string>iotests</string><key>Data</key><data>"
        + base64.b64encode(mish)
        + b"</data></dict></array></dict></dict></plist>\n"
    )
    trailer = bytearray(512)
    struct.pack_into(">4sII", trailer, 0, b"koly", 4, 512)
    struct.pack_into(">QQ", trailer, 0x18, 0, len(fork))
    struct.pack_into(">QQ", trailer, 0xD8, len(fork), len(plist))
    struct.pack_into(">Q", trailer, 0x1EC, sector)
    return fork + plist + bytes(trailer)
