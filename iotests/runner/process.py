"""The case's process: started in its own group, watched against its deadline, reaped.

Where a hung case is killed (after :mod:`iotests.runner.hang` has recorded
what it was doing) and where what it left running is found (with the help
of :mod:`iotests.runner.reaper`).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from iotests import command
from iotests.errors import CommandError
from iotests.runner import hang, reaper
from iotests.runner.dirs import CaseDirs, socket_dir


@dataclass
class Outcome:
    """What the process did, before any judgement."""

    returncode: int | None
    output: str
    duration: float
    timed_out: bool
    interrupted: bool
    leftovers: list[reaper.Leftover]
    #: CPU seconds of the case's process tree (what it reaped), None if unknown.
    cpu: float | None = None
    #: What the case's processes were doing at the deadline (``hang.txt``), if it timed out.
    hang_file: str | None = None


def _pump(stream: IO[bytes], sink: IO[bytes], echo: Callable[[str], None] | None) -> None:
    for chunk in iter(stream.readline, b""):
        sink.write(chunk)
        if echo is not None:
            echo(chunk.decode(errors="replace").rstrip("\n"))


def run_process(
    argv: list[str],
    env: Mapping[str, str],
    dirs: CaseDirs,
    timeout: float,
    stop: threading.Event,
    echo: Callable[[str], None] | None,
    token: str,
) -> Outcome:
    """Run the case to its end or its deadline; nothing it started outlives this call.

    The socket directory exists exactly as long as the case runs: made here,
    removed here however the call ends (an exception included).

    :raises CommandError: when the case cannot be executed at all.
    """
    run = reaper.current_run()
    env = {**env, **run.environment()}
    _check_executable(argv, env)
    raw_path = dirs.result / "output.raw"
    with (
        socket_dir(dirs.sock),
        run.case(token) as processes,
        raw_path.open("wb") as sink,
    ):
        start = time.monotonic()
        proc = command.spawn(processes.wrap(argv), env=env, cwd=dirs.scratch)
        processes.started(proc, dirs)
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(proc.stdout, sink, echo), daemon=True)
        pump.start()
        hang_file = None
        try:
            timed_out, interrupted = _watch(proc, start + timeout, stop)
            duration = time.monotonic() - start
            if timed_out:
                # Asked before the kill, bounded in time; the case's duration stays its timeout.
                recorded = hang.record(
                    processes.scan,
                    dirs.result,
                    f"timed out after {timeout:g}s",
                    stopping=stop.is_set,
                    stacks_dir=dirs.stacks_dir,
                )
                hang_file = None if recorded is None else str(recorded)
                proc.kill_group()
            proc.signal_group(9)  # whatever is left of the case's own group
            leftovers = processes.kill_leftovers()
        finally:
            if proc.returncode is None:
                proc.kill_group()
            if not processes.done:
                processes.kill_leftovers()
            # Only a hang record reads the stacks, and it has: nothing of them is kept.
            shutil.rmtree(dirs.stacks_dir, ignore_errors=True)
            pump.join(timeout=5)
            # Closing under a reader still blocked (a writer no net found) would hang.
            if not pump.is_alive():
                proc.close()
    output = raw_path.read_bytes().decode(errors="replace")
    return Outcome(
        proc.returncode,
        output,
        duration,
        timed_out,
        interrupted,
        leftovers,
        proc.cpu_seconds,
        hang_file,
    )


def _watch(proc: command.Process, deadline: float, stop: threading.Event) -> tuple[bool, bool]:
    """Wait for the case to end, or its *deadline*, killing it on *stop*: (timed out, interrupted).

    A case still running at its deadline is left running: the caller records
    what it was doing, then kills it.
    """
    # A blocking wait in its own thread notices the exit at once; polling
    # would add its interval to every case's duration.
    exited = threading.Event()

    def wait_for_exit() -> None:
        proc.wait()
        exited.set()

    threading.Thread(target=wait_for_exit, daemon=True).start()
    while not exited.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
        if stop.is_set():
            proc.kill_group()
            return False, True
        if time.monotonic() >= deadline:
            return True, False
    return False, False


def _check_executable(argv: list[str], env: Mapping[str, str]) -> None:
    """Refuse what cannot run before a wrapper would turn it into a case's own exit code."""
    program = argv[0]
    found = shutil.which(program, path=env.get("PATH")) if "/" not in program else program
    if found is None or not os.access(found, os.X_OK) or os.path.isdir(found):
        raise CommandError(argv, 126, f"cannot execute {program}: not an executable file")
