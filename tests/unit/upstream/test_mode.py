"""iotests.upstream.mode and the CLI entry: which tree, which results folder, errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from iotests import cli
from iotests.errors import UsageError
from iotests.exitcodes import ExitCode
from iotests.upstream import mode


def _args(**kwargs: object) -> argparse.Namespace:
    return argparse.Namespace(**kwargs)


def test_upstream_dir_may_be_the_source_root_or_its_iotests(tree: Path) -> None:
    root = tree.parents[1]
    assert mode.tree_for(_args(upstream=str(root)), Path("/")) == tree.resolve()
    assert mode.tree_for(_args(upstream=str(tree)), Path("/")) == tree.resolve()


def test_check_inside_a_tree_uses_it(tree: Path, tmp_path: Path) -> None:
    assert mode.tree_for(_args(upstream=None, from_check=True), tree) == tree.resolve()
    assert mode.tree_for(_args(upstream=None, from_check=True), tmp_path) is None
    assert mode.tree_for(_args(upstream=None), tree) is None


def test_not_a_tree(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a QEMU tests/qemu-iotests"):
        mode.tree_for(_args(upstream=str(tmp_path)), Path("/"))


def test_results_go_to_a_subfolder_unless_chosen(tmp_path: Path) -> None:
    assert mode.results_dir(_args(results_dir=None), tmp_path) == tmp_path / "upstream"
    assert mode.results_dir(_args(results_dir=str(tmp_path)), tmp_path) == tmp_path


def test_explicit_binaries_win_over_a_cached_build(tree: Path) -> None:
    assert mode.cached_build_for(tree, {"QEMU_IMG_PROG": "/usr/bin/qemu-img"}) is None


def test_debug_passes_d_to_each_test(tree: Path) -> None:
    args = _args(
        tests=["001"], group=None, exclude_group=None, start_from=None, shard=None, debug=True
    )
    assert [c.args for c in mode.select_cases(tree, args)] == [("-d",)]


def test_check_with_an_unknown_option_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "-qcow3"])
    assert info.value.code == ExitCode.USAGE_ERROR
    err = capsys.readouterr().err
    assert (
        err == "iotests: error: check: unrecognized arguments: -qcow3 (see iotests check --help)\n"
    )
