"""Selection by names, ranges, groups, exclusions, shards and start-from."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.errors import NoCasesError, UsageError
from iotests.runner.discovery import Case, sort_key
from iotests.runner.header import CaseHeader
from iotests.runner.selection import Selection, Shard, select


def make(name: str, *groups: str) -> Case:
    return Case(name, Path("cases") / name, CaseHeader(groups=frozenset(groups)), Path("expected"))


CASES = sorted(
    [
        make("001", "rw", "quick"),
        make("002", "rw"),
        make("010", "snapshot", "quick"),
        make("011", "snapshot"),
        make("050", "quick", "slow"),
        make("nbd-fleece", "nbd"),
    ],
    key=lambda c: sort_key(c.name),
)


def names(cases: list[Case]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        (Selection(), ["001", "002", "010", "011", "050", "nbd-fleece"]),
        (Selection(names=("1",)), ["001"]),
        (Selection(names=("011", "001")), ["001", "011"]),
        (Selection(names=("002-011",)), ["002", "010", "011"]),
        (Selection(names=("nbd-fleece", "1-2")), ["001", "002", "nbd-fleece"]),
        (Selection(groups=("quick",)), ["001", "010", "050"]),
        (Selection(groups=("rw", "nbd")), ["001", "002", "nbd-fleece"]),
        (Selection(groups=("quick",), exclude_groups=("slow",)), ["001", "010"]),
        (Selection(exclude_groups=("snapshot", "rw")), ["050", "nbd-fleece"]),
        (Selection(start_from="011"), ["011", "050", "nbd-fleece"]),
        (Selection(groups=("quick",), start_from="10"), ["010", "050"]),
    ],
)
def test_select(sel: Selection, expected: list[str]) -> None:
    assert names(select(CASES, sel)) == expected


def test_shards_are_disjoint_and_cover_everything() -> None:
    seen: list[str] = []
    for i in range(1, 4):
        part = names(select(CASES, Selection(shard=Shard(i, 3))))
        assert not set(part) & set(seen)
        seen += part
    assert sorted(seen, key=sort_key) == names(CASES)


def test_shard_is_deterministic() -> None:
    a = select(CASES, Selection(shard=Shard(2, 4)))
    b = select(list(CASES), Selection(shard=Shard(2, 4)))
    assert names(a) == names(b) == ["002", "nbd-fleece"]


def test_empty_shard_is_not_an_error() -> None:
    assert select(CASES[:1], Selection(shard=Shard(2, 2))) == []


@pytest.mark.parametrize(
    ("text", "index", "count"), [("1/1", 1, 1), ("2/4", 2, 4), (" 3/3 ", 3, 3)]
)
def test_shard_parse(text: str, index: int, count: int) -> None:
    assert Shard.parse(text) == Shard(index, count)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1-2", "2"])
def test_shard_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(NoCasesError, match=r"no case named '012' \(did you mean"):
        select(CASES, Selection(names=("012",)))


def test_empty_range() -> None:
    with pytest.raises(NoCasesError, match="no case in range 100-200"):
        select(CASES, Selection(names=("100-200",)))


def test_backwards_range() -> None:
    with pytest.raises(UsageError, match="backwards"):
        select(CASES, Selection(names=("10-2",)))


def test_unknown_group() -> None:
    with pytest.raises(NoCasesError, match=r"-g nosuch: no case is in group 'nosuch'$"):
        select(CASES, Selection(groups=("nosuch",)))


def test_unknown_group_names_the_closest_ones() -> None:
    # One typo among known groups is still a typo: it would silently select less.
    with pytest.raises(
        NoCasesError, match=r"-g quik: no case is in group 'quik' \(did you mean quick\?\)"
    ):
        select(CASES, Selection(groups=("rw", "quik")))


def test_unknown_excluded_group_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"-x snapshots: .* \(did you mean snapshot\?\)"):
        select(CASES, Selection(exclude_groups=("snapshots",)))


def test_start_from_must_be_selected() -> None:
    with pytest.raises(UsageError, match="--start-from 002"):
        select(CASES, Selection(groups=("snapshot",), start_from="002"))


def test_everything_excluded() -> None:
    with pytest.raises(NoCasesError):
        select(CASES, Selection(groups=("rw",), exclude_groups=("rw",)))


def test_sort_key_numbers_before_names() -> None:
    assert sorted(["b", "010", "2", "a", "001"], key=sort_key) == ["001", "2", "010", "a", "b"]
