"""The real CLI on real QEMU: pass, fail with a diff, timeouts, leftovers, crashes, reports."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.cases import WRITE_READ, WRITE_READ_GOLDEN
from support.project import Project, needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode
from iotests.runner import reaper

pytestmark = [pytest.mark.qemu, needs_qemu]


def qemu_processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention *path*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def test_passing_case(project: Project) -> None:
    project.case("001", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    for fmt in ("raw", "qcow2"):
        result = project.run("run", "-f", fmt, "-j1")
        assert result.returncode == ExitCode.OK, result.stdout + result.stderr
        assert "001" in result.stdout
        assert " pass " in result.stdout
        assert "1 passed, 0 failed, 0 skipped" in result.stdout
        assert not (project.results / f"{fmt}-file" / "001" / "scratch").exists()


def test_failing_case_shows_diff_and_keeps_output(project: Project) -> None:
    golden = WRITE_READ_GOLDEN.replace("0x5a", "x").replace("wrote 4096/4096", "wrote 4096/8192")
    project.case("002", "# group: quick", WRITE_READ, golden)
    result = project.run("run", "-f", "qcow2", "--json", str(project.root / "r.json"))
    assert result.returncode == ExitCode.FAILED
    assert "fail" in result.stdout
    assert "-wrote 4096/8192 bytes at offset 0" in result.stdout
    assert "+wrote 4096/4096 bytes at offset 0" in result.stdout
    kept = project.results / "qcow2-file" / "002"
    assert "wrote 4096/4096" in (kept / "output").read_text()
    assert (kept / "diff").is_file()
    assert (kept / "scratch" / "t.img").is_file(), "scratch is kept for a failure"
    report = json.loads((project.root / "r.json").read_text())
    (entry,) = report["results"]
    assert entry["status"] == "fail"
    assert entry["expected_file"] == str(project.expected / "002.out")
    assert "+wrote 4096/4096" in entry["diff"]


def test_wrong_data_fails_even_with_matching_golden(project: Project) -> None:
    body = WRITE_READ.replace('"read -P 0x5a 0 4k"', '"read -P 0x5b 0 4k"')
    project.case("003", "# group: quick", body, WRITE_READ_GOLDEN)
    result = project.run("run", "-f", "raw")
    assert result.returncode == ExitCode.FAILED
    assert "+Pattern verification failed at offset 0, 4096 bytes" in result.stdout


NBD_DAEMON = """
import os, time
from iotests import command, lib
img = lib.test_image()
lib.create(img, "1M", quiet=True)
sock = str(lib.case_env().sock_dir / "nbd.sock")
with open(os.path.join(os.environ["TEST_DIR"], "..", "..", "..", "..", "sockdir"), "w") as f:
    f.write(str(lib.case_env().sock_dir))
# --fork: the server daemonises (setsid), leaving the case's process group.
server = command.spawn(
    [lib.case_env().prog("qemu-nbd"), "--fork", "--persistent", "-k", sock, "-f", "raw", img],
    stdout=command.DEVNULL, stderr=command.DEVNULL, new_group=False,
)
assert server.wait(30) == 0
print("served", flush=True)
{tail}
"""


@pytest.mark.skipif(not command.which("qemu-nbd"), reason="qemu-nbd not installed")
def test_hanging_case_is_killed_with_everything_it_started(project: Project) -> None:
    project.case(
        "004", "# group: quick\n# timeout: 3", NBD_DAEMON.format(tail="time.sleep(600)"), "served\n"
    )
    start = time.monotonic()
    result = project.run(
        "run", "-f", "raw", "--junit", str(project.root / "j.xml"), "--json", "r.json"
    )
    assert time.monotonic() - start < 60
    assert result.returncode == ExitCode.FAILED
    assert "timeout" in result.stdout
    assert "timed out after 3s" in result.stdout
    # The partial output is kept and named: it shows where the case hung.
    [entry] = json.loads((project.root / "r.json").read_text())["results"]
    assert entry["status"] == "timeout"
    assert Path(entry["output_file"]).read_text() == "served\n"
    assert qemu_processes_under(project.root) == []
    sock_dir = Path((project.root / "sockdir").read_text())
    assert sock_dir.name.startswith("iot-")
    assert not sock_dir.exists()
    suite = ET.parse(project.root / "j.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("errors") == "1"


@pytest.mark.skipif(not command.which("qemu-nbd"), reason="qemu-nbd not installed")
def test_case_leaving_a_daemon_fails_and_the_daemon_dies(project: Project) -> None:
    project.case("005", "# group: quick", NBD_DAEMON.format(tail=""), "served\n")
    result = project.run("run", "-f", "raw")
    assert result.returncode == ExitCode.FAILED
    assert "left processes running: qemu-nbd" in result.stdout
    assert qemu_processes_under(project.root) == []


def test_crashing_tool_fails_even_when_output_matches(project: Project) -> None:
    crasher = project.root / "fake-qemu-img"
    crasher.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crasher.chmod(0o755)
    project.case(
        "006", "# group: quick", 'from iotests import lib\nlib.qemu_img("info", "x")\n', ""
    )
    result = project.run("run", "-f", "raw", env={"QEMU_IMG_PROG": str(crasher)})
    assert result.returncode == ExitCode.FAILED
    assert "qemu-img killed by signal SIGSEGV" in result.stdout.replace("fake-qemu-img", "qemu-img")


def test_sanitizer_report_fails_the_case(project: Project) -> None:
    report = "==77==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n"
    project.case("007", "# group: quick", f"print({report!r}, end='')\n", report)
    result = project.run("run", "-f", "raw")
    assert result.returncode == ExitCode.FAILED
    assert "AddressSanitizer: heap-use-after-free" in result.stdout


def test_missing_capability_is_not_run(project: Project) -> None:
    project.case("008", "# group: quick\n# requires: accel:qtest qemu-img", "print('x')\n", "x\n")
    project.case("009", "# group: quick\n# formats: vdi", "print('x')\n", "x\n")
    project.case("010", "# group: quick", "print('x')\n", "x\n")
    result = project.run("run", "-f", "qcow2", "--tap")
    assert result.returncode == ExitCode.OK, result.stdout
    lines = result.stdout.splitlines()
    skip = [line for line in lines if "# SKIP" in line]
    assert len(skip) == 2
    assert any("accelerator qtest" in line for line in skip)
    assert any("format qcow2 not supported by this case" in line for line in skip)


def test_notrun_from_inside_a_case(project: Project) -> None:
    project.case(
        "010", "# group: quick", "from iotests import lib\nlib.notrun('no frobnicator')\n", ""
    )
    result = project.run("run", "-f", "raw")
    # Nothing ran at all: as empty as a selection that matched nothing.
    assert result.returncode == ExitCode.NO_CASES
    assert "no frobnicator" in result.stdout
    assert result.stderr.splitlines() == [
        "iotests: error: no case ran: all 1 selected cases were not run"
    ]


def test_strict_modes_fail_a_run_with_cases_not_run(project: Project) -> None:
    project.case("011", "# group: quick\n# formats: vdi", "print('x')\n", "x\n")
    project.case("012", "# group: quick", "print('x')\n", "x\n")
    assert project.run("run", "-f", "raw").returncode == ExitCode.OK
    strict = project.run("run", "-f", "raw", "--fail-on-not-run")
    assert strict.returncode == ExitCode.FAILED
    assert strict.stderr.splitlines() == ["iotests: error: --fail-on-not-run: 1 cases not run"]
    assert project.run("run", "-f", "raw", "--min-run", "1").returncode == ExitCode.OK
    short = project.run("run", "-f", "raw", "--min-run", "2")
    assert short.returncode == ExitCode.FAILED
    assert short.stderr.splitlines() == ["iotests: error: --min-run 2: only 1 cases ran"]


def test_reports_parse_back(project: Project) -> None:
    project.case("011", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    project.case("012", "# group: quick", "print('bad')\n", "good\n")
    junit, report = project.root / "out" / "j.xml", project.root / "out" / "r.json"
    result = project.run("run", "-f", "qcow2", "-j2", "--junit", str(junit), "--json", str(report))
    assert result.returncode == ExitCode.FAILED
    root = ET.parse(junit).getroot()
    names = {c.get("name"): c for c in root.iter("testcase")}
    assert set(names) == {"011", "012"}
    assert names["012"].find("failure") is not None
    data = json.loads(report.read_text())
    assert {r["name"]: r["status"] for r in data["results"]} == {"011": "pass", "012": "fail"}
    assert data["settings"]["format"] == "qcow2"
    assert data["environment"]["versions"]["qemu-img"]
    timings = json.loads((project.results / "timings.json").read_text())
    assert set(timings["qcow2-file"]) == {"011", "012"}
    # Wall and CPU time of each case: qemu-img and qemu-io ran, so some CPU was used.
    for r in data["results"]:
        assert r["cpu"] > 0, r
        assert timings["qcow2-file"][r["name"]] == {"wall": r["duration"], "cpu": r["cpu"]}


def test_regenerate_writes_goldens(project: Project) -> None:
    project.case("013", "# group: quick", WRITE_READ)
    result = project.run("run", "-f", "raw")
    assert result.returncode == ExitCode.FAILED
    assert "no expected output" in result.stdout
    result = project.run("run", "-f", "raw", "--regenerate")
    assert result.returncode == ExitCode.OK
    assert (project.expected / "013.out").read_text() == WRITE_READ_GOLDEN.lstrip("\n")
    assert f"golden written: {project.expected / '013.out'}" in result.stdout
    assert "re-running the 1 cases against their new goldens" in result.stdout
    assert project.run("run", "-f", "qcow2").returncode == ExitCode.OK
    # The variable is no quieter than the flag, and says when nothing changed.
    again = project.run("run", "-f", "raw", env={"IOTESTS_REGENERATE": "1"})
    assert again.returncode == ExitCode.OK
    assert "--regenerate: every golden was already up to date" in again.stdout


def test_regenerate_fails_on_output_that_changes_between_runs(project: Project) -> None:
    project.case("015", "# group: quick", "import uuid\nprint(uuid.uuid4())\n", "x\n")
    project.case("016", "# group: quick", "print('same')\n", "other\n")
    result = project.run("run", "-f", "raw", "--regenerate")
    assert result.returncode == ExitCode.FAILED
    assert f"golden changed: {project.expected / '015.out'}" in result.stdout
    assert f"golden changed: {project.expected / '016.out'}" in result.stdout
    [line] = [x for x in result.stderr.splitlines() if "--regenerate" in x]
    assert line.startswith(
        "iotests: error: --regenerate: not clean against the golden just written"
    )
    assert "015 (output differs from 015.out)" in line
    assert "016" not in line


def test_interrupt_kills_everything(project: Project) -> None:
    project.case("014", "# group: quick", NBD_DAEMON.format(tail="time.sleep(600)"), "served\n")
    env = dict(os.environ)
    proc = command.spawn(
        project.argv("run", "-f", "raw"), env=env, cwd=project.root, stderr=command.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        "qemu-nbd" in c for c in qemu_processes_under(project.root)
    ):
        time.sleep(0.1)
    assert any("qemu-nbd" in c for c in qemu_processes_under(project.root))
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(60) == ExitCode.INTERRUPTED
    assert qemu_processes_under(project.root) == []
    proc.close()


def test_reaper_finds_only_tokened_processes() -> None:
    token = "t" * 32
    env = dict(os.environ, **{reaper.TOKEN_VARIABLE: token})
    proc = command.spawn(["sleep", "60"], env=env)
    try:
        # Until it has exec'd, the forked child's /proc environ is still ours, without the token.
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/comm").read_text().strip() != "sleep":
            assert time.monotonic() < deadline, "sleep never started"
            time.sleep(0.01)
        found = reaper.find(token)
        assert [p.pid for p in found] == [proc.pid]
        assert reaper.find("u" * 32) == []
        killed = reaper.kill_all(token)
        assert [p.name for p in killed] == ["sleep"]
        assert proc.wait(5) is not None
    finally:
        proc.kill_group()
        proc.close()


VALGRIND_AWARE_BUG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <valgrind/valgrind.h>

static char stack[4096];

int main(void)
{
    /* Like QEMU built with valgrind.h: it tells valgrind about its stacks. */
    unsigned id = VALGRIND_STACK_REGISTER(stack, stack + sizeof stack);
    int *p = malloc(4 * sizeof *p);
    free(p);
    volatile int x = p[1];
    VALGRIND_STACK_DEREGISTER(id);
    printf("%d\n", x == 12345 ? 1 : 1);
    return 0;
}
"""


def fake_tools(project: Project, source: str) -> dict[str, str]:
    """One compiled program standing in for qemu-img, qemu-io and qemu-nbd."""
    (project.root / "tool.c").write_text(source)
    binary = project.root / "qemu-tool"
    command.run(["cc", "-O0", "-g", "-o", str(binary), str(project.root / "tool.c")])
    return {v: str(binary) for v in ("QEMU_IMG_PROG", "QEMU_IO_PROG", "QEMU_NBD_PROG")}


@pytest.mark.skipif(
    not (
        command.which("valgrind")
        and command.which("cc")
        and Path("/usr/include/valgrind/valgrind.h").exists()
    ),
    reason="needs valgrind, its headers and cc",
)
def test_valgrind_error_fails_the_case(project: Project) -> None:
    env = fake_tools(project, VALGRIND_AWARE_BUG)
    project.case("015", "# group: quick", 'from iotests import lib\nlib.qemu_img("info")\n', "1\n")
    plain = project.run("run", "-f", "raw", env=env)
    assert plain.returncode == ExitCode.OK, plain.stdout
    checked = project.run("run", "-f", "raw", "--valgrind", env=env)
    assert checked.returncode == ExitCode.FAILED, checked.stdout + checked.stderr
    assert "valgrind: 1 errors, first: Invalid read of size 4" in checked.stdout


@pytest.mark.skipif(
    not (command.which("valgrind") and command.which("cc")), reason="needs valgrind and cc"
)
def test_valgrind_refuses_a_build_without_valgrind_support(project: Project) -> None:
    env = fake_tools(project, "int main(void) { return 0; }\n")
    project.case("016", "# group: quick", "print(1)\n", "1\n")
    result = project.run("run", "-f", "raw", "--valgrind", env=env)
    assert result.returncode == ExitCode.USAGE_ERROR
    assert result.stderr.strip().splitlines() == [
        f"iotests: error: --valgrind: {env['QEMU_IMG_PROG']} was built without valgrind support "
        "(no valgrind.h), so valgrind would flag every coroutine switch; use a build that has it "
        "(invoke build-qemu, then --build-dir)"
    ]


def test_misalign_reaches_qemu_io(project: Project) -> None:
    project.case("016", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    project.case(
        "017",
        "# group: quick",
        "from iotests import lib\nprint('--misalign' in lib.tools.qemu_io_args('x', 'raw', False, ()))\n",
        "True\n",
    )
    result = project.run("run", "-f", "qcow2", "--misalign", "016", "017")
    assert result.returncode == ExitCode.OK, result.stdout


def test_orphans_of_a_dead_runner_are_reaped(project: Project) -> None:
    """A runner killed with SIGKILL cannot clean up; the next run does."""
    project.case("018", "# group: quick", NBD_DAEMON.format(tail="time.sleep(600)"), "served\n")
    proc = command.spawn(project.argv("run", "-f", "raw"), cwd=project.root, stderr=command.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        "qemu-nbd" in c for c in qemu_processes_under(project.root)
    ):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.close()
    assert any("qemu-nbd" in c for c in qemu_processes_under(project.root)), (
        "the daemon outlived its runner"
    )
    (project.expected / "019.out").write_text("")
    (project.cases / "019").write_text("#!/bin/sh\n")
    (project.cases / "019").chmod(0o755)
    result = project.run("run", "-f", "raw", "019")
    assert "processes left by an earlier run that died" in result.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and qemu_processes_under(project.root):
        time.sleep(0.1)
    assert qemu_processes_under(project.root) == []


def test_a_runner_error_fails_one_case_and_the_run_goes_on(project: Project) -> None:
    project.case("020", "# group: quick", "print('a')\n", "a\n")
    project.case("021", "# group: quick", "print('b')\n", "b\n")
    # A result directory that can be neither removed nor moved aside.
    stuck = project.results / "raw-file" / "020"
    (stuck / "scratch").mkdir(parents=True)
    if command.run(["chattr", "+i", str(stuck)], check=False).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        result = project.run("run", "-f", "raw", "-j1")
    finally:
        command.run(["chattr", "-i", str(stuck)], check=False)
    assert result.returncode == ExitCode.FAILED
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line[:3] == "020"}
    assert lines["020"].split()[1] == "error"
    assert "Operation not permitted (EPERM)" in lines["020"]
    assert "1 passed, 1 failed" in result.stdout


def test_unwritable_results_dir_is_one_line(project: Project) -> None:
    project.case("022", "# group: quick", "print('a')\n", "a\n")
    project.results.mkdir()
    (project.results / "raw-file").write_text("a file where a folder should be")
    result = project.run("run", "-f", "raw")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert result.stderr.startswith("iotests: error: ")
    assert "raw-file" in result.stderr
    assert "Traceback" not in result.stderr


SANITIZER_LOG = """
import os
with open(os.path.join(os.environ["IOTESTS_RESULT_DIR"], "asan.4242"), "w") as f:
    f.write({text!r})
print("done")
"""
NOISE = (
    "==4242==WARNING: ASan doesn't fully support makecontext/swapcontext functions"
    " and may produce false positives in some cases!\n"
)


def test_sanitizer_logs_noise_passes_report_fails(project: Project) -> None:
    project.case("023", "# group: quick", SANITIZER_LOG.format(text=NOISE), "done\n")
    report = NOISE + "==4242==ERROR: LeakSanitizer: detected memory leaks\n"
    project.case("024", "# group: quick", SANITIZER_LOG.format(text=report), "done\n")
    result = project.run("run", "-f", "raw", "023", "024", "--json", str(project.root / "r.json"))
    statuses = {
        r["name"]: (r["status"], r["reason"])
        for r in json.loads((project.root / "r.json").read_text())["results"]
    }
    assert statuses["023"] == ("pass", None)
    assert statuses["024"] == ("fail", "LeakSanitizer: detected memory leaks")
    assert result.returncode == ExitCode.FAILED


SHOW_BYTECODE_SETTINGS = """
import os, sys
from iotests import lib
print("prefix:", sys.pycache_prefix)
print("dont write:", sys.dont_write_bytecode)
"""


def test_cases_share_one_bytecode_cache_and_leave_no_pycache(project: Project) -> None:
    project.case("031", "# group: quick", SHOW_BYTECODE_SETTINGS)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = project.run("run", "-f", "raw", "--regenerate", env=env)
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    golden = (project.expected / "031.out").read_text()
    cache = project.results / "pycache"
    assert f"prefix: {cache}\n" in golden
    assert "dont write: False\n" in golden
    # The case imported the toolkit's library: compiled once, into the cache only.
    lib_init = Path(__file__).resolve().parents[2] / "iotests" / "lib" / "__init__.py"
    compiled = list((cache / str(lib_init.parent).lstrip("/")).glob("__init__.cpython-*.pyc"))
    assert len(compiled) == 1, sorted(p.name for p in cache.rglob("*.pyc"))[:20]
    assert not list(project.cases.rglob("__pycache__"))
    written = compiled[0].stat().st_mtime_ns
    again = project.run("run", "-f", "raw", env=env)
    assert again.returncode == ExitCode.OK, again.stdout + again.stderr
    assert compiled[0].stat().st_mtime_ns == written  # loaded, not compiled again

    off = project.run(
        "run", "-f", "raw", "--regenerate", env={**env, "IOTESTS_BYTECODE_CACHE": "0"}
    )
    assert off.returncode == ExitCode.OK, off.stdout + off.stderr
    golden = (project.expected / "031.out").read_text()
    assert "prefix: None\n" in golden
    assert "dont write: True\n" in golden


def test_a_golden_for_the_qemu_version_under_test_is_chosen_and_named(project: Project) -> None:
    project.case("030", "# group: quick", "print('new wording')\n", "old wording\n")
    (project.expected / "030.out.qemu-7.0").write_text("new wording\n")
    (project.expected / "030.out.qemu-99.0").write_text("future wording\n")
    result = project.run("run", "-f", "raw", "--json", "r.json")
    assert result.returncode == ExitCode.OK, result.stdout
    [entry] = json.loads((project.root / "r.json").read_text())["results"]
    assert entry["expected_file"] == str(project.expected / "030.out.qemu-7.0")


def test_paths_relative_to_the_current_directory_work(project: Project) -> None:
    project.case("031", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    environ = dict(os.environ, IOTESTS_NO_CACHED_BUILD="1")
    environ.pop("IOTESTS_CONFIG", None)
    done = command.run(
        [
            sys.executable,
            "-m",
            "iotests",
            "run",
            "-f",
            "raw",
            "--cases-dir",
            "cases",
            "--expected-dir",
            "expected",
            "--results-dir",
            "out/results",
            "--json",
            "out/r.json",
        ],
        env=environ,
        cwd=project.root,
        check=False,
    )
    assert done.returncode == ExitCode.OK, done.output
    [entry] = json.loads((project.root / "out" / "r.json").read_text())["results"]
    assert entry["status"] == "pass"
    assert entry["expected_file"] == str(project.expected / "031.out")
    assert (project.root / "out" / "results" / "raw-file").is_dir()
