"""The CLI's entry into compatibility mode: which tree, which tests, which suite.

Kept here rather than in :mod:`iotests.cli` so that the CLI only asks
"is this an upstream run?" and hands over; everything upstream-specific
stays in this package.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from iotests.env import binaries
from iotests.errors import IotestsError, UsageError
from iotests.runner.selection import Shard
from iotests.runner.settings import RunSettings
from iotests.upstream import discovery, options, selection
from iotests.upstream.discovery import UpstreamCase
from iotests.upstream.suite import UpstreamSuite

#: Subdirectory of the results directory for upstream runs: upstream's
#: test numbers would otherwise share result folders and timings with ours.
RESULTS_SUBDIR = "upstream"


def tree_for(args: argparse.Namespace, cwd: Path) -> Path | None:
    """The upstream tree of this run: ``--upstream DIR``, else cwd for ``check``, else None.

    :raises UsageError: when ``--upstream`` names something that is not an upstream tree.
    """
    given = getattr(args, "upstream", None)
    if given:
        tree = Path(given).resolve()
        if (tree / "tests" / "qemu-iotests").is_dir() and not discovery.is_tree(tree):
            tree = tree / "tests" / "qemu-iotests"
        if not discovery.is_tree(tree):
            raise UsageError(f"--upstream {given}: not a QEMU tests/qemu-iotests directory")
        return tree
    if getattr(args, "from_check", False) and discovery.is_tree(cwd):
        return cwd.resolve()
    return None


def select_cases(tree: Path, args: argparse.Namespace) -> list[UpstreamCase]:
    """Discover *tree*'s tests and apply upstream's selection rules to the command line."""
    sel = selection.UpstreamSelection(
        names=tuple(args.tests),
        groups=tuple(g for item in args.group or () for g in item.split(",") if g),
        exclude_groups=tuple(g for item in args.exclude_group or () for g in item.split(",") if g),
        start_from=args.start_from,
        shard=Shard.parse(args.shard) if args.shard else None,
    )
    cases = selection.select(discovery.discover(tree), sel)
    if getattr(args, "debug", False):
        cases = [dataclasses.replace(c, args=("-d",)) for c in cases]
    return cases


def results_dir(args: argparse.Namespace, configured: Path) -> Path:
    """Where an upstream run keeps results: a subfolder unless the user chose a directory."""
    if getattr(args, "results_dir", None):
        return configured
    return configured / RESULTS_SUBDIR


def make_suite(
    tree: Path,
    settings: RunSettings,
    args: argparse.Namespace,
    progs: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> UpstreamSuite:
    return UpstreamSuite.create(
        tree,
        settings,
        options.check_options(args),
        progs,
        os.environ if environ is None else environ,
    )


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
