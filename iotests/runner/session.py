"""Running a selection: applicability, longest-first parallel dispatch, interrupts."""

from __future__ import annotations

import contextlib
import queue
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from iotests.env.probe import Probe
from iotests.runner.discovery import Case
from iotests.runner.execution import ResultsDirError, Suite, execute, prefixing_echo
from iotests.runner.results import CaseResult, Status
from iotests.runner.scheduling import TimingStore, longest_first
from iotests.runner.settings import RunSettings


class Reporter(Protocol):
    def start(self, cases: Sequence[Case], settings: RunSettings) -> None: ...
    def case_started(self, case: Case) -> None: ...
    def case_finished(self, result: CaseResult) -> None: ...
    def finish(self, results: Sequence[CaseResult], elapsed: float) -> None: ...


def not_run_reason(case: Case, settings: RunSettings, probe: Probe) -> str | None:
    """Why *case* cannot run with these settings and binaries, or None (pure)."""
    header = case.header
    if not header.supports_format(settings.format):
        return f"format {settings.format} not supported by this case"
    if not header.supports_protocol(settings.protocol):
        return f"protocol {settings.protocol} not supported by this case"
    if settings.format not in probe.formats and probe.formats:
        return f"format {settings.format} not supported by qemu-img"
    for requirement in header.requires:
        problem = probe.unmet(requirement)
        if problem is not None:
            return problem
    return None


#: Signals that stop a run the way Ctrl-C does: a closed terminal and a polite kill.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _interruptible(stop: threading.Event) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into the same orderly stop as Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class RunOutcome:
    """Every selected case's result, in selection order, and why the run ended early."""

    results: list[CaseResult]
    #: Ctrl-C, SIGTERM or SIGHUP stopped the run.
    interrupted: bool = False
    #: Why no further case was started (an unusable results directory), if so.
    aborted: str | None = None


def _quietly(call: Callable[..., None], *args: Any) -> None:
    """Report to the console, ignoring a terminal that went away (SIGHUP, a closed pipe).

    The results still reach the reports: losing the console must not lose them.
    """
    with contextlib.suppress(OSError):
        call(*args)


def run_selection(
    cases: Sequence[Case],
    settings: RunSettings,
    probe: Probe,
    binaries_env: Mapping[str, str],
    reporter: Reporter,
    *,
    suite: Suite | None = None,
    timings: TimingStore | None = None,
    not_run: Callable[[Case, RunSettings, Probe], str | None] = not_run_reason,
    reruns: int = 0,
    judge: Callable[[CaseResult], CaseResult] | None = None,
) -> RunOutcome:
    """Run *cases*, *settings.jobs* at a time, and report each as it ends.

    On Ctrl-C, SIGTERM or SIGHUP running cases are killed (with everything
    they started) and cases not yet started are reported as interrupted. When
    the results directory becomes unusable (a full disk), the running cases
    finish, no new one starts, and those are reported as errors. Either way
    the outcome holds exactly this run's results, one per selected case.

    :param reruns: re-run each failed case alone up to this many times; one
        that then passes is ``flaky``, with its first failure kept beside it.
    :param judge: applied to each final result before it is reported (the
        known failures).
    """
    run = _Run(settings, binaries_env, reporter, suite, timings, reruns, judge)
    return run.all(cases, probe, not_run)


class _Run:
    """One run's state: results so far, the stop and abort flags, the reporter's lock."""

    def __init__(
        self,
        settings: RunSettings,
        binaries_env: Mapping[str, str],
        reporter: Reporter,
        suite: Suite | None,
        timings: TimingStore | None,
        reruns: int,
        judge: Callable[[CaseResult], CaseResult] | None,
    ) -> None:
        self.settings = settings
        self.binaries_env = binaries_env
        self.reporter = reporter
        self.suite = suite
        self.timings = timings or TimingStore(settings.results_dir / "timings.json")
        self.durations = self.timings.durations(settings.combo)
        self.reruns = reruns
        self.judge = judge or (lambda result: result)
        self.results: dict[str, CaseResult] = {}
        #: Cases whose final result was reported (the others await re-runs).
        self._reported: set[str] = set()
        self.stop = threading.Event()
        self.aborted: list[str] = []
        self.lock = threading.Lock()
        self.echo_lock = threading.Lock()

    def all(
        self,
        cases: Sequence[Case],
        probe: Probe,
        not_run: Callable[[Case, RunSettings, Probe], str | None],
    ) -> RunOutcome:
        settings = self.settings
        _quietly(self.reporter.start, cases, settings)
        start = time.monotonic()
        runnable: list[Case] = []
        for case in cases:
            reason = not_run(case, settings, probe)
            if reason is None:
                runnable.append(case)
            else:
                self._report(self._result(case, Status.NOT_RUN, reason))
        # One at a time, cases run in the order selected (numeric), which is
        # what someone reading -j1 -v output follows; longest-first only pays
        # when several run at once.
        order = runnable if settings.jobs == 1 else longest_first(runnable, self.durations)
        interrupted = self._dispatch(order, settings.jobs, first_pass=True)
        failed = [c for c in runnable if self._awaits_rerun(c.name)]
        if failed and not interrupted and not self.aborted:
            interrupted = self._dispatch(failed, 1, first_pass=False)
        for case in failed:  # reruns cut short: the first failure stands
            if self._awaits_rerun(case.name):
                self._report(self.results[case.name])
        for case in cases:
            if case.name not in self.results:
                if self.aborted and not interrupted:
                    self._report(
                        self._result(case, Status.ERROR, f"not started: {self.aborted[0]}")
                    )
                else:
                    self._report(self._result(case, Status.INTERRUPTED, "not started"))
        with contextlib.suppress(OSError):  # a full disk: the figures are lost, the results not
            self.timings.save()
        ordered = [self.results[c.name] for c in cases]
        _quietly(self.reporter.finish, ordered, time.monotonic() - start)
        return RunOutcome(ordered, interrupted, self.aborted[0] if self.aborted else None)

    def _result(self, case: Case, status: Status, reason: str | None) -> CaseResult:
        return CaseResult(case.name, self.settings.format, self.settings.protocol, status, reason)

    def _awaits_rerun(self, name: str) -> bool:
        result = self.results.get(name)
        return (
            self.reruns > 0
            and result is not None
            and result.status in (Status.FAIL, Status.TIMEOUT)
            and name not in self._reported
        )

    def _report(self, result: CaseResult) -> None:
        """Record *result* as final: judged, stored and reported once."""
        result = self.judge(result)
        with self.lock:
            self.results[result.name] = result
            self._reported.add(result.name)
            _quietly(self.reporter.case_finished, result)

    def _dispatch(self, cases: Sequence[Case], jobs: int, *, first_pass: bool) -> bool:
        """Run *cases* on *jobs* workers until done or stopped; True if interrupted."""
        work: queue.Queue[Case] = queue.Queue()
        for case in cases:
            work.put(case)

        def worker() -> None:
            while not self.stop.is_set() and not self.aborted:
                try:
                    case = work.get_nowait()
                except queue.Empty:
                    return
                if first_pass:
                    self._first(case)
                else:
                    self._again(case)

        # The main thread waits on per-worker events, never in Thread.join():
        # CPython can mark a thread finished when a signal interrupts join(),
        # and the run would then exit while a worker is still killing its case.
        done = [threading.Event() for _ in range(max(1, jobs))]

        def run_worker(finished: threading.Event) -> None:
            try:
                worker()
            finally:
                finished.set()

        threads = [threading.Thread(target=run_worker, args=(d,), daemon=True) for d in done]
        with _interruptible(self.stop):
            try:
                for t in threads:
                    t.start()
                while not all(d.wait(0.1) for d in done):
                    pass
            except KeyboardInterrupt:
                self.stop.set()
                # A second Ctrl-C must not abandon the cleanup half-way.
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    for d in done:
                        while not d.wait(0.5):
                            pass
                finally:
                    signal.signal(signal.SIGINT, previous)
                return True
        return False

    def _first(self, case: Case) -> None:
        with self.lock:
            _quietly(self.reporter.case_started, case)
        result = self._execute(case)
        if result.status in (Status.PASS, Status.FAIL):
            with self.lock:
                self.timings.record(self.settings.combo, case.name, result.duration, result.cpu)
        if self.reruns and result.status in (Status.FAIL, Status.TIMEOUT):
            with self.lock:  # reported after its re-runs
                self.results[case.name] = result
            return
        self._report(result)

    def _again(self, case: Case) -> None:
        """Re-run a failed case alone; its first failure is kept as ``NAME.attempt-1``."""
        first = self.results[case.name]
        kept = self._keep_first_attempt(case, first)
        for attempt in range(2, self.reruns + 2):
            with self.lock:
                _quietly(self.reporter.case_started, case)
            result = self._execute(case)
            if result.status is Status.PASS:
                why = f"passed on attempt {attempt} after failing: {first.reason}"
                self._report(replace(kept, status=Status.FLAKY, reason=why))
                return
            if result.status not in (Status.FAIL, Status.TIMEOUT) or self.stop.is_set():
                break
        attempts = f"failed {attempt} attempts in a row"
        self._report(replace(result, reason=f"{result.reason} ({attempts})"))

    def _keep_first_attempt(self, case: Case, first: CaseResult) -> CaseResult:
        """Move the first failure's files aside; the result, pointing at them."""
        folder = self.settings.results_dir / self.settings.combo / case.name
        aside = folder.with_name(f"{case.name}.attempt-1")
        try:
            shutil.rmtree(aside, ignore_errors=True)
            folder.rename(aside)
        except OSError:
            return first
        output = first.output_file
        if output and Path(output).is_relative_to(folder):
            output = str(aside / Path(output).relative_to(folder))
        return replace(first, output_file=output)

    def _execute(self, case: Case) -> CaseResult:
        settings = self.settings
        echo = prefixing_echo(case.name, self.echo_lock) if settings.verbose else None
        try:
            return execute(
                case,
                settings,
                self.binaries_env,
                suite=self.suite,
                stop=self.stop,
                last_duration=self.durations.get(case.name),
                echo=echo,
            )
        except ResultsDirError as exc:
            if exc.fatal:
                with self.lock:
                    self.aborted.append(str(exc))
            return self._result(case, Status.ERROR, str(exc))
        except Exception as exc:  # one broken case must not cost the run a worker
            with contextlib.suppress(OSError):
                traceback.print_exc()
            return self._result(case, Status.ERROR, f"runner error: {type(exc).__name__}: {exc}")
