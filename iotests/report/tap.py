"""TAP version 13 on stdout (``--tap``), numbered in the order cases finish."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from iotests.runner.discovery import Case
from iotests.runner.results import CaseResult, Status, Tally
from iotests.runner.settings import RunSettings


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("#", "\\#").replace("\n", " ")


class TapReporter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._n = 0
        #: The suite's notes on the finished run, written as TAP comments.
        self.notes: Callable[[Sequence[CaseResult]], list[str]] | None = None

    def start(self, cases: Sequence[Case], settings: RunSettings) -> None:
        self.stream.write(f"TAP version 13\n1..{len(cases)}\n")
        self.stream.flush()

    def case_started(self, case: Case) -> None:
        pass

    def case_finished(self, result: CaseResult) -> None:
        self._n += 1
        ok = "not ok" if result.status.failed or result.status is Status.INTERRUPTED else "ok"
        line = f"{ok} {self._n} - {result.name} {result.format}-{result.protocol}"
        if result.status is Status.NOT_RUN:
            line += f" # SKIP {_escape(result.reason or '')}"
        elif result.status is Status.KNOWN:
            # TAP's TODO: a failure that is expected, not counted against the run.
            line = f"not ok {self._n} - {result.name} {result.format}-{result.protocol}"
            line += f" # TODO {_escape(result.reason or '')}"
        elif result.status is Status.FLAKY:
            line += f" # flaky: {_escape(result.reason or '')}"
        self.stream.write(line + "\n")
        if ok == "not ok":
            self.stream.write("  ---\n")
            self.stream.write(f"  status: {result.status.value}\n")
            self.stream.write(f"  reason: {_escape(result.reason or '')!r}\n")
            if result.diff:
                self.stream.write("  diff: |\n")
                for diff_line in result.diff.splitlines():
                    self.stream.write(f"    {diff_line}\n")
            self.stream.write("  ...\n")
        self.stream.flush()

    def finish(self, results: Sequence[CaseResult], elapsed: float) -> None:
        for note in self.notes(results) if self.notes else []:
            self.stream.write(f"# {note}\n")
        self.stream.write(f"# {Tally.of(list(results)).line()}\n")
        self.stream.flush()
