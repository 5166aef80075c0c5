"""Merging qemu-img map extents: what the chain cases compare allocation with."""

from __future__ import annotations

from typing import Any

from iotests.lib.extents import merge_extents


def ext(
    start: int, length: int, data: bool, zero: bool, depth: int, **extra: Any
) -> dict[str, Any]:
    return {"start": start, "length": length, "data": data, "zero": zero, "depth": depth, **extra}


def test_adjacent_agreeing_extents_merge_host_offsets_ignored() -> None:
    entries = [
        ext(0, 4096, True, False, 0, offset=327680, present=True),
        ext(4096, 4096, True, False, 0, offset=1 << 20, present=True),
        ext(8192, 8192, False, True, 1),
    ]
    assert merge_extents(entries) == [(0, 8192, True, False, 0), (8192, 8192, False, True, 1)]


def test_different_depth_or_flags_do_not_merge() -> None:
    entries = [
        ext(0, 512, True, False, 0),
        ext(512, 512, True, False, 1),
        ext(1024, 512, True, True, 1),
        ext(1536, 512, True, True, 1),
    ]
    assert merge_extents(entries) == [
        (0, 512, True, False, 0),
        (512, 512, True, False, 1),
        (1024, 1024, True, True, 1),
    ]


def test_gaps_do_not_merge_and_empty_input() -> None:
    assert merge_extents([ext(0, 512, True, False, 0), ext(1024, 512, True, False, 0)]) == [
        (0, 512, True, False, 0),
        (1024, 512, True, False, 0),
    ]
    assert merge_extents([]) == []
