"""QMP and NBD servers started by cases: nothing outlives a run, nothing listens beyond loopback.

The runner reaps leftovers, but a case that ends (even by an exception)
must not leave its servers for the reaper: the case library shuts them
down itself. A case that hangs is killed by the runner's timeout, and
its daemons (in their own process groups) go with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, needs_qemu

from iotests import command
from iotests.lib import env as lib_env
from iotests.lib import nbd, qmp

pytestmark = [pytest.mark.qemu, needs_qemu]

needs_tools = pytest.mark.skipif(
    not (command.which("qemu-storage-daemon") and command.which("qemu-nbd")),
    reason="qemu-storage-daemon or qemu-nbd not installed",
)

#: A case body that starts a daemon with an NBD export and a qemu-nbd, then {end}.
SERVERS = """
import json, os, time
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
other = lib.test_image("o")
lib.create(other, "1M", quiet=True)
with lib.QMPServer("qsd", lib.blockdev_arg(lib.blockdev("n0", img))) as qsd:
    with lib.QMPExport(qsd, "n0", "e", tcp=True, quiet=True) as exp:
        with lib.QemuNBD(other, "raw", tcp=True) as srv:
            state = {{"pids": [qsd.pid, srv.pid], "ports": [exp.port, srv.port]}}
            open(os.environ["IOTESTS_RESULT_DIR"] + "/servers.json", "w").write(json.dumps(state))
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
        with pytest.raises(qmp.QMPTimeout, match="NO_SUCH_EVENT"):
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
