"""``iotests check``: upstream ``check``'s command line, translated into an ``iotests run``.

QEMU developers type ``./check -qcow2 -g quick -j 4``; the same words work
here, with single-dash long options as upstream spells them. They become
the namespace ``iotests run`` takes, plus :class:`CheckOptions` for what
only upstream tests read. A few of our own long options (reports, results
directory, timeout, shard, the upstream tree) are accepted too.

Without ``--upstream`` the tree is the current directory when it is an
upstream tests/qemu-iotests, else our own cases run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from iotests.config import jobs_argument, seconds_argument
from iotests.errors import UsageError
from iotests.upstream.environment import CheckOptions

#: Upstream check's format and protocol flags (QEMU 7.2), each ``-NAME``.
FORMAT_FLAGS = (
    "raw",
    "bochs",
    "cloop",
    "parallels",
    "qcow",
    "qcow2",
    "qed",
    "vdi",
    "vpc",
    "vhdx",
    "vmdk",
    "luks",
    "dmg",
)
PROTOCOL_FLAGS = ("file", "rbd", "nbd", "ssh", "nfs", "fuse")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one-line usage errors, not usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"check: {message} (see iotests check --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="iotests check",
        description="Run tests with upstream check's options (our cases, or an upstream "
        "tree with --upstream DIR or when run inside tests/qemu-iotests).",
        allow_abbrev=False,
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would run")
    p.add_argument("-j", dest="jobs", type=jobs_argument, help="parallel jobs (default: CPUs)")
    p.add_argument("-d", dest="debug", action="store_true", help="debug: pass -d, show output")
    p.add_argument("-p", dest="print_qemu", action="store_true", help="sets PRINT_QEMU=y")
    p.add_argument("-gdb", action="store_true", help="sets GDB_OPTIONS (upstream tests)")
    p.add_argument("-valgrind", action="store_true", help="run QEMU tools under valgrind")
    p.add_argument("-misalign", action="store_true", help="misalign memory allocations")
    p.add_argument("--color", choices=["on", "off", "auto"], default="auto", help="accepted")
    p.add_argument("-tap", action="store_true", help="produce TAP output")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("-nocache", dest="cachemode", action="store_const", const="none")
    cache.add_argument("-c", dest="cachemode", help="cache mode (CACHEMODE)")
    p.add_argument("-i", dest="aiomode", help="AIO mode (AIOMODE, default threads)")
    p.add_argument("-o", dest="imgopts", help="image creation options (IMGOPTS)")
    p.set_defaults(format=None, protocol=None)
    fmt = p.add_mutually_exclusive_group()
    for name in FORMAT_FLAGS:
        fmt.add_argument(f"-{name}", dest="format", action="store_const", const=name)
    proto = p.add_mutually_exclusive_group()
    for name in PROTOCOL_FLAGS:
        proto.add_argument(f"-{name}", dest="protocol", action="store_const", const=name)
    p.add_argument("-g", "--groups", metavar="G,...", help="include tests of these groups")
    p.add_argument("-x", "--exclude-groups", metavar="G,...", help="exclude these groups")
    p.add_argument("--start-from", metavar="TEST", help="drop the selected tests before TEST")
    p.add_argument("tests", nargs="*", metavar="TEST", help="tests to run")
    ours = p.add_argument_group("iotests options")
    ours.add_argument("--upstream", metavar="DIR", help="an upstream tests/qemu-iotests")
    ours.add_argument("--build-dir", metavar="DIR", help="take binaries from this build tree")
    ours.add_argument("--config", metavar="FILE", help="YAML config")
    ours.add_argument("--results-dir", metavar="DIR", help="results and kept outputs")
    ours.add_argument(
        "--timeout", type=seconds_argument, metavar="SECONDS", help="per-test timeout"
    )
    ours.add_argument("--shard", metavar="I/N", help="run only the I-th of N slices")
    ours.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    ours.add_argument("--json", metavar="FILE", dest="json_file", help="write a JSON report")
    return p


def check_options(args: argparse.Namespace) -> CheckOptions:
    """The part of a parsed ``check`` (or ``run``) command line only upstream tests read."""
    return CheckOptions(
        cachemode=args.cachemode,
        aiomode=args.aiomode or "threads",
        imgopts=args.imgopts or None,
        misalign=bool(args.misalign),
        debug=bool(getattr(args, "debug", False)),
        valgrind=bool(args.valgrind),
        gdb=bool(getattr(args, "gdb", False)),
        print_qemu=bool(getattr(args, "print_qemu", False)),
    )


def _comma(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


def to_run_args(args: argparse.Namespace) -> argparse.Namespace:
    """The ``iotests run`` namespace for a parsed ``check`` command line."""
    return argparse.Namespace(
        command="run",
        config=args.config,
        format=args.format,
        protocol=args.protocol,
        build_dir=args.build_dir,
        cases_dir=None,
        expected_dir=None,
        tests=list(args.tests),
        group=_comma(args.groups),
        exclude_group=_comma(args.exclude_groups),
        shard=args.shard,
        start_from=args.start_from,
        dry_run=args.dry_run,
        jobs=args.jobs,
        timeout=args.timeout,
        cachemode=args.cachemode,
        aiomode=args.aiomode,
        imgopts=args.imgopts,
        valgrind=args.valgrind,
        misalign=args.misalign,
        verbose=args.debug,
        debug=args.debug,
        gdb=args.gdb,
        print_qemu=args.print_qemu,
        regenerate=None,
        results_dir=args.results_dir,
        junit=args.junit,
        json_file=args.json_file,
        tap=args.tap,
        upstream=args.upstream,
        from_check=True,
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a ``check`` command line into an ``iotests run`` namespace.

    :raises UsageError: for an unknown option or a bad value, in one line.
    """
    return to_run_args(build_parser().parse_args(list(argv)))
