"""The console reporter's closing lines: counts, CPU use and the slowest cases."""

from __future__ import annotations

from iotests.report.console import timing_lines
from iotests.runner.results import CaseResult, Status


def _result(name: str, status: Status, duration: float, cpu: float | None) -> CaseResult:
    return CaseResult(name, "qcow2", "file", status, duration=duration, cpu=cpu)


def test_cpu_use_and_the_three_slowest_of_the_cases_that_ran() -> None:
    results = [
        _result("001", Status.PASS, 1.0, 0.5),
        _result("002", Status.FAIL, 4.0, 3.0),
        _result("003", Status.PASS, 2.0, 1.5),
        _result("004", Status.TIMEOUT, 9.0, None),
        _result("005", Status.NOT_RUN, 30.0, 20.0),
        _result("006", Status.INTERRUPTED, 40.0, 20.0),
    ]
    assert timing_lines(results, 5.0) == [
        "Ran 4 of 6 cases in 5.0s; the cases used 5.0 CPU-s (1.0 CPUs busy on average)",
        "Slowest: 004 9.0s, 002 4.0s, 003 2.0s",
    ]


def test_few_cases_and_no_cpu_figures_keep_it_to_one_line() -> None:
    results = [_result("001", Status.PASS, 1.0, None), _result("002", Status.NOT_RUN, 0, None)]
    assert timing_lines(results, 1.25) == ["Ran 1 of 2 cases in 1.2s"]
