"""Flake rates over many runs: ``iotests report --history DIR``.

One run says whether a case failed; only many runs say whether it fails
now and then. ``DIR`` holds the JSON run reports of earlier runs (say, a
CI job's last N, kept as artifacts, in folders of their own or not: every
``*.json`` under it counts). Per case and (format, protocol, flavour) this
prints how many runs came to a verdict, how many passed, failed or were
flaky, and the flake rate, the most unstable case first, with its verdicts
in time order.

The rule, in :class:`CaseHistory`: a run with a verdict is one where the
case passed, failed (``fail``, ``timeout``, ``error``, and ``known``: a
listed failure still failed) or was ``flaky``; "not run" and
"interrupted" say nothing about the case. A run is unstable when the case
was flaky in it, or failed in it while passing in other runs. The rate is
unstable runs over runs with a verdict. A case that failed in every run is
broken, not flaky: it is listed apart, as are (in one line) the cases that
passed every time.

Files under ``DIR`` that are not run reports (the runner's timings.json,
a truncated download) are passed over with a one-line note each: a history
is a measurement and a lost sample does not make it wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from iotests.errors import UsageError
from iotests.report.merge import Report, natural_key, not_a_report, read_report, run_span

PASSED = frozenset({"pass"})
FAILED = frozenset({"fail", "timeout", "error", "known"})
FLAKY = frozenset({"flaky"})
#: One letter per run in the table's last column.
LETTERS = {
    "pass": ".",
    "fail": "F",
    "timeout": "T",
    "error": "E",
    "known": "K",
    "flaky": "~",
    "not run": "-",
    "interrupted": "I",
}
#: How many of a case's latest runs the last column shows.
SHOWN_RUNS = 30


@dataclass(frozen=True)
class CaseHistory:
    """One case in one (format, protocol, flavour) over the runs, oldest first."""

    name: str
    column: str
    statuses: tuple[str, ...]

    def _count(self, statuses: frozenset[str]) -> int:
        return sum(s in statuses for s in self.statuses)

    @property
    def passed(self) -> int:
        return self._count(PASSED)

    @property
    def failed(self) -> int:
        return self._count(FAILED)

    @property
    def flaky(self) -> int:
        return self._count(FLAKY)

    @property
    def seen(self) -> int:
        """Runs that came to a verdict on the case."""
        return self.passed + self.failed + self.flaky

    @property
    def unstable(self) -> int:
        """Runs where it was flaky, or failed while it passed in others."""
        return self.flaky + (self.failed if self.passed + self.flaky else 0)

    @property
    def rate(self) -> float:
        return self.unstable / self.seen if self.seen else 0.0

    @property
    def broken(self) -> bool:
        """Failed in every run that came to a verdict."""
        return self.seen > 0 and self.failed == self.seen


def _when(report: Report) -> tuple[bool, datetime | str, str]:
    """Time order; reports that do not say when they ran go last, by path."""
    started = report.run.started
    if started is None:
        return (True, "", str(report.run.path))
    return (False, started, str(report.run.path))


def histories(reports: Sequence[Report]) -> list[CaseHistory]:
    """Each case's verdicts over *reports*, in the order the runs started."""
    seen: dict[tuple[str, str], list[str]] = {}
    for report in sorted(reports, key=_when):
        for result in report.results:
            seen.setdefault((result.name, result.column), []).append(result.status)
    return [CaseHistory(name, column, tuple(s)) for (name, column), s in seen.items()]


def unstable_first(cases: Sequence[CaseHistory]) -> list[CaseHistory]:
    """The cases with a flake rate above 0, the most unstable first."""
    found = [c for c in cases if c.rate > 0]
    found.sort(key=lambda c: (-c.rate, -c.unstable, natural_key(c.name), c.column))
    return found


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def table(reports: Sequence[Report], directory: Path) -> str:
    """The history as text: one header line, the table, the broken and the steady cases."""
    cases = histories(reports)
    runs = [r.run for r in reports]
    lines = [
        f"iotests report --history {directory}: {_plural(len(reports), 'run report')}, "
        f"{run_span(runs)}, {_plural(len(cases), 'case')}",
        "",
    ]
    unstable = unstable_first(cases)
    if unstable:
        head = ("case", "where", "runs", "passed", "failed", "flaky", "rate")
        rows = [
            (
                c.name,
                c.column,
                str(c.seen),
                str(c.passed),
                str(c.failed),
                str(c.flaky),
                f"{c.rate:.0%}",
                "".join(LETTERS[s] for s in c.statuses[-SHOWN_RUNS:]),
            )
            for c in unstable
        ]
        widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]
        left = 2  # name and column read left to right; counts line up on the right

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
                for i, cell in enumerate(cells[: len(head)])
            )

        lines.append(line(head) + f"  last runs, oldest first (at most {SHOWN_RUNS})")
        lines += [line(row) + "  " + row[-1] for row in rows]
        legend = "  ".join(f"{letter} {status}" for status, letter in LETTERS.items())
        lines += ["", f"last runs: {legend}"]
    else:
        lines.append(f"No case was unstable over these {_plural(len(reports), 'run')}.")
    broken = sorted((c for c in cases if c.broken), key=lambda c: (natural_key(c.name), c.column))
    if broken:
        listed = ", ".join(f"{c.name} {c.column} ({_plural(c.seen, 'run')})" for c in broken)
        lines.append(f"Failed in every run (broken, not flaky): {listed}")
    steady = sum(c.seen > 0 and c.passed == c.seen for c in cases)
    never = sum(c.seen == 0 for c in cases)
    tail = f"Passed in every run: {_plural(steady, 'case')}"
    lines.append(tail + (f"; never ran (not run or interrupted): {never}" if never else ""))
    return "\n".join(lines) + "\n"


def load_history(directory: Path, notes: list[str]) -> list[Report]:
    """Every run report under *directory*; each other file is a line added to *notes*.

    :raises UsageError: when *directory* is missing, not a directory, or holds no run report.
    """
    if not directory.exists():
        raise UsageError(f"--history {directory}: no such directory")
    if not directory.is_dir():
        raise UsageError(f"--history {directory}: not a directory")
    paths = sorted(directory.rglob("*.json"))
    reports = []
    for path in paths:
        try:
            report = read_report(path)
        except UsageError as exc:
            notes.append(f"{exc}, skipped")
            continue
        if report is None:
            notes.append(not_a_report(path))
        else:
            reports.append(report)
    if not reports:
        found = f"its {_plural(len(paths), 'JSON file')}" if paths else "no JSON file at all"
        raise UsageError(
            f"--history {directory}: no run report in it ({found}; iotests run --json FILE "
            "writes one)"
        )
    return reports


def print_history(directory: Path, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``iotests report --history DIR``: print the table; 0, since a measurement judges nothing.

    :param out: where the table goes (default: stdout), *err* the notes (stderr).
    :raises UsageError: as :func:`load_history`.
    """
    notes: list[str] = []
    try:
        reports = load_history(directory, notes)
    finally:
        for note in notes:
            print(f"iotests report: note: {note}", file=err or sys.stderr)
    (out or sys.stdout).write(table(reports, directory))
    return 0
