"""command.Process: one reaper among threads, exit codes, group kill and CPU time."""

from __future__ import annotations

import os
import sys
import threading
import time

from iotests import command

BUSY = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def test_cpu_seconds_cover_the_children_the_process_waited_for() -> None:
    # The child burns little itself; its own child burns about 0.3 s and is waited for.
    inner = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BUSY.format(seconds=0.3)!r}])"
    proc = command.spawn([sys.executable, "-c", inner], stdout=command.DEVNULL)
    assert proc.cpu_seconds is None
    assert proc.wait() == 0
    assert proc.cpu_seconds is not None
    assert proc.cpu_seconds >= 0.3
    assert proc.returncode == 0


def test_exit_codes_and_signals_come_back_as_subprocess_gives_them() -> None:
    proc = command.spawn([sys.executable, "-c", "raise SystemExit(3)"], stdout=command.DEVNULL)
    assert proc.wait() == 3
    killed = command.spawn(["sleep", "30"], stdout=command.DEVNULL)
    killed.signal_group(9)
    assert killed.wait() == -9
    assert killed.poll() == -9


def test_timed_wait_returns_none_while_running_then_the_code() -> None:
    proc = command.spawn(["sleep", "0.3"], stdout=command.DEVNULL)
    assert proc.poll() is None
    assert proc.wait(0.05) is None
    assert proc.wait(5) == 0


def test_many_threads_waiting_all_see_the_one_exit() -> None:
    proc = command.spawn(["sleep", "0.2"], stdout=command.DEVNULL)
    seen: list[int | None] = []
    lock = threading.Lock()

    def waiter(timeout: float | None) -> None:
        code = proc.wait(timeout)
        with lock:
            seen.append(code)

    threads = [threading.Thread(target=waiter, args=(t,)) for t in (None, None, 5.0, 5.0)]
    for t in threads:
        t.start()
    while proc.poll() is None:
        time.sleep(0.01)
    for t in threads:
        t.join(10)
    assert seen == [0, 0, 0, 0]


def test_kill_group_takes_the_group_even_when_the_leader_ignores_sigterm() -> None:
    script = (
        "import os, signal, subprocess, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = command.spawn([sys.executable, "-c", script])
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    started = time.monotonic()
    assert proc.kill_group(grace=0.3) == -9
    assert time.monotonic() - started < 5
    proc.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        # init reaps the orphaned sleep; until then it is a zombie
        with open(f"/proc/{grandchild}/stat") as stat:
            if stat.read().split(")")[-1].split()[0] == "Z":
                break
        time.sleep(0.02)
    else:
        raise AssertionError(f"pid {grandchild} of the killed group still runs")


def test_a_child_reaped_behind_our_back_does_not_hang_a_wait() -> None:
    proc = command.spawn(["true"], stdout=command.DEVNULL)
    os.waitpid(proc.pid, 0)  # a foreign reaper, as with SIGCHLD ignored
    started = time.monotonic()
    assert proc.wait() == 0
    assert proc.cpu_seconds is None
    assert time.monotonic() - started < 5


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0] == "Z"


def test_a_subreaper_sweep_never_steals_a_process_s_exit_status() -> None:
    proc = command.spawn([sys.executable, "-c", "raise SystemExit(3)"], stdout=command.DEVNULL)
    deadline = time.monotonic() + 10
    while not _zombie(proc.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert command.is_tracked(proc.pid)
    assert not command.reap_stray(proc.pid)
    assert proc.wait() == 3
    assert proc.cpu_seconds is not None
    assert not command.is_tracked(proc.pid)


def test_an_untracked_exited_child_is_reaped_as_a_stray() -> None:
    pid = os.posix_spawn("/bin/true", ["true"], {})
    deadline = time.monotonic() + 10
    while not _zombie(pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert command.reap_stray(pid)
    assert not os.path.exists(f"/proc/{pid}")
