"""iotests.upstream.discovery: which files are tests, their groups, how they start."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from iotests import command
from iotests.errors import UsageError
from iotests.runner import reaper
from iotests.upstream import discovery


def test_finds_numbered_and_named_tests_in_upstream_order(tree: Path) -> None:
    names = [c.name for c in discovery.discover(tree)]
    # tests/no-reference has no .out: upstream does not count it; 004 counts without one.
    assert names == ["001", "002", "003", "004", "reopen-file"]


def test_groups_come_from_the_first_group_line(tree: Path) -> None:
    by_name = {c.name: c for c in discovery.discover(tree)}
    assert by_name["001"].groups == {"rw", "auto", "quick"}
    assert by_name["004"].groups == frozenset()
    assert by_name["reopen-file"].groups == {"rw", "quick"}


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("#!/bin/sh\n# group: a b\n# group: c\n", {"a", "b"}),
        ("#!/bin/sh\n#\n# text\n# group: late\n", {"late"}),
        ("#!/bin/sh\n#group: nospace\n", set()),
        ("#!/bin/sh\n", set()),
    ],
)
def test_groups_of(text: str, groups: set[str]) -> None:
    assert discovery.groups_of(text) == groups


def test_group_local_adds_groups(tree: Path) -> None:
    (tree / "group.local").write_text("# comment\n\n2 mine\nreopen-file mine other\n")
    by_name = {c.name: c for c in discovery.discover(tree)}
    assert "mine" in by_name["002"].groups
    assert {"mine", "other", "quick"} <= by_name["reopen-file"].groups


def test_group_local_refuses_paths() -> None:
    with pytest.raises(UsageError, match="paths"):
        discovery.parse_group_file("tests/reopen-file g\n")


def test_not_a_tree(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a QEMU tests/qemu-iotests"):
        discovery.discover(tmp_path)


def test_bash_test_runs_by_its_shebang_from_its_directory(tree: Path) -> None:
    case = {c.name: c for c in discovery.discover(tree)}["001"]
    assert case.command()[-2:] == [str(tree), str(tree / "001")]
    assert case.command()[:2] == ["sh", "-c"]


def test_python_test_runs_under_our_interpreter_with_extra_args(tree: Path) -> None:
    case = {c.name: c for c in discovery.discover(tree)}["reopen-file"]
    case = type(case)(case.name, case.path, case.header, case.expected_dir, args=("-d",))
    named = tree / "tests"
    expected = [str(named), sys.executable, str(named / "reopen-file"), "-d"]
    assert case.command()[-4:] == expected


def test_only_the_exact_python3_shebang_selects_the_interpreter(tree: Path) -> None:
    path = tree / "005"
    path.write_text("#!/usr/bin/python3\n# group: rw\n")
    (tree / "005.out").write_text("")
    case = {c.name: c for c in discovery.discover(tree)}["005"]
    assert case.command()[-1] == str(path)
    assert sys.executable not in case.command()


def test_launcher_keeps_exit_code_and_waits_for_exiting_children(tree: Path) -> None:
    script = tree / "006"
    script.write_text("#!/bin/sh\npwd\n(sleep 0.4) &\nexit 3\n")
    script.chmod(0o755)
    (tree / "006.out").write_text("")
    case = {c.name: c for c in discovery.discover(tree)}["006"]
    env = {"PATH": os.environ["PATH"], reaper.TOKEN_VARIABLE: "launcher-test-token"}
    start = time.monotonic()
    result = command.run(case.command(), env=env, check=False)
    assert result.returncode == 3
    assert result.output.strip() == str(tree)
    assert time.monotonic() - start >= 0.4
    assert reaper.find("launcher-test-token") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_launcher_unmounts_what_a_test_left_mounted(tree: Path, tmp_path: Path) -> None:
    script = tree / "007"
    script.write_text('#!/bin/sh\nmkdir "$TEST_DIR/m" && mount -t tmpfs none "$TEST_DIR/m"\n')
    script.chmod(0o755)
    (tree / "007.out").write_text("")
    case = {c.name: c for c in discovery.discover(tree)}["007"]
    env = {"PATH": os.environ["PATH"], "TEST_DIR": str(tmp_path)}
    assert command.run(case.command(), env=env, check=False).returncode == 0
    assert str(tmp_path / "m") not in Path("/proc/self/mounts").read_text()
