"""Crash evidence drills: a QEMU process that misbehaves fails its case, however quietly it ran.

Each drill puts a fake QEMU binary in front of the real one (a wrapper that
runs the real program and then dies by a signal, or prints what a sanitizer
build prints) and runs a small case through the real CLI. The case's own
output matches its golden every time: only the evidence can fail it.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.leftovers import processes_mentioning
from support.project import Project, make_project, needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode

pytestmark = [pytest.mark.qemu, needs_qemu]

REAL = {
    role: command.which(program)
    for role, program in (
        ("qemu-img", "qemu-img"),
        ("qemu-io", "qemu-io"),
        ("qemu-nbd", "qemu-nbd"),
        ("qsd", "qemu-storage-daemon"),
    )
}
VARIABLES = {
    "qemu-img": "QEMU_IMG_PROG",
    "qemu-io": "QEMU_IO_PROG",
    "qemu-nbd": "QEMU_NBD_PROG",
    "qsd": "QSD_PROG",
}
PROGRAM = {"qsd": "qemu-storage-daemon"}

needs_servers = pytest.mark.skipif(
    not (REAL["qemu-nbd"] and REAL["qsd"]), reason="qemu-nbd or qemu-storage-daemon not installed"
)

ASAN_REPORT = """\
=================================================================
==4321==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x55d5c0 bp 0x7ffd10 sp 0x7ffd08
READ of size 4 at 0x602000000010 thread T0
    #0 0x55d5c0 in qcow2_co_preadv_part ../block/qcow2.c:2345
    #1 0x55d5c1 in bdrv_driver_preadv ../block/io.c:1190
SUMMARY: AddressSanitizer: heap-use-after-free ../block/qcow2.c:2345 in qcow2_co_preadv_part
==4321==ABORTING"""
UBSAN_LINE = (
    "../block/qcow2-cluster.c:1107:22: runtime error: "
    "signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'"
)
ASSERTION = "qemu-storage-daemon: ../block.c:5021: bdrv_close: Assertion `!bs->refcnt' failed."


def fake(project: Project, role: str, *, after: str = "", before: str = "") -> dict[str, str]:
    """A wrapper named like the real *role* binary that runs it, then does *after*.

    The real program runs as the wrapper's child, so the wrapper is what the
    case library started and waits for: its death by a signal, or what it
    prints after the real program ended, is what a crash at exit looks like.
    SIGTERM (how a qemu-nbd is stopped) is passed on to the real program.
    ``--version`` and ``--help`` (the runner's probe) go straight through.
    """
    real = REAL[role]
    assert real is not None
    folder = project.root / "fakes"
    folder.mkdir(exist_ok=True)
    path = folder / PROGRAM.get(role, role)
    lines = [
        "#!/bin/sh",
        f'case "$1" in --version|--help) exec "{real}" "$@";; esac',
        before,
        """trap 'kill -TERM "$child" 2>/dev/null' TERM""",
        f'"{real}" "$@" &',
        "child=$!",
        'wait "$child"; status=$?',
        'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
        after,
        'exit "$status"',
    ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return {VARIABLES[role]: str(path)}


def report_to_stderr(text: str) -> str:
    """Shell lines printing *text* to stderr, word for word."""
    return f"cat >&2 <<'EOF'\n{text}\nEOF"


@dataclass
class Verdict:
    status: str
    reason: str
    returncode: int
    stdout: str


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path)
    yield p
    # Nothing a drill's case started may outlive it.
    assert processes_mentioning(str(tmp_path)) == []


#: Every case body ends by recording its socket directory, which must be gone after the run.
RECORD_SOCK_DIR = """
open(os.environ["IOTESTS_RESULT_DIR"] + "/sockdir", "w").write(os.environ["SOCK_DIR"])
"""


def run_case(project: Project, body: str, golden: str, env: dict[str, str]) -> Verdict:
    """Run one case (whose output is *golden*) with *env*; check what every run must leave."""
    project.case(
        "900", "# group: drill", "import os\n" + textwrap.dedent(body) + RECORD_SOCK_DIR, golden
    )
    report = project.root / "r.json"
    result = project.run("run", "-f", "raw", "-j1", "--json", str(report), env=env)
    data = json.loads(report.read_text())
    [entry] = data["results"]
    result_dir = project.results / "raw-file" / "900"
    assert not Path((result_dir / "sockdir").read_text()).exists()
    # Nothing written outside the results directory (and the fakes and report we made).
    assert {p.name for p in project.root.iterdir()} <= {
        "cases",
        "expected",
        "results",
        "fakes",
        "r.json",
        "asan-logs",
    }
    return Verdict(entry["status"], entry["reason"] or "", result.returncode, result.stdout)


def assert_fails(verdict: Verdict, *parts: str) -> None:
    assert verdict.status == "fail", verdict
    assert verdict.returncode == ExitCode.FAILED, verdict
    for part in parts:
        assert part in verdict.reason, verdict
        assert part in verdict.stdout, verdict


NBD_CASE = """
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
with lib.QemuNBD(img, "raw") as srv:
    lib.log("served")
"""
QSD_CASE = """
from iotests import lib
with lib.QMPServer("qsd", quiet=True) as qsd:
    qsd.ok("query-jobs")
    lib.log("served")
"""
WRITE_VERIFY_CASE = """
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
lib.write(img, (0x5a, 0, "4k"))
lib.verify(img, (0x5a, 0, "4k"))
"""
WRITE_VERIFY_GOLDEN = "wrote 0x5a@0+4096\nok: reads back 0x5a@0+4096\n"


@needs_servers
def test_qemu_nbd_sigsegv_on_exit(project: Project) -> None:
    """qemu-nbd dying by SIGSEGV at exit fails the case"""
    env = fake(project, "qemu-nbd", after="kill -SEGV $$")
    verdict = run_case(project, NBD_CASE, "served\n", env)
    assert_fails(verdict, "qemu-nbd killed by signal SIGSEGV")


@needs_servers
def test_qsd_sigsegv_on_exit(project: Project) -> None:
    """qemu-storage-daemon dying by SIGSEGV at exit fails the case"""
    env = fake(project, "qsd", after="kill -SEGV $$")
    verdict = run_case(project, QSD_CASE, "served\n", env)
    assert_fails(verdict, "qemu-storage-daemon killed by signal SIGSEGV")


@needs_servers
def test_qsd_asan_report_in_its_log(project: Project) -> None:
    """an ASan report in qemu-storage-daemon's log fails the case"""
    env = fake(project, "qsd", after=report_to_stderr(ASAN_REPORT))
    verdict = run_case(project, QSD_CASE, "served\n", env)
    assert_fails(verdict, "qemu-storage-daemon: AddressSanitizer: heap-use-after-free")


@needs_servers
def test_qsd_assertion_failure(project: Project) -> None:
    """a QEMU assertion in qemu-storage-daemon fails the case"""
    env = fake(project, "qsd", after=report_to_stderr(ASSERTION) + "\nkill -ABRT $$")
    verdict = run_case(project, QSD_CASE, "served\n", env)
    assert_fails(
        verdict,
        "assertion failed in qemu-storage-daemon: ../block.c:5021: bdrv_close: !bs->refcnt",
        "qemu-storage-daemon killed by signal SIGABRT",
    )


@needs_servers
def test_qemu_nbd_assertion_failure(project: Project) -> None:
    """a QEMU assertion in qemu-nbd fails the case"""
    line = ASSERTION.replace("qemu-storage-daemon", "qemu-nbd")
    env = fake(project, "qemu-nbd", after=report_to_stderr(line))
    verdict = run_case(project, NBD_CASE, "served\n", env)
    assert_fails(verdict, "assertion failed in qemu-nbd")


def test_quiet_qemu_io_asan_report(project: Project) -> None:
    """an ASan report from quiet qemu-io (lib.write/verify) fails the case"""
    env = fake(project, "qemu-io", after=report_to_stderr(ASAN_REPORT))
    verdict = run_case(project, WRITE_VERIFY_CASE, WRITE_VERIFY_GOLDEN, env)
    assert_fails(verdict, "qemu-io: AddressSanitizer: heap-use-after-free")


def test_quiet_qemu_img_ubsan_runtime_error(project: Project) -> None:
    """a UBSan runtime error from a quiet qemu-img fails the case"""
    env = fake(project, "qemu-img", before=report_to_stderr(UBSAN_LINE))
    verdict = run_case(project, WRITE_VERIFY_CASE, WRITE_VERIFY_GOLDEN, env)
    assert_fails(
        verdict,
        "qemu-img: UndefinedBehaviorSanitizer: signed integer overflow",
        "../block/qcow2-cluster.c:1107:22",
    )


def test_quiet_tool_sigsegv(project: Project) -> None:
    """a quiet qemu-img dying by SIGSEGV fails the case"""
    env = fake(project, "qemu-img", after="kill -SEGV $$")
    verdict = run_case(project, WRITE_VERIFY_CASE, WRITE_VERIFY_GOLDEN, env)
    assert_fails(verdict, "qemu-img killed by signal SIGSEGV")


#: A stand-in for qemu-io built with ASan: a child of it reads freed memory
#: (a real AddressSanitizer report, written where ASAN_OPTIONS says), then
#: the real qemu-io does the work.
ASAN_QEMU_IO = r"""
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argc;
    if (fork() == 0) {
        volatile int *p = malloc(4 * sizeof *p);
        free((void *)p);
        return p[1];
    }
    wait(NULL);
    execv(REAL, argv);
    return 127;
}
"""


def asan_qemu_io(project: Project) -> dict[str, str]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    folder = project.root / "fakes"
    folder.mkdir(exist_ok=True)
    source = folder / "qemu-io.c"
    source.write_text(ASAN_QEMU_IO)
    binary = folder / "qemu-io"
    built = command.run(
        [
            "gcc",
            "-g",
            "-fsanitize=address",
            f'-DREAL="{REAL["qemu-io"]}"',
            "-o",
            str(binary),
            str(source),
        ],
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(f"gcc cannot build with ASan here: {built.output.strip()[:200]}")
    return {"QEMU_IO_PROG": str(binary)}


def test_asan_options_with_a_preset_log_path(project: Project) -> None:
    """ASAN_OPTIONS with the user's log_path (nox -s asan) still fails the case"""
    env = asan_qemu_io(project)
    logs = project.root / "asan-logs"
    logs.mkdir()
    env["ASAN_OPTIONS"] = f"halt_on_error=1:abort_on_error=0:detect_leaks=1:log_path={logs}/asan"
    verdict = run_case(project, WRITE_VERIFY_CASE, WRITE_VERIFY_GOLDEN, env)
    assert_fails(verdict, "qemu-io: AddressSanitizer: heap-use-after-free")
    # The report is also where the user asked for it, for nox's sanitizer-scan.
    copies = sorted(logs.glob("asan.*"))
    assert copies, "no report in the user's log_path"
    assert all("ERROR: AddressSanitizer: heap-use-after-free" in p.read_text() for p in copies)


KILLED_ON_PURPOSE = """
import signal
from iotests import lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
with lib.QMPServer("qsd", quiet=True) as qsd:
    qsd.kill()
    lib.log(f"qsd exit code {qsd.exitcode}")
with lib.QemuNBD(img, "raw") as srv:
    lib.log(f"qemu-nbd exit code {srv.stop(sig=9)}")
r = lib.qemu_tool("qemu-io", ["-c", "sigraise 9", "-f", "raw", img], quiet=True, expect_signal=True)
lib.log(f"qemu-io exit code {r.returncode}")
"""


@needs_servers
def test_servers_killed_on_purpose_pass(project: Project) -> None:
    """servers and tools the case kills on purpose leave it passing"""
    golden = "qsd exit code -9\nqemu-nbd exit code -9\nqemu-io exit code -9\n"
    verdict = run_case(project, KILLED_ON_PURPOSE, golden, {})
    assert verdict.status == "pass", verdict
    assert verdict.returncode == ExitCode.OK, verdict
