"""What a QEMU process the case library started leaves for the runner to judge.

A helper that keeps a tool quiet, or a server nobody reads, must not let a
crash pass: whatever a process printed is searched for sanitizer reports
and assertions, and how it ended (a signal nobody sent) is recorded in the
case's events file, which the runner reads after the case and which fails
it whatever its output. Under ``--valgrind`` every process runs under
valgrind with its own log, which the runner judges the same way.
"""

from __future__ import annotations

import atexit
import faulthandler
import json
import os
import signal
from collections.abc import Collection, Mapping
from typing import Protocol

from iotests.contract import STACK_SIGNAL
from iotests.lib.env import case_env

#: The open ``PID.txt`` faulthandler writes this process's stacks into.
_stack_file: list[object] = []


def answer_stack_requests() -> None:
    """Let a hang record ask this Python process where its threads are.

    Under the runner (the contract names a stacks directory), ``PID.txt``
    is opened there and :mod:`faulthandler` writes every thread's Python
    stack into it on :data:`~iotests.contract.STACK_SIGNAL`, from its
    signal handler: it answers while the case is blocked in a wait or a
    read, needs no debugger and no debug symbols. The hang record sends
    that signal only to processes that catch it. Outside the runner,
    nothing happens; a directory that cannot be written only loses the stacks.
    """
    folder = case_env().stacks_dir
    if folder is None or _stack_file:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        sink = open(folder / f"{os.getpid()}.txt", "w")  # noqa: SIM115 - open for the process's life
    except OSError:
        return
    faulthandler.register(STACK_SIGNAL, file=sink, all_threads=True, chain=False)
    _stack_file.append(sink)


def wrap(argv: list[str]) -> list[str]:
    """*argv* under valgrind when the run asked for it (``--valgrind``), else as it is.

    Each process writes its own log, named after the program, into the
    directory the runner reads after the case: a valgrind error fails it.
    """
    env = case_env()
    if not env.valgrind or env.valgrind_dir is None:
        return argv
    env.valgrind_dir.mkdir(parents=True, exist_ok=True)
    return [
        "valgrind",
        "--quiet",
        "--leak-check=no",
        "--error-exitcode=0",
        f"--log-file={env.valgrind_dir}/{program_name(argv[0])}.%p.log",
        *argv,
    ]


def program_name(path: str) -> str:
    """The name a failure reason gives a program: its file name."""
    return path.rsplit("/", 1)[-1]


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def record_event(event: Mapping[str, object]) -> None:
    """Append *event* to the case's events file, which the runner judges after the case.

    One ``write`` per line on a file opened for appending, so servers
    reaped in threads and tools run at once never interleave their lines.
    Outside the runner (no events file) nobody would read it: nothing is written.
    """
    path = case_env().events_file
    if path is None:
        return
    with path.open("a") as f:
        f.write(json.dumps(event, sort_keys=True) + "\n")


def judge_exit(program: str, returncode: int | None, *, sent: Collection[int] = ()) -> bool:
    """Record a crash when *program* died by a signal that is not in *sent*.

    *sent* holds the signals the case (or the library on its behalf) sent on
    purpose: a SIGKILL that simulates a crash, the SIGTERM that stops a
    qemu-nbd. A SIGSEGV or SIGABRT nobody sent is a crash even when it
    happens while the process is being stopped. Returns whether one was recorded.
    """
    if returncode is None or returncode >= 0 or -returncode in sent:
        return False
    record_event({"event": "crash", "program": program, "signal": signal_name(-returncode)})
    return True


class Watched(Protocol):
    """A long-running QEMU process the library started (a server)."""

    def judge_if_exited(self) -> None:
        """If the process has exited and nobody reaped it yet, reap and judge it."""


_watched: set[Watched] = set()


def watch(process: Watched) -> None:
    """Judge *process* when the case exits, if it died and the case never reaped it.

    A case that starts a server without ``with`` and never stops it would
    otherwise let a crash pass: the dead server is not left running, so
    the runner's reaper finds nothing. A server still running at exit is
    left alone: the reaper kills it and fails the case for leaving it.
    """
    _watched.add(process)


def unwatch(process: Watched) -> None:
    _watched.discard(process)


@atexit.register
def _judge_watched() -> None:
    for process in list(_watched):
        process.judge_if_exited()


def judge_output(program: str, text: str, *, source: str) -> list[str]:
    """Record every sanitizer report, QEMU assertion or crash message in *text*.

    The runner's detector (:func:`iotests.runner.compare.crash_reasons`,
    which knows sanitizer reports and their known noise) judges it, so a
    helper that does not print what a tool said still fails the case when
    the tool reported a bug. *source* says where the text came from (a log
    file's name, ``output``). Returns the reasons recorded.
    """
    from iotests.runner.compare import crash_reasons

    found = crash_reasons(text)
    for reason in found:
        record_event({"event": "finding", "program": program, "reason": reason, "source": source})
    return found
