"""iotests.upstream.selection: upstream's find_tests rules, not ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.errors import NoCasesError, UsageError
from iotests.runner.selection import Shard
from iotests.upstream import discovery
from iotests.upstream.selection import UpstreamSelection, select


def _names(tree: Path, **kwargs: object) -> list[str]:
    sel = UpstreamSelection(**kwargs)  # type: ignore[arg-type]
    return [c.name for c in select(discovery.discover(tree), sel)]


def test_everything_but_disabled_by_default(tree: Path) -> None:
    assert _names(tree) == ["001", "002", "004", "reopen-file"]


def test_groups_and_names_are_a_union(tree: Path) -> None:
    assert _names(tree, groups=("quick",), names=("2",)) == ["001", "002", "reopen-file"]


def test_disabled_runs_when_asked_for(tree: Path) -> None:
    assert _names(tree, groups=("disabled",)) == ["003"]
    assert _names(tree, names=("003",)) == ["003"]


def test_exclude_groups(tree: Path) -> None:
    assert _names(tree, exclude_groups=("quick",)) == ["002", "004"]
    assert _names(tree, groups=("rw",), exclude_groups=("auto",)) == ["reopen-file"]


def test_exclude_with_only_names_is_refused(tree: Path) -> None:
    with pytest.raises(UsageError, match="cannot exclude"):
        _names(tree, names=("001",), exclude_groups=("auto",))


def test_start_from_and_shard(tree: Path) -> None:
    assert _names(tree, start_from="2") == ["002", "004", "reopen-file"]
    assert _names(tree, shard=Shard(2, 2)) == ["002", "reopen-file"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"names": ("tests/reopen-file",)}, UsageError, "paths are not test names"),
        ({"names": ("999",)}, NoCasesError, "no upstream test named '999'"),
        ({"groups": ("nosuchgroup",)}, NoCasesError, "no tests selected"),
        ({"groups": ("auto",), "start_from": "reopen-file"}, UsageError, "not among"),
    ],
)
def test_errors(tree: Path, kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _names(tree, **kwargs)
