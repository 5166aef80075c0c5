"""reaper: runs known by their locks, and every net that finds a case's processes, with real processes."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from iotests import command
from iotests.errors import CommandError
from iotests.runner import dirs, process, reaper

#: Forks a daemon that leaves the session, drops the environment and outlives its parent.
DAEMONISE = """
import os
if os.fork() == 0:
    os.setsid()
    daemon = os.fork()
    if daemon == 0:
        os.execve("/bin/sleep", ["sleep", "600"], {})
    print(daemon, flush=True)
    os._exit(0)
os.wait()
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def zombie_children() -> list[int]:
    """Our own children that exited and nobody reaped."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def holder(lock: Path) -> command.Process:
    """A process that holds an flock on *lock* until killed, as a live run does."""
    script = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = command.spawn([sys.executable, "-c", script, str(lock)])
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"locked\n"
    return proc


def test_a_held_lock_is_alive_a_released_one_provably_dead(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    assert reaper.lock_is_held(lock) is None  # no file: nothing is proven
    proc = holder(lock)
    try:
        assert reaper.lock_is_held(lock) is True
    finally:
        proc.kill_group()
        proc.close()
    assert reaper.lock_is_held(lock) is False


def test_a_free_lock_of_a_runner_still_seen_alive_is_not_dead(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    stat = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
    me = {"pid": os.getpid(), "pidns": os.stat("/proc/self/ns/pid").st_ino, "start": int(stat[19])}
    lock.write_text(json.dumps(me))
    assert reaper.lock_is_held(lock) is True
    # The same pid with another start time is another process: the runner is gone.
    lock.write_text(json.dumps({**me, "start": me["start"] + 1}))
    assert reaper.lock_is_held(lock) is False


def test_this_run_holds_its_lock_and_names_it_to_its_cases() -> None:
    run = reaper.current_run()
    assert reaper.lock_is_held(run.lock) is True
    assert run.lock.name == f"{run.id}.lock"
    assert run.environment() == {
        reaper.RUN_ID_VARIABLE: run.id,
        reaper.RUN_LOCK_VARIABLE: str(run.lock),
    }
    assert not reaper.run_is_dead(run.id)


def test_without_a_lock_only_a_trace_from_before_boot_is_dead() -> None:
    unknown = uuid.uuid4().hex[:12]
    assert not reaper.run_is_dead(unknown)
    assert not reaper.run_is_dead(unknown, made=time.time())
    assert reaper.run_is_dead(unknown, made=0.0)


@pytest.mark.parametrize(
    ("name", "run"),
    [
        ("iot-0123456789ab-deadbeef", "0123456789ab"),
        ("iot-0123456789ab-deadbee", None),
        ("iot-abcdefgh", None),  # an older runner's name: whose it is cannot be told
        ("iotests-runs-0", None),
        ("iot-0123456789AB-deadbeef", None),
    ],
)
def test_a_socket_directory_names_its_run(name: str, run: str | None) -> None:
    assert dirs.run_of_socket_dir(Path("/tmp", name)) == run


def test_a_socket_directory_goes_when_its_block_raises() -> None:
    path = reaper.socket_path()
    assert dirs.run_of_socket_dir(path) == reaper.current_run().id

    def failing_case() -> None:
        with dirs.socket_dir(path):
            (path / "s.sock").write_text("")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_case()
    assert not path.exists()


@pytest.fixture(params=["cgroup", "subreaper"])
def run(request: pytest.FixtureRequest) -> reaper.Run:
    """The process's run, with cases in cgroups where the machine allows, or without."""
    current = reaper.current_run()
    if request.param == "subreaper":
        return dataclasses.replace(current, cgroup=None, _cases={}, _mutex=threading.Lock())
    if current.cgroup is None:
        pytest.skip("cgroup v2 is not writable here")
    return current


def start_daemon(case: reaper.CaseProcesses) -> int:
    """Run DAEMONISE as the case; the daemon's pid."""
    proc = command.spawn(case.wrap([sys.executable, "-c", DAEMONISE]), env={})
    case.started(proc)
    assert proc.stdout is not None
    daemon = int(proc.stdout.readline())
    assert proc.wait(30) == 0
    proc.close()
    return daemon


def test_a_daemon_with_no_token_and_its_own_session_is_found(run: reaper.Run) -> None:
    with run.case(uuid.uuid4().hex) as case:
        daemon = start_daemon(case)
        assert alive(daemon)
        left = case.kill_leftovers()
    assert left == [reaper.Leftover(daemon, "sleep")]
    assert not alive(daemon)
    assert daemon not in zombie_children()


def test_an_orphan_born_while_two_cases_ran_goes_with_the_last_of_them() -> None:
    current = reaper.current_run()
    run = dataclasses.replace(current, cgroup=None, _cases={}, _mutex=threading.Lock())
    with contextlib.ExitStack() as second_case:
        with run.case(uuid.uuid4().hex) as first:
            idle = command.spawn(first.wrap(["sleep", "600"]), env={})
            first.started(idle)
            second = second_case.enter_context(run.case(uuid.uuid4().hex))
            daemon = start_daemon(second)
            idle.kill_group()
            idle.close()
            # Either case may have started it: the first to end must not take it...
            assert first.kill_leftovers() == []
            assert alive(daemon)
        # ...the second, ending while no other case runs, does.
        assert second.kill_leftovers() == [reaper.Leftover(daemon, "sleep")]
    assert not alive(daemon)


def test_a_case_ending_by_an_exception_leaves_nothing(tmp_path: Path) -> None:
    case_dirs = dirs.CaseDirs(tmp_path, tmp_path, reaper.socket_path())

    class Exploding(threading.Event):
        def is_set(self) -> bool:
            raise RuntimeError("the runner broke")

    script = "import subprocess; subprocess.Popen(['sleep', '600'], start_new_session=True); import time; time.sleep(600)"
    token = uuid.uuid4().hex
    env = {"PATH": os.environ["PATH"], reaper.TOKEN_VARIABLE: token}
    with pytest.raises(RuntimeError, match="the runner broke"):
        process.run_process(
            [sys.executable, "-c", script], env, case_dirs, 30, Exploding(), None, token
        )
    assert not case_dirs.sock.exists()
    assert reaper.find(token) == []
    group = reaper.current_run().cgroup
    assert group is None or not (group / token[:16]).exists()


def test_a_case_that_cannot_be_executed_is_refused_before_it_starts(tmp_path: Path) -> None:
    case_dirs = dirs.CaseDirs(tmp_path, tmp_path, reaper.socket_path())
    script = tmp_path / "case"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(CommandError, match="cannot execute"):
        process.run_process(
            [str(script)], dict(os.environ), case_dirs, 30, threading.Event(), None, "t"
        )
    assert not case_dirs.sock.exists()


def test_a_new_run_cleans_up_after_dead_runs_only(tmp_path: Path) -> None:
    directory = next(d for d in reaper.runtime_dirs() if d.is_dir() and os.access(d, os.W_OK))
    dead, live = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    dead_lock, live_lock = directory / f"{dead}.lock", directory / f"{live}.lock"
    dead_lock.write_text("{}")
    keeper = holder(live_lock)
    procs = {}
    try:
        for run_id, lock in ((dead, dead_lock), (live, live_lock)):
            env = {
                reaper.TOKEN_VARIABLE: uuid.uuid4().hex,
                reaper.RUN_ID_VARIABLE: run_id,
                reaper.RUN_LOCK_VARIABLE: str(lock),
            }
            procs[run_id] = command.spawn(["sleep", "600"], env=env)
        socks = {r: dirs.socket_base() / f"iot-{r}-0000beef" for r in (dead, live)}
        for path in socks.values():
            path.mkdir()
        stale = reaper.kill_orphans()
        assert procs[dead].wait(10) in (-15, -9)
        assert procs[dead].pid in [p.pid for p in stale.processes]
        assert procs[live].poll() is None
        assert socks[dead] in stale.socket_dirs
        assert not socks[dead].exists()
        assert socks[live].is_dir()
        assert not dead_lock.exists()
        assert live_lock.exists()
    finally:
        for proc in procs.values():
            proc.kill_group()
            proc.close()
        keeper.kill_group()
        keeper.close()
        live_lock.unlink()
        (dirs.socket_base() / f"iot-{live}-0000beef").rmdir()


LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.bind(sys.argv[1])\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "time.sleep(600)\n"
)


def _stray_session(scratch: Path) -> tuple[int, int, list[int]]:
    """A case-like session whose leader exits, leaving clean-environment daemons behind.

    Returns the session, its leader's start time and the daemons' pids: the
    first works in *scratch*, the second in / (nothing ties it to the case).
    """
    script = "(cd / && exec sleep 601) & sleep 600 & echo started"
    leader = command.spawn(["sh", "-c", script], env={"PATH": os.environ["PATH"]}, cwd=scratch)
    assert leader.stdout is not None
    stat = reaper._stat(leader.pid)
    assert stat is not None
    leader.stdout.readline()
    leader.wait(10)
    leader.close()
    session = stat.session
    deadline = time.monotonic() + 10
    while True:  # until both have exec'd sleep (the subshell has left scratch by then)
        daemons = sorted(
            p
            for p in reaper._pids()
            if (s := reaper._stat(p)) is not None and s.session == session and not s.zombie
        )
        if len(daemons) == 2 and all(reaper._comm(p) == "sleep" for p in daemons):
            return session, stat.start, daemons
        assert time.monotonic() < deadline, "the daemons never started"
        time.sleep(0.01)


def test_a_dead_runs_clean_environment_daemon_is_found_through_its_cases_file(
    tmp_path: Path,
) -> None:
    directory = next(d for d in reaper.runtime_dirs() if d.is_dir() and os.access(d, os.W_OK))
    scratch, sock = tmp_path / "scratch", tmp_path / "sock"
    scratch.mkdir()
    sock.mkdir()
    dead, live = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    (directory / f"{dead}.lock").write_text("{}")
    keeper = holder(directory / f"{live}.lock")
    sessions = {run_id: _stray_session(scratch) for run_id in (dead, live)}
    extra: list[command.Process] = []
    try:
        for run_id, (session, start, _) in sessions.items():
            line = {"session": session, "start": start, "sock": str(sock), "scratch": str(scratch)}
            (directory / f"{run_id}{reaper.CASES_SUFFIX}").write_text(json.dumps(line) + "\n")
        # Daemons that made sessions of their own (qemu-nbd --fork does): one listening on a
        # socket in the case's socket directory is the case's; one that only works in the
        # scratch directory (a person's shell in a results folder, say) proves nothing.
        listener = command.spawn(
            [sys.executable, "-c", LISTEN, str(sock / "n.sock")], env={"PATH": os.environ["PATH"]}
        )
        bystander = command.spawn(["sleep", "600"], cwd=scratch, env={"PATH": os.environ["PATH"]})
        extra.extend([listener, bystander])
        assert listener.stdout is not None
        assert listener.stdout.readline() == b"listening\n"
        found = {p.pid for p in reaper.session_orphans()}
        dead_daemons, live_daemons = sessions[dead][2], sessions[live][2]
        in_scratch = [p for p in dead_daemons if os.readlink(f"/proc/{p}/cwd") == str(scratch)]
        assert len(in_scratch) == 1
        assert found == {*in_scratch, listener.pid}  # not the one in /, nothing of the live run
        stale = reaper.kill_orphans()
        assert {*in_scratch, listener.pid} <= {p.pid for p in stale.processes}
        assert bystander.poll() is None
        assert not (directory / f"{dead}{reaper.CASES_SUFFIX}").exists()
        assert (directory / f"{live}{reaper.CASES_SUFFIX}").exists()
        assert all(reaper._stat(p) is not None for p in live_daemons)
    finally:
        for proc in extra:
            proc.kill_group()
            proc.close()
        for _, _, daemons in sessions.values():
            for pid in daemons:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
        keeper.kill_group()
        keeper.close()
        for name in (f"{live}.lock", f"{live}{reaper.CASES_SUFFIX}", f"{dead}.lock"):
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
