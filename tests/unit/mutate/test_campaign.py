"""A campaign on a fake build: kills, survivors, restores, resumption and batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_c", reason="the mutants extra is not installed")

from iotests.errors import BuildError, UsageError
from iotests.mutate import campaign
from iotests.mutate.campaign import Guard, ResultStore, Status, Workspace, batches
from iotests.mutate.covmap import CaseCoverage, CoverageMap
from iotests.mutate.engine import Mutant, generate

SOURCE = b"int f(int a)\n{\n    if (a < 2) {\n        g(a);\n    }\n    return a + 1;\n}\n"


class FakeWorkspace(Workspace):
    """A workspace whose 'build' is reading the planted source: no compiler needed."""

    seen: list[bytes]

    def rebuild(self) -> tuple[bool, str]:
        text = (self.source / "f.c").read_bytes()
        self.seen.append(text)
        return (b"a - 1" not in text, "error: the fake compiler refuses a - 1")


def _workspace(tmp_path: Path) -> FakeWorkspace:
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "f.c").write_bytes(SOURCE)
    ws = FakeWorkspace(tmp_path / "ws", origin, ("configure",))
    ws.seen = []
    (ws.source).mkdir(parents=True)
    (ws.source / "f.c").write_bytes(SOURCE)
    return ws


@dataclass
class FakeRunner:
    """Fails a case when the planted source contains its trigger text."""

    ws: FakeWorkspace
    triggers: dict[str, bytes]
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def __call__(self, combo: str, names: Sequence[str], timeout: float) -> dict[str, str]:
        self.calls.append((combo, tuple(names)))
        text = (self.ws.source / "f.c").read_bytes()
        return {n: ("fail" if self.triggers.get(n, b"\0") in text else "pass") for n in names}


def _map(lines: dict[str, set[int]], statuses: dict[str, str] | None = None) -> CoverageMap:
    cmap = CoverageMap()
    for name, hit in lines.items():
        status = (statuses or {}).get(name, "pass")
        cmap.add(
            f"qcow2-file/{name}",
            CaseCoverage(status, float(name[-1]), {"f.c": frozenset(hit)}),
            {"f.c": range(1, 8)},
        )
    return cmap


def _by(mutants: list[Mutant], original: str, replacement: str) -> Mutant:
    return next(m for m in mutants if (m.original, m.replacement) == (original, replacement))


def test_statuses_and_the_source_is_back_after_every_mutant(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    mutants = generate("f.c", SOURCE)
    chosen = [
        _by(mutants, "<", "<="),
        _by(mutants, "g(a);", ";"),
        _by(mutants, "+", "-"),
        _by(mutants, "1", "2"),
    ]
    runner = FakeRunner(ws, {"1": b"a <= 2", "2": b"a <= 2"})
    cmap = _map({"1": {3, 6}, "2": {3}, "3": {3, 6}}, {"3": "fail"})
    results = campaign.run(chosen, cmap, ws, ResultStore(tmp_path / "r.jsonl"), runner)
    assert [r.status for r in results] == [
        Status.KILLED,  # a <= 2: case 1 fails
        Status.NO_COVERAGE,  # line 4 ran in no case
        Status.COMPILE_ERROR,  # a - 1 does not compile here
        Status.SURVIVED,  # a + 2: nobody notices
    ]
    assert results[0].killed_by == ("qcow2-file/1", "qcow2-file/2")  # one batch of two
    # Case 3 failed on the unmutated build: it is never asked about a mutant.
    assert all("3" not in names for _combo, names in runner.calls)
    assert results[3].covered_by == ("qcow2-file/1",)
    assert (ws.source / "f.c").read_bytes() == SOURCE
    assert not ws.journal.exists()
    # The no-coverage mutant was never built; each other one was built once, mutated.
    assert SOURCE not in ws.seen
    assert len(ws.seen) == 3


def test_the_first_killing_batch_ends_the_mutant(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    mutant = _by(generate("f.c", SOURCE), "<", "<=")
    cmap = _map({str(n): {3} for n in range(1, 8)})
    runner = FakeRunner(ws, {"3": b"a <= 2"})
    [result] = campaign.run([mutant], cmap, ws, ResultStore(tmp_path / "r.jsonl"), runner)
    # Fastest first (durations 1..7): batches 1-2, then 3-6: 7 never runs.
    assert runner.calls == [("qcow2-file", ("1", "2")), ("qcow2-file", ("3", "4", "5", "6"))]
    assert (result.status, result.killed_by, result.tests_completed) == (
        Status.KILLED,
        ("qcow2-file/3",),
        6,
    )


def test_a_timeout_is_a_kill(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    mutant = _by(generate("f.c", SOURCE), "<", "<=")

    def hangs(combo: str, names: Sequence[str], timeout: float) -> dict[str, str]:
        assert timeout >= 15
        return dict.fromkeys(names, "timeout")

    [result] = campaign.run(
        [mutant], _map({"1": {3}}), ws, ResultStore(tmp_path / "r.jsonl"), hangs
    )
    assert result.status == Status.TIMEOUT
    assert result.status.detected


def test_results_are_written_per_mutant_and_a_rerun_resumes(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    mutants = [m for m in generate("f.c", SOURCE) if m.line == 3]
    store = ResultStore(tmp_path / "r.jsonl")
    cmap = _map({"1": {3}})
    calls = 0

    def interrupted_after_two(combo: str, names: Sequence[str], timeout: float) -> dict[str, str]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return dict.fromkeys(names, "pass")

    with pytest.raises(KeyboardInterrupt):
        campaign.run(mutants, cmap, ws, store, interrupted_after_two)
    assert (ws.source / "f.c").read_bytes() == SOURCE
    assert len(store.load()) == 2
    with store.path.open("a") as handle:
        handle.write('{"mutant": {"id": "cut sh')  # a line a kill cut short
    again: list[bool] = []
    results = campaign.run(
        mutants,
        cmap,
        ws,
        store,
        lambda c, n, t: dict.fromkeys(n, "fail"),
        lambda r, resumed: again.append(resumed),
    )
    assert again == [True, True] + [False] * (len(mutants) - 2)
    assert [r.status for r in results[:2]] == [Status.SURVIVED] * 2
    assert all(r.status == Status.KILLED for r in results[2:])


def test_a_journal_left_by_a_killed_campaign_is_repaired_from_the_origin(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    guard = Guard(ws)
    guard.plant(_by(generate("f.c", SOURCE), "<", "<="))
    assert (ws.source / "f.c").read_bytes() != SOURCE
    assert json.loads(ws.journal.read_text()) == {"f.c": hashlib.sha256(SOURCE).hexdigest()}
    assert ws.repair() == ["f.c"]  # what prepare() does first in the next campaign
    assert (ws.source / "f.c").read_bytes() == SOURCE
    assert not ws.journal.exists()


def test_a_changed_origin_stops_the_repair(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    Guard(ws).plant(_by(generate("f.c", SOURCE), "<", "<="))
    (ws.origin / "f.c").write_bytes(SOURCE + b"/* edited */\n")
    with pytest.raises(UsageError, match=r"f\.c: changed since the campaign began"):
        ws.repair()


def test_planting_never_writes_through_a_hard_link(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws.source / "f.c").unlink()
    (ws.source / "f.c").hardlink_to(ws.origin / "f.c")
    guard = Guard(ws)
    guard.plant(_by(generate("f.c", SOURCE), "<", "<="))
    assert (ws.origin / "f.c").read_bytes() == SOURCE
    guard.restore()
    assert (ws.source / "f.c").read_bytes() == SOURCE


def test_a_restore_that_does_not_read_back_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _workspace(tmp_path)
    guard = Guard(ws)
    guard.plant(_by(generate("f.c", SOURCE), "<", "<="))
    monkeypatch.setattr(campaign, "_replace", lambda path, data: None)
    with pytest.raises(BuildError, match="could not be restored"):
        guard.restore()


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (2, [2]), (3, [2, 1]), (7, [2, 4, 1]), (15, [2, 4, 8, 1])],
)
def test_batches_double(count: int, sizes: list[int]) -> None:
    cases = [str(n) for n in range(count)]
    got = list(batches(cases))
    assert [len(b) for b in got] == sizes
    assert [c for b in got for c in b] == cases


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ({"1": "timeout", "2": "timeout"}, Status.TIMEOUT),
        ({"1": "timeout", "2": "fail"}, Status.KILLED),
        ({"1": "fail", "2": "pass"}, Status.KILLED),
    ],
)
def test_a_mutant_is_a_timeout_only_when_every_failure_was_one(
    tmp_path: Path, verdicts: dict[str, str], expected: Status
) -> None:
    ws = _workspace(tmp_path)
    mutant = _by(generate("f.c", SOURCE), "<", "<=")
    [result] = campaign.run(
        [mutant],
        _map({"1": {3}, "2": {3}}),
        ws,
        ResultStore(tmp_path / "r.jsonl"),
        lambda c, names, t: {n: verdicts[n] for n in names},
    )
    assert result.status == expected
