"""The console view: a line per finished case, a live progress region, a closing summary.

What a block developer reads at the end of a run is what they act on next:
which cases failed and the command that re-runs them, how to accept output
that changed on purpose, where a hung case's partial output is, and why
cases did not run (by reason, not one line each). The live region (counts,
the running cases, an ETA) is drawn only on an interactive terminal; in a
pipe or under CI the same lines come out plain, without control codes.
"""

from __future__ import annotations

import os
import shlex
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text

from iotests.options import Options
from iotests.runner.results import CaseResult, Status, Tally
from iotests.runner.scheduling import TimingStore
from iotests.runner.settings import RunSettings

if TYPE_CHECKING:
    from iotests.runner.discovery import Case
    from iotests.upstream.suite import UpstreamSuite

_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.TIMEOUT: "bold red",
    Status.NOT_RUN: "yellow",
    Status.INTERRUPTED: "magenta",
    Status.ERROR: "bold red",
    Status.KNOWN: "yellow",
    Status.FLAKY: "bold yellow",
}

#: Running cases listed in the live region before the rest are only counted.
_MAX_RUNNING_SHOWN = 10

#: Lines of a timed-out case's output shown under it: where it hung.
_TAIL_LINES = 5


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _clock(seconds: float) -> str:
    """A duration the way a progress line reads it: 42s, 3m05s, 1h02m."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def in_ci(environ: Mapping[str, str]) -> bool:
    """Whether a CI system runs us: its log keeps every byte, so nothing may be redrawn."""
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    return any(environ.get(name) for name in ("GITHUB_ACTIONS", "GITLAB_CI"))


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


def not_run_line(results: Sequence[CaseResult]) -> str | None:
    """The not-run cases counted by reason, most common first (ties in order of appearance)."""
    reasons = Counter(r.reason or "no reason given" for r in results if r.status is Status.NOT_RUN)
    if not reasons:
        return None
    parts = ", ".join(f"{reason} ({n})" for reason, n in reasons.most_common())
    return f"{sum(reasons.values())} not run: {parts}"


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


def eta(
    pending: Sequence[str],
    running: Mapping[str, float],
    durations: Mapping[str, float],
    jobs: int,
) -> float | None:
    """Seconds until the run ends, from the durations of earlier runs (pure).

    *pending* cases take their last duration, *running* ones (name: seconds
    so far) what is left of it; a case never timed counts as the median of
    the known durations. The work is spread over *jobs*, but the run cannot
    end before its longest remaining case. None when nothing was ever timed.
    """
    known = list(durations.values())
    if not known:
        return None
    typical = statistics.median(known)
    left = [durations.get(name, typical) for name in pending]
    left += [max(durations.get(name, typical) - spent, 0.0) for name, spent in running.items()]
    if not left:
        return 0.0
    return max(sum(left) / max(jobs, 1), *left)


@dataclass(frozen=True)
class Rerun:
    """The command lines that run failed cases again and that accept their new output."""

    #: Re-runs the cases with this run's format, protocol, options and paths.
    again: tuple[str, ...]
    #: Runs them writing their output as the goldens.
    accept: tuple[str, ...]

    @classmethod
    def of(
        cls,
        settings: RunSettings,
        options: Options | None = None,
        upstream: UpstreamSuite | None = None,
    ) -> Rerun:
        """Spell this run's choices the way the user typed the command (``run`` or ``check``).

        Paths given on the command line are repeated as given: the user
        re-runs from where they ran. Upstream tests are re-run with
        ``iotests check``; it has no way to write references, so accepting
        goes through ``iotests run --upstream TREE``. Without *options*,
        nothing was given.
        """
        given = options or Options()
        paths: list[str] = []
        for flag, value in (
            ("--config", given.config),
            ("--build-dir", given.build_dir),
            ("--cases-dir", given.cases_dir),
            ("--expected-dir", given.expected_dir),
            ("--results-dir", given.results_dir),
        ):
            if value:
                paths += [flag, value]
        run = ["iotests", "run", "-f", settings.format]
        if settings.protocol != "file":
            run += ["-p", settings.protocol]
        run += _options(settings, "-c", "-i", "-o", "--valgrind", "--misalign")
        if upstream is None:
            return cls(tuple(run + paths), (*run, *paths, "--regenerate"))
        tree = given.upstream or str(upstream.tree)
        check = ["iotests", "check", f"-{settings.format}"]
        if settings.protocol != "file":
            check.append(f"-{settings.protocol}")
        check += _options(settings, "-c", "-i", "-o", "-valgrind", "-misalign")
        if given.upstream:
            check += ["--upstream", tree]
        accept = [*run[:2], "--upstream", tree, *run[2:], *paths, "--regenerate"]
        return cls(tuple(check + paths), tuple(accept))

    def again_line(self, names: Sequence[str]) -> str:
        return shlex.join([*self.again, *names])

    def accept_line(self, names: Sequence[str]) -> str:
        return shlex.join([*self.accept, *names])


def _options(
    settings: RunSettings, cache: str, aio: str, imgopts: str, valgrind: str, misalign: str
) -> list[str]:
    """The options that change how a case runs, where they differ from the defaults."""
    words: list[str] = []
    if settings.cachemode != RunSettings.cachemode:
        words += [cache, settings.cachemode]
    if settings.aiomode != RunSettings.aiomode:
        words += [aio, settings.aiomode]
    if settings.imgopts:
        words += [imgopts, settings.imgopts]
    if settings.valgrind:
        words.append(valgrind)
    if settings.misalign:
        words.append(misalign)
    if settings.timeout != RunSettings.timeout:
        words += ["--timeout", f"{settings.timeout:g}"]
    return words


#: What only a crash prints: a Python traceback, bash reporting a child killed by a
#: signal, a sanitizer's report. Output showing one is a bug to fix, not to accept.
_CRASH_MARKERS = (
    "Traceback (most recent call last):",
    "Segmentation fault",
    "(core dumped)",
    "Sanitizer",
)


def crash_shown(diff: str) -> str | None:
    """The first line of new output in *diff* that shows a crash, if any (pure)."""
    for line in diff.splitlines():
        new = line.startswith("+") and not line.startswith("+++")
        if new and any(marker in line for marker in _CRASH_MARKERS):
            return line[1:].strip()
    return None


def _accepts_new_output(result: CaseResult) -> bool:
    """Whether writing the output as the golden could be right.

    True for an output that differs from its golden or has none; not when
    the new output shows a crash, nor for a crash, a non-zero exit, a
    timeout or a leftover process: those need a fix instead.
    """
    if result.status is not Status.FAIL:
        return False
    if result.diff is not None:
        return crash_shown(result.diff) is None
    return (result.reason or "").startswith("no expected output")


def _tail(path: str, lines: int = _TAIL_LINES) -> list[str]:
    """The last lines of a kept output; none when it cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - 8192, 0))
            data = f.read().decode(errors="replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


class ConsoleReporter:
    """Prints as cases finish; on an interactive terminal also draws a live progress region."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        durations: Mapping[str, float] | None = None,
        rerun: Rerun | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        :param durations: each case's wall seconds in earlier runs, for the
            "last" times and the ETA.
        :param rerun: how to spell the re-run and accept commands; without
            it, failures are listed without them.
        :param environ: where CI is detected (default: the process environment).
        """
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.durations = dict(durations or {})
        self.rerun = rerun
        #: Lines about the finished run from its suite (upstream's notes), printed
        #: before the closing lines so that the tally stays the last line.
        self.notes: Callable[[Sequence[CaseResult]], list[str]] | None = None
        environ = os.environ if environ is None else environ
        self.plain = not self.console.is_terminal or self.console.is_dumb_terminal or in_ci(environ)
        self._clock = clock
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._width = 8
        self._verbose = False
        self._jobs = 1
        self._total = 0
        self._pending: dict[str, None] = {}
        self._running: dict[str, float] = {}
        self._done = 0
        self._failed = 0
        self._not_run = 0

    @classmethod
    def for_run(
        cls,
        settings: RunSettings,
        options: Options | None = None,
        upstream: UpstreamSuite | None = None,
    ) -> ConsoleReporter:
        """The reporter of ``iotests run`` and ``check``: timings from the results directory."""
        store = TimingStore(settings.results_dir / "timings.json")
        return cls(
            durations=store.durations(settings.combo), rerun=Rerun.of(settings, options, upstream)
        )

    def _print(self, text: Text) -> None:
        if self.plain:
            self.console.print(
                text.plain, markup=False, emoji=False, highlight=False, soft_wrap=True
            )
        else:
            self.console.print(text, soft_wrap=True)

    def live_view(self) -> Text:
        """The live region: done/total, failures so far, the running cases, the ETA."""
        now = self._clock()
        with self._lock:
            running = {name: now - began for name, began in self._running.items()}
            pending = list(self._pending)
            done, total, failed, not_run = self._done, self._total, self._failed, self._not_run
        text = Text(f"[{done:>{len(str(total))}}/{total}]", style="bold")
        if failed:
            text.append(f"  {failed} failed", style="bold red")
        if not_run:
            text.append(f"  {not_run} not run", style="yellow")
        remaining = eta(pending, running, self.durations, self._jobs)
        if remaining is not None and done < total:
            text.append(f"  ETA {_clock(remaining)}")
        by_start = sorted(running.items(), key=lambda item: -item[1])
        for name, spent in by_start[:_MAX_RUNNING_SHOWN]:
            last = self.durations.get(name)
            text.append(
                f"\n  {name:<{self._width}} {_clock(spent):>6}  (last {_seconds(last)})",
                style="dim",
            )
        if len(by_start) > _MAX_RUNNING_SHOWN:
            text.append(f"\n  and {len(by_start) - _MAX_RUNNING_SHOWN} more running", style="dim")
        return text

    def start(self, cases: Sequence[Case], settings: RunSettings) -> None:
        self._width = max([len(c.name) for c in cases] + [8])
        self._verbose = settings.verbose
        self._jobs = settings.jobs
        with self._lock:
            self._total = len(cases)
            self._pending = dict.fromkeys(c.name for c in cases)
        header = Text("iotests", style="bold")
        header.append(
            f": {len(cases)} cases, format {settings.format}, "
            f"protocol {settings.protocol}, {settings.jobs} jobs"
        )
        self._print(header)
        if not self.plain:
            self._live = Live(
                console=self.console,
                transient=True,
                refresh_per_second=4,
                get_renderable=self.live_view,
            )
            self._live.start(refresh=True)

    def _redraw(self) -> None:
        """Bring the live region up to date now, not at its next tick: it must not lag the lines."""
        if self._live is not None:
            self._live.refresh()

    def case_started(self, case: Case) -> None:
        with self._lock:
            self._pending.pop(case.name, None)
            self._running[case.name] = self._clock()
        self._redraw()

    def case_finished(self, result: CaseResult) -> None:
        with self._lock:
            self._pending.pop(result.name, None)
            self._running.pop(result.name, None)
            self._done += 1
            self._failed += result.status.failed
            self._not_run += result.status is Status.NOT_RUN
        self._report(result)
        self._redraw()

    def _report(self, result: CaseResult) -> None:
        if result.status is Status.NOT_RUN and not self._verbose:
            return
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
        self._print(line)
        if not result.status.failed:
            return
        if result.diff:
            self._print(diff_text(result.diff))
        elif result.status is Status.TIMEOUT and result.output_file:
            self._print(
                Text(f"  partial output kept in {result.output_file}; its last lines:", "dim")
            )
            for kept in _tail(result.output_file) or ["(nothing)"]:
                self._print(Text(f"  | {kept}", "dim"))
        elif result.output_file:
            self._print(Text(f"  output kept in {result.output_file}", style="dim"))

    def finish(self, results: Sequence[CaseResult], elapsed: float) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        tally = Tally.of(list(results))
        failed = [r for r in results if r.status.failed]
        if failed:
            self._failures(failed)
        skipped = not_run_line(results)
        if skipped:
            self._print(Text(skipped, style="yellow"))
        if tally.interrupted:
            interrupted = Text("Interrupted:", style="magenta")
            interrupted.append(f" {tally.interrupted} cases did not finish")
            self._print(interrupted)
        if tally.known or tally.flaky:
            listed = [r.name for r in results if r.status in (Status.KNOWN, Status.FLAKY)]
            self._print(
                Text(
                    f"{tally.known} known failures, {tally.flaky} flaky (not counted as failed): "
                    + " ".join(listed),
                    style="yellow",
                )
            )
        for line in self.notes(results) if self.notes else []:
            self._print(Text(line))
        for line in timing_lines(results, elapsed):
            self._print(Text(line))
        self._print(Text(f"iotests: {tally.line()}", style="bold red" if failed else "bold green"))

    def _failures(self, failed: Sequence[CaseResult]) -> None:
        """What failed and why, in one place, with the commands to act on it."""
        heading = Text("Failures:", style="bold red")
        heading.append(" " + " ".join(r.name for r in failed))
        self._print(heading)
        width = max(len(r.name) for r in failed)
        for r in failed:
            line = Text(f"  {r.name:<{width}} ")
            line.append(f"{r.status.value:<8}", style=_STYLE[r.status])
            line.append(f" {r.reason or ''}")
            if r.status is Status.TIMEOUT and r.output_file:
                line.append(f"; partial output in {r.output_file}")
            if r.diff and (crash := crash_shown(r.diff)):
                line.append(f"; the new output shows a crash: {crash}")
            self._print(line)
        if self.rerun is None:
            return
        self._print(Text("Re-run:"))
        self._print(Text(f"  {self.rerun.again_line([r.name for r in failed])}"))
        accept = [r.name for r in failed if _accepts_new_output(r)]
        if accept:
            self._print(
                Text("Accept the new output, then read the goldens' diff before committing:")
            )
            self._print(Text(f"  {self.rerun.accept_line(accept)}"))
