"""QMP and NBD servers started by cases: nothing outlives a run, nothing listens beyond loopback.

The runner reaps leftovers, but a case that ends (even by an exception)
must not leave its servers for the reaper: the case library shuts them
down itself. A case that hangs is killed by the runner's timeout, and
its daemons (in their own process groups) go with it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, needs_qemu

from iotests import command
from iotests.lib import env as lib_env
from iotests.lib import errors, nbd, qmp, tools

pytestmark = [pytest.mark.qemu, needs_qemu]

needs_tools = pytest.mark.skipif(
    not (command.which("qemu-storage-daemon") and command.which("qemu-nbd")),
    reason="qemu-storage-daemon or qemu-nbd not installed",
)

#: A case body that starts a daemon with an NBD export and a qemu-nbd, then {end}.
SERVERS = """
import json, time
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
other = lib.test_image("o")
lib.create(other, "1M", quiet=True)
with lib.QMPServer("qsd", lib.blockdev_arg(lib.blockdev("n0", img))) as qsd:
    with lib.QMPExport(qsd, "n0", "e", tcp=True, quiet=True) as exp:
        with lib.QemuNBD(other, "raw", tcp=True) as srv:
            state = {{"pids": [qsd.pid, srv.pid], "ports": [exp.port, srv.port]}}
            (lib.case_env().result_dir / "servers.json").write_text(json.dumps(state))
            {end}
"""


def processes_mentioning(text: str) -> list[int]:
    """Live, non-zombie processes whose command line contains *text*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if text in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie: an orphan killed by the reaper may wait a while for init."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def run_case(
    project: Project, end: str, *extra: str
) -> tuple[dict[str, object], dict[str, list[int]]]:
    project.case("900", "# group: x\n# timeout: 5", SERVERS.format(end=end), "")
    project.run("run", "-f", "raw", "-j1", *extra)
    result_dir = project.results / "raw-file" / "900"
    result = json.loads((result_dir / "result.json").read_text())
    servers = json.loads((result_dir / "servers.json").read_text())
    return result, servers


@pytest.fixture
def clean(project: Project) -> Iterator[Project]:
    yield project
    assert processes_mentioning(str(project.root)) == []


@needs_tools
@pytest.mark.parametrize(
    ("end", "status"),
    [("pass", "pass"), ("raise RuntimeError('the case fails')", "fail")],
)
def test_servers_are_shut_down_by_the_case_itself(clean: Project, end: str, status: str) -> None:
    result, servers = run_case(clean, end)
    # Pass or fail, no process may have been left for the reaper.
    assert result["status"] == status
    assert "left processes" not in str(result["reason"])
    assert not any(alive(pid) for pid in servers["pids"])
    assert not set(servers["ports"]) & listening_ports()


@needs_tools
def test_a_hung_case_takes_its_servers_down_with_it(clean: Project) -> None:
    result, servers = run_case(clean, "time.sleep(60)")
    assert result["status"] == "timeout"
    assert not any(alive(pid) for pid in servers["pids"])
    assert not set(servers["ports"]) & listening_ports()
    socks = [p for p in Path("/tmp").glob("iot-*") if (p / "qsd0.qmp").exists()]
    assert socks == []


@needs_tools
def test_qemu_nbd_listens_on_loopback_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.setenv("SOCK_DIR", str(tmp_path))
    lib_env.case_env.cache_clear()
    try:
        image = tmp_path / "t.img"
        image.write_bytes(b"\0" * 65536)
        with nbd.QemuNBD(str(image), "raw", tcp=True) as srv:
            assert srv.port is not None
            hexport = f"{srv.port:04X}"
            rows = [
                line.split()[1]
                for table in ("/proc/net/tcp", "/proc/net/tcp6")
                for line in Path(table).read_text().splitlines()[1:]
                if line.split()[1].endswith(":" + hexport) and line.split()[3] == "0A"
            ]
            assert rows == [f"0100007F:{hexport}"]
        assert srv.pid is None
        assert srv.port not in listening_ports()
    finally:
        lib_env.case_env.cache_clear()


@pytest.fixture
def case_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run library code in-process as a case would, with scratch and socket dirs in tmp_path."""
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.setenv("SOCK_DIR", str(tmp_path))
    lib_env.case_env.cache_clear()
    yield tmp_path
    lib_env.case_env.cache_clear()


@needs_tools
def test_an_event_that_never_comes_times_out(case_dirs: Path) -> None:
    with qmp.QMPServer("qsd", quiet=True) as server:
        with pytest.raises(errors.QMPTimeout, match="NO_SUCH_EVENT"):
            server.event_wait("NO_SUCH_EVENT", timeout=0.3)
        assert server.ok("query-jobs", quiet=True) == []


@needs_tools
def test_the_server_is_reaped_when_the_case_raises(case_dirs: Path) -> None:
    server = qmp.QMPServer("qsd", quiet=True)
    pids: list[int] = []

    def failing_case() -> None:
        with server:
            assert server.pid is not None
            pids.append(server.pid)
            raise RuntimeError("the case fails")

    with pytest.raises(RuntimeError, match="the case fails"):
        failing_case()
    assert pids
    assert not alive(pids[0])
    assert not Path(server.socket).exists()


# --- how a server ended is judged when it is reaped


@pytest.fixture
def events(case_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The events file the library records crashes and reports in, as under the runner."""
    path = case_dirs / "events.jsonl"
    monkeypatch.setenv("IOTESTS_EVENTS", str(path))
    monkeypatch.delenv("IOTESTS_VALGRIND", raising=False)
    lib_env.case_env.cache_clear()
    yield path
    lib_env.case_env.cache_clear()


def recorded(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def image(folder: Path) -> str:
    path = folder / "t.img"
    path.write_bytes(b"\0" * 65536)
    return str(path)


@needs_tools
def test_servers_stopped_or_killed_by_the_case_record_nothing(events: Path) -> None:
    with qmp.QMPServer("qsd", quiet=True) as server:
        server.ok("query-jobs", quiet=True)
    assert server.exitcode == 0
    with qmp.QMPServer("qsd", quiet=True) as server:
        server.kill()
    assert server.exitcode == -9
    with nbd.QemuNBD(image(events.parent), "raw") as srv:
        pass
    assert srv.exitcode == 0
    with nbd.QemuNBD(image(events.parent), "raw") as srv:
        assert srv.stop(sig=9) == -9
    assert recorded(events) == []


@needs_tools
@pytest.mark.parametrize("signal_number", [11, 6])
def test_a_server_dying_by_a_signal_nobody_sent_is_a_crash(
    events: Path, signal_number: int
) -> None:
    name = "SIGSEGV" if signal_number == 11 else "SIGABRT"
    with qmp.QMPServer("qsd", quiet=True) as server:
        assert server.pid is not None
        os.kill(server.pid, signal_number)
    with nbd.QemuNBD(image(events.parent), "raw") as srv:
        assert srv.pid is not None
        os.kill(srv.pid, signal_number)
        assert srv.wait(10) == -signal_number
    assert recorded(events) == [
        {"event": "crash", "program": "qemu-storage-daemon", "signal": name},
        {"event": "crash", "program": "qemu-nbd", "signal": name},
    ]


REPORT = "==4321==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010"


def reporting_wrapper(folder: Path, program: str) -> Path:
    """*program* that prints a sanitizer report to its log once the real one has exited."""
    path = folder / program
    real = command.which(program)
    # A trap, not an ignored signal: the real program is stopped by the SIGTERM
    # sent to the group, and the wrapper lives on to print.
    path.write_text(f'#!/bin/sh\ntrap : TERM\n"{real}" "$@"\necho "{REPORT}" >&2\n')
    path.chmod(0o755)
    return path


@needs_tools
def test_a_report_in_a_servers_log_is_recorded_once_per_launch(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes = events.parent / "fakes"
    fakes.mkdir()
    monkeypatch.setenv("QSD_PROG", str(reporting_wrapper(fakes, "qemu-storage-daemon")))
    monkeypatch.setenv("QEMU_NBD_PROG", str(reporting_wrapper(fakes, "qemu-nbd")))
    lib_env.case_env.cache_clear()
    server = qmp.QMPServer("qsd", quiet=True, name="same")
    for _ in range(2):  # both launches append to one log: each report counts once
        with server:
            pass
    with nbd.QemuNBD(image(events.parent), "raw") as srv:
        pass
    reason = "AddressSanitizer: heap-use-after-free on address 0x602000000010"
    assert [(e["program"], e["reason"], e["source"]) for e in recorded(events)] == [
        ("qemu-storage-daemon", reason, "same.log"),
        ("qemu-storage-daemon", reason, "same.log"),
        ("qemu-nbd", reason, srv.log_file.name),
    ]


@needs_tools
def test_a_qemu_io_session_is_judged_when_it_ends(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes = events.parent / "fakes"
    fakes.mkdir()
    monkeypatch.setenv("QEMU_IO_PROG", str(reporting_wrapper(fakes, "qemu-io")))
    monkeypatch.setenv("IMGFMT", "raw")
    lib_env.case_env.cache_clear()
    with tools.qemu_io_session(image(events.parent)) as session:
        assert "read 512/512" in session.cmd("read 0 512")
    assert [(e["program"], e["event"]) for e in recorded(events)] == [("qemu-io", "finding")]


#: A case that starts a server without ``with`` and never stops it; the server then dies.
FORGOTTEN = """
import os, signal, time
from iotests import lib
server = lib.QMPServer("qsd", quiet=True)
server.launch()
os.kill(server.pid, signal.SIGSEGV)
time.sleep(0.5)
"""


@needs_tools
def test_a_dead_server_the_case_never_stopped_is_judged_at_exit(events: Path) -> None:
    script = events.parent / "case.py"
    script.write_text(FORGOTTEN)
    result = command.run([sys.executable, str(script)], check=False, timeout=60)
    assert result.returncode == 0, result.output
    assert recorded(events) == [
        {"event": "crash", "program": "qemu-storage-daemon", "signal": "SIGSEGV"}
    ]


@needs_tools
@pytest.mark.skipif(not command.which("valgrind"), reason="valgrind not installed")
def test_under_valgrind_servers_run_under_valgrind_too(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    valgrind_dir = events.parent / "valgrind"
    monkeypatch.setenv("IOTESTS_VALGRIND", "1")
    monkeypatch.setenv("IOTESTS_VALGRIND_DIR", str(valgrind_dir))
    lib_env.case_env.cache_clear()
    with qmp.QMPServer("qsd", quiet=True) as server:
        assert server.pid is not None
        qsd_cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    with nbd.QemuNBD(image(events.parent), "raw") as srv:
        assert srv.pid is not None
        nbd_cmdline = Path(f"/proc/{srv.pid}/cmdline").read_bytes().split(b"\0")
    assert b"valgrind" in qsd_cmdline[0]
    assert b"valgrind" in nbd_cmdline[0]
    logs = sorted(p.name.split(".")[0] for p in valgrind_dir.glob("*.log"))
    assert logs == ["qemu-nbd", "qemu-storage-daemon"]
    assert recorded(events) == []
