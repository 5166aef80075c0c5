"""Which golden file is chosen: the most specific variant that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.runner.expected import Variant, candidates, choose

V = Variant("qcow2", "nbd", "none")


def test_candidate_order() -> None:
    assert candidates("042", V) == [
        "042.out.qcow2.nbd",
        "042.out.none",
        "042.out.qcow2",
        "042.out.nbd",
        "042.out",
    ]


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        ({"042.out"}, "042.out"),
        ({"042.out", "042.out.nbd"}, "042.out.nbd"),
        ({"042.out", "042.out.nbd", "042.out.qcow2"}, "042.out.qcow2"),
        ({"042.out.qcow2", "042.out.none"}, "042.out.none"),
        ({"042.out", "042.out.qcow2.nbd", "042.out.none"}, "042.out.qcow2.nbd"),
        ({"042.out.raw", "042.out.file"}, None),
        (set(), None),
    ],
)
def test_choose(present: set[str], chosen: str | None) -> None:
    result = choose(Path("exp"), "042", V, exists=lambda p: p.name in present)
    assert (result.name if result else None) == chosen


def test_choose_on_disk(tmp_path: Path) -> None:
    (tmp_path / "7.out").write_text("a\n")
    (tmp_path / "7.out.qcow2").write_text("b\n")
    assert choose(tmp_path, "7", Variant("qcow2", "file", "writeback")) == tmp_path / "7.out.qcow2"
    assert choose(tmp_path, "7", Variant("raw", "file", "writeback")) == tmp_path / "7.out"
