"""``iotests check``: upstream ``check``'s command line, translated into an ``iotests run``.

QEMU developers type ``./check -qcow2 -g quick -j 4``; the same words work
here, with single-dash long options as upstream spells them. They become
the :class:`~iotests.options.Options` ``iotests run`` parses into, plus
:class:`CheckOptions` for what only upstream tests read. A few of our own
long options (reports, results directory, timeout, shard, the upstream
tree) are accepted too.

Without ``--upstream`` the tree is the current directory when it is an
upstream tests/qemu-iotests, else our own cases run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from iotests.config import jobs_argument, seconds_argument
from iotests.errors import UsageError
from iotests.options import Options, comma_list
from iotests.runner.selection import Shard
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


def check_options(opts: Options) -> CheckOptions:
    """The part of a command line (``check``'s or ``run``'s) only upstream tests read."""
    return CheckOptions(
        cachemode=opts.cachemode,
        aiomode=opts.aiomode or "threads",
        imgopts=opts.imgopts or None,
        misalign=opts.misalign,
        debug=opts.debug,
        valgrind=opts.valgrind,
        gdb=opts.gdb,
        print_qemu=opts.print_qemu,
    )


def parse(argv: Sequence[str]) -> Options:
    """Parse a ``check`` command line into the options ``iotests run`` takes too.

    :raises UsageError: for an unknown option or a bad value, in one line.
    """
    args = build_parser().parse_args(list(argv))
    return Options(
        from_check=True,
        config=args.config,
        build_dir=args.build_dir,
        results_dir=args.results_dir,
        upstream=args.upstream,
        format=args.format,
        protocol=args.protocol,
        tests=tuple(args.tests),
        groups=comma_list([args.groups or ""]),
        exclude_groups=comma_list([args.exclude_groups or ""]),
        shard=Shard.parse(args.shard) if args.shard else None,
        start_from=args.start_from,
        jobs=args.jobs,
        timeout=args.timeout,
        cachemode=args.cachemode,
        aiomode=args.aiomode,
        imgopts=args.imgopts,
        valgrind=args.valgrind,
        misalign=args.misalign,
        # -d shows each test's output as it runs, as upstream's does.
        verbose=args.debug,
        debug=args.debug,
        gdb=args.gdb,
        print_qemu=args.print_qemu,
        dry_run=args.dry_run,
        json_file=args.json_file,
        junit=args.junit,
        tap=args.tap,
    )
