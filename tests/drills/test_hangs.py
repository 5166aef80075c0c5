"""Hang drills: a case that times out leaves a record of what each of its processes was doing.

The case starts two real qemu-storage-daemons, as cases do, and hangs:

- ``held`` has a backup job throttled to 1 byte/s, so it can never finish,
  and two QMP monitors that listen: ``case.qmp``, which the case holds (QMP
  serves one client at a time), and ``spare.qmp``, free for the runner;
- ``plain`` connects its only monitor to the case, as the case library's
  QMPServer does: nobody but the case can ask it anything.

At the deadline the runner must record, before it kills anything, the job
``held`` is running (from ``spare.qmp``), why the other monitors were not
asked, every thread's kernel wait channel and stack, and gdb's backtraces;
then kill everything as usual.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from support.leftovers import processes_mentioning
from support.project import make_project, needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode

pytestmark = [
    pytest.mark.qemu,
    needs_qemu,
    pytest.mark.skipif(
        not command.which("qemu-storage-daemon"), reason="qemu-storage-daemon not installed"
    ),
]

HUNG_BACKUP = """
import json, os, subprocess, time
from pathlib import Path
from qemu.qmp.legacy import QEMUMonitorProtocol
import iotests.lib  # as every case does: the library answers a hang record with its stacks

test_dir, sock_dir = os.environ["TEST_DIR"], os.environ["SOCK_DIR"]
src, dst = os.path.join(test_dir, "src.qcow2"), os.path.join(test_dir, "dst.qcow2")
for path in (src, dst):
    subprocess.run([os.environ["QEMU_IMG_PROG"], "create", "-q", "-f", "qcow2", path, "64M"], check=True)
subprocess.run([os.environ["QEMU_IO_PROG"], "-c", "write 0 8M", src], check=True, stdout=subprocess.DEVNULL)

def listening(name):
    path = os.path.join(sock_dir, name)
    return ["--chardev", f"socket,id={name},path={path},server=on,wait=off", "--monitor", f"chardev={name}"]

def node(name, path):
    return ["--blockdev", f"driver=qcow2,node-name={name},file.driver=file,file.filename={path}"]

qsd = os.environ["QSD_PROG"]
held = subprocess.Popen([qsd, *listening("case.qmp"), *listening("spare.qmp"), *node("src", src), *node("dst", dst)])
while not os.path.exists(os.path.join(sock_dir, "spare.qmp")):
    time.sleep(0.01)
mon = QEMUMonitorProtocol(os.path.join(sock_dir, "case.qmp"))
mon.connect()
reply = mon.cmd_obj({"execute": "blockdev-backup", "arguments": {
    "job-id": "stuck-backup", "device": "src", "target": "dst", "sync": "full", "speed": 1}})
assert reply == {"return": {}}, reply

plain_sock = os.path.join(sock_dir, "plain.qmp")
listener = QEMUMonitorProtocol(plain_sock, server=True)
plain = subprocess.Popen([qsd, "--chardev", f"socket,id=m0,path={plain_sock}", "--monitor", "chardev=m0"])
listener.accept(timeout=30)

Path(os.environ["TEST_DIR"]).parents[3].joinpath("given.json").write_text(json.dumps({
    "token": os.environ["IOTESTS_TOKEN"], "sock_dir": sock_dir, "case": os.getpid(),
    "held": held.pid, "plain": plain.pid}))
print("backup started", flush=True)
time.sleep(600)
"""


def test_a_hung_block_job_is_recorded_before_the_kill(tmp_path: Path) -> None:
    """A timed-out case's hang record names its stuck job, threads, stacks"""
    project = make_project(tmp_path)
    project.case("001", "# group: quick\n# timeout: 5", HUNG_BACKUP, "backup started\n")
    started = time.monotonic()
    result = project.run("run", "-f", "raw", "--json", str(project.root / "r.json"))
    took = time.monotonic() - started
    assert result.returncode == ExitCode.FAILED, result.stdout + result.stderr
    assert took < 5 + 20 + 15  # the timeout, the record's budget, start-up and the kill

    [report] = json.loads((project.root / "r.json").read_text())["results"]
    assert report["status"] == "timeout"
    assert report["reason"] == "timed out after 5s"
    assert report["duration"] < 6  # the case's time is its timeout, not the record's too
    hang_txt = project.results / "raw-file" / "001" / "hang.txt"
    assert report["hang_file"] == str(hang_txt)
    given = json.loads((project.root / "given.json").read_text())
    record = json.loads(hang_txt.with_name("hang.json").read_text())
    assert record["reason"] == "timed out after 5s"
    assert record["seconds"] < 20
    assert record["notes"] == []
    by_pid = {p["pid"]: p for p in record["processes"]}
    assert {given["case"], given["held"], given["plain"]} <= set(by_pid)

    held = by_pid[given["held"]]
    [spare] = held["monitors"]
    assert spare["socket"] == os.path.join(given["sock_dir"], "spare.qmp")
    assert spare["error"] is None
    [job] = spare["answers"]["query-jobs"]
    assert (job["id"], job["type"], job["status"]) == ("stuck-backup", "backup", "running")
    [block_job] = spare["answers"]["query-block-jobs"]
    assert (block_job["device"], block_job["speed"]) == ("stuck-backup", 1)
    nodes = {n["node-name"] for n in spare["answers"]["query-named-block-nodes"]}
    assert {"src", "dst"} <= nodes
    case_sock = os.path.join(given["sock_dir"], "case.qmp")
    assert f"monitor {case_sock} not asked: it already serves its one client" in held["notes"]

    plain = by_pid[given["plain"]]
    assert plain["monitors"] == []
    assert any(n.startswith("no QMP monitor to ask") for n in plain["notes"])

    for entry in (held, plain, by_pid[given["case"]]):
        assert entry["state"].startswith("S")
        assert len(entry["threads"]) >= 1
        assert all(t["wchan"] for t in entry["threads"] if t["state"] == "S")
        if os.geteuid() == 0:
            assert all(t["kernel_stack"] for t in entry["threads"])
        if command.which("gdb") is not None:
            assert entry["backtrace"]["tool"] == "gdb"
            assert "Thread 1 " in entry["backtrace"]["text"]
    if command.which("gdb") is not None:
        assert "ppoll" in held["backtrace"]["text"]  # QEMU's main loop, waiting
    # The line of the case the Python process is stuck at, from faulthandler: on any machine.
    case_stack = by_pid[given["case"]]["python_stack"]
    assert f'File "{project.cases / "001"}", line ' in case_stack
    assert (held["python_stack"], plain["python_stack"]) == (None, None)
    assert not (project.results / "raw-file" / "001" / "stacks").exists()

    text = hang_txt.read_text()
    assert "   Python stack (faulthandler):" in text
    assert f"== pid {given['held']} qemu-storage-da: S (sleeping)" in text
    assert '"id": "stuck-backup"' in text

    assert processes_mentioning(given["token"]) == []
    assert processes_mentioning(str(project.root)) == []
    assert not Path(given["sock_dir"]).exists()
