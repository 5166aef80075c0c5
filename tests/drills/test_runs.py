"""Drills on the run as a whole: interrupted, sharing a results directory, out of disk, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.leftovers import processes_mentioning, socket_dirs
from support.project import Project, make_project, needs_qemu

from iotests.exitcodes import ExitCode

pytestmark = needs_qemu

QUICK = "print('ok')\n"
#: Marks its start in the project folder (output.raw is written buffered), then hangs.
SLOW = (
    "import os, pathlib, time\n"
    "print('started', flush=True)\n"
    "pathlib.Path(os.environ['TEST_DIR'], '../../../../started-' + os.environ['IOTESTS_CASE'])"
    ".touch()\n"
    "time.sleep(120)\n"
    "print('ok')\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "p").mkdir()
    return make_project(tmp_path / "p")


def _spawn(project: Project, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, IOTESTS_NO_CACHED_BUILD="1")
    env.pop("IOTESTS_CONFIG", None)
    return subprocess.Popen(
        project.argv(*args),
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate: object, timeout: float = 30.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _started(project: Project, names: list[str]) -> bool:
    """Whether each of *names* is really running (has left its mark)."""
    return all((project.root / f"started-{n}").exists() for n in names)


def _statuses(report: Path) -> dict[str, tuple[str, str | None]]:
    data = json.loads(report.read_text())
    return {r["name"]: (r["status"], r["reason"]) for r in data["results"]}


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name
)
def test_interrupted_run_reports_exactly_what_it_saw(project: Project, sig: signal.Signals) -> None:
    """An interrupted run's reports hold only this run's verdicts"""
    project.case("001", "# group: quick", QUICK, "ok\n")
    for name in ("002", "003", "004", "005"):
        project.case(name, "# group: quick", SLOW, "started\nok\n")
    project.case("006", "# group: quick\n# formats: qcow2", QUICK, "ok\n")
    # An earlier run's verdicts left on disk must not be read back as this run's.
    for name in ("001", "002", "003", "004", "005", "006"):
        stale = project.results / "raw-file" / name
        stale.mkdir(parents=True)
        (stale / "result.json").write_text(
            json.dumps({"name": name, "format": "raw", "protocol": "file", "status": "pass"})
        )
    before = socket_dirs()
    proc = _spawn(
        project, "run", "-f", "raw", "-j2", "--json", "r.json", "--junit", "r.xml", "001-006"
    )
    # 001 is the only quick case; longest-first runs the untimed ones in order.
    _wait_for(lambda: _started(project, ["002", "003"]))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    statuses = _statuses(project.root / "r.json")
    assert statuses == {
        "001": ("pass", None),
        "002": ("interrupted", "interrupted"),
        "003": ("interrupted", "interrupted"),
        "004": ("interrupted", "not started"),
        "005": ("interrupted", "not started"),
        "006": ("not run", "format raw not supported by this case"),
    }
    junit = (project.root / "r.xml").read_text()
    assert junit.count("<testcase ") == 6
    assert '<skipped message="format raw not supported by this case"' in junit
    assert "Ran 1 of 6 cases" in out
    assert processes_mentioning(str(project.root)) == []
    assert socket_dirs() - before == set()


def test_second_run_on_the_same_results_folder_is_refused(project: Project) -> None:
    """A second run on a busy results folder is refused, naming the first"""
    project.case("001", "# group: quick", SLOW, "started\nok\n")
    first = _spawn(project, "run", "-f", "raw", "001")
    try:
        _wait_for(lambda: _started(project, ["001"]))
        second = project.run("run", "-f", "raw", "001")
        assert second.returncode == ExitCode.USAGE_ERROR
        [line] = second.stderr.splitlines()
        assert f"raw-file is in use by another run (pid {first.pid} on " in line
        assert "another --results-dir" in line
        # The first run's case was not touched.
        assert _started(project, ["001"])
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == ExitCode.INTERRUPTED


def test_runs_of_two_formats_share_a_results_dir(project: Project) -> None:
    """Two formats at once on one results dir: both pass, both timings kept"""
    for n in range(1, 9):
        project.case(f"{n:03}", "# group: quick", "import time\ntime.sleep(0.3)\n" + QUICK, "ok\n")
    runs = [_spawn(project, "run", "-f", fmt, "-j2") for fmt in ("raw", "qcow2", "qed")]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == ExitCode.OK, out + err
    timings = json.loads((project.results / "timings.json").read_text())
    assert sorted(timings) == ["qcow2-file", "qed-file", "raw-file"]
    assert all(len(t) == 8 for t in timings.values())
    probe = json.loads((project.results / "qcow2-file" / "probe.json").read_text())
    assert "qcow2" in probe["formats"]


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, for a results directory that fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_results_disk_ends_in_one_line_and_full_reports(
    project: Project, tiny_fs: Path
) -> None:
    """A results disk that fills up: errors named once, reports written elsewhere"""
    writer = (
        "from iotests import lib\n"
        "img = lib.test_image()\n"
        "lib.create(img, '64M')\n"
        "lib.qemu_io(img, 'write -P 0x11 0 4M')\n"
        "print('ok')\n"
    )
    for n in range(1, 21):
        project.case(f"{n:03}", "# group: quick\n# formats: raw", writer, "ok\n")
    before = socket_dirs()
    results = tiny_fs / "results"
    report = project.root / "r.json"
    done = project.run(
        "run", "-f", "raw", "-j2", "--results-dir", str(results), "--json", str(report)
    )
    assert done.returncode == ExitCode.FAILED, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [line] = [x for x in done.stderr.splitlines() if x.startswith("iotests: error:")]
    assert "stopped starting cases: cannot write " in line
    assert "No space left on device (ENOSPC)" in line
    statuses = _statuses(report)
    assert len(statuses) == 20
    assert all(status in ("pass", "fail", "error") for status, _ in statuses.values())
    errors = [reason for status, reason in statuses.values() if status == "error"]
    assert errors
    assert all(r is not None and "ENOSPC" in r for r in errors)
    assert "passed" in done.stdout.splitlines()[-1]
    assert processes_mentioning(str(tiny_fs)) == []
    assert socket_dirs() - before == set()


def test_unwritable_report_path_is_refused_before_the_run(project: Project, tiny_fs: Path) -> None:
    """A report path that cannot be written is refused before any case runs"""
    project.case("001", "# group: quick", QUICK, "ok\n")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    done = project.run("run", "-f", "raw", "--junit", str(tiny_fs / "r.xml"))
    assert done.returncode == ExitCode.USAGE_ERROR
    assert done.stderr.splitlines() == [
        f"iotests: error: --junit {tiny_fs / 'r.xml'}: cannot write in {tiny_fs}: "
        "Read-only file system"
    ]
    assert not (project.results / "raw-file" / "001").exists()


BAD_INPUT = [
    (("-j", "0"), "argument -j/--jobs: expected a whole number of at least 1, not '0'"),
    (("--timeout", "0"), "argument --timeout: expected a positive, finite number"),
    (("--timeout", "nan"), "argument --timeout: expected a positive, finite number"),
    (("--expected-dir", "/nonexistent"), "expected-output directory not found: /nonexistent"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    BAD_INPUT,
    ids=["-j 0", "--timeout 0", "--timeout nan", "--expected-dir missing"],
)
def test_bad_flags_are_one_line_usage_errors(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    """A bad flag value is one line and exit 2"""
    project.case("001", "# group: quick", QUICK, "ok\n")
    done = project.run("run", "-f", "raw", *args)
    assert done.returncode == ExitCode.USAGE_ERROR
    assert message in done.stderr
    assert not (project.results / "raw-file").exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("# formats: qcow3", "001:2: formats: unknown name 'qcow3'"),
        ("# exclude-formats: qcwo2", "001:2: exclude-formats: unknown name 'qcwo2'"),
        ("# protocols: nbdd", "001:2: protocols: unknown name 'nbdd' (did you mean 'nbd'?"),
        ("# timeout: nan", "001:2: timeout must be a positive, finite number, not 'nan'"),
    ],
    ids=["formats", "exclude-formats", "protocols", "timeout"],
)
def test_case_header_typos_are_refused(project: Project, header: str, message: str) -> None:
    """A typo in a case header is refused, naming file and line"""
    project.case("001", header, QUICK, "ok\n")
    done = project.run("run", "-f", "raw")
    assert done.returncode == ExitCode.USAGE_ERROR
    [line] = done.stderr.splitlines()
    assert message in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"runner:\n  jobs: 2\nrunnr:\n  jobs: 3\n",
            "runnr: unknown section (known: runner, build)",
        ),
        (b"runner:\n  imgopts: \xff\n", "byte 19: not UTF-8 text"),
        (b"runner:\n  timeout: .nan\n", "runner.timeout: expected a positive, finite number"),
    ],
    ids=["unknown section", "not utf-8", "nan timeout"],
)
def test_bad_config_files_are_one_line_usage_errors(
    project: Project, content: bytes, message: str
) -> None:
    """A bad iotests.yaml is one line naming file and key, exit 2"""
    project.case("001", "# group: quick", QUICK, "ok\n")
    config = project.root / "iotests.yaml"
    config.write_bytes(content)
    done = project.run("run", "-f", "raw", "--config", str(config))
    assert done.returncode == ExitCode.USAGE_ERROR
    [line] = done.stderr.splitlines()
    assert line.startswith(f"iotests: error: {config}: {message}")


def test_a_toolkit_bug_exits_5_with_one_line_and_a_traceback_file(project: Project) -> None:
    """A bug in the toolkit exits 5 with one line and the traceback kept"""
    code = (
        "import sys\n"
        "from iotests import cli\n"
        "def broken(argv):\n"
        "    raise ZeroDivisionError('a bug')\n"
        "cli.dispatch = broken\n"
        "cli.main(['list'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == ExitCode.INTERNAL_ERROR
    first, second = done.stderr.splitlines()
    assert first == "iotests: internal error: ZeroDivisionError: a bug"
    path = Path(second.split(" is in ", 1)[1].split(";", 1)[0])
    try:
        assert path.read_text().endswith("in broken\nZeroDivisionError: a bug\n")
    finally:
        path.unlink()
