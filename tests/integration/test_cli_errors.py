"""Every exit code of the CLI, provoked for real; user errors are one line, no traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.project import Project, needs_qemu

from iotests.exitcodes import ExitCode

pytestmark = [pytest.mark.qemu, needs_qemu]


def one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("iotests: error: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def one_case(project: Project) -> Project:
    project.case("001", "# group: quick", "print('hello')\n", "hello\n")
    return project


def test_ok(one_case: Project) -> None:
    assert one_case.run("run").returncode == ExitCode.OK


def test_usage_error_bad_shard(one_case: Project) -> None:
    result = one_case.run("run", "--shard", "3/2")
    assert result.returncode == ExitCode.USAGE_ERROR
    one_line_error(result.stderr, "--shard 3/2")


def test_usage_error_bad_header(one_case: Project) -> None:
    one_case.case("002", "# group: quick\n# timeout: forever", "print()\n", "\n")
    result = one_case.run("run")
    assert result.returncode == ExitCode.USAGE_ERROR
    one_line_error(result.stderr, f"{one_case.cases / '002'}:3:", "timeout must be a number")


def test_usage_error_bad_config(one_case: Project) -> None:
    (one_case.root / "iotests.yaml").write_text("runner:\n  jobs: -1\n")
    result = one_case.run("run")
    assert result.returncode == ExitCode.USAGE_ERROR
    one_line_error(result.stderr, "iotests.yaml: runner.jobs: expected a whole number")


def test_usage_error_bad_prog_variable(one_case: Project) -> None:
    result = one_case.run("run", env={"QEMU_IMG_PROG": "/nonexistent/qemu-img"})
    assert result.returncode == ExitCode.USAGE_ERROR
    one_line_error(result.stderr, "QEMU_IMG_PROG=/nonexistent/qemu-img: not an executable file")


def test_usage_error_bad_build_dir(one_case: Project, tmp_path: Path) -> None:
    result = one_case.run("run", "--build-dir", str(tmp_path))
    assert result.returncode == ExitCode.USAGE_ERROR
    one_line_error(result.stderr, "no QEMU binaries in it")


def test_no_cases(one_case: Project) -> None:
    result = one_case.run("run", "042")
    assert result.returncode == ExitCode.NO_CASES
    one_line_error(result.stderr, "no case named '042'")


def test_no_binaries(one_case: Project, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict.fromkeys(
        ("QEMU_PROG", "QEMU_IMG_PROG", "QEMU_IO_PROG", "QEMU_NBD_PROG", "QSD_PROG"), ""
    )
    env["PATH"] = str(empty)
    env["IOTESTS_NO_CACHED_BUILD"] = "1"
    result = one_case.run("run", env=env)
    assert result.returncode == ExitCode.NO_BINARIES
    one_line_error(result.stderr, "no QEMU binaries found")


def test_failed(one_case: Project) -> None:
    (one_case.expected / "001.out").write_text("goodbye\n")
    assert one_case.run("run").returncode == ExitCode.FAILED


def test_list_json(one_case: Project) -> None:
    one_case.case("002", "# group: slow\n# formats: vdi", "print()\n", "\n")
    result = one_case.run("list", "-f", "qcow2", "--json")
    assert result.returncode == ExitCode.OK
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["001"]["runs"] is True
    assert rows["002"]["runs"] is False
    assert rows["002"]["reason"] == "format qcow2 not supported by this case"
    assert rows["002"]["groups"] == ["slow"]


def test_env_json(one_case: Project) -> None:
    result = one_case.run("env", "--json")
    assert result.returncode == ExitCode.OK
    data = json.loads(result.stdout)
    assert data["binaries"]["qemu-img"]
    assert "qcow2" in data["formats"]
    assert data["versions"]["qemu-img"].count(".") == 2


def test_dry_run_runs_nothing(one_case: Project) -> None:
    result = one_case.run("run", "-n")
    assert result.returncode == ExitCode.OK
    assert "001  would run" in result.stdout
    assert not (one_case.results / "raw-file" / "001").exists()


def test_no_command_prints_help() -> None:
    from iotests.cli import dispatch

    assert dispatch([]) == ExitCode.USAGE_ERROR


def test_environment_is_clean_for_cases(one_case: Project) -> None:
    one_case.case(
        "003",
        "# group: quick",
        "import os\nprint(sorted(k for k in os.environ if k.startswith('SECRET')))\n"
        "print(os.environ['IMGFMT'], os.environ['IMGPROTO'], os.path.isdir(os.environ['SOCK_DIR']))\n",
        "[]\nqcow2 file True\n",
    )
    result = one_case.run("run", "-f", "qcow2", "003", env={"SECRET_TOKEN": "x"})
    assert result.returncode == ExitCode.OK, result.stdout
    assert os.environ.get("SECRET_TOKEN") is None


def test_report_merges_runs_and_compares_with_a_baseline(one_case: Project) -> None:
    one_case.case("002", "# group: quick", "print('b')\n", "b\n")
    old, new = one_case.root / "old.json", one_case.root / "new.json"
    assert one_case.run("run", "-f", "raw", "--json", str(old)).returncode == ExitCode.OK
    (one_case.expected / "002.out").write_text("changed\n")
    assert one_case.run("run", "-f", "qcow2", "--json", str(new)).returncode == ExitCode.FAILED
    merged = one_case.root / "all.xml"
    result = one_case.run("report", str(old), str(new), "--junit", str(merged))
    assert result.returncode == ExitCode.FAILED
    assert "| raw | 2 |" in result.stdout
    assert "| qcow2 | 1 | 1 |" in result.stdout
    assert "newly" not in result.stdout
    compared = one_case.run("report", str(new), "--baseline", str(new))
    assert compared.returncode == ExitCode.OK, "nothing newly fails against itself"
    bad = one_case.run("report", str(one_case.root / "missing.json"))
    assert bad.returncode == ExitCode.USAGE_ERROR
