"""The live console view: a line per finished case, diffs for failures, a summary."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from iotests.runner.discovery import Case
from iotests.runner.results import CaseResult, Status, Tally
from iotests.runner.settings import RunSettings

_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.TIMEOUT: "bold red",
    Status.NOT_RUN: "yellow",
    Status.INTERRUPTED: "magenta",
}


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def timing_lines(results: Sequence[CaseResult], elapsed: float) -> list[str]:
    """How long the run took, how busy the cases kept the CPUs, and the slowest cases."""
    ran = [r for r in results if r.status not in (Status.NOT_RUN, Status.INTERRUPTED)]
    line = f"Ran {len(ran)} of {len(results)} cases in {elapsed:.1f}s"
    cpu = sum(r.cpu or 0.0 for r in ran)
    if cpu and elapsed > 0:
        line += f"; the cases used {cpu:.1f} CPU-s ({cpu / elapsed:.1f} CPUs busy on average)"
    lines = [line]
    if len(ran) > 3:
        slowest = sorted(ran, key=lambda r: -r.duration)[:3]
        lines.append("Slowest: " + ", ".join(f"{r.name} {_seconds(r.duration)}" for r in slowest))
    return lines


def diff_text(diff: str) -> Text:
    """A unified diff coloured the usual way."""
    text = Text()
    for line in diff.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line + "\n", style=style)
    return text


class ConsoleReporter:
    """Prints as cases finish; on a terminal also shows which cases are running."""

    def __init__(self, console: Console | None = None, show_diffs: bool = True) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.show_diffs = show_diffs
        self._running: dict[str, float] = {}
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._width = 8

    def _status_line(self) -> Text:
        now = time.monotonic()
        running = ", ".join(f"{n} ({now - t:.0f}s)" for n, t in sorted(self._running.items()))
        return Text(f"running: {running}" if running else "", style="dim")

    def start(self, cases: Sequence[Case], settings: RunSettings) -> None:
        self._width = max([len(c.name) for c in cases] + [8])
        self.console.print(
            f"[bold]iotests[/]: {len(cases)} cases, format {settings.format}, "
            f"protocol {settings.protocol}, {settings.jobs} jobs"
        )
        if self.console.is_terminal:
            self._live = Live(
                self._status_line(),
                console=self.console,
                transient=True,
                refresh_per_second=4,
                get_renderable=self._status_line,
            )
            self._live.start()

    def case_started(self, case: Case) -> None:
        with self._lock:
            self._running[case.name] = time.monotonic()

    def case_finished(self, result: CaseResult) -> None:
        with self._lock:
            self._running.pop(result.name, None)
        style = _STYLE[result.status]
        line = Text(f"{result.name:<{self._width}} ")
        line.append(f"{result.status.value:<11}", style=style)
        if result.status not in (Status.NOT_RUN, Status.INTERRUPTED):
            line.append(
                f" {_seconds(result.duration):>7}  cpu {_seconds(result.cpu):>6}"
                f"  (last {_seconds(result.last_duration)})"
            )
        if result.reason and result.status is not Status.PASS:
            line.append(
                f"  {result.reason}", style="dim" if result.status is Status.NOT_RUN else style
            )
        self.console.print(line)
        if result.status.failed and self.show_diffs:
            if result.diff:
                self.console.print(diff_text(result.diff))
            elif result.output_file:
                self.console.print(f"  output kept in {escape(result.output_file)}", style="dim")

    def finish(self, results: Sequence[CaseResult], elapsed: float) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        tally = Tally.of(list(results))
        failed = [r for r in results if r.status.failed]
        if failed:
            self.console.print("[bold red]Failures:[/] " + " ".join(r.name for r in failed))
        if tally.interrupted:
            self.console.print(f"[magenta]Interrupted:[/] {tally.interrupted} cases did not finish")
        for line in timing_lines(results, elapsed):
            self.console.print(line)
        self.console.print(f"iotests: {tally.line()}", style="bold red" if failed else "bold green")
