"""The qcow2 parser against images crafted byte by byte from the specification.

Crafting the bytes here (instead of asking qemu-img) keeps these tests free
of QEMU and pins the parser to the specification, not to what one QEMU
version happens to write; tests/integration/test_qcow2_images.py checks it
against real images.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from iotests.lib import damage, qcow2

CS = 4096  # cluster_bits 12 keeps the crafted files small


def craft(
    tmp_path: Path,
    *,
    version: int = 3,
    refcount_order: int = 4,
    incompat: int = 0,
    extensions: list[tuple[int, bytes]] | None = None,
    backing: bytes = b"",
) -> Path:
    """A tiny image: header in cluster 0, refcount table 1, refcount block 2,
    L1 table 3, L2 table 4, data clusters 5 and 6; guest clusters 0 and 2 mapped."""
    buf = bytearray(8 * CS)
    header_length = 112 if version >= 3 else 72
    struct.pack_into(
        ">IIQIIQIIQQIIQ", buf, 0,
        qcow2.MAGIC, version, 0, 0, 12, 16 * CS, 0, 1, 3 * CS, 1 * CS, 1, 0, 0,
    )  # fmt: skip
    if version >= 3:
        struct.pack_into(">QQQII", buf, 72, incompat, 1, 0, refcount_order, header_length)
    pos = header_length
    for ext_type, data in extensions or []:
        struct.pack_into(">II", buf, pos, ext_type, len(data))
        buf[pos + 8 : pos + 8 + len(data)] = data
        pos += 8 + (len(data) + 7) // 8 * 8
    pos += 8  # end marker (zeroes)
    if backing:
        struct.pack_into(">QI", buf, 8, pos, len(backing))
        buf[pos : pos + len(backing)] = backing
    struct.pack_into(">Q", buf, 1 * CS, 2 * CS)  # refcount table -> block
    bits = 1 << refcount_order
    for cluster in range(7):  # clusters 0-6 in use, refcount 1 (cluster 5: 2)
        value = min(2 if cluster == 5 else 1, (1 << bits) - 1)
        if bits >= 8:
            width = bits // 8
            off = 2 * CS + cluster * width
            buf[off : off + width] = value.to_bytes(width, "big")
        else:
            bit = cluster * bits
            buf[2 * CS + bit // 8] |= value << (bit % 8)
    struct.pack_into(">Q", buf, 3 * CS, qcow2.COPIED | 4 * CS)  # L1[0] -> L2
    struct.pack_into(">Q", buf, 4 * CS, 5 * CS)  # guest cluster 0, shared: no COPIED
    struct.pack_into(">Q", buf, 4 * CS + 16, qcow2.COPIED | 6 * CS)  # guest cluster 2
    struct.pack_into(">Q", buf, 4 * CS + 24, qcow2.ZERO)  # guest cluster 3: zero
    path = tmp_path / "crafted.qcow2"
    path.write_bytes(bytes(buf))
    return path


def test_header_fields(tmp_path: Path) -> None:
    h = qcow2.read_header(str(craft(tmp_path)))
    assert (h.version, h.cluster_size, h.size) == (3, CS, 16 * CS)
    assert (h.l1_table_offset, h.l1_size) == (3 * CS, 1)
    assert (h.refcount_table_offset, h.refcount_bits, h.header_length) == (CS, 16, 112)
    assert h.lazy_refcounts
    assert not h.dirty
    assert not h.corrupt
    assert h.backing_file is None


def test_version_2_gets_defaults(tmp_path: Path) -> None:
    h = qcow2.read_header(str(craft(tmp_path, version=2)))
    assert (h.version, h.refcount_bits, h.header_length, h.incompatible_features) == (2, 16, 72, 0)


def test_feature_bits(tmp_path: Path) -> None:
    incompat = qcow2.INCOMPAT_DIRTY | qcow2.INCOMPAT_CORRUPT | qcow2.INCOMPAT_EXTL2
    h = qcow2.read_header(str(craft(tmp_path, incompat=incompat)))
    assert h.dirty
    assert h.corrupt
    assert h.extended_l2
    assert h.l2_entry_size == 16
    assert h.l2_entries == CS // 16


def test_extensions_and_backing_file(tmp_path: Path) -> None:
    names = struct.pack(">BB46s", 0, 0, b"dirty bit") + struct.pack(">BB46s", 1, 0, b"lazy")
    path = craft(
        tmp_path,
        extensions=[(qcow2.EXT_BACKING_FORMAT, b"raw"), (qcow2.EXT_FEATURE_TABLE, names),
                    (0x12345678, b"x")],
        backing=b"base.img",
    )  # fmt: skip
    h = qcow2.read_header(str(path))
    assert [e.name for e in h.extensions] == [
        "backing-format",
        "feature-table",
        "unknown-0x12345678",
    ]
    assert h.backing_format == "raw"
    assert h.backing_file == "base.img"
    assert h.feature_names() == {(0, 0): "dirty bit", (1, 0): "lazy"}
    assert h.extensions_end == 112 + 8 + 8 + 8 + 96 + 8 + 8


def test_bad_magic_and_short_file(tmp_path: Path) -> None:
    path = craft(tmp_path)
    data = bytearray(path.read_bytes())
    data[0] = 0
    path.write_bytes(bytes(data))
    with pytest.raises(qcow2.Qcow2FormatError, match="bad magic"):
        qcow2.read_header(str(path))
    path.write_bytes(b"QFI")
    with pytest.raises(qcow2.Qcow2FormatError, match="too short"):
        qcow2.read_header(str(path))


def test_l2_entries_and_host_offsets(tmp_path: Path) -> None:
    path = str(craft(tmp_path))
    e0 = qcow2.l2_entry(path, 100)
    assert e0 is not None
    assert (e0.entry_offset, e0.host_offset, e0.copied, e0.compressed) == (
        4 * CS,
        5 * CS,
        False,
        False,
    )
    assert qcow2.host_offset(path, 100) == 5 * CS + 100
    assert qcow2.host_offset(path, CS) is None  # guest cluster 1 unallocated
    e3 = qcow2.l2_entry(path, 3 * CS)
    assert e3 is not None
    assert e3.zero
    assert not e3.allocated
    assert qcow2.l2_entry(path, 16 * CS * 1024) is None  # past the L1 table
    assert qcow2.l2_table_offset(path, 0) == 4 * CS


def test_compressed_entry_decoding(tmp_path: Path) -> None:
    path = craft(tmp_path)
    x = 62 - (12 - 8)
    raw = qcow2.COMPRESSED | (2 << x) | (5 * CS + 0x123)  # 3 sectors at an odd byte offset
    data = bytearray(path.read_bytes())
    struct.pack_into(">Q", data, 4 * CS + 8, raw)
    path.write_bytes(bytes(data))
    e = qcow2.l2_entry(str(path), CS)
    assert e is not None
    assert (e.compressed, e.host_offset, e.compressed_sectors) == (True, 5 * CS + 0x123, 3)
    assert qcow2.host_offset(str(path), CS) is None


@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 5, 6])
def test_refcounts_every_width(tmp_path: Path, order: int) -> None:
    path = str(craft(tmp_path, refcount_order=order))
    assert qcow2.refcount(path, 5 * CS + 7) == (2 if order else 1)  # 1 bit holds at most 1
    assert qcow2.refcount(path, 6 * CS) == 1
    assert qcow2.refcount(path, 7 * CS) == 0
    if order >= 3:
        assert qcow2.refcount_entry_offset(path, 5 * CS) == 2 * CS + 5 * (1 << order) // 8
    else:
        with pytest.raises(ValueError, match="sub-byte"):
            qcow2.refcount_entry_offset(path, 5 * CS)


def test_snapshot_table(tmp_path: Path) -> None:
    path = craft(tmp_path)
    data = bytearray(path.read_bytes())
    table = 7 * CS
    extra = struct.pack(">QQ", 0, 16 * CS)
    for i, (sid, name) in enumerate([(b"1", b"first"), (b"2", b"second!")]):
        entry = struct.pack(">QIHHIIQII", 3 * CS, 1, len(sid), len(name), 0, 0, 0, 0, len(extra))
        entry += extra + sid + name
        entry += bytes(-len(entry) % 8)
        data[table : table + len(entry)] = entry
        table += len(entry)
        struct.pack_into(">IQ", data, 60, i + 1, 7 * CS)
    path.write_bytes(bytes(data))
    snaps = qcow2.snapshots(str(path))
    assert [(s.id, s.name, s.disk_size, s.l1_table_offset) for s in snaps] == [
        ("1", "first", 16 * CS, 3 * CS),
        ("2", "second!", 16 * CS, 3 * CS),
    ]


def test_poke_field_round_trip(tmp_path: Path) -> None:
    path = str(craft(tmp_path))
    damage.poke_field(path, "nb_snapshots", 7, quiet=True)
    damage.poke_field(path, "incompatible_features", qcow2.INCOMPAT_CORRUPT, quiet=True)
    h = qcow2.read_header(path)
    assert h.nb_snapshots == 7
    assert h.corrupt
    assert h.l1_table_offset == 3 * CS  # neighbours untouched
