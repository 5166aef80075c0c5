"""iotests.upstream.mode: which tree, which tests, which results folder; the CLI's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests import cli
from iotests.config import RunnerConfig
from iotests.errors import UsageError
from iotests.exitcodes import ExitCode
from iotests.options import Options
from iotests.plan import Mode, Setup
from iotests.upstream import mode


def test_upstream_dir_may_be_the_source_root_or_its_iotests(tree: Path) -> None:
    root = tree.parents[1]
    assert mode.tree_for(Options(upstream=str(root)), Path("/")) == tree.resolve()
    assert mode.tree_for(Options(upstream=str(tree)), Path("/")) == tree.resolve()


def test_check_inside_a_tree_uses_it(tree: Path, tmp_path: Path) -> None:
    assert mode.tree_for(Options(upstream=None, from_check=True), tree) == tree.resolve()
    assert mode.tree_for(Options(upstream=None, from_check=True), tmp_path) is None
    assert mode.tree_for(Options(upstream=None), tree) is None


def test_not_a_tree(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a QEMU tests/qemu-iotests"):
        mode.tree_for(Options(upstream=str(tmp_path)), Path("/"))


def test_only_a_tree_is_upstream_mode(tree: Path, tmp_path: Path) -> None:
    chosen = mode.chosen(Options(upstream=str(tree)), tmp_path)
    assert isinstance(chosen, mode.UpstreamMode)
    assert chosen.upstream_tree == tree.resolve()
    assert mode.chosen(Options(), tree) is None
    assert Mode.upstream_tree is None


def test_results_go_to_a_subfolder_unless_chosen(tree: Path, tmp_path: Path) -> None:
    config = RunnerConfig({"results_dir": str(tmp_path / "configured")}, "test")
    upstream = mode.UpstreamMode(tree)

    def results(given: str | None) -> Path:
        return upstream.results_dir(Setup(Options(results_dir=given), upstream, config, {}))

    assert results(None) == tmp_path / "configured" / "upstream"
    assert results(str(tmp_path / "mine")) == tmp_path / "mine"


def test_explicit_binaries_win_over_a_cached_build(tree: Path) -> None:
    assert mode.cached_build_for(tree, {"QEMU_IMG_PROG": "/usr/bin/qemu-img"}) is None


def test_debug_passes_d_to_each_test(tree: Path) -> None:
    args = Options(tests=("001",), debug=True)
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
