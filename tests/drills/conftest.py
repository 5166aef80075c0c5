"""Fault drills: what a user can do to a run, or suffer, and what must follow.

Each drill is a test that provokes one fault with real processes (real
QEMU, real signals, real tarballs, a tiny filesystem) and asserts the
verdict, the exit code, the reports and that nothing is left behind. Its
docstring's first line names the drill in the table printed at the end
(``nox -s drills``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class _Row:
    title: str
    outcome: str = "passed"
    seconds: float = 0.0


@dataclass
class _Table:
    rows: dict[str, _Row] = field(default_factory=dict)


_TABLE = _Table()


def _title(item: pytest.Item) -> str:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else item.name
    params = item.name.partition("[")[2]
    return f"{first} [{params}" if params else first


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/drills/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.drill)
            _TABLE.rows[item.nodeid] = _Row(_title(item))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    row = _TABLE.rows.get(report.nodeid)
    if row is None:
        return
    row.seconds += report.duration
    if report.skipped:
        row.outcome = "skipped"
    elif report.failed:
        row.outcome = "FAILED" if report.when == "call" else f"ERROR ({report.when})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = [r for r in _TABLE.rows.values() if r.seconds > 0 or r.outcome != "passed"]
    if not ran:
        return
    width = min(90, max(len(r.title) for r in ran))
    terminalreporter.section("fault drills")
    terminalreporter.line(f"{'drill':<{width}}  {'verdict':<8} {'seconds':>8}")
    for row in ran:
        terminalreporter.line(f"{row.title[:width]:<{width}}  {row.outcome:<8} {row.seconds:8.2f}")
    passed = sum(r.outcome == "passed" for r in ran)
    terminalreporter.line(f"{passed} of {len(ran)} drills passed")
