"""hang: what /proc says, parsed; QMP asked within a deadline; the record bounded and never raising."""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iotests import command
from iotests.runner import dirs, hang, process, reaper
from iotests.runner.reaper import Leftover
from iotests.runner.results import CaseResult, Status

needs_gdb = pytest.mark.skipif(command.which("gdb") is None, reason="gdb not installed")

# --- /proc, parsed -------------------------------------------------------------------------

STATUS = """\
Name:\tqemu-storage-da
Umask:\t0022
State:\tS (sleeping)
Tgid:\t7762
PPid:\t7748
Threads:\t5
"""

NET_UNIX = """\
Num       RefCount Protocol Flags    Type St Inode Path
00000000c6dedcf2: 00000002 00000000 00010000 0001 01 501232 /tmp/iot-x/m0.sock
000000009f897813: 00000003 00000000 00000000 0001 03 500295 /tmp/iot-x/m0.sock
0000000011111111: 00000002 00000000 00010000 0001 01 501300 /tmp/iot-x/spare.qmp
0000000022222222: 00000002 00000000 00010000 0001 01 501301 @/abstract/name
0000000033333333: 00000002 00000000 00000000 0002 01 501302 /run/systemd/notify
0000000044444444: 00000003 00000000 00000000 0001 03 501303
0000000055555555: 00000002 00000000 00010000 0001 01 501304 /tmp/iot-x/with space.sock
garbage line
"""


def test_status_fields_are_read_by_name() -> None:
    fields = hang.parse_status(STATUS)
    assert fields["State"] == "S (sleeping)"
    assert fields["PPid"] == "7748"
    assert fields["Name"] == "qemu-storage-da"


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("7762 (qemu-storage-da) S 7748 7762 7748 0 -1", "S"),
        ("42 (a) b) (c) D 1 1 1", "D"),
        ("9 (z) Z 1 9 9", "Z"),
        ("", "?"),
    ],
)
def test_stat_state_survives_any_command_name(stat: str, state: str) -> None:
    assert hang.parse_stat_state(stat) == state


@pytest.mark.parametrize(
    ("text", "wchan"),
    [
        ("0", None),
        ("", None),
        ("do_epoll_wait", "do_epoll_wait"),
        ("futex_do_wait\n", "futex_do_wait"),
    ],
)
def test_wchan_zero_means_running(text: str, wchan: str | None) -> None:
    assert hang.parse_wchan(text) == wchan


def test_kernel_stack_frames_lose_their_address_field() -> None:
    text = (
        "[<0>] poll_schedule_timeout.constprop.0+0x37/0x90\n"
        "[<0>] do_sys_poll+0x400/0x590\n"
        "[<ffffffff81000000>] entry_SYSCALL_64_after_hwframe+0x76/0x7e\n"
        "\n"
    )
    assert hang.parse_kernel_stack(text) == [
        "poll_schedule_timeout.constprop.0+0x37/0x90",
        "do_sys_poll+0x400/0x590",
        "entry_SYSCALL_64_after_hwframe+0x76/0x7e",
    ]
    assert hang.parse_kernel_stack("") == []


def test_only_socket_links_name_inodes() -> None:
    links = [
        "socket:[12]",
        "pipe:[3]",
        "/dev/null",
        "socket:[x]",
        "anon_inode:[eventfd]",
        "socket:[7]",
    ]
    assert reaper.socket_inodes(links) == {12, 7}


def test_net_unix_keeps_path_bound_stream_sockets_and_marks_listeners() -> None:
    assert reaper.parse_unix_sockets(NET_UNIX) == [
        reaper.UnixSocket(501232, "/tmp/iot-x/m0.sock", listening=True),
        reaper.UnixSocket(500295, "/tmp/iot-x/m0.sock", listening=False),
        reaper.UnixSocket(501300, "/tmp/iot-x/spare.qmp", listening=True),
        reaper.UnixSocket(501304, "/tmp/iot-x/with space.sock", listening=True),
    ]


def test_a_listener_with_an_accepted_connection_is_taken() -> None:
    held = reaper.parse_unix_sockets(NET_UNIX)
    assert hang.free_and_taken(held) == (
        ["/tmp/iot-x/spare.qmp", "/tmp/iot-x/with space.sock"],
        ["/tmp/iot-x/m0.sock"],
    )
    assert hang.free_and_taken([]) == ([], [])


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["/usr/bin/qemu-storage-daemon", "--chardev", "x"], True),
        (["/build/qemu-system-x86_64", "-machine", "none"], True),
        (["valgrind", "--quiet", "/usr/bin/qemu-storage-daemon", "--monitor", "m"], True),
        (["/usr/bin/qemu-nbd", "--fork", "-k", "/tmp/s"], False),
        (["/usr/bin/qemu-img", "info", "x"], False),
        (["python3", "/cases/001"], False),
        ([], False),
    ],
)
def test_only_emulators_and_storage_daemons_are_asked_over_qmp(
    cmdline: list[str], expected: bool
) -> None:
    assert hang.may_have_monitor(cmdline) is expected


# --- /proc, read (a fake tree) -------------------------------------------------------------


def fake_proc(root: Path, pid: int, tids: dict[int, dict[str, str]], **files: str) -> None:
    base = root / str(pid)
    (base / "task").mkdir(parents=True)
    (base / "status").write_text(files.get("status", STATUS))
    (base / "cmdline").write_text(files.get("cmdline", "/usr/bin/qemu-storage-daemon\0--x\0"))
    for tid, entries in tids.items():
        task = base / "task" / str(tid)
        task.mkdir()
        for name, text in entries.items():
            (task / name).write_text(text)


def test_a_process_is_read_thread_by_thread(tmp_path: Path) -> None:
    fake_proc(
        tmp_path,
        7762,
        {
            7762: {
                "stat": "7762 (qemu-storage-da) S 7748",
                "comm": "qemu-storage-da\n",
                "wchan": "poll_schedule_timeout.constprop.0",
                "stack": "[<0>] do_sys_poll+0x400/0x590\n",
            },
            7763: {
                "stat": "7763 (worker) R 7748",
                "comm": "worker\n",
                "wchan": "0",
                "stack": "",
            },
        },
    )
    state = hang.read_process(7762, "qemu-storage-da", tmp_path)
    assert state.pid == 7762
    assert state.ppid == 7748
    assert state.state == "S (sleeping)"
    assert state.cmdline == ["/usr/bin/qemu-storage-daemon", "--x"]
    assert state.threads == [
        hang.ThreadState(
            7762,
            "qemu-storage-da",
            "S",
            "poll_schedule_timeout.constprop.0",
            ["do_sys_poll+0x400/0x590"],
        ),
        hang.ThreadState(7763, "worker", "R", None, []),
    ]
    assert state.notes == []


def test_an_unreadable_kernel_stack_is_a_note_not_an_error(tmp_path: Path) -> None:
    fake_proc(
        tmp_path, 5, {5: {"stat": "5 (sleep) S 1", "comm": "sleep", "wchan": "hrtimer_nanosleep"}}
    )
    state = hang.read_process(5, "sleep", tmp_path)
    assert state.threads == [hang.ThreadState(5, "sleep", "S", "hrtimer_nanosleep", None)]
    assert [n for n in state.notes if n.startswith("kernel stack unreadable")] == state.notes
    assert len(state.notes) == 1


def test_a_process_gone_before_it_was_read_is_a_note(tmp_path: Path) -> None:
    state = hang.read_process(99, "qemu-io", tmp_path)
    assert state.state is None
    assert state.threads == []
    assert state.notes == ["gone before it was recorded"]


# --- real processes: sockets, QMP, debuggers -----------------------------------------------

#: Listens on two sockets and accepts one connection on the second: one free, one taken.
LISTENER = """
import os, socket, sys, time
free, taken = sys.argv[1], sys.argv[2]
a = socket.socket(socket.AF_UNIX); a.bind(free); a.listen()
b = socket.socket(socket.AF_UNIX); b.bind(taken); b.listen()
print("listening", flush=True)
conn, _ = b.accept()
print("accepted", flush=True)
time.sleep(600)
"""


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for sockets (sun_path holds 108 bytes; pytest's tmp_path may not fit)."""
    path = dirs.socket_base() / f"iot-hangtest-{uuid.uuid4().hex[:8]}"
    with dirs.socket_dir(path):
        yield path


@pytest.fixture
def spawned() -> Iterator[Callable[..., command.Process]]:
    started: list[command.Process] = []

    def spawn(argv: list[str]) -> command.Process:
        proc = command.spawn(argv)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        proc.kill_group(grace=0.5)
        proc.close()


def test_free_and_taken_monitors_are_told_apart_from_proc(
    sock_dir: Path, spawned: Callable[..., command.Process]
) -> None:
    free, taken = str(sock_dir / "free.sock"), str(sock_dir / "taken.sock")
    proc = spawned([sys.executable, "-c", LISTENER, free, taken])
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"listening\n"
    client = socket.socket(socket.AF_UNIX)
    client.connect(taken)
    assert proc.stdout.readline() == b"accepted\n"
    try:
        assert hang.monitor_sockets(proc.pid) == ([free], [taken])
    finally:
        client.close()
    assert hang.monitor_sockets(2**22 + 1) == ([], [])


class FakeMonitor:
    """A unix-socket server in a thread that plays one QMP session from a script."""

    def __init__(self, path: Path, greeting: bytes | None, replies: dict[str, list[bytes]]) -> None:
        self.path = path
        self.greeting = greeting
        self.replies = replies
        self.asked: list[str] = []
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(str(path))
        self._server.listen()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        with conn:
            if self.greeting is None:
                self._done.wait(30)
                return
            conn.sendall(self.greeting)
            for line in conn.makefile("rb"):
                name = json.loads(line)["execute"]
                self.asked.append(name)
                for reply in self.replies.get(name, [b'{"return": {}}\r\n']):
                    conn.sendall(reply)

    def close(self) -> None:
        self._done.set()
        self._server.close()
        self._thread.join(5)


GREETING = (
    b'{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}\r\n'
)


def test_a_monitor_is_asked_every_query_and_events_are_skipped(sock_dir: Path) -> None:
    jobs = [{"id": "stuck-backup", "type": "backup", "status": "running"}]
    monitor = FakeMonitor(
        sock_dir / "m.qmp",
        GREETING,
        {
            "query-jobs": [
                b'{"event": "JOB_STATUS_CHANGE", "data": {"id": "stuck-backup"}}\r\n',
                json.dumps({"return": jobs}).encode() + b"\r\n",
            ],
            "query-block-jobs": [b'{"error": {"class": "GenericError", "desc": "nope"}}\r\n'],
            "query-named-block-nodes": [b'{"return": [{"node-name": "src"}]}\r\n'],
        },
    )
    try:
        answer = hang.query_monitor(str(monitor.path), 5)
    finally:
        monitor.close()
    assert monitor.asked == [
        "qmp_capabilities",
        "query-jobs",
        "query-block-jobs",
        "query-named-block-nodes",
    ]
    assert answer == hang.MonitorAnswers(
        str(monitor.path),
        {
            "query-jobs": jobs,
            "query-block-jobs": {"error": {"class": "GenericError", "desc": "nope"}},
            "query-named-block-nodes": [{"node-name": "src"}],
        },
    )


def test_a_socket_that_is_no_monitor_is_given_up_at_once(sock_dir: Path) -> None:
    monitor = FakeMonitor(sock_dir / "nbd.sock", b"NBDMAGIC" + b"IHAVEOPT" + b"\x00\x03", {})
    started = time.monotonic()
    try:
        answer = hang.query_monitor(str(monitor.path), 5)
    finally:
        monitor.close()
    assert time.monotonic() - started < 2
    assert answer.answers == {}
    assert answer.error is not None
    assert answer.error.startswith("not a QMP monitor (it said b'NBDMAGIC")


def test_a_silent_monitor_costs_no_more_than_its_deadline(sock_dir: Path) -> None:
    monitor = FakeMonitor(sock_dir / "busy.qmp", None, {})
    started = time.monotonic()
    try:
        answer = hang.query_monitor(str(monitor.path), 0.5)
    finally:
        monitor.close()
    assert 0.4 < time.monotonic() - started < 1.5
    assert answer.error == "no greeting in time (a busy monitor or a stuck main loop)"


def test_a_monitor_that_stops_mid_answer_keeps_what_it_said(sock_dir: Path) -> None:
    monitor = FakeMonitor(
        sock_dir / "m.qmp",
        GREETING,
        {"query-jobs": [b'{"return": []}\r\n'], "query-block-jobs": [b'{"return": [{"dev']},
    )
    try:
        answer = hang.query_monitor(str(monitor.path), 0.5)
    finally:
        monitor.close()
    assert answer.answers == {"query-jobs": []}
    assert answer.error == "no complete answer in time (a busy monitor or a stuck main loop)"


def test_a_monitor_nobody_listens_on_is_a_reason(sock_dir: Path) -> None:
    answer = hang.query_monitor(str(sock_dir / "gone.qmp"), 1)
    assert answer.answers == {}
    assert answer.error == "cannot connect: No such file or directory"


@needs_gdb
def test_gdb_gives_every_thread_and_the_python_stack(
    spawned: Callable[..., command.Process],
) -> None:
    proc = spawned(
        [
            sys.executable,
            "-c",
            "import time\ndef stuck_here():\n    time.sleep(600)\nstuck_here()\n",
        ]
    )
    time.sleep(0.3)
    trace, note = hang.backtrace(proc.pid, 10)
    assert note is None  # with or without py-bt: gdb is not asked for a command it lacks
    assert trace is not None
    assert trace.tool == "gdb"
    assert "Thread 1 " in trace.text
    if hang.has_gdb_script(proc.pid):
        assert "stuck_here" in trace.text  # py-bt: the Python frame the process sleeps in
    else:
        assert "py-bt" not in trace.text
    assert proc.poll() is None  # gdb detached: the process runs on


STUCK_CASE = """
import threading, time
from iotests import lib
def worker_waits():
    time.sleep(600)
threading.Thread(target=worker_waits, daemon=True).start()
def stuck_here():
    print("ready", flush=True)
    time.sleep(600)
stuck_here()
"""


def test_python_stacks_come_from_faulthandler_without_a_debugger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: Callable[..., command.Process]
) -> None:
    folder = tmp_path / "stacks"
    monkeypatch.setenv("IOTESTS_STACKS_DIR", str(folder))
    case = spawned([sys.executable, "-c", STUCK_CASE])
    # A Python process that never registered: it must not be sent the (fatal) signal.
    bystander = spawned(
        [sys.executable, "-c", "print('ready', flush=True)\nimport time\ntime.sleep(600)"]
    )
    for proc in (case, bystander):
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
    (folder / f"{bystander.pid}.txt").write_text("")  # even with a file of its pid there
    states = [hang.read_process(p.pid, "python") for p in (case, bystander)]
    answers = hang.ask_python_stacks(states, folder, 5)
    assert list(answers) == [case.pid]
    stack = answers[case.pid]
    assert stack is not None
    assert " in stuck_here" in stack  # the line: 3.11.2 names the call's first, 3.11.7 its own
    assert " in worker_waits" in stack
    assert stack.count("(most recent call first)") == 2  # every thread
    assert (case.poll(), bystander.poll()) == (None, None)  # asked, not killed
    # Asked again: only the new dump is the answer.
    again = hang.ask_python_stacks(states[:1], folder, 5)[case.pid]
    assert again is not None
    assert again.count("(most recent call first)") == 2
    assert " in stuck_here" in again


def test_catches_reads_sigcgt() -> None:
    assert hang.catches({"SigCgt": "0000000000000800"}, 12)  # SIGUSR2
    assert not hang.catches({"SigCgt": "0000000000000002"}, 12)
    assert not hang.catches({}, 12)


def test_no_debugger_installed_is_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert hang.backtrace(os.getpid(), 5) == (
        None,
        "no backtrace: neither gdb nor eu-stack is installed",
    )


def test_a_debugger_that_hangs_is_cut_at_its_deadline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spawned: Callable[..., command.Process]
) -> None:
    gdb = tmp_path / "gdb"
    gdb.write_text("#!/bin/sh\necho 'Attaching to process'\nexec sleep 60\n")
    gdb.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    proc = spawned(["sleep", "600"])
    started = time.monotonic()
    trace, note = hang.backtrace(proc.pid, 0.5)
    assert time.monotonic() - started < 2
    assert note == "gdb gave no backtrace in 0.5s"
    assert trace == hang.Backtrace("gdb", "Attaching to process")


# --- the record ----------------------------------------------------------------------------

#: A stand-in for a QEMU process (its argv names qemu-storage-daemon) whose monitors never greet.
SILENT_QEMU = """
import socket, sys, time
servers = []
for path in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(); servers.append(s)
print("listening", flush=True)
time.sleep(600)
"""


def test_the_record_names_each_process_and_what_it_waits_in(
    tmp_path: Path, spawned: Callable[..., command.Process]
) -> None:
    proc = spawned(["sleep", "600"])
    time.sleep(0.1)
    path = hang.record(lambda: [Leftover(proc.pid, "sleep")], tmp_path, "timed out after 5s")
    assert path == tmp_path / "hang.txt"
    data = json.loads((tmp_path / "hang.json").read_text())
    assert data["reason"] == "timed out after 5s"
    assert data["notes"] == []
    [entry] = data["processes"]
    assert entry["pid"] == proc.pid
    assert entry["cmdline"] == ["sleep", "600"]
    assert entry["state"] == "S (sleeping)"
    assert entry["threads"][0]["wchan"]  # sleeping somewhere in the kernel, by name
    if os.geteuid() == 0:
        assert entry["threads"][0]["kernel_stack"]
    if command.which("gdb") is not None:
        assert entry["backtrace"]["tool"] == "gdb"
        assert "nanosleep" in entry["backtrace"]["text"]
    text = path.read_text()
    assert text.startswith("Hang record: timed out after 5s; recorded in ")
    assert f"== pid {proc.pid} sleep: S (sleeping)" in text
    assert f"   thread {proc.pid} sleep: S, waiting in {entry['threads'][0]['wchan']}" in text
    assert proc.poll() is None  # recording killed nothing


def test_the_record_keeps_to_its_budget(
    sock_dir: Path, tmp_path: Path, spawned: Callable[..., command.Process]
) -> None:
    sockets = [str(sock_dir / f"m{i}.qmp") for i in range(3)]
    proc = spawned([sys.executable, "-c", SILENT_QEMU, "qemu-storage-daemon", *sockets])
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"listening\n"
    scan = lambda: [Leftover(proc.pid, "python")]  # noqa: E731 - a one-line finder
    started = time.monotonic()
    data = hang.build(scan, "timed out after 1s", budget=2, monitor_seconds=1.5)
    took = time.monotonic() - started
    assert took < 3
    assert data.seconds <= took + 0.001  # rounded to the millisecond
    [entry] = data.processes
    assert [m.socket for m in entry.monitors] == sockets[:2]
    assert {m.error for m in entry.monitors} == {
        "no greeting in time (a busy monitor or a stuck main loop)"
    }
    assert f"monitor {sockets[2]} not asked: the record's 2s were spent" in entry.notes
    assert "no backtrace: the record's 2s were spent" in entry.notes
    assert entry.backtrace is None


def test_a_run_being_stopped_asks_nothing_more(spawned: Callable[..., command.Process]) -> None:
    proc = spawned(["sleep", "600"])
    data = hang.build(lambda: [Leftover(proc.pid, "sleep")], "timed out", stopping=lambda: True)
    [entry] = data.processes
    assert entry.threads  # /proc is read all the same: it costs nothing
    assert entry.backtrace is None
    assert "no backtrace: the run is being stopped" in entry.notes


def test_a_failing_finder_is_noted_and_the_record_still_written(tmp_path: Path) -> None:
    def scan() -> list[Leftover]:
        raise RuntimeError("cgroup vanished")

    path = hang.record(scan, tmp_path, "timed out after 5s")
    assert path is not None
    data = json.loads((tmp_path / "hang.json").read_text())
    assert data["notes"] == ["recording failed: RuntimeError: cgroup vanished"]
    assert "note: recording failed: RuntimeError: cgroup vanished" in path.read_text()


def test_a_record_that_cannot_be_written_is_none_not_an_error(tmp_path: Path) -> None:
    assert hang.record(list, tmp_path / "missing", "timed out after 5s") is None


def test_the_json_record_holds_what_the_text_shows() -> None:
    record = hang.HangRecord(
        "timed out after 5s",
        1.25,
        20,
        [
            hang.ProcessState(
                10,
                "qemu-storage-da",
                9,
                "S (sleeping)",
                ["qemu-storage-daemon", "--monitor", "m"],
                [
                    hang.ThreadState(
                        10, "qemu-storage-da", "S", "do_sys_poll", ["do_sys_poll+0x1/0x2"]
                    )
                ],
                [hang.MonitorAnswers("/s/spare.qmp", {"query-jobs": [{"id": "j0"}]})],
                hang.Backtrace("gdb", "#0 ppoll ()"),
                ["monitor /s/m.qmp not asked: it already serves its one client"],
            )
        ],
    )
    assert json.loads(json.dumps(record.serialize()))["processes"][0]["monitors"] == [
        {"socket": "/s/spare.qmp", "answers": {"query-jobs": [{"id": "j0"}]}, "error": None}
    ]
    assert hang.render(record) == textwrap.dedent("""\
        Hang record: timed out after 5s; recorded in 1.2s (budget 20s), before the case was killed.

        == pid 10 qemu-storage-da: S (sleeping), parent 9
           command: qemu-storage-daemon --monitor m
           thread 10 qemu-storage-da: S, waiting in do_sys_poll
              do_sys_poll+0x1/0x2
           QMP /s/spare.qmp:
              query-jobs: [{"id": "j0"}]
           backtrace (gdb):
              #0 ppoll ()
           note: monitor /s/m.qmp not asked: it already serves its one client
        """)


# --- the timeout path ----------------------------------------------------------------------


def test_a_timed_out_case_is_recorded_before_it_is_killed(tmp_path: Path) -> None:
    case_dirs = dirs.CaseDirs(tmp_path, tmp_path, reaper.socket_path())
    token = uuid.uuid4().hex
    env = {"PATH": os.environ["PATH"], reaper.TOKEN_VARIABLE: token}
    script = "import subprocess, time; subprocess.Popen(['sleep', '600']); time.sleep(600)"
    outcome = process.run_process(
        [sys.executable, "-c", script], env, case_dirs, 1, threading.Event(), None, token
    )
    assert outcome.timed_out
    assert outcome.hang_file == str(tmp_path / "hang.txt")
    assert outcome.duration < 1.5  # the case's time is its timeout, not the record's too
    data = json.loads((tmp_path / "hang.json").read_text())
    names = sorted(Path(p["cmdline"][0]).name for p in data["processes"])
    assert names == sorted([Path(sys.executable).name, "sleep"])
    assert reaper.find(token) == []
    assert not case_dirs.sock.exists()


def test_a_case_that_ends_in_time_has_no_record(tmp_path: Path) -> None:
    case_dirs = dirs.CaseDirs(tmp_path, tmp_path, reaper.socket_path())
    token = uuid.uuid4().hex
    env = {"PATH": os.environ["PATH"], reaper.TOKEN_VARIABLE: token}
    outcome = process.run_process(
        [sys.executable, "-c", "pass"], env, case_dirs, 30, threading.Event(), None, token
    )
    assert not outcome.timed_out
    assert outcome.hang_file is None
    assert not (tmp_path / "hang.txt").exists()


# --- the result ----------------------------------------------------------------------------


def test_the_hang_file_survives_a_report_round_trip() -> None:
    result = CaseResult(
        "001", "raw", "file", Status.TIMEOUT, "timed out after 5s", hang_file="/r/001/hang.txt"
    )
    assert result.serialize()["hang_file"] == "/r/001/hang.txt"
    assert CaseResult.deserialize(json.loads(json.dumps(result.serialize()))) == result


def test_a_report_from_before_hang_files_still_reads() -> None:
    old = {
        "name": "001",
        "format": "raw",
        "protocol": "file",
        "status": "timeout",
        "output_file": "/r/o",
    }
    result = CaseResult.deserialize(old)
    assert result.hang_file is None
    assert result.output_file == "/r/o"
