"""iotests.upstream.options: upstream check's spellings become the options ``iotests run`` takes."""

from __future__ import annotations

import dataclasses

import pytest

from iotests import cli
from iotests.errors import UsageError
from iotests.runner.selection import Shard
from iotests.upstream import options


def test_upstream_spellings() -> None:
    args = options.parse(
        [
            "-qcow2",
            "-nbd",
            "-g",
            "quick,rw",
            "-x",
            "slow",
            "-j",
            "2",
            "-c",
            "none",
            "-i",
            "native",
            "-o",
            "cluster_size=4k",
            "-n",
            "-d",
            "-valgrind",
            "-misalign",
            "-tap",
            "--start-from",
            "010",
            "001",
            "reopen-file",
        ]
    )
    assert (args.format, args.protocol) == ("qcow2", "nbd")
    assert (args.groups, args.exclude_groups) == (("quick", "rw"), ("slow",))
    assert (args.jobs, args.cachemode, args.aiomode, args.imgopts) == (
        2,
        "none",
        "native",
        "cluster_size=4k",
    )
    assert args.dry_run
    assert args.debug
    assert args.verbose
    assert args.valgrind
    assert args.misalign
    assert args.tap
    assert args.start_from == "010"
    assert args.tests == ("001", "reopen-file")
    assert args.from_check


def test_defaults_leave_choices_to_the_run() -> None:
    args = options.parse([])
    assert args.format is None
    assert args.protocol is None
    assert args.jobs is None
    assert args.cachemode is None
    assert args.timeout is None
    assert args.groups == ()
    assert args.tests == ()
    opts = options.check_options(args)
    assert opts.cachemode is None
    assert opts.aiomode == "threads"
    assert opts.imgopts is None


def test_nocache_and_our_own_options() -> None:
    args = options.parse(
        ["-nocache", "--upstream", "/q", "--json", "r.json", "--junit", "j.xml", "--shard", "1/2"]
    )
    assert args.cachemode == "none"
    assert (args.upstream, args.json_file, args.junit, args.shard) == (
        "/q",
        "r.json",
        "j.xml",
        Shard(1, 2),
    )


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["-qcow3"], "unrecognized arguments: -qcow3"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["-qcow2", "-raw"], "not allowed with argument"),
        (["-nocache", "-c", "none"], "not allowed with argument"),
        (["-j", "0"], "-j: expected a whole number of at least 1, not .0."),
        (["-j", "two"], "-j: expected a whole number of at least 1, not .two."),
        (["--timeout", "0"], "--timeout: expected a positive, finite number of seconds, not .0."),
        (["--shard", "3/2"], "--shard 3/2: I must be between 1 and N"),
    ],
)
def test_errors_are_one_line_usage_errors(argv: list[str], match: str) -> None:
    with pytest.raises(UsageError, match=match) as info:
        options.parse(argv)
    assert "\n" not in str(info.value)


def test_check_and_run_parse_into_the_same_options() -> None:
    """One request in both spellings is one Options; only check's own meaning differs."""
    spelt = ["-qcow2", "-g", "quick,rw", "-x", "slow", "-j", "3", "--timeout", "90", "-nocache"]
    spelt += ["--upstream", "/q", "--start-from", "010", "--shard", "2/4", "-tap", "001"]
    check = options.parse(spelt)
    argv = ["run", "-f", "qcow2", "-g", "quick", "-g", "rw", "-x", "slow", "-j", "3"]
    argv += ["--timeout", "90", "-c", "none", "--upstream", "/q", "--start-from", "010"]
    argv += ["--shard", "2/4", "--tap", "001"]
    run = cli.options_of(cli.build_parser().parse_args(argv))
    assert check == dataclasses.replace(run, from_check=True)
    assert check.command == "run"
