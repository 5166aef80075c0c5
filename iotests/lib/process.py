"""The life of a long-running QEMU process a case starts: spawn, signal, reap, judge.

qemu-nbd (:class:`iotests.lib.nbdserver.QemuNBD`), qemu-storage-daemon and
the system emulator (:class:`iotests.lib.qmp.QMPServer`) differ in how they
are told to start and to stop, not in what must happen around that, which
lives here once:

- each runs in its own process group (so a stop reaches its children), under
  valgrind when the run asks, with stdout and stderr in a log file in
  TEST_DIR; the timeouts grow under valgrind, which starts QEMU slowly;
- every signal the case (or the library on its behalf) sends is remembered,
  so that a death by it is no crash while a death by any other signal
  (a SIGSEGV while handling the SIGTERM) is;
- reaping waits, kills the group if it hangs, and judges the process: how it
  ended and what this launch wrote to the log (a sanitizer report, an
  assertion) are recorded as evidence (:mod:`iotests.lib.evidence`);
- a process the case never stopped is judged at exit if it died meanwhile.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

from iotests import command
from iotests.lib.env import case_env
from iotests.lib.evidence import judge_exit, judge_output, program_name, unwatch, watch, wrap

#: How much slower a QEMU binary starts under valgrind.
VALGRIND_SLOWDOWN = 5


class ManagedProcess:
    """One QEMU process of *prog*, logging to *log_file*; subclasses start and stop it."""

    def __init__(self, prog: str, log_file: Path, *, timeout: float) -> None:
        self.prog = prog
        self.log_file = log_file
        self.timeout = timeout * (VALGRIND_SLOWDOWN if case_env().valgrind else 1)
        self._proc: command.Process | None = None
        #: The exit code of the last launch once it has been reaped.
        self.exitcode: int | None = None
        #: Signals sent on purpose to the running process: its death by one is no crash.
        self._sent: set[int] = set()
        #: Where this launch's output starts in the log (which earlier launches may share).
        self._log_start = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def output(self) -> str:
        """What the process printed to stdout/stderr so far (every launch's, in order)."""
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def _spawn(self, argv: Sequence[str], *, append: bool = False) -> command.Process:
        """Start *argv* (wrapped for valgrind) in its own group, logging to the log file."""
        self._sent = set()
        with self.log_file.open("ab" if append else "wb") as sink:
            self._log_start = sink.tell()
            self._proc = command.spawn(wrap(list(argv)), stdout=sink, stderr=command.STDOUT)
        watch(self)
        return self._proc

    def _signal(self, sig: int) -> None:
        """Send *sig* to the running process's group, on purpose (its death by it is no crash)."""
        if self._proc is not None and self._proc.poll() is None:
            self._sent.add(sig)
            self._proc.signal_group(sig)

    def _reap(self, timeout: float) -> int | None:
        """Wait up to *timeout* for the process to end, kill it if it does not, and judge it.

        Returns its exit code; safe to call when it was reaped already.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return self.exitcode
        code = proc.wait(timeout)
        if code is None:
            self._sent.update((signal.SIGTERM, signal.SIGKILL))
            code = proc.kill_group()
        proc.close()
        self.exitcode = code
        self._judge(code)
        return code

    def _judge(self, code: int) -> None:
        unwatch(self)
        name = program_name(self.prog)
        judge_exit(name, code, sent=self._sent)
        try:
            with self.log_file.open("rb") as f:
                f.seek(self._log_start)
                text = f.read().decode(errors="replace")
        except OSError:
            return
        judge_output(name, text, source=self.log_file.name)

    def _close(self) -> None:
        """Stop the way the subclass stops, reaping and judging (called for an exited process)."""
        raise NotImplementedError

    def judge_if_exited(self) -> None:
        """If the process has exited and nobody reaped it yet, reap and judge it."""
        if self._proc is not None and self._proc.poll() is not None:
            self._close()
