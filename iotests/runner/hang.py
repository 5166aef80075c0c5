"""What a hung case was doing when its time ran out, recorded before it is killed.

"Timed out after 120s" says that a case hung, not where. Before the runner
kills a case at its deadline it asks every process of the case (found by
:meth:`iotests.runner.reaper.CaseProcesses.scan`, every net the reaper has)
what it is doing, and writes the answers to ``hang.txt`` (for people) and
``hang.json`` (for tools) in the case's result directory:

- for each process: its state, command line and, per thread, the kernel's
  wait channel and stack (``/proc/PID/task/TID/{wchan,stack}``; the stack
  only for root);
- for a QEMU process with a listening QMP monitor: the block jobs and nodes
  it has (``query-jobs``, ``query-block-jobs``, ``query-named-block-nodes``),
  which name the job a case waits for in vain;
- for a Python process of the case library (the case itself, its
  helpers): every thread's Python stack, which :mod:`faulthandler` writes
  on :data:`~iotests.contract.STACK_SIGNAL` (the line the case is stuck
  at, on any machine: no debugger, no debug symbols);
- a backtrace of all threads from gdb (or eu-stack), when one is installed;
  gdb's ``py-bt`` too where the interpreter ships its gdb script.

A record must never turn one timeout into two, nor a hang into a crash of
the runner: it has a total time budget, each monitor and each debugger its
own smaller one, and every failure (a process gone, a monitor that does not
answer, no debugger) becomes a note in the record instead of an exception.
The monitors are queried before any debugger attaches, so that their
answers describe the case undisturbed.

QMP is spoken here by hand, over a plain socket with a deadline: the
``qemu.qmp`` package needs an event loop in the runner's worker threads and
logs its warnings to the runner's stderr, under the live console.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from iotests import command
from iotests.contract import STACK_SIGNAL
from iotests.errors import CommandError
from iotests.runner.reaper import Leftover, UnixSocket, parse_unix_sockets, socket_inodes

#: Seconds the whole record may take, and each monitor and debugger within it.
TOTAL_SECONDS = 20.0
MONITOR_SECONDS = 3.0
DEBUGGER_SECONDS = 5.0
#: Seconds the Python processes asked for their stacks have to write them.
STACK_SECONDS = 2.0
#: What a QEMU monitor is asked, in this order.
QUERIES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("query-jobs", {}),
    ("query-block-jobs", {}),
    ("query-named-block-nodes", {"flat": True}),
)
#: Programs whose listening unix sockets may be QMP monitors. Others are not
#: probed: a qemu-nbd without --persistent exits when its first client leaves.
MONITOR_PROGRAMS = ("qemu-system-", "qemu-storage-daemon")
TEXT_NAME, JSON_NAME = "hang.txt", "hang.json"
#: A backtrace or a QMP line longer than this is cut: the record stays readable.
_MAX_TEXT = 1 << 20


@dataclass(frozen=True)
class ThreadState:
    tid: int
    name: str
    #: One letter, as in ps (R, S, D, T, Z, ...).
    state: str
    #: The kernel function the thread sleeps in; None when running or unknown.
    wchan: str | None
    #: Innermost frame first; None when unreadable (only root may read it).
    kernel_stack: list[str] | None


@dataclass(frozen=True)
class MonitorAnswers:
    socket: str
    #: Each query's ``return`` value, or ``{"error": ...}`` as QEMU replied.
    answers: dict[str, Any]
    #: Why the monitor was not (fully) asked, if it was not.
    error: str | None = None


@dataclass(frozen=True)
class Backtrace:
    tool: str
    text: str


@dataclass(frozen=True)
class ProcessState:
    pid: int
    name: str
    ppid: int | None
    #: As ``/proc/PID/status`` says it: ``S (sleeping)``.
    state: str | None
    cmdline: list[str]
    threads: list[ThreadState]
    monitors: list[MonitorAnswers] = field(default_factory=list)
    backtrace: Backtrace | None = None
    #: What could not be recorded, and why.
    notes: list[str] = field(default_factory=list)
    #: Every thread's Python stack, as faulthandler wrote it (Python processes only).
    python_stack: str | None = None


@dataclass(frozen=True)
class HangRecord:
    #: Why the record was made: ``timed out after 5s``.
    reason: str
    #: Seconds the record took, and the budget it had.
    seconds: float
    budget: float
    processes: list[ProcessState]
    notes: list[str] = field(default_factory=list)

    def serialize(self) -> dict[str, Any]:
        return asdict(self)


# --- /proc, parsed (pure) -------------------------------------------------------------------


def parse_status(text: str) -> dict[str, str]:
    """``/proc/PID/status`` as a mapping: ``{"State": "S (sleeping)", "PPid": "1", ...}``."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def catches(status: Mapping[str, str], number: int) -> bool:
    """Whether ``/proc/PID/status`` (parsed) says the process has a handler for signal *number*."""
    try:
        return bool(int(status.get("SigCgt", "0"), 16) >> (number - 1) & 1)
    except ValueError:
        return False


def parse_stat_state(text: str) -> str:
    """The state letter of ``/proc/PID/stat`` (after the command name, which may hold spaces)."""
    fields = text.rpartition(")")[2].split()
    return fields[0] if fields else "?"


def parse_wchan(text: str) -> str | None:
    """The wait channel, or None where the thread is running (the kernel says ``0``)."""
    text = text.strip()
    return None if text in ("", "0") else text


def parse_kernel_stack(text: str) -> list[str]:
    """``/proc/PID/stack`` frames, innermost first, without their ``[<0>]`` address field."""
    frames = []
    for line in text.splitlines():
        frame = line.split("] ", 1)[1] if line.startswith("[<") and "] " in line else line
        if frame.strip():
            frames.append(frame.strip())
    return frames


def free_and_taken(held: Iterable[UnixSocket]) -> tuple[list[str], list[str]]:
    """Of the sockets a process holds, the paths it listens on: (free, already connected)."""
    held = list(held)
    connected = {s.path for s in held if not s.listening}
    listening = sorted({s.path for s in held if s.listening})
    return [p for p in listening if p not in connected], [p for p in listening if p in connected]


def may_have_monitor(cmdline: Sequence[str]) -> bool:
    """Whether *cmdline* runs a QEMU program that can have QMP monitors (under valgrind too)."""
    return any(os.path.basename(arg).startswith(MONITOR_PROGRAMS) for arg in cmdline)


# --- /proc, read ---------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return None


def read_process(pid: int, name: str, proc: Path = Path("/proc")) -> ProcessState:
    """What ``/proc`` says about *pid* and its threads; what it cannot say becomes notes."""
    base = proc / str(pid)
    notes: list[str] = []
    status_text = _read(base / "status")
    if status_text is None:
        return ProcessState(pid, name, None, None, [], [], notes=["gone before it was recorded"])
    status = parse_status(status_text)
    raw_cmdline = _read(base / "cmdline") or ""
    cmdline = [a for a in raw_cmdline.split("\0") if a]
    try:
        tids = sorted(int(t) for t in os.listdir(base / "task") if t.isdigit())
    except OSError:
        tids = [pid]
    threads = []
    unreadable_stack = False
    for tid in tids:
        task = base / "task" / str(tid)
        stat = _read(task / "stat")
        if stat is None:
            continue
        stack_text = _read(task / "stack")
        unreadable_stack |= stack_text is None
        threads.append(
            ThreadState(
                tid,
                (_read(task / "comm") or "?").strip(),
                parse_stat_state(stat),
                parse_wchan(_read(task / "wchan") or ""),
                None if stack_text is None else parse_kernel_stack(stack_text),
            )
        )
    if unreadable_stack:
        why = "" if os.geteuid() == 0 else " (only root may read it)"
        notes.append(f"kernel stack unreadable{why}")
    ppid = status.get("PPid")
    return ProcessState(
        pid,
        status.get("Name", name),
        int(ppid) if ppid and ppid.isdigit() else None,
        status.get("State"),
        cmdline,
        threads,
        notes=notes,
    )


def monitor_sockets(pid: int, proc: Path = Path("/proc")) -> tuple[list[str], list[str]]:
    """Paths of the unix sockets *pid* listens on: (free, already connected).

    Read from the process's own ``net/unix``: its network namespace's table.
    """
    base = proc / str(pid)
    try:
        links = []
        for fd in os.listdir(base / "fd"):
            with contextlib.suppress(OSError):
                links.append(os.readlink(base / "fd" / fd))
    except OSError:
        return [], []
    inodes = socket_inodes(links)
    table = parse_unix_sockets(_read(base / "net" / "unix") or "")
    return free_and_taken(s for s in table if s.inode in inodes)


# --- QMP -----------------------------------------------------------------------------------


class _NotAnswering(Exception):
    """A monitor that does not speak QMP, or not in time."""


class _Monitor:
    """One short QMP session over a unix socket, every read bounded by one deadline."""

    def __init__(self, path: str, deadline: float) -> None:
        self._deadline = deadline
        self._buffer = b""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(self._left())
            self._sock.connect(path)
            greeting = self._message()
        except BaseException:
            self._sock.close()
            raise
        if "QMP" not in greeting:
            self._sock.close()
            raise _NotAnswering(f"not a QMP monitor (it said {json.dumps(greeting)[:80]})")

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _NotAnswering("no answer in time")
        return left

    def _message(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            self._sock.settimeout(self._left())
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError as exc:
                what = "no greeting" if not self._buffer else "no complete answer"
                raise _NotAnswering(
                    f"{what} in time (a busy monitor or a stuck main loop)"
                ) from exc
            if not chunk:
                raise _NotAnswering("closed the connection")
            if not self._buffer and not chunk.lstrip().startswith(b"{"):
                raise _NotAnswering(f"not a QMP monitor (it said {chunk[:16]!r})")
            self._buffer += chunk
            if len(self._buffer) > 64 * _MAX_TEXT:
                raise _NotAnswering("an answer too long to record")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise _NotAnswering(f"not a QMP monitor (it said {line[:16]!r})") from exc
        if not isinstance(message, dict):
            raise _NotAnswering(f"not a QMP message: {line[:40]!r}")
        return message

    def execute(self, name: str, arguments: dict[str, Any]) -> Any:
        """The command's ``return`` value, or ``{"error": ...}``; events on the way are skipped."""
        request: dict[str, Any] = {"execute": name}
        if arguments:
            request["arguments"] = arguments
        self._sock.settimeout(self._left())
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            reply = self._message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                return {"error": reply["error"]}

    def close(self) -> None:
        self._sock.close()


def query_monitor(path: str, seconds: float) -> MonitorAnswers:
    """Ask the monitor at *path* :data:`QUERIES` within *seconds*; never raises."""
    answers: dict[str, Any] = {}
    try:
        monitor = _Monitor(path, time.monotonic() + seconds)
    except (OSError, _NotAnswering) as exc:
        return MonitorAnswers(path, answers, _why(exc))
    try:
        capabilities = monitor.execute("qmp_capabilities", {})
        if isinstance(capabilities, dict) and "error" in capabilities:
            return MonitorAnswers(path, answers, f"qmp_capabilities: {capabilities['error']}")
        for name, arguments in QUERIES:
            answers[name] = monitor.execute(name, arguments)
    except (OSError, _NotAnswering) as exc:
        return MonitorAnswers(path, answers, _why(exc))
    finally:
        monitor.close()
    return MonitorAnswers(path, answers)


def _why(exc: BaseException) -> str:
    if isinstance(exc, _NotAnswering):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"cannot connect: {getattr(exc, 'strerror', None) or exc}"


# --- debuggers -----------------------------------------------------------------------------


def ask_python_stacks(
    processes: Sequence[ProcessState], folder: Path, seconds: float, proc: Path = Path("/proc")
) -> dict[int, str | None]:
    """Each Python process's stacks, written into *folder*/PID.txt on STACK_SIGNAL.

    Only a process that opened that file and catches the signal is sent it
    (for any other the signal would be fatal); all are asked at once, then
    given *seconds* together. An answer is complete once its file stops
    growing (faulthandler writes it in one go, from its signal handler);
    None for a process that wrote nothing.
    """
    asked: dict[int, tuple[Path, int]] = {}
    for state in processes:
        path = folder / f"{state.pid}.txt"
        status = _read(proc / str(state.pid) / "status")
        if status is None or not path.is_file() or not catches(parse_status(status), STACK_SIGNAL):
            continue
        with contextlib.suppress(OSError):
            start = path.stat().st_size
            os.kill(state.pid, STACK_SIGNAL)
            asked[state.pid] = (path, start)
    seen: dict[int, str] = {}
    answers: dict[int, str | None] = {}
    deadline = time.monotonic() + seconds
    while asked:
        time.sleep(0.05)
        for pid, (path, start) in list(asked.items()):
            text = (_read(path) or "")[start:]
            if text.strip() and text == seen.get(pid):
                answers[pid] = text.strip()[:_MAX_TEXT]
                del asked[pid]
            seen[pid] = text
        if time.monotonic() >= deadline:
            break
    for pid in asked:
        answers[pid] = seen.get(pid, "").strip()[:_MAX_TEXT] or None
    return answers


def debugger_argv(pid: int, python_home: str | None = None) -> list[str] | None:
    """How to get a backtrace of all of *pid*'s threads here: gdb, else eu-stack, else None.

    For a Python process (*python_home*: its executable's directory) gdb also
    prints the Python stack (``py-bt``), the line a case is stuck at: it may
    load the ``python*-gdb.py`` that Python installs beside its executable.
    """
    gdb = command.which("gdb")
    if gdb is not None:
        argv = [gdb, "-nx", "-batch", "-iex", "set debuginfod enabled off"]
        if python_home is not None:
            argv += ["-iex", f"add-auto-load-safe-path {python_home}"]
        argv += ["-ex", "set pagination off", "-ex", "thread apply all bt"]
        if python_home is not None and has_gdb_script(pid):
            argv += ["-ex", "thread apply all py-bt"]
        return [*argv, "-p", str(pid)]
    stack = command.which("eu-stack")
    if stack is not None:
        return [stack, "-p", str(pid)]
    return None


def has_gdb_script(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether gdb can load ``py-bt`` for *pid*'s interpreter.

    gdb auto-loads ``EXE-gdb.py`` (or ``LIBPYTHON-gdb.py``) from beside the
    file or from its auto-load directory: a source build and pyenv install
    one, Debian's python3.X-dbg package the other. Without one, ``py-bt``
    is an undefined command that would end gdb with status 1.
    """
    try:
        exe = os.path.realpath(os.readlink(proc / str(pid) / "exe"))
    except OSError:
        return False
    objects = [exe]
    maps = _read(proc / str(pid) / "maps") or ""
    objects += sorted({line.split()[-1] for line in maps.splitlines() if "libpython" in line})
    for path in objects:
        for script in (f"{path}-gdb.py", f"/usr/share/gdb/auto-load{path}-gdb.py"):
            if os.path.isfile(script):
                return True
    return False


def python_home(pid: int, proc: Path = Path("/proc")) -> str | None:
    """The directory of *pid*'s executable if it is a Python interpreter, else None."""
    try:
        exe = os.readlink(proc / str(pid) / "exe")
    except OSError:
        return None
    return os.path.dirname(exe) if os.path.basename(exe).startswith("python") else None


def backtrace(pid: int, seconds: float) -> tuple[Backtrace | None, str | None]:
    """All threads' backtraces of *pid* within *seconds*: (backtrace, note); never raises."""
    argv = debugger_argv(pid, python_home(pid))
    if argv is None:
        return None, "no backtrace: neither gdb nor eu-stack is installed"
    tool = os.path.basename(argv[0])
    try:
        done = command.run(argv, timeout=seconds, check=False)
    except CommandError as exc:
        # A debugger killed while attached can leave its tracee stopped.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
        partial = exc.output.rpartition("\n(timed out")[0].strip()
        note = f"{tool} gave no backtrace in {seconds:g}s"
        return (Backtrace(tool, partial[:_MAX_TEXT]) if partial else None), note
    text = done.output.strip()[:_MAX_TEXT]
    if done.returncode != 0 or not text:
        last = text.splitlines()[-1] if text else "no output"
        return (Backtrace(tool, text) if text else None), (
            f"{tool} exited with {done.returncode}: {last}"
        )
    return Backtrace(tool, text), None


# --- the record ----------------------------------------------------------------------------


class _Budget:
    """What is left of the record's time; nothing once the run is being stopped."""

    def __init__(self, seconds: float, stopping: Callable[[], bool]) -> None:
        self._end = time.monotonic() + seconds
        self._stopping = stopping

    def grant(self, cap: float) -> float:
        """Seconds the next step may take: at most *cap*, 0 when nothing is left."""
        if self._stopping():
            return 0.0
        return max(0.0, min(cap, self._end - time.monotonic()))


def build(
    scan: Callable[[], list[Leftover]],
    reason: str,
    *,
    budget: float = TOTAL_SECONDS,
    monitor_seconds: float = MONITOR_SECONDS,
    debugger_seconds: float = DEBUGGER_SECONDS,
    stopping: Callable[[], bool] = lambda: False,
    proc: Path = Path("/proc"),
    stacks_dir: Path | None = None,
) -> HangRecord:
    """Ask every process *scan* finds what it is doing, within *budget* seconds; never raises."""
    start = time.monotonic()
    left = _Budget(budget, stopping)
    notes: list[str] = []
    processes: list[ProcessState] = []
    try:
        found = scan()
        processes = [read_process(p.pid, p.name, proc) for p in found]
        # Monitors first: a debugger stops the process it attaches to.
        for state in processes:
            if not may_have_monitor(state.cmdline):
                continue
            sockets, taken = monitor_sockets(state.pid, proc)
            state.notes.extend(
                f"monitor {path} not asked: it already serves its one client" for path in taken
            )
            if not sockets and not taken:
                state.notes.append(
                    "no QMP monitor to ask: it listens on no unix socket"
                    " (a monitor it connected to the case is the case's alone)"
                )
            for path in sockets:
                seconds = left.grant(monitor_seconds)
                if seconds <= 0:
                    state.notes.append(f"monitor {path} not asked: {_spent(stopping, budget)}")
                    continue
                state.monitors.append(query_monitor(path, seconds))
        # Python stacks next, while nothing is attached: a stopped tracee cannot answer.
        seconds = left.grant(STACK_SECONDS)
        if stacks_dir is not None and seconds > 0:
            stacks = ask_python_stacks(processes, stacks_dir, seconds, proc)
            for i, state in enumerate(processes):
                if state.pid in stacks:
                    processes[i] = replace(state, python_stack=stacks[state.pid])
                    if stacks[state.pid] is None:
                        state.notes.append(f"no Python stack: it did not answer in {seconds:g}s")
        for i, state in enumerate(processes):
            if state.state is None or state.state.startswith(("Z", "X")):
                continue
            seconds = left.grant(debugger_seconds)
            if seconds <= 0:
                state.notes.append(f"no backtrace: {_spent(stopping, budget)}")
                continue
            trace, note = backtrace(state.pid, seconds)
            processes[i] = replace(state, backtrace=trace)
            if note is not None:
                state.notes.append(note)
    except Exception as exc:  # a failure to record is noted, never raised
        notes.append(f"recording failed: {type(exc).__name__}: {exc}")
    seconds = round(time.monotonic() - start, 3)
    return HangRecord(reason, seconds, budget, processes, notes)


def _spent(stopping: Callable[[], bool], budget: float) -> str:
    return "the run is being stopped" if stopping() else f"the record's {budget:g}s were spent"


def render(record: HangRecord) -> str:
    """The record for people: one block per process, its threads, monitors and backtrace."""
    lines = [
        f"Hang record: {record.reason}; recorded in {record.seconds:.1f}s"
        f" (budget {record.budget:g}s), before the case was killed.",
    ]
    lines += [f"note: {n}" for n in record.notes]
    if not record.processes and not record.notes:
        lines.append("No process of the case was running.")
    for p in record.processes:
        parent = f", parent {p.ppid}" if p.ppid is not None else ""
        lines += ["", f"== pid {p.pid} {p.name}: {p.state or 'gone'}{parent}"]
        if p.cmdline:
            lines.append(f"   command: {' '.join(p.cmdline)}")
        for t in p.threads:
            waiting = f", waiting in {t.wchan}" if t.wchan else ""
            lines.append(f"   thread {t.tid} {t.name}: {t.state}{waiting}")
            lines += [f"      {frame}" for frame in t.kernel_stack or ()]
        for m in p.monitors:
            lines.append(f"   QMP {m.socket}:")
            for name, answer in m.answers.items():
                lines.append(f"      {name}: {json.dumps(answer, sort_keys=True)}")
            if m.error is not None:
                lines.append(f"      {m.error}")
        if p.python_stack is not None:
            lines.append("   Python stack (faulthandler):")
            lines += [f"      {line}" for line in p.python_stack.splitlines()]
        if p.backtrace is not None:
            lines.append(f"   backtrace ({p.backtrace.tool}):")
            lines += [f"      {line}" for line in p.backtrace.text.splitlines()]
        lines += [f"   note: {n}" for n in p.notes]
    return "\n".join(lines) + "\n"


def record(
    scan: Callable[[], list[Leftover]],
    result_dir: Path,
    reason: str,
    *,
    budget: float = TOTAL_SECONDS,
    stopping: Callable[[], bool] = lambda: False,
    stacks_dir: Path | None = None,
) -> Path | None:
    """Write ``hang.txt`` and ``hang.json`` into *result_dir*: the text's path, or None.

    None only when the files cannot be written; nothing raises.
    """
    data = build(scan, reason, budget=budget, stopping=stopping, stacks_dir=stacks_dir)
    try:
        text = render(data)
    except Exception as exc:  # the JSON record is still worth writing
        text = f"Hang record: {reason}; cannot be shown as text ({exc!r}): see {JSON_NAME}\n"
    text_path = result_dir / TEXT_NAME
    try:
        (result_dir / JSON_NAME).write_text(json.dumps(data.serialize(), indent=1) + "\n")
        text_path.write_text(text)
    except OSError:
        return None
    return text_path
