"""The run/list/env command lines become typed Options: "not given" is None, 0 is a value."""

from __future__ import annotations

import pytest

from iotests import cli
from iotests.errors import UsageError
from iotests.exitcodes import ExitCode
from iotests.options import Options
from iotests.runner.selection import Shard


def parse(*argv: str) -> Options:
    return cli.options_of(cli.build_parser().parse_args(list(argv)))


def test_what_is_not_given_is_unset_not_a_default() -> None:
    options = parse("run")
    assert (options.format, options.jobs, options.timeout, options.regenerate) == (
        None,
        None,
        None,
        None,
    )
    assert (options.tests, options.groups, options.shard, options.rerun_failures) == (
        (),
        (),
        None,
        0,
    )


def test_given_values_are_kept_typed() -> None:
    options = parse(
        "run", "-f", "qcow2", "-g", "quick,rw", "-g", "auto", "-x", "slow", "--shard", "2/4"
    )
    assert options.groups == ("quick", "rw", "auto")
    assert options.exclude_groups == ("slow",)
    assert options.shard == Shard(2, 4)
    options = parse("run", "-j", "1", "--timeout", "0.5", "--rerun-failures", "0", "-o", "")
    assert (options.jobs, options.timeout, options.rerun_failures, options.imgopts) == (
        1,
        0.5,
        0,
        "",
    )


def test_list_and_env_lack_run_s_flags_and_keep_their_defaults() -> None:
    assert parse("list", "--json").json
    assert parse("list", "--json").json_file is None
    env = parse("env")
    assert (env.command, env.tests, env.jobs, env.dry_run) == ("env", (), None, False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-j", "0"], "argument -j/--jobs: expected a whole number of at least 1, not '0'"),
        (["--timeout", "0"], "argument --timeout: expected a positive, finite number of seconds"),
        (["--timeout", "nan"], "argument --timeout: expected a positive, finite number of seconds"),
        (["--rerun-failures", "-1"], "argument --rerun-failures: expected a whole number of at"),
        (["--min-run", "0"], "argument --min-run: expected a whole number of at least 1"),
    ],
)
def test_a_zero_or_negative_that_means_nothing_is_refused_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["run", *argv])
    assert info.value.code == ExitCode.USAGE_ERROR
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"iotests run: error: {message}")


def test_a_malformed_shard_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--shard 3/2: I must be between 1 and N"):
        parse("run", "--shard", "3/2")
