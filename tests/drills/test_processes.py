"""Process drills: nothing a case starts outlives it, and no run kills another live run's processes.

Each drill drives the real CLI on a throwaway project. Every case records
what it was given (its run id, token and socket directory) in the project
folder, so the drill can check afterwards that nothing of that run is left:
no process carrying its markers or naming the project's files, no socket
directory, no cgroup, no lock file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.project import Project, make_project, needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode

pytestmark = [pytest.mark.qemu, needs_qemu]

needs_nbd = pytest.mark.skipif(not command.which("qemu-nbd"), reason="qemu-nbd not installed")
needs_qsd = pytest.mark.skipif(
    not command.which("qemu-storage-daemon"), reason="qemu-storage-daemon not installed"
)


def _can_unshare() -> bool:
    """Whether a new pid namespace with its own /proc can be made here (root, util-linux,
    and a / that is a mount point: not so in a bare chroot)."""
    if os.geteuid() != 0 or not command.which("unshare"):
        return False
    probe = ["unshare", "--pid", "--fork", "--mount-proc", "true"]
    return command.run(probe, timeout=30, check=False).returncode == 0


needs_unshare = pytest.mark.skipif(
    not _can_unshare(),
    reason="a new pid namespace with its own /proc needs root, unshare (util-linux)"
    " and / a mount point",
)

#: The first lines of every drill case: what the run gave it, for the checks afterwards.
RECORD = """
import json, os, subprocess, sys, time
from pathlib import Path
with open(Path(os.environ["TEST_DIR"]).parents[3] / "given.jsonl", "a") as f:
    f.write(json.dumps({k: os.environ.get(k) for k in
        ("IOTESTS_RUN_ID", "IOTESTS_TOKEN", "SOCK_DIR", "IOTESTS_CASE")}) + "\\n")
"""

#: A qemu-nbd --fork started with a clean environment: no token, its own session.
CLEAN_ENV_NBD = """
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
sock = os.path.join(os.environ["SOCK_DIR"], "n.sock")
subprocess.run(
    [lib.case_env().prog("qemu-nbd"), "--fork", "--persistent", "-k", sock, "-f", "raw", img],
    env={"PATH": os.environ["PATH"]}, check=True,
)
print("served", flush=True)
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


def given(project: Project) -> list[dict[str, str | None]]:
    path = project.root / "given.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _state(pid: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def live_processes(project: Project, markers: set[str]) -> list[str]:
    """Live processes that name the project's files or carry one of *markers* in their environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = set((entry / "environ").read_bytes().decode(errors="replace").split("\0"))
        except OSError:
            continue
        if _state(entry.name) in (None, "Z", "X"):
            continue
        if str(project.root) in cmdline or environ & markers:
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        if after.startswith("cgroup2 ") and before.split()[3] == "/":
            return Path(before.split()[4])
    return None


def cgroups_named(name: str) -> list[Path]:
    mount = cgroup2_mount()
    if mount is None:
        return []
    return [Path(d, name) for d, subdirs, _ in os.walk(mount) if name in subdirs]


def traces(project: Project, runs: list[dict[str, str | None]] | None = None) -> list[str]:
    """Whatever the recorded runs left: processes, socket directories, cgroups, lock files."""
    runs = given(project) if runs is None else runs
    markers = {f"IOTESTS_TOKEN={r['IOTESTS_TOKEN']}" for r in runs}
    markers |= {f"IOTESTS_RUN_ID={r['IOTESTS_RUN_ID']}" for r in runs if r["IOTESTS_RUN_ID"]}
    left = live_processes(project, markers)
    left += [f"socket dir {r['SOCK_DIR']}" for r in runs if Path(str(r["SOCK_DIR"])).exists()]
    for run_id in {r["IOTESTS_RUN_ID"] for r in runs if r["IOTESTS_RUN_ID"]}:
        left += [f"cgroup {g}" for g in cgroups_named(f"iotests-{run_id}")]
        left += [f"socket dir {p}" for p in Path("/tmp").glob(f"iot-{run_id}-*")]
        for directory in (Path("/run/iotests"), Path(f"/tmp/iotests-runs-{os.getuid()}")):
            if (directory / f"{run_id}.lock").exists():
                left.append(f"lock {directory / f'{run_id}.lock'}")
    return left


def wait_until_gone(project: Project, runs: list[dict[str, str | None]] | None = None) -> list[str]:
    """Traces still there after a few seconds (a killed orphan may wait a moment for init)."""
    deadline = time.monotonic() + 10
    while (left := traces(project, runs)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def report(project: Project) -> dict[str, dict[str, object]]:
    data = json.loads((project.root / "r.json").read_text())
    return {r["name"]: r for r in data["results"]}


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@needs_nbd
@pytest.mark.parametrize("cgroup", ["cgroup", "subreaper"])
def test_clean_environment_daemon_fails_the_case(project: Project, cgroup: str) -> None:
    """qemu-nbd --fork with a clean environment is found, killed, and fails the case"""
    project.case("001", "# group: quick", RECORD + CLEAN_ENV_NBD, "served\n")
    env = {} if cgroup == "cgroup" else {"IOTESTS_CGROUP": "0"}
    result = project.run("run", "-f", "raw", "--json", str(project.root / "r.json"), env=env)
    assert result.returncode == ExitCode.FAILED, result.stdout + result.stderr
    reason = str(report(project)["001"]["reason"])
    assert report(project)["001"]["status"] == "fail"
    assert reason.startswith("left processes running: qemu-nbd (pid "), reason
    assert "left processes running: qemu-nbd" in result.stdout
    assert len(given(project)) == 1
    assert wait_until_gone(project) == []


@needs_nbd
@needs_qsd
@pytest.mark.parametrize(
    ("daemon", "name"),
    [
        (
            'lib.case_env().prog("qemu-nbd"), "--fork", "--persistent", "-k", '
            'os.environ["SOCK_DIR"] + "/n.sock", "-f", "raw", img',
            "qemu-nbd",
        ),
        (
            'lib.case_env().prog("qsd"), "--daemonize", "--blockdev", '
            '"driver=file,node-name=f,filename=" + img',
            "qemu-storage-da",
        ),
    ],
    ids=["qemu-nbd", "qsd"],
)
def test_daemon_left_running_fails_the_case(project: Project, daemon: str, name: str) -> None:
    """A daemon the case leaves running is killed and fails the case"""
    body = (
        "from iotests import lib\nimg = lib.test_image()\nlib.create(img, '1M', quiet=True)\n"
        f"subprocess.run([{daemon}], check=True)\nprint('up')\n"
    )
    project.case("002", "# group: quick", RECORD + body, "up\n")
    result = project.run("run", "-f", "raw", "--json", str(project.root / "r.json"))
    assert result.returncode == ExitCode.FAILED, result.stdout + result.stderr
    assert report(project)["002"]["status"] == "fail"
    assert f"left processes running: {name} (pid " in str(report(project)["002"]["reason"])
    assert wait_until_gone(project) == []


@needs_nbd
def test_hung_case_is_killed_at_its_timeout(project: Project) -> None:
    """A hung case is killed at its timeout with its daemon"""
    body = CLEAN_ENV_NBD + "time.sleep(600)\n"
    project.case("003", "# group: quick\n# timeout: 2", RECORD + body, "served\n")
    started = time.monotonic()
    result = project.run("run", "-f", "raw", "--json", str(project.root / "r.json"))
    assert time.monotonic() - started < 30
    assert result.returncode == ExitCode.FAILED
    assert report(project)["003"]["status"] == "timeout"
    assert report(project)["003"]["reason"] == "timed out after 2s"
    assert wait_until_gone(project) == []


def test_a_second_ctrl_c_cannot_abandon_cleanup(project: Project) -> None:
    """A second Ctrl-C during cleanup still ends with nothing left"""
    body = (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen(['sleep', '600'], env={'PATH': os.environ['PATH']},"
        " start_new_session=True)\n"
        "(Path(os.environ['TEST_DIR']).parents[3] / 'started').write_text(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    project.case("004", "# group: quick", RECORD + body, "")
    proc = command.spawn(
        project.argv("run", "-f", "raw", "--json", str(project.root / "r.json")),
        cwd=project.root,
        stderr=command.STDOUT,
    )
    try:
        wait_for(project.root / "started")
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.5)  # the case ignores SIGTERM: the runner is waiting out its grace
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(60) == ExitCode.INTERRUPTED
    finally:
        proc.kill_group()
        proc.close()
    assert report(project)["004"]["status"] == "interrupted"
    assert wait_until_gone(project) == []


def _free_host_pids() -> int:
    """The first of four small pids no host process has: a runner there looks dead to /proc."""
    pid = 2
    while any(Path(f"/proc/{pid + i}").exists() for i in range(4)):
        pid += 1
    return pid


def _runner_in_namespace(project: Project) -> tuple[int, int] | None:
    """The host pid and the namespace pid of the runner of *project* in its own pid namespace."""
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        nspids = [line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")]
        argv = cmdline.split(b"\0")
        mine = argv[1:4] == [b"-m", b"iotests", b"run"] and str(project.cases).encode() in argv
        if mine and nspids and len(nspids[0]) == 2:
            return int(nspids[0][0]), int(nspids[0][1])
    return None


@needs_unshare
def test_a_run_does_not_kill_a_live_run_in_another_pid_namespace(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A host run leaves a live run's case in another pid namespace alone"""
    other = make_project(tmp_path_factory.mktemp("other"))
    body = "(Path(os.environ['TEST_DIR']).parents[3] / 'started').touch()\ntime.sleep(600)\n"
    other.case("010", "# group: quick", RECORD + body, "")
    target = _free_host_pids()
    # Burn pids in the new namespace until the runner gets one the host does not have.
    spin = f'n=1; while [ "$n" -lt {target - 1} ]; do n=$(sh -c \'echo $$\'); done; "$@"; exit $?'
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", spin, "spin"]
    env = dict(os.environ, IOTESTS_NO_CACHED_BUILD="1")
    env.pop("IOTESTS_CONFIG", None)
    outer = command.spawn([*unshare, *other.argv("run", "-f", "raw")], env=env, cwd=other.root)
    runner = None
    try:
        wait_for(other.root / "started")
        runner = _runner_in_namespace(other)
        assert runner is not None, "no runner in a pid namespace of its own"
        # What the old reaper judged by: the runner's pid, which means nothing on the host.
        assert not Path(f"/proc/{runner[1]}").exists(), runner
        before = live_processes(other, set())
        assert any("cases/010" in p for p in before), before

        project.case("011", "# group: quick", RECORD + "print('ok')\n", "ok\n")
        result = project.run("run", "-f", "raw", "--json", str(project.root / "r.json"))
        assert result.returncode == ExitCode.OK, result.stdout + result.stderr
        assert "left by an earlier run" not in result.stderr
        assert report(project)["011"]["status"] == "pass"
        assert live_processes(other, set()) == before
        assert wait_until_gone(project) == []
    finally:
        if runner is not None:
            os.kill(runner[0], signal.SIGINT)  # unshare ignores it; the runner stops in order
        if outer.wait(60) is None:
            outer.kill_group()
        outer.close()
    assert outer.returncode == ExitCode.INTERRUPTED
    assert wait_until_gone(other) == []


@needs_nbd
def test_next_run_cleans_up_after_a_killed_runner(project: Project) -> None:
    """A SIGKILLed runner's daemon and socket directory go with the next run"""
    body = CLEAN_ENV_NBD + "(Path(os.environ['TEST_DIR']).parents[3] / 'started').touch()\n"
    project.case("020", "# group: quick", RECORD + body + "time.sleep(600)\n", "served\n")
    proc = command.spawn(project.argv("run", "-f", "raw"), cwd=project.root, stderr=command.STDOUT)
    wait_for(project.root / "started")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.close()
    dead = given(project)
    assert Path(str(dead[0]["SOCK_DIR"])).is_dir()
    assert any("qemu-nbd" in p for p in live_processes(project, set())), "the daemon died early"

    project.case("021", "# group: quick", RECORD + "print('ok')\n", "ok\n")
    result = project.run("run", "-f", "raw", "021", "--json", str(project.root / "r.json"))
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert "processes left by an earlier run that died: " in result.stderr
    assert "qemu-nbd" in result.stderr
    assert "removed 1 socket directories left by earlier runs that died" in result.stderr
    assert report(project)["021"]["status"] == "pass"
    assert wait_until_gone(project) == []


@pytest.fixture
def full_results(project: Project) -> Iterator[Path]:
    """A results directory on a 1 MiB tmpfs, filled up once the cases have started."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = project.root / "results"
    mount.mkdir()
    command.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)])
    try:
        yield mount
    finally:
        command.run(["umount", "-l", str(mount)], check=False)


def test_a_full_results_disk_leaks_no_socket_directory(
    project: Project, full_results: Path
) -> None:
    """A full results disk leaks no socket directory"""
    fill = (
        "filler = Path(os.environ['IOTESTS_RESULT_DIR']).parents[1] / 'filler'\n"
        "with open(filler, 'ab') as f:\n"
        "    try:\n"
        "        f.write(b'x' * (2 << 20))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('x' * 1000)\n"
    )
    for name in ("030", "031", "032"):
        project.case(name, "# group: quick", RECORD + fill, "x\n")
    result = project.run("run", "-f", "raw", "-j1")
    assert result.returncode not in (ExitCode.OK, ExitCode.INTERNAL_ERROR), result.stdout
    runs = given(project)
    assert runs, result.stdout + result.stderr
    assert wait_until_gone(project) == []


def _tcp_listeners(inodes: set[str]) -> list[str]:
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                found.append(fields[1].rsplit(":", 1)[0])
    return found


def _socket_inodes(pid: str) -> set[str]:
    inodes = set()
    with_fds = Path(f"/proc/{pid}/fd")
    try:
        for fd in with_fds.iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


@needs_nbd
@needs_qsd
def test_servers_listen_on_loopback_only(project: Project) -> None:
    """NBD servers of an NBD-over-TCP case listen on loopback only"""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / "cases" / "246").exists():
        pytest.skip("no NBD-over-TCP case (cases/246) in this tree")
    shutil.copy(repo / "cases" / "246", project.cases / "246")
    for golden in (repo / "expected").glob("246.out*"):
        shutil.copy(golden, project.expected / golden.name)
    proc = command.spawn(
        project.argv("run", "-f", "raw", "246", "--json", str(project.root / "r.json")),
        cwd=project.root,
        stdout=command.DEVNULL,
    )
    seen: set[str] = set()
    try:
        while proc.poll() is None:
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if str(project.results).encode() not in (entry / "environ").read_bytes():
                        continue
                except OSError:
                    continue
                seen.update(_tcp_listeners(_socket_inodes(entry.name)))
    finally:
        proc.wait(120)
        proc.close()
    assert proc.returncode == ExitCode.OK
    assert report(project)["246"]["status"] == "pass"
    assert seen, "no TCP listener of the case was ever seen"
    assert seen <= {"0100007F", "00000000000000000000000001000000"}, seen
    assert wait_until_gone(project) == []


def test_cases_record_what_they_were_given(project: Project) -> None:
    """Every case gets a run id, a token and a socket directory that goes with it"""
    for name in ("040", "041"):
        project.case(
            name,
            "# group: quick",
            RECORD + "print(os.path.isdir(os.environ['SOCK_DIR']))\n",
            "True\n",
        )
    result = project.run("run", "-f", "raw", "-j2", "--json", str(project.root / "r.json"))
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    runs = given(project)
    assert len({r["IOTESTS_RUN_ID"] for r in runs}) == 1
    assert len({r["SOCK_DIR"] for r in runs}) == 2
    assert all(
        Path(str(r["SOCK_DIR"])).name.startswith(f"iot-{r['IOTESTS_RUN_ID']}-") for r in runs
    )
    assert wait_until_gone(project) == []
