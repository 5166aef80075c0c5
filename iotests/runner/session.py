"""Running a selection: applicability, longest-first parallel dispatch, interrupts."""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
) -> RunOutcome:
    """Run *cases*, *settings.jobs* at a time, and report each as it ends.

    On Ctrl-C, SIGTERM or SIGHUP running cases are killed (with everything
    they started) and cases not yet started are reported as interrupted. When
    the results directory becomes unusable (a full disk), the running cases
    finish, no new one starts, and those are reported as errors. Either way
    the outcome holds exactly this run's results, one per selected case.
    """
    timings = timings or TimingStore(settings.results_dir / "timings.json")
    durations = timings.durations(settings.combo)
    _quietly(reporter.start, cases, settings)
    start = time.monotonic()
    results: dict[str, CaseResult] = {}
    runnable: list[Case] = []
    for case in cases:
        reason = not_run(case, settings, probe)
        if reason is None:
            runnable.append(case)
        else:
            results[case.name] = CaseResult(
                case.name, settings.format, settings.protocol, Status.NOT_RUN, reason
            )
            _quietly(reporter.case_finished, results[case.name])

    work: queue.Queue[Case] = queue.Queue()
    # One at a time, cases run in the order selected (numeric), which is
    # what someone reading -j1 -v output follows; longest-first only pays
    # when several run at once.
    for case in runnable if settings.jobs == 1 else longest_first(runnable, durations):
        work.put(case)
    stop = threading.Event()
    aborted: list[str] = []
    lock = threading.Lock()
    echo_lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set() and not aborted:
            try:
                case = work.get_nowait()
            except queue.Empty:
                return
            with lock:
                _quietly(reporter.case_started, case)
            echo = prefixing_echo(case.name, echo_lock) if settings.verbose else None
            try:
                result = execute(
                    case,
                    settings,
                    binaries_env,
                    suite=suite,
                    stop=stop,
                    last_duration=durations.get(case.name),
                    echo=echo,
                )
            except ResultsDirError as exc:
                result = CaseResult(
                    case.name, settings.format, settings.protocol, Status.ERROR, str(exc)
                )
                if exc.fatal:
                    with lock:
                        aborted.append(str(exc))
            except Exception as exc:  # one broken case must not cost the run a worker
                with contextlib.suppress(OSError):
                    traceback.print_exc()
                result = CaseResult(
                    case.name,
                    settings.format,
                    settings.protocol,
                    Status.ERROR,
                    f"runner error: {type(exc).__name__}: {exc}",
                )
            with lock:
                results[case.name] = result
                if result.status in (Status.PASS, Status.FAIL):
                    timings.record(settings.combo, case.name, result.duration, result.cpu)
                _quietly(reporter.case_finished, result)

    # The main thread waits on per-worker events, never in Thread.join():
    # CPython can mark a thread finished when a signal interrupts join(), and
    # the run would then exit while a worker is still killing its case.
    done = [threading.Event() for _ in range(max(1, settings.jobs))]

    def run_worker(finished: threading.Event) -> None:
        try:
            worker()
        finally:
            finished.set()

    threads = [threading.Thread(target=run_worker, args=(d,), daemon=True) for d in done]
    interrupted = False
    with _interruptible(stop):
        try:
            for t in threads:
                t.start()
            while not all(d.wait(0.1) for d in done):
                pass
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            # A second Ctrl-C must not abandon the cleanup half-way.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                for d in done:
                    while not d.wait(0.5):
                        pass
            finally:
                signal.signal(signal.SIGINT, previous)
    for case in cases:
        if case.name not in results:
            if aborted and not interrupted:
                status, reason = Status.ERROR, f"not started: {aborted[0]}"
            else:
                status, reason = Status.INTERRUPTED, "not started"
            results[case.name] = CaseResult(
                case.name, settings.format, settings.protocol, status, reason
            )
            _quietly(reporter.case_finished, results[case.name])
    with contextlib.suppress(OSError):  # a full disk: the figures are lost, the results not
        timings.save()
    ordered = [results[c.name] for c in cases]
    _quietly(reporter.finish, ordered, time.monotonic() - start)
    return RunOutcome(ordered, interrupted, aborted[0] if aborted else None)
