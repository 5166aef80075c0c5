"""iotests.build.coverage: per-area summaries from gcovr's JSON summary."""

from __future__ import annotations

from pathlib import Path

from iotests.build.coverage import AREAS, QCOW2, Coverage, reset_counters, summarise

FILES = [
    {"filename": "block/qcow2.c", "line_covered": 50, "line_total": 100},
    {"filename": "block/qcow2-refcount.c", "line_covered": 10, "line_total": 100},
    {"filename": "block/raw-format.c", "line_covered": 40, "line_total": 50},
    {"filename": "nbd/server.c", "line_covered": 0, "line_total": 10},
    {"filename": "qemu-img.c", "line_covered": 30, "line_total": 60},
    {"filename": "qemu-io-cmds.c", "line_covered": 5, "line_total": 20},
    {"filename": "util/cutils.c", "line_covered": 9, "line_total": 9},
    {"filename": "blockdev.c", "line_covered": 1, "line_total": 1},
]


def test_areas_and_qcow2() -> None:
    result = {c.name: (c.covered, c.total) for c in summarise(FILES, [*AREAS, QCOW2])}
    assert result == {
        "block/": (100, 250),
        "nbd/": (0, 10),
        "qemu-img.c": (30, 60),
        "qemu-io-cmds.c": (5, 20),
        "block/qcow2*.c": (60, 200),
    }


def test_percent_and_line() -> None:
    assert Coverage("x", 0, 0).percent == 0.0
    assert Coverage("block/qcow2*.c", 60, 200).line() == ("block/qcow2*.c    30.0% lines (60/200)")


def test_reset_counters(tmp_path: Path) -> None:
    (tmp_path / "a.p").mkdir()
    (tmp_path / "a.p" / "x.gcda").write_bytes(b"1")
    (tmp_path / "a.p" / "x.gcno").write_bytes(b"1")
    assert reset_counters(tmp_path) == 1
    assert [p.name for p in (tmp_path / "a.p").iterdir()] == ["x.gcno"]
