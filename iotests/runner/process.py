"""The case's process: started in its own group, watched against its deadline, reaped.

Where a hung case is killed and where what it left running is found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from iotests import command
from iotests.runner import reaper
from iotests.runner.dirs import CaseDirs


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
    raw_path = dirs.result / "output.raw"
    start = time.monotonic()
    timed_out = interrupted = False
    with raw_path.open("wb") as sink:
        proc = command.spawn(argv, env=env, cwd=dirs.scratch)
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(proc.stdout, sink, echo), daemon=True)
        pump.start()
        deadline = start + timeout
        # A blocking wait in its own thread notices the exit at once; polling
        # would add its interval to every case's duration.
        exited = threading.Event()

        def wait_for_exit() -> None:
            proc.wait()
            exited.set()

        threading.Thread(target=wait_for_exit, daemon=True).start()
        while not exited.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if stop.is_set():
                interrupted = True
                proc.kill_group()
                break
            if time.monotonic() >= deadline:
                timed_out = True
                proc.kill_group()
                break
        duration = time.monotonic() - start
        proc.signal_group(9)  # whatever is left of the case's own group
        leftovers = reaper.kill_all(token)
        pump.join(timeout=5)
        proc.close()
    output = raw_path.read_bytes().decode(errors="replace")
    return Outcome(
        proc.returncode, output, duration, timed_out, interrupted, leftovers, proc.cpu_seconds
    )
