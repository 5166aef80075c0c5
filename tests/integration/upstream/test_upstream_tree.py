"""Upstream mode against a real QEMU tests/qemu-iotests (7.2 from Debian's source package).

The tree comes from ``scripts/fetch-upstream-tree``; its path is in
``IOTESTS_UPSTREAM_TREE``. Each check compares our runner with the tree's
own ``check`` on the same binaries: same selection, same environment
variables, same verdicts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from iotests import command
from iotests.env import binaries
from iotests.runner.settings import RunSettings
from iotests.upstream import discovery, verdicts
from iotests.upstream.environment import CheckOptions
from iotests.upstream.suite import UpstreamSuite

pytestmark = pytest.mark.qemu

#: A pass, a failure (needs qtest, which Debian's emulator lacks), a not-run
#: (wrong format) and a named test that kills its qemu-nbd without waiting.
MIXED = ("001", "040", "block-status-cache", "nbd-qemu-allocation")


@pytest.fixture(scope="module")
def tree() -> Path:
    path = os.environ.get("IOTESTS_UPSTREAM_TREE")
    if not path:
        pytest.skip("IOTESTS_UPSTREAM_TREE is not set (see scripts/fetch-upstream-tree)")
    tree = Path(path)
    if not discovery.is_tree(tree):
        pytest.skip(f"IOTESTS_UPSTREAM_TREE={path} is not a tests/qemu-iotests directory")
    return tree


@pytest.fixture(scope="module")
def progs() -> dict[str, str]:
    found = binaries.resolve(None, os.environ, use_cache=False)
    if missing := found.missing():
        pytest.skip(f"upstream check needs every QEMU binary; missing: {', '.join(missing)}")
    return found.env()


@pytest.fixture
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dot-free TEST_DIR for upstream check (see benchmarks/upstream.py)."""
    return tmp_path_factory.mktemp("upstream_scratch", numbered=True)


def _upstream(tree: Path, progs: dict[str, str], scratch: Path, *args: str) -> str:
    env = {**os.environ, **progs, "TEST_DIR": str(scratch)}
    return command.run(["./check", *args], cwd=tree, env=env, check=False, timeout=600).output


def _ours(tree: Path, progs: dict[str, str], results: Path, *args: str) -> command.Completed:
    env = {**os.environ, **progs}
    argv = [sys.executable, "-m", "iotests", "check", "--upstream", str(tree), *args]
    results.mkdir(parents=True, exist_ok=True)
    # Not from the tree: there ``-m iotests`` would import upstream's iotests.py.
    return command.run(
        [*argv, "--results-dir", str(results)], env=env, cwd=results, check=False, timeout=600
    )


def test_quick_selection_matches_check_dry_run(
    tree: Path, progs: dict[str, str], scratch: Path, tmp_path: Path
) -> None:
    theirs = _upstream(tree, progs, scratch, "-n", "-qcow2", "-g", "quick").split()
    ours = _ours(tree, progs, tmp_path, "-n", "-qcow2", "-g", "quick").stdout
    names = [
        line.split()[0] for line in ours.splitlines() if "would run" in line or "not run" in line
    ]
    assert names == [t.removeprefix("tests/") for t in theirs]
    assert len(names) > 100


def test_environment_matches_check(tree: Path, progs: dict[str, str], scratch: Path) -> None:
    """Every variable testenv.py exports, compared with what ./check -- env shows."""
    dumped = _upstream(tree, progs, scratch, "-qcow2", "--", "/usr/bin/env")
    theirs = dict(line.split("=", 1) for line in dumped.splitlines() if "=" in line)
    suite = UpstreamSuite.create(
        tree, RunSettings(format="qcow2"), CheckOptions(), progs, {"MALLOC_PERTURB_": "7"}
    )
    ignored = {"TEST_DIR", "SOCK_DIR", "MALLOC_PERTURB_", "PYTHON", "PYTHONPATH"}
    for variable, value in suite.check_env.items():
        if variable not in ignored:
            assert theirs.get(variable) == value, variable
    exported = set(theirs) & {
        "IMGFMT",
        "IMGPROTO",
        "IMGOPTS",
        "AIOMODE",
        "CACHEMODE",
        "CACHEMODE_IS_DEFAULT",
        "IMGFMT_GENERIC",
        "IMGOPTSSYNTAX",
        "IMGKEYSECRET",
        "QEMU_DEFAULT_MACHINE",
        "QEMU_OPTIONS",
        "QEMU_IO_OPTIONS",
        "QEMU_IO_OPTIONS_NO_FMT",
        "SAMPLE_IMG_DIR",
    }
    assert exported <= set(suite.check_env)
    assert theirs["PYTHONPATH"].split(":")[:2] == suite.check_env["PYTHONPATH"].split(":")[:2]


@pytest.mark.slow
def test_verdicts_match_check_on_a_mixed_selection(
    tree: Path, progs: dict[str, str], scratch: Path, tmp_path: Path
) -> None:
    theirs = verdicts.parse_check_output(_upstream(tree, progs, scratch, "-qcow2", "-tap", *MIXED))
    report = tmp_path / "report.json"
    run = _ours(
        tree,
        progs,
        tmp_path / "results",
        "-qcow2",
        "-tap",
        "-j",
        "2",
        "--json",
        str(report),
        *MIXED,
    )
    ours = verdicts.read_json_report(report)
    assert verdicts.differences(theirs, ours) == []
    assert set(ours.values()) == {"pass", "fail", "not run"}
    # 040 fails because Debian's emulator has no qtest: the run says so.
    if "qtest" not in command.run([progs["QEMU_PROG"], "-accel", "help"]).stdout:
        assert "# note: 1 failed; " in run.stdout
        assert "has no qtest accelerator" in run.stdout
