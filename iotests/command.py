"""The one place in the toolkit where subprocesses are started.

Everything else (the runner, the case library, the build logic) calls
:func:`run` for a command that should finish, or :func:`spawn` for a
long-lived process (a test case, a QEMU server). Tests swap :data:`runner`
for a fake to see and control every command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from iotests.errors import CommandError

#: What a child's stdout/stderr may be connected to.
Sink = int | IO[bytes] | IO[str] | None

PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
DEVNULL = subprocess.DEVNULL


@dataclass(frozen=True)
class Completed:
    """A finished command: argv, exit code (negative: killed by that signal), output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _run_real(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    input: str | None,  # noqa: A002 - mirrors subprocess.run
    timeout: float | None,
    merge_stderr: bool,
) -> Completed:
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            input=input,
            stdout=PIPE,
            stderr=STDOUT if merge_stderr else PIPE,
            timeout=timeout,
            check=False,
            text=True,
            errors="replace",
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, f"{argv[0]}: not found") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        raise CommandError(
            argv, -int(signal.SIGKILL), out + f"\n(timed out after {timeout}s)"
        ) from exc
    return Completed(tuple(argv), proc.returncode, proc.stdout or "", proc.stderr or "")


#: Replaceable in tests: ``(argv, env=, cwd=, input=, timeout=, merge_stderr=) -> Completed``.
runner: Callable[..., Completed] = _run_real


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | None = None,  # noqa: A002 - mirrors subprocess.run
    timeout: float | None = None,
    check: bool = True,
    merge_stderr: bool = True,
) -> Completed:
    """Run *argv* to completion and capture its output.

    :param check: raise :class:`CommandError` (with argv, exit code and the
        tail of the output) when the command exits non-zero or is killed.
    :param merge_stderr: interleave stderr into stdout, in the order written.
    :raises CommandError: on a non-zero exit with *check*, a missing program,
        or a timeout (always).
    """
    result = runner(argv, env=env, cwd=cwd, input=input, timeout=timeout, merge_stderr=merge_stderr)
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.output)
    return result


def which(name: str, path: str | None = None) -> str | None:
    """Locate *name* on PATH (or *path*), returning an absolute path or None."""
    import shutil

    return shutil.which(name, path=path)


#: Children a :class:`Process` will reap. A runner that is a child subreaper
#: also reaps the orphans it inherits; it must never take one of these, or
#: the Process would lose its exit status.
_tracked: set[int] = set()
_tracked_lock = threading.Lock()


def is_tracked(pid: int) -> bool:
    """Whether *pid* is a child that a :class:`Process` of this process waits for."""
    with _tracked_lock:
        return pid in _tracked


def reap_stray(pid: int) -> bool:
    """Reap *pid* if it is an exited child that no :class:`Process` waits for.

    For orphans re-parented to a child subreaper: nobody else can reap them.
    True if this call reaped it.
    """
    with _tracked_lock:
        if pid in _tracked:
            return False
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return False
    return reaped == pid


class Process:
    """A spawned child in its own process group, killed as a whole group.

    Used for test cases and for servers such as qemu-nbd: a timeout or an
    interrupt must take down every process the child started too.

    The child is reaped here with ``wait4``, which also gives the CPU time
    of the child and of every descendant it waited for: :attr:`cpu_seconds`.
    Any thread may wait or poll; exactly one of them reaps.
    """

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self._reaped = threading.Event()
        self._lock = threading.Lock()
        self._cpu: float | None = None

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def stdout(self) -> IO[bytes] | None:
        return self._popen.stdout

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    @property
    def cpu_seconds(self) -> float | None:
        """User plus system time of the child's tree, once it has been reaped."""
        return self._cpu

    def _reap(self, flags: int) -> bool:
        """One ``wait4``; True once the child is reaped (by this call or another thread's)."""
        if self._reaped.is_set():
            return True
        try:
            pid, status, usage = os.wait4(self._popen.pid, flags)
        except ChildProcessError:
            # Usually another thread reaped it a moment ago and is recording the
            # status. If nobody does (SIGCHLD ignored, a foreign reaper), do what
            # subprocess does: exit code 0, and no CPU figure.
            if not self._reaped.wait(1.0):
                with self._lock:
                    if not self._reaped.is_set():
                        self._popen.returncode = 0
                        self._reaped.set()
                with _tracked_lock:
                    _tracked.discard(self._popen.pid)
            return True
        if pid == 0:
            return False
        with self._lock:
            self._cpu = usage.ru_utime + usage.ru_stime
            self._popen.returncode = os.waitstatus_to_exitcode(status)
            self._reaped.set()
        with _tracked_lock:
            _tracked.discard(pid)
        return True

    def poll(self) -> int | None:
        self._reap(os.WNOHANG)
        return self._popen.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child; return its exit code, or None on timeout."""
        if timeout is None:
            self._reap(0)
            return self._popen.returncode
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while not self._reap(os.WNOHANG):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # subprocess's own timed wait polls the same way
            delay = min(delay * 2, remaining, 0.05)
            time.sleep(delay)
        return self._popen.returncode

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def kill_group(self, grace: float = 2.0) -> int:
        """SIGTERM the group, then SIGKILL whatever is left after *grace* seconds."""
        self.signal_group(signal.SIGTERM)
        self.wait(grace)
        self.signal_group(signal.SIGKILL)  # the rest of the group, if the leader left first
        self._reap(0)
        code = self._popen.returncode
        assert code is not None
        return code

    def close(self) -> None:
        if self._popen.stdout is not None:
            self._popen.stdout.close()


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdout: Sink = PIPE,
    stderr: Sink = STDOUT,
    stdin: Sink = DEVNULL,
    new_group: bool = True,
) -> Process:
    """Start *argv* in a new session/process group and return it running.

    :raises CommandError: when the program cannot be executed at all.
    """
    # Tracked from the fork on: a child that exits at once is never a stray.
    with _tracked_lock:
        try:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdout=stdout,
                stderr=stderr,
                stdin=stdin,
                start_new_session=new_group,
            )
        except OSError as exc:
            raise CommandError(argv, 126, f"cannot execute {argv[0]}: {exc.strerror}") from exc
        _tracked.add(popen.pid)
    return Process(popen)


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def stream(
    argv: Sequence[str],
    *,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> Completed:
    """Run *argv* to completion, handing each line of its output to *on_line* as it comes.

    For long commands (configure, a compile) whose progress the user should
    see live and whose whole output goes to a log. stderr is merged into
    stdout. The child runs in its own process group, so an interrupt takes
    down the whole compile, not just its top process. The returned
    :class:`Completed` keeps only the last :attr:`CommandError.TAIL_LINES`
    lines, which is what an error shows.

    :raises CommandError: when the program cannot be started, or with *check*
        when it exits non-zero or is killed.
    """
    from collections import deque

    tail: deque[str] = deque(maxlen=CommandError.TAIL_LINES)
    proc = spawn(argv, env=env, cwd=cwd, stdout=PIPE, stderr=STDOUT)
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            tail.append(line)
            on_line(line)
    except BaseException:
        proc.kill_group()
        raise
    finally:
        proc.close()
    code = proc.wait()
    returncode = code if code is not None else -int(signal.SIGKILL)
    output = "\n".join(tail) + ("\n" if tail else "")
    if check and returncode != 0:
        raise CommandError(argv, returncode, output)
    return Completed(tuple(argv), returncode, output, "")
