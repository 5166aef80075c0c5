"""Compatibility mode: the :class:`~iotests.plan.Mode` that runs an upstream tree's tests.

The CLI asks one question, :func:`chosen` ("is this an upstream run, and of
which tree?"), and hands the answer to the plan; every step that differs
for upstream tests (which build, which tests, where results go, how a test
is set up, judged and reported) is a method of :class:`UpstreamMode`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from iotests.env import binaries
from iotests.errors import IotestsError, UsageError
from iotests.options import Options
from iotests.plan import Machine, Mode, Setup, SuiteRun, view
from iotests.runner.results import CaseResult
from iotests.runner.session import Reporter
from iotests.runner.settings import RunSettings
from iotests.upstream import discovery, options, selection
from iotests.upstream.discovery import UpstreamCase
from iotests.upstream.suite import UpstreamSuite

#: Subdirectory of the results directory for upstream runs: upstream's
#: test numbers would otherwise share result folders and timings with ours.
RESULTS_SUBDIR = "upstream"


def tree_for(opts: Options, cwd: Path) -> Path | None:
    """The upstream tree of this run: ``--upstream DIR``, else cwd for ``check``, else None.

    :raises UsageError: when ``--upstream`` names something that is not an upstream tree.
    """
    if opts.upstream:
        tree = Path(opts.upstream).resolve()
        if (tree / "tests" / "qemu-iotests").is_dir() and not discovery.is_tree(tree):
            tree = tree / "tests" / "qemu-iotests"
        if not discovery.is_tree(tree):
            raise UsageError(f"--upstream {opts.upstream}: not a QEMU tests/qemu-iotests directory")
        return tree
    if opts.from_check and discovery.is_tree(cwd):
        return cwd.resolve()
    return None


def chosen(opts: Options, cwd: Path) -> UpstreamMode | None:
    """Upstream mode for the tree this command line names, or None for our own cases."""
    tree = tree_for(opts, cwd)
    return UpstreamMode(tree) if tree is not None else None


def select_cases(tree: Path, opts: Options) -> list[UpstreamCase]:
    """Discover *tree*'s tests and apply upstream's selection rules to the command line."""
    sel = selection.UpstreamSelection(
        names=opts.tests,
        groups=opts.groups,
        exclude_groups=opts.exclude_groups,
        start_from=opts.start_from,
        shard=opts.shard,
    )
    cases = selection.select(discovery.discover(tree), sel)
    if opts.debug:
        cases = [dataclasses.replace(c, args=("-d",)) for c in cases]
    return cases


class UpstreamMode(Mode):
    """The tests of one upstream tests/qemu-iotests, set up and judged as its ``check`` does."""

    def __init__(self, tree: Path) -> None:
        self.upstream_tree = self.tree = tree

    def build_dir(self, setup: Setup) -> Path | None:
        """The toolkit's build of the tree's source, when the tree was named by ``--upstream``."""
        return cached_build_for(self.tree, setup.environ) if setup.options.upstream else None

    def select(self, setup: Setup) -> list[UpstreamCase]:
        return select_cases(self.tree, setup.options)

    def results_dir(self, setup: Setup) -> Path:
        """A subfolder of the results directory, unless the user chose the directory."""
        if setup.options.results_dir:
            return setup.results_dir
        return setup.results_dir / RESULTS_SUBDIR

    def prepare(self, setup: Setup, machine: Machine, settings: RunSettings) -> SuiteRun:
        """Upstream's environment (one default-machine query), references and notes."""
        suite = UpstreamSuite.create(
            self.tree,
            settings,
            options.check_options(setup.options),
            machine.binaries.env(),
            setup.environ,
        )
        tap = setup.options.tap

        def notes(results: Sequence[CaseResult]) -> list[str]:
            hint = suite.qtest_hint(results, machine.probe)
            casenotrun = [] if tap else suite.casenotrun_lines(results)
            return [*casenotrun, *([hint] if hint else [])]

        def reporter(run_settings: RunSettings) -> Reporter:
            shown = view(run_settings, setup.options, suite)
            shown.notes = notes
            return shown

        return SuiteRun(suite, suite.not_run, reporter)


def cached_build_for(tree: Path, environ: Mapping[str, str]) -> Path | None:
    """The toolkit's cached build of the QEMU source holding *tree*, if there is one.

    ``nox -s upstream -- QEMU_SRC`` should test that source's own binaries
    when the toolkit built them; explicit ``*_PROG`` variables still win,
    as they would for ``iotests run``. A build counts when its manifest
    names this source, by spec or by extracted source directory.
    """
    if any(environ.get(role.variable) for role in binaries.ROLES):
        return None
    root = tree.resolve()
    if discovery.is_tree(root):
        root = root.parents[1]
    try:
        from iotests.build.cache import Cache, pick_build
        from iotests.build.config import load_build_config
        from iotests.build.sources import normalise_spec

        builds = Cache(load_build_config().cache_dir).complete()
    except IotestsError:
        return None
    by_dir = [(e, m) for e, m in builds if Path(m.source_dir).resolve() == root]
    if by_dir:
        return pick_build(by_dir, str(by_dir[0][1].source.get("spec")))
    return pick_build(builds, normalise_spec(str(root)))
