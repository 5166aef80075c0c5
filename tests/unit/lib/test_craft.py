"""The hand-built bochs and cloop layouts."""

from __future__ import annotations

import itertools
import struct
import zlib

import pytest

from iotests.lib.craft import BOCHS_UNALLOCATED, bochs_image, cloop_image


def test_bochs_header_catalog_and_bitmap() -> None:
    image = bochs_image(1 << 20, 65536, {3: (b"\xb3" * 65536, [0, 9])})
    magic, kind, sub, version, header, catalog, bitmap, extent = struct.unpack_from(
        "<32s16s16sIIIII", image
    )
    assert magic.rstrip(b"\0") == b"Bochs Virtual HD Image"
    assert (kind.rstrip(b"\0"), sub.rstrip(b"\0")) == (b"Redolog", b"Growing")
    assert (version, header, catalog, bitmap, extent) == (0x20000, 512, 16, 16, 65536)
    assert struct.unpack_from("<Q", image, 88)[0] == 1 << 20
    entries = struct.unpack_from("<16I", image, 512)
    assert entries[3] == 0
    assert all(e == BOCHS_UNALLOCATED for i, e in enumerate(entries) if i != 3)
    block = 512 + 64
    assert image[block : block + 2] == bytes([0b00000001, 0b00000010])
    assert image[block + 512 : block + 513] == b"\xb3"
    assert len(image) == block + 512 + 65536


def test_cloop_blocks_decompress_to_the_data() -> None:
    data = bytes(range(256)) * 8 + b"\x01"
    image = cloop_image(data, 1024)
    block_size, n_blocks = struct.unpack_from(">II", image, 128)
    assert (block_size, n_blocks) == (1024, 3)
    offsets = struct.unpack_from(">4Q", image, 136)
    assert offsets[0] == 136 + 32
    assert offsets[-1] == len(image)
    out = b"".join(zlib.decompress(image[a:b]) for a, b in itertools.pairwise(offsets))
    assert out == data.ljust(3072, b"\0")


def test_cloop_rejects_odd_block_sizes() -> None:
    with pytest.raises(ValueError, match="multiple of 512"):
        cloop_image(b"x", 1000)


def test_dmg_trailer_plist_and_mish() -> None:
    import base64
    import re

    from iotests.lib.craft import DMG_RAW, DMG_ZEROES, DMG_ZLIB, dmg_image

    raw, packed = b"\xd0" * 1024, b"\xd1" * 2048
    image = dmg_image([(DMG_RAW, raw), (DMG_ZEROES, 8), (DMG_ZLIB, packed)])
    koly = image[-512:]
    assert koly[:4] == b"koly"
    xml_offset, xml_length = struct.unpack_from(">QQ", koly, 0xD8)
    assert struct.unpack_from(">Q", koly, 0x1EC)[0] == 2 + 8 + 4
    plist = image[xml_offset : xml_offset + xml_length]
    found = re.search(rb"<data>(.*)</data>", plist)
    assert found is not None
    mish = base64.b64decode(found.group(1))
    assert mish[:4] == b"mish"
    entries = [struct.unpack_from(">IIQQQQ", mish, 204 + 40 * i) for i in range(4)]
    assert [(e[0], e[2], e[3]) for e in entries[:3]] == [
        (DMG_RAW, 0, 2),
        (DMG_ZEROES, 2, 8),
        (DMG_ZLIB, 10, 4),
    ]
    assert image[: len(raw)] == raw
    z = entries[2]
    assert zlib.decompress(image[z[4] : z[4] + z[5]]) == packed
    assert entries[3][0] == 0xFFFFFFFF
