"""Finding and killing every process a case started, and only those.

No single net catches everything, so a case's leftovers are whatever any of
these finds:

- the case's cgroup (cgroup v2, where the machine lets us create groups):
  the kernel keeps membership through setsid, double forks and a clean
  environment, and ``cgroup.kill`` takes the whole group;
- the case's ``IOTESTS_TOKEN`` in ``/proc/*/environ``: survives setsid and
  double forks, but not ``subprocess.run(..., env={...})``;
- the case's session (the case process leads a new one): survives a clean
  environment, not setsid;
- the runner as a child subreaper: a daemon whose parent exits is
  re-parented to the runner, whatever its environment and session, and the
  runner finds it among its own children.

When the runner itself dies (SIGKILL, an OOM kill) the next run cleans up
after it. Without cgroups (a user's login session delegates none) a daemon
started with a clean environment carries no token; for it the run keeps a
``<run id>.cases`` file beside its lock, one line per case: its session,
its start time, its socket directory and its scratch directory. A process
of a dead run's case is then one started after the case that uses (as its
working directory, an open file or a bound unix socket) the case's socket
directory, whose name holds the dead run's random id, or that is in the
case's session and uses its scratch directory: a recycled session number
or a person's shell in a results folder proves nothing. (``qemu-nbd
--fork`` makes a session of its own: its socket is what names it. A
clean-environment daemon in a session of its own, serving over TCP, is
left to the cgroup net.)

Runs know each other by a lock file, not by a pid: a pid means nothing in
another pid namespace and is reused. Each run holds an flock on
``<runtime dir>/<run id>.lock`` for its whole life (the kernel drops it when
the runner dies, however it dies) and names that file in every case's
environment, its cgroup and its socket directories. Something of another run
is cleaned up only when that run is provably dead: its lock file exists and
nobody holds the lock (or it was made before the last boot).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iotests import command
from iotests.errors import CommandError
from iotests.runner import dirs as dirs_mod

TOKEN_VARIABLE = "IOTESTS_TOKEN"
#: The pid of the runner that started a case, for people reading ``ps e``.
#: Never used to judge a runner alive: see :data:`RUN_LOCK_VARIABLE`.
RUNNER_VARIABLE = "IOTESTS_RUNNER_PID"
#: The run a case belongs to, and the lock file that run holds while it lives.
RUN_ID_VARIABLE = "IOTESTS_RUN_ID"
RUN_LOCK_VARIABLE = "IOTESTS_RUN_LOCK"
#: ``0`` keeps cases out of cgroups even where the machine offers them.
CGROUP_VARIABLE = "IOTESTS_CGROUP"
#: Beside a run's lock file: the cases it started (session, start, directories).
CASES_SUFFIX = ".cases"

_PR_SET_CHILD_SUBREAPER = 36
_RUN_ID = re.compile(r"[0-9a-f]{12}\Z")
_CGROUP_PREFIX = "iotests-"
#: How a case joins its cgroup before it runs: the shell moves itself, then
#: becomes the case, so the case's first fork already lands in the group.
_JOIN_CGROUP = '{ echo 0 >"$1"; } 2>/dev/null; shift; exec "$@"'


@dataclass(frozen=True)
class Leftover:
    pid: int
    name: str


# --- /proc ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stat:
    state: str
    ppid: int
    session: int
    #: Clock ticks after boot: with the pid, it names one process for good.
    start: int

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X")


def _read(path: str) -> bytes | None:
    """A /proc file's bytes (None if gone): plain os calls, as every case end reads hundreds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _stat(pid: int | str, proc: Path = Path("/proc")) -> _Stat | None:
    text = _read(f"{proc}/{pid}/stat")
    if text is None:
        return None
    fields = text.rpartition(b")")[2].split()
    try:
        return _Stat(fields[0].decode(), int(fields[1]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def _comm(pid: int) -> str:
    text = _read(f"/proc/{pid}/comm")
    return "?" if text is None else text.decode(errors="replace").strip()


def _environ(pid: int | str, proc: Path = Path("/proc")) -> dict[str, str]:
    """The variables of ours in *pid*'s initial environment (empty if unreadable)."""
    raw = _read(f"{proc}/{pid}/environ")
    if not raw or b"IOTESTS_" not in raw:
        return {}
    found = {}
    for item in raw.split(b"\0"):
        if item.startswith(b"IOTESTS_"):
            name, _, value = item.partition(b"=")
            found[name.decode(errors="replace")] = value.decode(errors="replace")
    return found


def _pids(proc: Path = Path("/proc")) -> Iterator[int]:
    for name in os.listdir(proc):
        if name.isdigit():
            yield int(name)


def _is_zombie(pid: int) -> bool:
    stat = _stat(pid)
    return stat is None or stat.zombie


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def find(token: str, proc: Path = Path("/proc")) -> list[Leftover]:
    """Live processes whose initial environment carries *token*."""
    me = os.getpid()
    found = []
    for pid in _pids(proc):
        if pid != me and _environ(pid, proc).get(TOKEN_VARIABLE) == token and not _is_zombie(pid):
            found.append(Leftover(pid, _comm(pid)))
    return found


def _terminate(
    scan: Callable[[], list[Leftover]], grace: float, kill: Callable[[], None] | None = None
) -> list[Leftover]:
    """SIGTERM what *scan* finds, SIGKILL what is still there after *grace*; all it found.

    *scan* is repeated: killing a daemon re-parents its children, which are
    found on the next pass. *kill* is called with the SIGKILLs (cgroup.kill).
    """
    seen: dict[int, Leftover] = {}
    first = scan()
    if not first:
        return []
    seen.update((p.pid, p) for p in first)
    _signal(seen, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap_orphans(seen)
        current = scan()
        seen.update((p.pid, p) for p in current if p.pid not in seen)
        if not current:
            break
        time.sleep(0.05)
    deadline = time.monotonic() + max(grace, 5.0)
    while True:
        current = scan()
        seen.update((p.pid, p) for p in current if p.pid not in seen)
        if kill is not None:
            kill()
        _signal((p.pid for p in current), signal.SIGKILL)
        _reap_orphans(seen)
        if not current or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    _reap_orphans(seen)
    return list(seen.values())


def kill_all(token: str, grace: float = 2.0) -> list[Leftover]:
    """SIGTERM, then SIGKILL, every process carrying *token*; return those found."""
    return _terminate(lambda: find(token), grace)


def _reap_orphans(pids: Iterable[int] | None = None) -> None:
    """Reap zombies re-parented to the runner (a subreaper) that no Process waits for.

    A zombie child in another session than the runner's was not started by
    the runner's own ``subprocess`` calls (those stay in its session) and is
    not a tracked :class:`command.Process` (``reap_stray`` checks): it is an
    orphan the runner inherited, and only the runner can reap it.
    """
    me, my_session = os.getpid(), os.getsid(0)
    for pid in _pids() if pids is None else list(pids):
        stat = _stat(pid)
        if stat is not None and stat.zombie and stat.ppid == me and stat.session != my_session:
            command.reap_stray(pid)


# --- runs and their locks ------------------------------------------------------------------


def runtime_dirs() -> list[Path]:
    """Where run lock files may be, in the order a new run tries to create its own."""
    candidates = [Path("/run/iotests")]
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        candidates.append(Path(xdg) / "iotests")
    candidates.append(dirs_mod.socket_base() / f"iotests-runs-{os.getuid()}")
    return candidates


def _usable_runtime_dir(path: Path) -> bool:
    try:
        path.mkdir(mode=0o755 if path.parent == Path("/run") else 0o700, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    # In a world-writable parent, someone else's directory is a trap, not ours.
    return info.st_uid == os.getuid() and os.access(path, os.W_OK | os.X_OK)


def _boot_time() -> float:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _pidns() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def lock_is_held(lock: Path) -> bool | None:
    """Whether the run that made *lock* is alive: True, False (provably dead) or None (unknown)."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return None
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            info = {}
        # The lock is free. A runner that lost it but still lives where we can
        # see it (same pid namespace, same pid and start time) is alive all the same.
        if isinstance(info, dict) and info.get("pidns") == _pidns():
            stat = _stat(int(info.get("pid", 0)))
            if stat is not None and not stat.zombie and stat.start == info.get("start"):
                return True
        return False
    finally:
        os.close(fd)


def run_is_dead(run_id: str, made: float | None = None) -> bool:
    """Whether run *run_id*, whose trace was made at time *made*, provably ended."""
    if run_id == current_run().id:
        return False
    for directory in runtime_dirs():
        held = lock_is_held(directory / f"{run_id}.lock")
        if held is not None:
            return not held
    # No lock file where we can see it: only a trace older than this boot is
    # provably dead (nothing runs across a reboot; /run does not survive one).
    return made is not None and made < _boot_time() - 1


@dataclass
class _Case:
    token: str
    cgroup: Path | None
    process: command.Process | None = None
    #: The case process's start time: nothing it started can be older.
    start: int = 0


@dataclass
class Run:
    """This runner: its id, the lock it holds, its cgroup, the cases in flight."""

    id: str
    lock: Path
    cgroup: Path | None
    _fd: int
    _cases: dict[str, _Case] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def environment(self) -> dict[str, str]:
        """What tells every process of this run's cases which run it belongs to."""
        return {RUN_ID_VARIABLE: self.id, RUN_LOCK_VARIABLE: str(self.lock)}

    @property
    def cases_file(self) -> Path:
        """Where this run notes each case's session and directories (see the module doc)."""
        return self.lock.with_suffix(CASES_SUFFIX)

    def note_case(self, session: int, start: int, sock: Path, scratch: Path) -> None:
        """Record a case for the run after this one, should this runner die before the case ends."""
        line = json.dumps(
            {"session": session, "start": start, "sock": str(sock), "scratch": str(scratch)}
        )
        with self._mutex, contextlib.suppress(OSError):
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            fd = os.open(self.cases_file, flags, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def case(self, token: str, grace: float = 2.0) -> Iterator[CaseProcesses]:
        """Own the processes of the case with *token*; none survive the block, whatever happens."""
        group = self._make_case_cgroup(token)
        state = _Case(token, group)
        with self._mutex:
            self._cases[token] = state
        tracker = CaseProcesses(self, state, grace)
        try:
            yield tracker
        finally:
            try:
                if state.process is not None and state.process.returncode is None:
                    state.process.kill_group(grace)
                if not tracker.done:
                    tracker.kill_leftovers()
            finally:
                with self._mutex:
                    del self._cases[token]
                if group is not None:
                    _remove_cgroup(group)
                _reap_orphans()

    def _make_case_cgroup(self, token: str) -> Path | None:
        if self.cgroup is None:
            return None
        group = self.cgroup / token[:16]
        try:
            group.mkdir()
        except OSError:
            return None
        return group

    def others(self, token: str) -> list[_Case]:
        with self._mutex:
            return [c for t, c in self._cases.items() if t != token]

    def close(self) -> None:
        """At exit: nothing of the run's cases is left; the lock file goes (the lock with us)."""
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
        with contextlib.suppress(OSError):
            self.cases_file.unlink()
        with contextlib.suppress(OSError):
            self.lock.unlink()


class CaseProcesses:
    """The processes of one running case, found by every net there is."""

    def __init__(self, run: Run, state: _Case, grace: float) -> None:
        self._run = run
        self._state = state
        self._grace = grace
        #: Whether :meth:`kill_leftovers` ran: the block's end need not scan again.
        self.done = False

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """*argv*, started inside the case's cgroup when it has one."""
        if self._state.cgroup is None:
            return list(argv)
        procs = str(self._state.cgroup / "cgroup.procs")
        return ["/bin/sh", "-c", _JOIN_CGROUP, "iotests-case", procs, *argv]

    def started(self, process: command.Process, dirs: dirs_mod.CaseDirs | None = None) -> None:
        """The case's process is running (the leader of its own session); its *dirs* are
        noted for the next run, in case this runner dies before the case ends."""
        stat = _stat(process.pid)
        self._state.process = process
        self._state.start = stat.start if stat is not None else 0
        if dirs is not None and stat is not None:
            self._run.note_case(process.pid, stat.start, dirs.sock, dirs.scratch)

    def scan(self) -> list[Leftover]:
        """The case's processes still running (zombies aside), other cases' processes never."""
        state = self._state
        me, my_session = os.getpid(), os.getsid(0)
        own = state.process.pid if state.process is not None else None
        others = self._run.others(state.token)
        foreign = {c.process.pid for c in others if c.process is not None}
        stats: dict[int, _Stat] = {}
        for pid in _pids():
            stat = _stat(pid)
            if stat is not None and not stat.zombie and pid != me:
                stats[pid] = stat
        members = set(_cgroup_members(state.cgroup)) if state.cgroup is not None else set()
        chosen: set[int] = set()
        for pid, stat in stats.items():
            if pid in foreign:
                continue
            if pid in members or (own is not None and stat.session == own):
                chosen.add(pid)
                continue
            token = _environ(pid).get(TOKEN_VARIABLE)
            if token == state.token or (
                stat.ppid == me
                and stat.session != my_session
                and not command.is_tracked(pid)
                and self._claims_orphan(pid, stat, token, others)
            ):
                chosen.add(pid)
        # What those started is theirs too, whatever its session or environment.
        grew = True
        while grew:
            grew = False
            for pid, stat in stats.items():
                if pid not in chosen and stat.ppid in chosen and pid not in foreign:
                    chosen.add(pid)
                    grew = True
        return [Leftover(pid, _comm(pid)) for pid in sorted(chosen)]

    def _claims_orphan(self, pid: int, stat: _Stat, token: str | None, others: list[_Case]) -> bool:
        """Whether an orphan re-parented to the runner is this case's.

        One with another live case's token, or in another live case's
        cgroup, is that case's. One with neither could be any case that was
        running when it was born: it is left to the last of them to end, so
        that no case kills what a case still running may be using.
        """
        if stat.start < self._state.start:
            return False
        live = {c.token for c in others}
        if token is not None and token in live:
            return False
        cgroup = _cgroup_of(pid)
        for other in others:
            if other.cgroup is not None and cgroup == other.cgroup:
                return False
            if other.start <= stat.start and (other.cgroup is None or cgroup is None):
                return False
        return True

    def kill_leftovers(self) -> list[Leftover]:
        """Stop every process of the case still running; return those found."""
        group = self._state.cgroup
        self.done = True
        return _terminate(
            self.scan, self._grace, kill=None if group is None else lambda: _kill(group)
        )


_current: Run | None = None
_current_lock = threading.Lock()


def current_run() -> Run:
    """This process's run, started on first use and held until the process exits.

    Starting it takes the lock, makes the process a child subreaper (so
    orphaned daemons of its cases come back to it) and sets up its cgroup.
    """
    global _current  # noqa: PLW0603 - one run per process, by design
    with _current_lock:
        if _current is None:
            _current = _start_run()
            atexit.register(_current.close)
        return _current


def _start_run() -> Run:
    run_id = uuid.uuid4().hex[:12]
    for directory in runtime_dirs():
        if _usable_runtime_dir(directory):
            break
    else:
        raise OSError(errno.EACCES, "no usable runtime directory", str(runtime_dirs()[-1]))
    lock = directory / f"{run_id}.lock"
    staging = directory / f".{run_id}.new"
    fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    # Locked before it has its name: nobody can see it unlocked and judge it dead.
    fcntl.flock(fd, fcntl.LOCK_EX)
    me = _stat(os.getpid())
    info = {"pid": os.getpid(), "pidns": _pidns(), "start": me.start if me else 0}
    os.write(fd, json.dumps(info).encode())
    os.rename(staging, lock)
    _become_subreaper()
    return Run(run_id, lock, _make_run_cgroup(run_id), fd)


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


# --- cgroups -------------------------------------------------------------------------------


def cgroup2_mount() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup``, or ``.../unified``)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        before, _, after = line.partition(" - ")
        fields = before.split()
        if after.split()[:1] == ["cgroup2"] and len(fields) > 4 and fields[3] == "/":
            return Path(fields[4])
    return None


def own_cgroup() -> Path | None:
    """The cgroup v2 directory this process is in, or None where there is none."""
    mount = cgroup2_mount()
    if mount is None:
        return None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                path = mount / line[3:].lstrip("/")
                return path if (path / "cgroup.procs").is_file() else None
    except OSError:
        pass
    return None


def _make_run_cgroup(run_id: str) -> Path | None:
    """The run's cgroup, if cases can be put in groups of their own here (else None)."""
    if os.environ.get(CGROUP_VARIABLE, "1") == "0":
        return None
    parent = own_cgroup()
    if parent is None:
        return None
    group = parent / f"{_CGROUP_PREFIX}{run_id}"
    probe = group / "probe"
    try:
        group.mkdir()
    except OSError:
        return None
    try:
        probe.mkdir()
        joined = command.run(
            ["/bin/sh", "-c", 'echo 0 >"$1"', "iotests-probe", str(probe / "cgroup.procs")],
            check=False,
            timeout=10,
        )
        if joined.returncode == 0 and (probe / "cgroup.kill").exists():
            return group
    except (OSError, CommandError):
        pass
    finally:
        _remove_cgroup(probe)
    _remove_cgroup(group)
    return None


def _cgroup_of(pid: int) -> Path | None:
    mount = cgroup2_mount()
    try:
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            if line.startswith("0::") and mount is not None:
                return mount / line[3:].lstrip("/")
    except OSError:
        pass
    return None


def _cgroup_members(group: Path) -> list[int]:
    """Pids in *group* and its descendant groups."""
    pids: list[int] = []
    for directory, _, _ in os.walk(group):
        with contextlib.suppress(OSError, ValueError):
            text = Path(directory, "cgroup.procs").read_text()
            pids.extend(int(p) for p in text.split())
    return pids


def _kill(group: Path) -> None:
    with contextlib.suppress(OSError):
        (group / "cgroup.kill").write_text("1")


def _populated(group: Path) -> bool:
    try:
        text = (group / "cgroup.events").read_text()
    except OSError:
        return False
    return "populated 1" in text


def _remove_cgroup(group: Path, timeout: float = 10.0) -> list[Leftover]:
    """Kill everything in *group*, remove it and its descendants; return what was in it."""
    if not group.is_dir():
        return []
    members = [Leftover(p, _comm(p)) for p in _cgroup_members(group)]
    deadline = time.monotonic() + timeout
    if members or _populated(group):
        _kill(group)
        while _populated(group) and time.monotonic() < deadline:
            _reap_orphans(p.pid for p in members)
            time.sleep(0.02)
        _reap_orphans(p.pid for p in members)
    for directory, _, _ in sorted(os.walk(group), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    return [m for m in members if m.name != "?"]


# --- what dead runs left -------------------------------------------------------------------


@dataclass
class Stale:
    """What earlier runs that died had left, and this run cleaned up."""

    processes: list[Leftover] = field(default_factory=list)
    socket_dirs: list[Path] = field(default_factory=list)


def orphans(proc: Path = Path("/proc")) -> list[Leftover]:
    """Running processes of cases whose run provably ended."""
    me = os.getpid()
    verdicts: dict[str, bool] = {}
    found = []
    for pid in _pids(proc):
        if pid == me:
            continue
        env = _environ(pid, proc)
        run_id, lock = env.get(RUN_ID_VARIABLE), env.get(RUN_LOCK_VARIABLE)
        if TOKEN_VARIABLE not in env or not run_id or not lock:
            continue
        if run_id not in verdicts:
            verdicts[run_id] = run_id != current_run().id and lock_is_held(Path(lock)) is False
        if verdicts[run_id] and not _is_zombie(pid):
            found.append(Leftover(pid, _comm(pid)))
    return found


_SO_ACCEPTCON = 0x10000


def socket_inodes(links: Iterable[str]) -> set[int]:
    """The socket inodes among ``/proc/PID/fd`` link targets (``socket:[123]``)."""
    found = set()
    for link in links:
        if link.startswith("socket:[") and link.endswith("]"):
            with contextlib.suppress(ValueError):
                found.add(int(link[8:-1]))
    return found


@dataclass(frozen=True)
class UnixSocket:
    inode: int
    path: str
    #: Listening (a server); else a connection, one a server accepted if it has the path.
    listening: bool


def parse_unix_sockets(text: str) -> list[UnixSocket]:
    """The path-bound stream sockets in ``/proc/net/unix``.

    A connection a server accepted shows the server's path too: that is how
    a monitor already taken (QMP serves one client at a time) is told from a
    free one. Abstract sockets (``@name``) are left out: no monitor of ours
    listens there.
    """
    found = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 7)
        if len(parts) < 8:
            continue
        _, _, _, flags, kind, _, inode, path = parts
        try:
            listening = bool(int(flags, 16) & _SO_ACCEPTCON)
            stream = int(kind, 16) == socket.SOCK_STREAM
            number = int(inode)
        except ValueError:
            continue
        if stream and path.startswith("/"):
            found.append(UnixSocket(number, path, listening))
    return found


@dataclass(frozen=True)
class _NotedCase:
    session: int
    start: int
    #: The case's socket directory (named after its run: proof alone) and scratch
    #: directory (proof only within the case's session).
    sock: str
    scratch: str


def _noted_cases(path: Path) -> list[_NotedCase]:
    """The cases a run noted in its cases file (lines it could not finish are skipped)."""
    found = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            item = json.loads(line)
            session, start = int(item["session"]), int(item["start"])
            found.append(_NotedCase(session, start, str(item["sock"]), str(item["scratch"])))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _uses(pid: int, places: Sequence[str]) -> bool:
    """Whether *pid*'s working directory, an open file or a bound unix socket lies in *places*.

    Sockets are looked up in the process's own ``net/unix``: its network namespace's table.
    """

    def inside(path: str) -> bool:
        path = path.removesuffix(" (deleted)")
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in places)

    base = f"/proc/{pid}"
    with contextlib.suppress(OSError):
        if inside(os.readlink(f"{base}/cwd")):
            return True
    links = []
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"{base}/fd"):
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"{base}/fd/{fd}"))
    if any(inside(link) for link in links if not link.startswith("socket:[")):
        return True
    inodes = socket_inodes(links)
    if not inodes:
        return False
    table = (_read(f"{base}/net/unix") or b"").decode(errors="replace")
    return any(s.inode in inodes and inside(s.path) for s in parse_unix_sockets(table))


def session_orphans(proc: Path = Path("/proc")) -> list[Leftover]:
    """Processes of dead runs' cases found through their cases files (see the module doc)."""
    me = os.getpid()
    noted: list[_NotedCase] = []
    for directory in runtime_dirs():
        with contextlib.suppress(OSError):
            for path in directory.glob(f"*{CASES_SUFFIX}"):
                run_id = path.name.removesuffix(CASES_SUFFIX)
                if _RUN_ID.match(run_id) and run_is_dead(run_id):
                    noted.extend(_noted_cases(path))
    if not noted:
        return []
    found = []
    for pid in _pids(proc):
        stat = _stat(pid, proc)
        if pid == me or stat is None or stat.zombie:
            continue
        cases = [c for c in noted if stat.start >= c.start]
        if not cases:
            continue
        owner = _environ(pid, proc).get(RUN_ID_VARIABLE)
        if owner and not run_is_dead(owner):
            continue  # a live run's, whatever it uses
        for case in cases:
            places = [case.sock] + ([case.scratch] if stat.session == case.session else [])
            if _uses(pid, places):
                found.append(Leftover(pid, _comm(pid)))
                break
    return found


def _stale_cgroups() -> list[Path]:
    mount = cgroup2_mount()
    if mount is None:
        return []
    found = []
    for directory, subdirs, _ in os.walk(mount):
        for name in list(subdirs):
            if name.startswith(_CGROUP_PREFIX):
                subdirs.remove(name)
                run_id = name[len(_CGROUP_PREFIX) :]
                if _RUN_ID.match(run_id) and run_is_dead(run_id):
                    found.append(Path(directory, name))
    return found


def kill_orphans() -> Stale:
    """Kill and remove what runs that died left behind; return what was found.

    Only what belongs to a run whose lock is provably free: a live run, in
    this pid namespace or another, in this container or the host, keeps all
    of its processes, groups and directories. A dead run's lock file goes
    last, once nothing of it is left that would need it as proof.
    """
    run = current_run()
    stale = Stale()
    for group in _stale_cgroups():
        stale.processes.extend(_remove_cgroup(group))
    killed = {p.pid for p in stale.processes}

    def scan() -> list[Leftover]:
        seen = {p.pid: p for p in orphans()}
        seen.update((p.pid, p) for p in session_orphans() if p.pid not in seen)
        return list(seen.values())

    stale.processes.extend(p for p in _terminate(scan, grace=0.0) if p.pid not in killed)
    for path in dirs_mod.socket_dirs():
        run_id = dirs_mod.run_of_socket_dir(path)
        if run_id is None or run_id == run.id:
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if info.st_uid == os.getuid() and run_is_dead(run_id, made=info.st_mtime):
            shutil.rmtree(path, ignore_errors=True)
            stale.socket_dirs.append(path)
    survivors = {_environ(p.pid).get(RUN_ID_VARIABLE) for p in orphans()}
    for directory in runtime_dirs():
        with contextlib.suppress(OSError):
            # Only named locks: a ``.new`` one may be a run starting this instant.
            for lock in directory.glob("*.lock"):
                run_id = lock.name.removesuffix(".lock")
                if run_id not in survivors and run_id != run.id and lock_is_held(lock) is False:
                    with contextlib.suppress(OSError):
                        lock.with_suffix(CASES_SUFFIX).unlink()
                    lock.unlink()
    return stale


def socket_path() -> Path:
    """A new socket directory's path for a case of this run (made when the case starts)."""
    return dirs_mod.socket_path(current_run().id)
