"""The live region on a terminal (counts, running cases, ETA) and plain lines elsewhere."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from iotests.report.console import ConsoleReporter, eta, in_ci
from iotests.runner.discovery import Case
from iotests.runner.header import CaseHeader
from iotests.runner.results import CaseResult, Status
from iotests.runner.scheduling import TimingStore
from iotests.runner.settings import RunSettings

QCOW2 = RunSettings(format="qcow2", jobs=2)


def _case(name: str) -> Case:
    return Case(name, Path("/cases") / name, CaseHeader(), Path("/expected"))


def _result(name: str, status: Status, reason: str | None = None, **extra: Any) -> CaseResult:
    return CaseResult(name, "qcow2", "file", status, reason, **extra)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rendered(reporter: ConsoleReporter) -> list[str]:
    out = Console(file=io.StringIO(), width=100, record=True)
    out.print(reporter.live_view())
    return out.export_text().splitlines()


def test_live_view_counts_failures_lists_running_cases_and_estimates_the_end() -> None:
    clock = Clock()
    durations = {"001": 2.0, "002": 4.0, "003": 7.0, "004": 10.0}
    reporter = ConsoleReporter(
        Console(file=io.StringIO()), durations=durations, environ={}, clock=clock
    )
    reporter.start([_case(n) for n in ("001", "002", "003", "004", "005", "006")], QCOW2)
    reporter.case_finished(_result("006", Status.NOT_RUN, "format qcow2 not supported"))
    reporter.case_started(_case("001"))
    clock.now = 101.0
    reporter.case_finished(_result("001", Status.FAIL, "output differs", duration=1.0))
    reporter.case_started(_case("004"))
    clock.now = 102.0
    reporter.case_started(_case("002"))
    clock.now = 105.0
    # Left: 004 10-4, 002 4-3, 003 7, 005 never timed: the median 5.5;
    # 19.5 s of work on 2 jobs.
    lines = _rendered(reporter)
    assert lines[0] == "[2/6]  1 failed  1 not run  ETA 10s"
    assert [line.split() for line in lines[1:]] == [
        ["004", "4s", "(last", "10.0s)"],
        ["002", "3s", "(last", "4.0s)"],
    ]


@pytest.mark.parametrize(
    ("pending", "running", "durations", "jobs", "expected"),
    [
        pytest.param(["a"], {}, {}, 2, None, id="nothing-ever-timed"),
        pytest.param(["a", "b"], {}, {"a": 4, "x": 2, "y": 6}, 1, 8.0, id="untimed-at-median"),
        pytest.param(["a", "b", "c", "d"], {}, dict.fromkeys("abcd", 2.0), 2, 4.0, id="per-job"),
        pytest.param(["a", "b"], {}, {"a": 10, "b": 1}, 4, 10.0, id="longest-case-bounds"),
        pytest.param([], {"a": 3.0}, {"a": 10.0}, 1, 7.0, id="running-counts-what-is-left"),
        pytest.param([], {"a": 30.0}, {"a": 10.0}, 1, 0.0, id="overdue-counts-nothing"),
        pytest.param([], {}, {"a": 1.0}, 1, 0.0, id="nothing-left"),
    ],
)
def test_eta_from_recorded_durations(
    pending: list[str],
    running: dict[str, float],
    durations: dict[str, float],
    jobs: int,
    expected: float | None,
) -> None:
    assert eta(pending, running, durations, jobs) == expected


def test_live_view_without_any_timings_shows_no_eta() -> None:
    reporter = ConsoleReporter(Console(file=io.StringIO()), environ={})
    reporter.start([_case("001")], QCOW2)
    reporter.case_started(_case("001"))
    assert "ETA" not in _rendered(reporter)[0]


def test_recorded_timings_reach_the_live_view(tmp_path: Path) -> None:
    store = TimingStore(tmp_path / "timings.json")
    store.record("qcow2-file", "001", 5.0)
    store.record("raw-file", "001", 99.0)
    store.save()
    reporter = ConsoleReporter.for_run(RunSettings(format="qcow2", results_dir=tmp_path))
    reporter.start([_case("001"), _case("002")], QCOW2)
    reporter.case_started(_case("001"))
    lines = _rendered(reporter)
    assert lines[0] == "[0/2]  ETA 5s"
    assert lines[1].split()[-2:] == ["(last", "5.0s)"]


def _run_through(reporter: ConsoleReporter) -> None:
    """A small run: one not run, one failure with a diff, one pass."""
    cases = [_case("001"), _case("002"), _case("003")]
    reporter.start(cases, QCOW2)
    reporter.case_finished(_result("003", Status.NOT_RUN, "format qcow2 not supported"))
    reporter.case_started(cases[0])
    reporter.case_started(cases[1])
    diff = "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new"
    failed = _result("001", Status.FAIL, "output differs from 001.out", duration=1.0, diff=diff)
    reporter.case_finished(failed)
    reporter.case_finished(_result("002", Status.PASS, duration=0.5))
    reporter.finish([failed, _result("002", Status.PASS, duration=0.5)], 1.5)


def test_a_terminal_gets_a_live_region_that_is_cleared_at_the_end() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, force_terminal=True, width=100), environ={})
    _run_through(reporter)
    raw = out.getvalue()
    assert "\x1b[?25l" in raw  # the cursor hidden while the region is drawn
    assert "[0/3]" in raw
    assert "\x1b[2K" in raw  # and the region erased
    assert raw.rstrip().endswith("iotests: 1 passed, 1 failed, 0 skipped\x1b[0m")


def test_the_live_region_is_redrawn_as_cases_start_and_finish() -> None:
    """Not at the next tick: a region lagging the lines above it shows cases already done."""
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, force_terminal=True, width=100), environ={})
    reporter.start([_case("001"), _case("002")], QCOW2)
    reporter.case_started(_case("001"))
    assert "  001 " in out.getvalue()
    reporter.case_finished(_result("001", Status.PASS, duration=0.1))
    assert "[1/2]" in out.getvalue()
    reporter.finish([_result("001", Status.PASS, duration=0.1)], 0.2)


@pytest.mark.parametrize(
    ("terminal", "environ"),
    [
        pytest.param(False, {}, id="pipe"),
        pytest.param(True, {"CI": "true"}, id="CI"),
        pytest.param(True, {"GITHUB_ACTIONS": "true"}, id="GITHUB_ACTIONS"),
        pytest.param(True, {"GITLAB_CI": "true"}, id="GITLAB_CI"),
    ],
)
def test_pipes_and_ci_get_plain_lines(terminal: bool, environ: dict[str, str]) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100)
    reporter = ConsoleReporter(console, environ=environ)
    _run_through(reporter)
    raw = out.getvalue()
    assert "\x1b" not in raw
    lines = raw.splitlines()
    assert lines[0] == "iotests: 3 cases, format qcow2, protocol file, 2 jobs"
    assert lines[1].split()[:2] == ["001", "fail"]
    assert lines[2:7] == ["--- a", "+++ b", "@@ -1 +1 @@", "-old", "+new"]
    assert not any(line.startswith("[") for line in lines)
    assert lines[-1] == "iotests: 1 passed, 1 failed, 0 skipped"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"CI": "1"}, True),
        ({"CI": "false"}, False),
        ({"CI": ""}, False),
        ({"GITHUB_ACTIONS": "true"}, True),
        ({"GITLAB_CI": "true"}, True),
    ],
)
def test_ci_detection(environ: dict[str, str], expected: bool) -> None:
    assert in_ci(environ) is expected
