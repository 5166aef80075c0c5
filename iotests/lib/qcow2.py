"""A small, read-only parser of qcow2 metadata, for cases that look beneath QEMU.

Corruption and repair cases must damage a *particular* structure (an L2
entry, a refcount block, the L1 table offset) and qcow2 internals cases must
assert what QEMU wrote on disk (feature bits, refcount widths, which host
cluster backs a guest cluster). Asking QEMU for those facts would test QEMU
with itself, so this module reads the file directly with :mod:`struct`,
following the qcow2 specification (docs/interop/qcow2.txt in QEMU's tree).
It only reads: the damage itself is done by :mod:`iotests.lib.damage`.

Everything is parsed on demand from the file; nothing is cached, because a
case usually changes the image between two looks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from iotests.lib.errors import ImageFormatError
from iotests.lib.filebytes import peek

MAGIC = 0x514649FB  # "QFI\xfb"

#: Offsets (bytes) and widths of the header fields, by name (for :mod:`iotests.lib.damage`).
HEADER_FIELDS: dict[str, tuple[int, int]] = {
    "magic": (0, 4),
    "version": (4, 4),
    "backing_file_offset": (8, 8),
    "backing_file_size": (16, 4),
    "cluster_bits": (20, 4),
    "size": (24, 8),
    "crypt_method": (32, 4),
    "l1_size": (36, 4),
    "l1_table_offset": (40, 8),
    "refcount_table_offset": (48, 8),
    "refcount_table_clusters": (56, 4),
    "nb_snapshots": (60, 4),
    "snapshots_offset": (64, 8),
    "incompatible_features": (72, 8),
    "compatible_features": (80, 8),
    "autoclear_features": (88, 8),
    "refcount_order": (96, 4),
    "header_length": (100, 4),
}

# Feature bits (specification, "Header").
INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION = 1 << 3
INCOMPAT_EXTL2 = 1 << 4
COMPAT_LAZY_REFCOUNTS = 1 << 0
AUTOCLEAR_BITMAPS = 1 << 0
AUTOCLEAR_DATA_FILE_RAW = 1 << 1

# Header extension types.
EXT_END = 0
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_BITMAPS = 0x23852875
EXT_CRYPTO = 0x0537BE77
EXT_DATA_FILE = 0x44415441

EXTENSION_NAMES = {
    EXT_BACKING_FORMAT: "backing-format",
    EXT_FEATURE_TABLE: "feature-table",
    EXT_BITMAPS: "bitmaps",
    EXT_CRYPTO: "crypto",
    EXT_DATA_FILE: "data-file",
}

#: Bits 9-55 of L1, L2 and refcount-table entries hold a host offset.
OFFSET_MASK = 0x00FFFFFFFFFFFE00
COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1 << 0


class Qcow2FormatError(ImageFormatError):
    """The file is not a qcow2 image this parser understands (bad magic, short read)."""


@dataclass(frozen=True)
class Extension:
    """One header extension: its type, where its data starts in the file, the data."""

    type: int
    offset: int
    data: bytes

    @property
    def name(self) -> str:
        return EXTENSION_NAMES.get(self.type, f"unknown-{self.type:#010x}")


@dataclass(frozen=True)
class Header:
    """The qcow2 header; version 2 images get the version 3 defaults for the v3 fields."""

    magic: int
    version: int
    backing_file_offset: int
    backing_file_size: int
    cluster_bits: int
    size: int
    crypt_method: int
    l1_size: int
    l1_table_offset: int
    refcount_table_offset: int
    refcount_table_clusters: int
    nb_snapshots: int
    snapshots_offset: int
    incompatible_features: int
    compatible_features: int
    autoclear_features: int
    refcount_order: int
    header_length: int
    compression_type: int
    extensions: tuple[Extension, ...]
    backing_file: str | None

    @property
    def cluster_size(self) -> int:
        return 1 << self.cluster_bits

    @property
    def refcount_bits(self) -> int:
        return 1 << self.refcount_order

    @property
    def extended_l2(self) -> bool:
        return bool(self.incompatible_features & INCOMPAT_EXTL2)

    @property
    def l2_entry_size(self) -> int:
        return 16 if self.extended_l2 else 8

    @property
    def l2_entries(self) -> int:
        """Entries per L2 table (one cluster of them)."""
        return self.cluster_size // self.l2_entry_size

    @property
    def dirty(self) -> bool:
        return bool(self.incompatible_features & INCOMPAT_DIRTY)

    @property
    def corrupt(self) -> bool:
        return bool(self.incompatible_features & INCOMPAT_CORRUPT)

    @property
    def lazy_refcounts(self) -> bool:
        return bool(self.compatible_features & COMPAT_LAZY_REFCOUNTS)

    @property
    def extensions_end(self) -> int:
        """File offset of the end-of-extensions marker (where a new one would go)."""
        if not self.extensions:
            return self.header_length
        last = self.extensions[-1]
        return last.offset + ((len(last.data) + 7) & ~7)

    def extension(self, ext_type: int) -> Extension | None:
        return next((e for e in self.extensions if e.type == ext_type), None)

    @property
    def backing_format(self) -> str | None:
        ext = self.extension(EXT_BACKING_FORMAT)
        return ext.data.decode() if ext else None

    def feature_names(self) -> dict[tuple[int, int], str]:
        """The feature name table as ``(kind, bit) -> name``.

        Kind 0 is incompatible, 1 compatible, 2 autoclear.
        """
        ext = self.extension(EXT_FEATURE_TABLE)
        if ext is None:
            return {}
        names = {}
        for pos in range(0, len(ext.data) - 47, 48):
            kind, bit = ext.data[pos], ext.data[pos + 1]
            names[(kind, bit)] = ext.data[pos + 2 : pos + 48].rstrip(b"\0").decode()
        return names


_V2 = struct.Struct(">IIQIIQIIQQIIQ")
_V3 = struct.Struct(">QQQII")


def read_header(path: str) -> Header:
    """Parse the header, its extensions and the backing file name of *path*.

    :raises Qcow2FormatError: when the magic is wrong or the header is cut short.
    """
    raw = peek(path, 0, 65536)
    if len(raw) < _V2.size:
        raise Qcow2FormatError(f"{path}: {len(raw)} bytes is too short for a qcow2 header")
    v2 = _V2.unpack_from(raw, 0)
    if v2[0] != MAGIC:
        raise Qcow2FormatError(f"{path}: bad magic {v2[0]:#010x}")
    version = v2[1]
    if version >= 3:
        incompat, compat, autoclear, refcount_order, header_length = _V3.unpack_from(raw, _V2.size)
    else:
        incompat, compat, autoclear, refcount_order, header_length = 0, 0, 0, 4, 72
    compression_type = raw[104] if header_length > 104 else 0
    extensions = []
    pos = header_length
    while pos + 8 <= len(raw):
        ext_type, length = struct.unpack_from(">II", raw, pos)
        if ext_type == EXT_END:
            break
        extensions.append(Extension(ext_type, pos + 8, raw[pos + 8 : pos + 8 + length]))
        pos += 8 + ((length + 7) & ~7)
    backing_file = None
    if v2[2]:
        backing_file = peek(path, v2[2], v2[3]).decode(errors="replace")
    return Header(
        magic=v2[0],
        version=version,
        backing_file_offset=v2[2],
        backing_file_size=v2[3],
        cluster_bits=v2[4],
        size=v2[5],
        crypt_method=v2[6],
        l1_size=v2[7],
        l1_table_offset=v2[8],
        refcount_table_offset=v2[9],
        refcount_table_clusters=v2[10],
        nb_snapshots=v2[11],
        snapshots_offset=v2[12],
        incompatible_features=incompat,
        compatible_features=compat,
        autoclear_features=autoclear,
        refcount_order=refcount_order,
        header_length=header_length,
        compression_type=compression_type,
        extensions=tuple(extensions),
        backing_file=backing_file,
    )


def _u64_table(path: str, offset: int, count: int) -> list[int]:
    data = peek(path, offset, count * 8)
    if len(data) != count * 8:
        raise Qcow2FormatError(f"{path}: table at {offset:#x} runs past the end of the file")
    return list(struct.unpack(f">{count}Q", data))


def l1_table(path: str, header: Header | None = None) -> list[int]:
    """The raw L1 entries (flags included)."""
    h = header or read_header(path)
    return _u64_table(path, h.l1_table_offset, h.l1_size)


@dataclass(frozen=True)
class L2Entry:
    """One guest cluster's L2 entry, decoded.

    ``entry_offset`` is where the entry itself sits in the file (to poke it);
    ``host_offset`` is the data cluster's offset (for compressed clusters, the
    byte offset of the compressed data); ``bitmap`` is the extended-L2
    allocation/zero bitmap (0 on images without extended L2).
    """

    entry_offset: int
    raw: int
    bitmap: int
    host_offset: int
    compressed: bool
    compressed_sectors: int
    zero: bool
    copied: bool

    @property
    def allocated(self) -> bool:
        return self.host_offset != 0


def _decode_l2(h: Header, entry_offset: int, raw: int, bitmap: int) -> L2Entry:
    compressed = bool(raw & COMPRESSED)
    if compressed:
        x = 62 - (h.cluster_bits - 8)
        host = raw & ((1 << x) - 1)
        sectors = ((raw >> x) & ((1 << (h.cluster_bits - 8)) - 1)) + 1
        return L2Entry(entry_offset, raw, bitmap, host, True, sectors, False, False)
    return L2Entry(
        entry_offset,
        raw,
        bitmap,
        raw & OFFSET_MASK,
        False,
        0,
        bool(raw & ZERO),
        bool(raw & COPIED),
    )


def l2_entry(path: str, guest_offset: int, header: Header | None = None) -> L2Entry | None:
    """The L2 entry mapping *guest_offset*, or None when its L2 table is unallocated."""
    h = header or read_header(path)
    cluster = guest_offset // h.cluster_size
    l1_index, l2_index = divmod(cluster, h.l2_entries)
    if l1_index >= h.l1_size:
        return None
    l2_offset = l1_table(path, h)[l1_index] & OFFSET_MASK
    if l2_offset == 0:
        return None
    entry_offset = l2_offset + l2_index * h.l2_entry_size
    if h.extended_l2:
        raw, bitmap = struct.unpack(">QQ", peek(path, entry_offset, 16))
    else:
        (raw,) = struct.unpack(">Q", peek(path, entry_offset, 8))
        bitmap = 0
    return _decode_l2(h, entry_offset, raw, bitmap)


def l2_table_offset(path: str, guest_offset: int, header: Header | None = None) -> int:
    """Host offset of the L2 table covering *guest_offset* (0 when unallocated)."""
    h = header or read_header(path)
    l1_index = guest_offset // h.cluster_size // h.l2_entries
    return l1_table(path, h)[l1_index] & OFFSET_MASK if l1_index < h.l1_size else 0


def host_offset(path: str, guest_offset: int, header: Header | None = None) -> int | None:
    """Host offset of the byte at *guest_offset*, or None when it is not stored in this file.

    Compressed clusters and zero clusters without a preallocated host cluster
    return None: there is no host byte that holds this guest byte as is.
    """
    h = header or read_header(path)
    entry = l2_entry(path, guest_offset, h)
    if entry is None or entry.compressed or not entry.allocated:
        return None
    return entry.host_offset + guest_offset % h.cluster_size


def refcount_table(path: str, header: Header | None = None) -> list[int]:
    """Raw refcount table entries (refcount block offsets, 0 when unallocated)."""
    h = header or read_header(path)
    return _u64_table(
        path, h.refcount_table_offset, h.refcount_table_clusters * h.cluster_size // 8
    )


def refcount_block_offset(path: str, host: int, header: Header | None = None) -> int:
    """Host offset of the refcount block covering host offset *host* (0 when none)."""
    h = header or read_header(path)
    per_block = h.cluster_size * 8 // h.refcount_bits
    index = host // h.cluster_size // per_block
    table = refcount_table(path, h)
    return table[index] & OFFSET_MASK if index < len(table) else 0


def refcount(path: str, host: int, header: Header | None = None) -> int:
    """The refcount of the host cluster containing *host* (0 for one no block covers)."""
    h = header or read_header(path)
    block = refcount_block_offset(path, host, h)
    if block == 0:
        return 0
    per_block = h.cluster_size * 8 // h.refcount_bits
    index = host // h.cluster_size % per_block
    bits = h.refcount_bits
    if bits >= 8:
        width = bits // 8
        return int.from_bytes(peek(path, block + index * width, width), "big")
    byte = peek(path, block + index * bits // 8, 1)[0]
    shift = index * bits % 8
    return (byte >> shift) & ((1 << bits) - 1)


def refcount_entry_offset(path: str, host: int, header: Header | None = None) -> int:
    """File offset of the refcount entry for *host*'s cluster (refcount_bits >= 8 only)."""
    h = header or read_header(path)
    if h.refcount_bits < 8:
        raise ValueError("sub-byte refcount entries have no byte offset of their own")
    block = refcount_block_offset(path, host, h)
    per_block = h.cluster_size * 8 // h.refcount_bits
    return block + (host // h.cluster_size % per_block) * (h.refcount_bits // 8)


@dataclass(frozen=True)
class Snapshot:
    """One entry of the internal snapshot table."""

    offset: int
    l1_table_offset: int
    l1_size: int
    id: str
    name: str
    vm_state_size: int
    disk_size: int | None


_SNAPSHOT = struct.Struct(">QIHHIIQII")


def snapshots(path: str, header: Header | None = None) -> list[Snapshot]:
    """The internal snapshot table, in on-disk order."""
    h = header or read_header(path)
    result = []
    pos = h.snapshots_offset
    for _ in range(h.nb_snapshots):
        fixed = peek(path, pos, _SNAPSHOT.size)
        l1_off, l1_size, id_len, name_len, _sec, _nsec, _clock, vm_state, extra_len = (
            _SNAPSHOT.unpack(fixed)
        )
        extra = peek(path, pos + _SNAPSHOT.size, extra_len)
        disk_size = struct.unpack_from(">Q", extra, 8)[0] if extra_len >= 16 else None
        strings = peek(path, pos + _SNAPSHOT.size + extra_len, id_len + name_len)
        result.append(
            Snapshot(
                offset=pos,
                l1_table_offset=l1_off,
                l1_size=l1_size,
                id=strings[:id_len].decode(),
                name=strings[id_len:].decode(),
                vm_state_size=vm_state,
                disk_size=disk_size,
            )
        )
        length = _SNAPSHOT.size + extra_len + id_len + name_len
        pos += (length + 7) & ~7
    return result
