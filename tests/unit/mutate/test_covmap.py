"""The coverage map: line ranges, covering cases, per-file and per-area figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.errors import UsageError
from iotests.mutate.covmap import (
    CaseCoverage,
    CoverageMap,
    decode_lines,
    encode_lines,
    markdown,
    per_area,
    per_file,
    suite_digest,
)


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ([], ""),
        ([5], "5"),
        ([1, 2, 3, 7], "1-3,7"),
        ([9, 3, 2, 2, 10, 11], "2-3,9-11"),
    ],
)
def test_line_ranges_round_trip(lines: list[int], text: str) -> None:
    assert encode_lines(lines) == text
    assert decode_lines(text) == frozenset(lines)


def _map() -> CoverageMap:
    cmap = CoverageMap()
    exe = {"block/qcow2.c": range(1, 11), "block/io.c": range(1, 5), "qemu-img.c": range(1, 3)}
    cmap.add(
        "qcow2-file/001",
        CaseCoverage(
            "pass", 2.0, {"block/qcow2.c": frozenset({1, 2, 3}), "block/io.c": frozenset({1})}
        ),
        exe,
    )
    cmap.add("qcow2-file/002", CaseCoverage("pass", 0.5, {"block/qcow2.c": frozenset({3, 4})}), exe)
    cmap.add("qcow2-file/003", CaseCoverage("fail", 0.1, {"block/qcow2.c": frozenset({3})}), exe)
    return cmap


def test_covering_cases_are_fastest_first_and_can_exclude_failing_ones() -> None:
    cmap = _map()
    assert cmap.covering("block/qcow2.c", [3]) == [
        "qcow2-file/003",
        "qcow2-file/002",
        "qcow2-file/001",
    ]
    assert cmap.covering("block/qcow2.c", [3], passing_only=True) == [
        "qcow2-file/002",
        "qcow2-file/001",
    ]
    assert cmap.covering("block/qcow2.c", [9]) == []
    assert cmap.covering("nbd/server.c", [1]) == []


def test_per_file_and_per_area_figures() -> None:
    cmap = _map()
    files = {f.name: f for f in per_file(cmap)}
    assert (files["block/qcow2.c"].covered, files["block/qcow2.c"].total) == (4, 10)
    assert files["qemu-img.c"].cases == ()
    assert files["block/io.c"].cases == ("qcow2-file/001",)
    areas = {a.name: a for a in per_area(cmap, ["block/", "block/qcow2*.c", "qemu-img.c"])}
    assert (areas["block/"].covered, areas["block/"].total) == (5, 14)
    assert areas["qemu-img.c"].percent == 0.0
    assert (
        "| block/qcow2.c | 4/10 | 40.0% | qcow2-file/001, qcow2-file/002, qcow2-file/003 |"
        in markdown(cmap)
    )


def test_a_map_round_trips_through_its_file(tmp_path: Path) -> None:
    cmap = _map()
    cmap.meta["source"] = "debian"
    cmap.write(tmp_path / "m.json")
    again = CoverageMap.read(tmp_path / "m.json")
    assert again.serialize() == cmap.serialize()
    assert again.cases["qcow2-file/001"].files["block/qcow2.c"] == frozenset({1, 2, 3})


def test_a_map_of_another_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"version": 99}')
    with pytest.raises(UsageError, match=r"m\.json: format version 99, expected 1"):
        CoverageMap.read(tmp_path / "m.json")


def test_the_suite_digest_follows_content_not_times(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "001").write_text("print(1)\n")
    first = suite_digest([cases])
    (cases / "001").touch()
    assert suite_digest([cases]) == first
    (cases / "001").write_text("print(2)\n")
    assert suite_digest([cases]) != first
