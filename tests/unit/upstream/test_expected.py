"""iotests.upstream.expected: testrunner.py's find_reference order."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.upstream.expected import candidates, reference


@pytest.mark.parametrize(
    ("cachemode", "machine", "expected"),
    [
        ("writeback", "pc", ["051.out.qcow2", "051.pc.out", "051.out"]),
        ("none", "pc", ["051.out.nocache", "051.out.qcow2", "051.pc.out", "051.out"]),
        ("writeback", "", ["051.out.qcow2", "051.out"]),
    ],
)
def test_candidates(cachemode: str, machine: str, expected: list[str]) -> None:
    assert candidates("051", "qcow2", cachemode, machine) == expected


def test_reference_takes_the_first_that_exists() -> None:
    present = {Path("/t/051.pc.out"), Path("/t/051.out")}
    assert reference(Path("/t"), "051", "qcow2", "writeback", "pc", present.__contains__) == Path(
        "/t/051.pc.out"
    )
    assert reference(Path("/t"), "051", "raw", "none", "q35", present.__contains__) == Path(
        "/t/051.out"
    )
    assert reference(Path("/t"), "052", "raw", "none", "pc", present.__contains__) is None
