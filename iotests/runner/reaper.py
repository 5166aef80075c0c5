"""Finding and killing every process a case started, even daemonised ones.

A process group is not enough: ``qemu-nbd --fork`` and other daemons call
setsid() and leave the case's group. Every process a case starts inherits
the case's ``IOTESTS_TOKEN`` environment variable, so scanning
``/proc/*/environ`` for it finds them all, wherever they went.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_VARIABLE = "IOTESTS_TOKEN"
#: The pid of the runner that started a case, so orphans of a runner that
#: died without cleaning up (SIGKILL, a crash, a lost machine) can be told
#: from processes of a run still going on.
RUNNER_VARIABLE = "IOTESTS_RUNNER_PID"


@dataclass(frozen=True)
class Leftover:
    pid: int
    name: str


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def find(token: str, proc: Path = Path("/proc")) -> list[Leftover]:
    """Live processes whose initial environment carries *token*."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found: list[Leftover] = []
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            pid = int(entry.name)
            if _is_zombie(pid):
                continue
            found.append(Leftover(pid, _comm(pid)))
    return found


def _environ_value(environ: bytes, name: str) -> str | None:
    prefix = name.encode() + b"="
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def orphans(proc: Path = Path("/proc")) -> list[Leftover]:
    """Processes started by cases of a runner that no longer exists."""
    found: list[Leftover] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        runner = _environ_value(environ, RUNNER_VARIABLE)
        if runner is None or _environ_value(environ, TOKEN_VARIABLE) is None:
            continue
        if runner.isdigit() and not Path(proc, runner).exists() and not _is_zombie(int(entry.name)):
            found.append(Leftover(int(entry.name), _comm(int(entry.name))))
    return found


def kill_orphans() -> list[Leftover]:
    """Kill what cases of dead runners left behind; return what was found."""
    found = orphans()
    for item in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(item.pid, signal.SIGKILL)
    return found


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def kill_all(token: str, grace: float = 2.0) -> list[Leftover]:
    """SIGTERM, then SIGKILL, every process carrying *token*; return those found."""
    leftovers = find(token)
    if not leftovers:
        return []
    for item in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(item.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and find(token):
        time.sleep(0.05)
    for item in find(token):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(item.pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and find(token):
        time.sleep(0.05)
    return leftovers
