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


Q10 = Variant("qcow2", "nbd", "none", qemu=(10, 0, 13))
VERSIONED = ["042.out.qemu-9.2", "042.out.qemu-10.0", "042.out.qemu-10.1", "042.out.qcow2.qemu-8.2"]


def test_version_variants_come_before_their_level_newest_reached_first() -> None:
    assert candidates("042", Q10, VERSIONED) == [
        "042.out.qcow2.nbd",
        "042.out.none",
        "042.out.qcow2.qemu-8.2",
        "042.out.qcow2",
        "042.out.nbd",
        "042.out.qemu-10.0",
        "042.out.qemu-9.2",
        "042.out",
    ]


@pytest.mark.parametrize(
    ("qemu", "present", "chosen"),
    [
        # A version variant takes effect from its version on, also for later releases.
        ((7, 2, 22), {"042.out", "042.out.qemu-10.0"}, "042.out"),
        ((9, 2, 4), {"042.out", "042.out.qemu-10.0"}, "042.out"),
        ((10, 0, 0), {"042.out", "042.out.qemu-10.0"}, "042.out.qemu-10.0"),
        ((11, 2, 0), {"042.out", "042.out.qemu-10.0"}, "042.out.qemu-10.0"),
        # A master build after 10.0 is not yet 10.1, unless the variant says 10.0.50.
        ((10, 0, 50), {"042.out", "042.out.qemu-10.1"}, "042.out"),
        ((10, 0, 50), {"042.out", "042.out.qemu-10.0.50"}, "042.out.qemu-10.0.50"),
        # The format level wins over a version variant of a less specific level.
        ((10, 0, 13), {"042.out.qcow2", "042.out.qemu-10.0"}, "042.out.qcow2"),
        ((10, 0, 13), {"042.out.qcow2", "042.out.qcow2.qemu-9.1"}, "042.out.qcow2.qemu-9.1"),
        # Unknown version: plain goldens only.
        (None, {"042.out", "042.out.qemu-7.0"}, "042.out"),
    ],
)
def test_choose_by_version(
    qemu: tuple[int, int, int] | None, present: set[str], chosen: str
) -> None:
    variant = Variant("qcow2", "file", "writeback", qemu=qemu)
    result = choose(
        Path("exp"),
        "042",
        variant,
        exists=lambda p: p.name in present,
        versioned=lambda d, n: [p for p in present if ".qemu-" in p],
    )
    assert result is not None
    assert result.name == chosen


def test_choose_by_version_on_disk(tmp_path: Path) -> None:
    for name in (
        "7.out",
        "7.out.qemu-10.0",
        "7.out.qemu-x",
        "17.out.qemu-9.0",
        "7[1].out.qemu-9.0",
    ):
        (tmp_path / name).write_text("x\n")
    old = Variant("raw", "file", "writeback", qemu=(7, 2, 22))
    new = Variant("raw", "file", "writeback", qemu=(10, 0, 13))
    assert choose(tmp_path, "7", old) == tmp_path / "7.out"
    assert choose(tmp_path, "7", new) == tmp_path / "7.out.qemu-10.0"
    assert choose(tmp_path, "7[1]", new) == tmp_path / "7[1].out.qemu-9.0"
