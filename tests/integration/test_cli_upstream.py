"""Upstream mode through the real CLI: ``iotests check`` and ``run --upstream`` on a small tree.

The tree is written per test (bash tests that print what ``check`` exports
to them), the binaries are the real ones on PATH: what is checked is the
CLI's part, one strategy chosen once (which tree, which tests, where results
go, how a test is judged, what is said after the run), not QEMU's.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from support.project import needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode

pytestmark = [pytest.mark.qemu, needs_qemu]

#: name -> (groups, body, reference or None)
TESTS = {
    "001": (
        "rw quick",
        'echo "fmt=$IMGFMT cache=$CACHEMODE default=$CACHEMODE_IS_DEFAULT args=$*"',
        "fmt=raw cache=writeback default=true args=\n",
    ),
    "002": ("rw quick", "echo unexpected", "expected\n"),
    "003": (
        "rw",
        'echo "needs a frobnicator" > "$TEST_DIR/003.notrun"\n'
        'echo "sub-case 2 skipped" > "$TEST_DIR/003.casenotrun"',
        "",
    ),
    "004": ("rw quick", "echo no reference", None),
    "005": ("rw disabled", "echo disabled", "disabled\n"),
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """An upstream source root: python/ beside tests/qemu-iotests and five tests."""
    iotests = tmp_path / "qemu" / "tests" / "qemu-iotests"
    iotests.mkdir(parents=True)
    (tmp_path / "qemu" / "python").mkdir()
    (iotests / "check").write_text("#!/bin/sh\nexit 99\n")
    (iotests / "common.rc").write_text("")
    for name, (groups, body, reference) in TESTS.items():
        path = iotests / name
        path.write_text(f"#!/usr/bin/env bash\n# group: {groups}\n{body}\n")
        path.chmod(0o755)
        if reference is not None:
            (iotests / f"{name}.out").write_text(reference)
    return iotests


def iotests(cwd: Path, *args: str) -> command.Completed:
    env = {k: v for k, v in os.environ.items() if k != "IOTESTS_CONFIG"}
    env["IOTESTS_NO_CACHED_BUILD"] = "1"
    return command.run(
        [sys.executable, "-m", "iotests", *args],
        env=env,
        cwd=cwd,
        check=False,
        merge_stderr=False,
        timeout=300,
    )


def verdicts(report: Path) -> dict[str, tuple[str, str | None]]:
    data = json.loads(report.read_text())
    return {r["name"]: (r["status"], r.get("reason")) for r in data["results"]}


def test_check_runs_the_tree_and_judges_as_upstream(tree: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    root = tree.parents[1]
    done = iotests(work, "check", "--upstream", str(root), "-raw", "--json", "r.json")
    assert done.returncode == ExitCode.FAILED, done.stderr
    assert verdicts(work / "r.json") == {
        "001": ("pass", None),
        "002": ("fail", "output differs from 002.out"),
        "003": ("not run", "needs a frobnicator"),
        "004": ("not run", f"No qualified output (expected {tree / '004.out'})"),
    }
    data = json.loads((work / "r.json").read_text())
    assert data["selection"]["upstream"] == str(tree)
    # Upstream's test numbers get a results folder of their own...
    assert data["settings"]["results_dir"] == str(work / "results" / "upstream")
    assert (work / "results" / "upstream" / "raw-file" / "002" / "output").is_file()
    lines = done.stdout.splitlines()
    # ...and the run ends with what only upstream tests report, and how to re-run them.
    assert "003:" in lines
    assert lines[lines.index("003:") + 1] == "sub-case 2 skipped"
    assert f"  iotests check -raw --upstream {root} 002" in lines
    assert f"  iotests run --upstream {root} -f raw --regenerate 002" in lines


def test_run_upstream_with_a_chosen_results_dir(tree: Path, tmp_path: Path) -> None:
    results = tmp_path / "mine"
    argv = ["run", "--upstream", str(tree), "--results-dir", str(results), "-c", "none"]
    done = iotests(tmp_path, *argv, "--json", "r.json", "001")
    assert done.returncode == ExitCode.FAILED
    # -c none is not check's default: 001 prints default=false, not its reference.
    assert verdicts(tmp_path / "r.json") == {"001": ("fail", "output differs from 001.out")}
    assert (results / "raw-file" / "001" / "output").read_text() == (
        "fmt=raw cache=none default=false args=\n"
    )


def test_check_inside_the_tree_takes_it_and_passes_d(tree: Path) -> None:
    done = iotests(tree, "check", "-n", "-d", "-g", "quick")
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "001  would run",
        "002  would run",
        f"004  not run: No qualified output (expected {tree / '004.out'})",
    ]
    done = iotests(tree, "check", "-d", "--json", "r.json", "--results-dir", "res", "001")
    output = (tree / "res" / "raw-file" / "001" / "output").read_text()
    assert output == "fmt=raw cache=writeback default=true args=-d\n"


def test_list_says_what_the_run_would_say(tree: Path, tmp_path: Path) -> None:
    done = iotests(tmp_path, "list", "--upstream", str(tree), "--json", "-g", "quick")
    assert done.returncode == ExitCode.OK, done.stderr
    rows = {r["name"]: r["reason"] for r in json.loads(done.stdout)}
    assert rows == {
        "001": None,
        "002": None,
        "004": f"No qualified output (expected {tree / '004.out'})",
    }
    # A shard can be empty (more shards than tests): nothing to list, and no error.
    done = iotests(tmp_path, "list", "--upstream", str(tree), "-g", "quick", "--shard", "4/4")
    assert (done.returncode, done.stdout, done.stderr) == (ExitCode.OK, "", "")


def test_a_bad_upstream_dir_is_one_line(tmp_path: Path) -> None:
    done = iotests(tmp_path, "check", "--upstream", str(tmp_path))
    assert done.returncode == ExitCode.USAGE_ERROR
    assert done.stderr == (
        f"iotests: error: --upstream {tmp_path}: not a QEMU tests/qemu-iotests directory\n"
    )
