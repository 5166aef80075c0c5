"""Ranges of a disk as cases compare them: merged, in order, free of host offsets.

QEMU splits its answers (``qemu-img map``, a bitmap's extents over NBD)
wherever its metadata happens to split; what a case relies on is which
guest ranges hold data, are dirty, or sit in which layer. These pure
functions merge neighbours that agree, so a result does not depend on how
QEMU cut it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: One merged ``qemu-img map`` extent: (start, length, data, zero, depth).
Extent = tuple[int, int, bool, bool, int]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(start, length)`` ranges in order, with touching neighbours joined into one."""
    merged: list[tuple[int, int]] = []
    for start, length in ranges:
        if merged and merged[-1][0] + merged[-1][1] == start:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        else:
            merged.append((start, length))
    return merged


def dirty_extents(mapping: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """``(start, length)`` of the dirty extents of a ``qemu-img map`` over a bitmap context.

    With ``x-dirty-bitmap`` QEMU reports a dirty extent as ``"data": false``;
    neighbouring dirty extents are merged.
    """
    return merge_ranges(
        (int(entry["start"]), int(entry["length"])) for entry in mapping if not entry["data"]
    )


def merge_extents(entries: Iterable[Mapping[str, Any]]) -> list[Extent]:
    """``qemu-img map --output=json`` entries as merged ``(start, length, data, zero, depth)``."""
    merged: list[Extent] = []
    for e in entries:
        item = (
            int(e["start"]),
            int(e["length"]),
            bool(e["data"]),
            bool(e["zero"]),
            int(e["depth"]),
        )
        if merged and merged[-1][0] + merged[-1][1] == item[0] and merged[-1][2:] == item[2:]:
            last = merged.pop()
            item = (last[0], last[1] + item[1], *item[2:])
        merged.append(item)
    return merged
