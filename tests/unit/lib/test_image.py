"""Pure helpers of the image module."""

from __future__ import annotations

from iotests.lib.extents import merge_ranges


def test_merge_ranges_joins_touching_neighbours() -> None:
    assert merge_ranges([(0, 10), (10, 5), (20, 4), (24, 1)]) == [(0, 15), (20, 5)]


def test_merge_ranges_keeps_gaps_and_handles_empty() -> None:
    assert merge_ranges([]) == []
    assert merge_ranges([(0, 1), (2, 1)]) == [(0, 1), (2, 1)]
