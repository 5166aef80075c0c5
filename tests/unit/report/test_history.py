"""iotests.report.history: flake rates over many runs' reports (``iotests report --history``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iotests.report import history
from iotests.report.merge import CaseResult, Report, RunInfo, main_report


def report(day: int | None, *verdicts: tuple[str, str], fmt: str = "qcow2") -> Report:
    """One run on 2026-05-*day* (None: a report that does not say when), one result per verdict."""
    started = datetime(2026, 5, day, 8, 0, tzinfo=UTC) if day else None
    run = RunInfo(Path(f"/h/run-{day}.json"), started, started, None, None, "", None)
    results = [
        CaseResult(name, fmt, "file", status, None, 1.0, None, run.path.name)
        for name, status in verdicts
    ]
    return Report(run, results)


def test_rates_count_flakes_and_the_failures_of_cases_that_also_pass() -> None:
    runs = [
        report(1, ("flip", "pass"), ("flake", "flaky"), ("broken", "fail"), ("steady", "pass")),
        report(2, ("flip", "fail"), ("flake", "pass"), ("broken", "timeout"), ("steady", "pass")),
        report(3, ("flip", "pass"), ("flake", "pass"), ("broken", "known"), ("steady", "not run")),
        report(4, ("flip", "timeout"), ("flake", "interrupted"), ("gone", "not run")),
    ]
    found = {(c.name, c.column): c for c in history.histories(runs)}
    rows = {
        name: (
            c.statuses,
            c.seen,
            c.passed,
            c.failed,
            c.flaky,
            c.unstable,
            round(c.rate, 3),
            c.broken,
        )
        for (name, _), c in found.items()
    }
    assert rows == {
        "flip": (("pass", "fail", "pass", "timeout"), 4, 2, 2, 0, 2, 0.5, False),
        "flake": (("flaky", "pass", "pass", "interrupted"), 3, 2, 0, 1, 1, 0.333, False),
        "broken": (("fail", "timeout", "known"), 3, 0, 3, 0, 0, 0.0, True),
        "steady": (("pass", "pass", "not run"), 2, 2, 0, 0, 0, 0.0, False),
        "gone": (("not run",), 0, 0, 0, 0, 0, 0.0, False),
    }
    assert [c.name for c in history.unstable_first(list(found.values()))] == ["flip", "flake"]


def test_a_flake_alone_in_a_run_that_also_failed_counts_every_unsteady_run() -> None:
    runs = [report(d, ("001", s)) for d, s in enumerate(["flaky", "fail", "fail", "pass"], 1)]
    (case,) = history.histories(runs)
    assert (case.seen, case.unstable, case.rate) == (4, 3, 0.75)


def test_verdicts_are_in_the_order_the_runs_started_not_the_files() -> None:
    runs = [report(3, ("001", "fail")), report(None, ("001", "flaky")), report(1, ("001", "pass"))]
    (case,) = history.histories(runs)
    assert case.statuses == ("pass", "fail", "flaky"), "undated reports last"


def test_formats_and_flavours_are_separate_histories() -> None:
    runs = [
        report(1, ("001", "pass")),
        report(1, ("001", "fail"), fmt="raw"),
        report(2, ("001", "pass")),
        report(2, ("001", "pass"), fmt="raw"),
    ]
    rates = {c.column: c.rate for c in history.histories(runs)}
    assert rates == {"qcow2": 0.0, "raw": 0.5}


def test_the_table_is_most_unstable_first_with_the_broken_and_the_steady_apart() -> None:
    runs = [
        report(1, ("002", "pass"), ("010", "pass"), ("9", "flaky"), ("004", "fail"), ("1", "pass")),
        report(2, ("002", "fail"), ("010", "fail"), ("9", "pass"), ("004", "fail"), ("1", "pass")),
        report(3, ("002", "pass"), ("010", "pass"), ("9", "flaky"), ("4", "not run")),
    ]
    text = history.table(runs, Path("hist"))
    legend = "  ".join(f"{letter} {status}" for status, letter in history.LETTERS.items())
    assert text.splitlines() == [
        "iotests report --history hist: 3 run reports, 2026-05-01 08:00 to 2026-05-03 08:00 UTC, "
        "6 cases",
        "",
        "case  where  runs  passed  failed  flaky  rate  last runs, oldest first (at most 30)",
        "9     qcow2     3       1       0      2   67%  ~.~",
        "002   qcow2     3       2       1      0   33%  .F.",
        "010   qcow2     3       2       1      0   33%  .F.",
        "",
        f"last runs: {legend}",
        "Failed in every run (broken, not flaky): 004 qcow2 (2 runs)",
        "Passed in every run: 1 case; never ran (not run or interrupted): 1",
    ]


def test_a_history_without_flakes_says_so() -> None:
    text = history.table([report(1, ("001", "pass"))], Path("h"))
    assert text.splitlines()[2:] == [
        "No case was unstable over these 1 run.",
        "Passed in every run: 1 case",
    ]


def _run_report(path: Path, started: str, status: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"name": "001", "format": "raw", "protocol": "file", "status": status}
    path.write_text(json.dumps({"version": 1, "started": started, "results": [result]}))
    return path


def test_the_reports_under_the_directory_count_and_other_files_are_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run_report(tmp_path / "101" / "raw.json", "2026-05-01T08:00:00+00:00", "pass")
    _run_report(tmp_path / "102" / "raw.json", "2026-05-02T08:00:00+00:00", "fail")
    _run_report(tmp_path / "103.json", "2026-05-03T08:00:00+00:00", "flaky")
    (tmp_path / "101" / "timings.json").write_text("{}")
    (tmp_path / "102" / "cut.json").write_text('{"version": 1, "resul')
    (tmp_path / "old.json").write_text('{"version": 9, "results": []}')
    (tmp_path / "notes.txt").write_text("not JSON, not looked at")
    assert main_report(["--history", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    timings, cut, old = captured.err.splitlines()
    assert timings == (
        f"iotests report: note: {tmp_path / '101' / 'timings.json'}: not a run report "
        '(no "version" and "results"), skipped'
    )
    assert cut.startswith(f"iotests report: note: {tmp_path / '102' / 'cut.json'}: not JSON: ")
    assert cut.endswith(", skipped")
    assert old == (
        f"iotests report: note: {tmp_path / 'old.json'}: run report version 9; this toolkit "
        "reads version 1, skipped"
    )
    assert "001   raw       3       1       1      1   67%  .F~" in captured.out.splitlines()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "{d}: no such directory"),
        (lambda d: d, "{d}: no run report in it (no JSON file at all; "),
        (
            lambda d: (d / "f.json").write_text("{}") and d,
            "{d}: no run report in it (its 1 JSON file; ",
        ),
    ],
)
def test_no_history_is_a_one_line_error(
    tmp_path: Path, make: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = make(tmp_path)  # type: ignore[operator]
    assert main_report(["--history", str(directory)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"iotests report: error: --history {message.format(d=directory)}")
    assert len([line for line in err if "error" in line]) == 1


def test_a_file_is_not_a_history_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = _run_report(tmp_path / "r.json", "2026-05-01T08:00:00+00:00", "pass")
    assert main_report(["--history", str(one)]) == 2
    assert capsys.readouterr().err == f"iotests report: error: --history {one}: not a directory\n"


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["r.json"], "r.json"), (["--html", "out"], "--html"), (["--baseline", "b"], "--baseline")],
)
def test_history_is_not_mixed_with_a_merge(
    tmp_path: Path, extra: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_report(["--history", str(tmp_path), *extra]) == 2
    assert capsys.readouterr().err == (
        "iotests report: error: --history DIR reads the run reports in DIR and prints a table; "
        f"{named} belongs to a merge: give it without --history\n"
    )


def test_nothing_to_do_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_report([]) == 2
    assert capsys.readouterr().err == (
        "iotests report: error: give the run reports to merge (REPORT.json...), or --history DIR\n"
    )
