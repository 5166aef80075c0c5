"""Exit codes are distinct, documented, and carried by the matching errors."""

from __future__ import annotations

from iotests import errors
from iotests.exitcodes import ExitCode


def test_codes_are_unique() -> None:
    values = [c.value for c in ExitCode]
    assert len(values) == len(set(values))


def test_success_is_zero() -> None:
    assert int(ExitCode.OK) == 0


def test_errors_carry_their_codes() -> None:
    assert errors.UsageError("x").exit_code is ExitCode.USAGE_ERROR
    assert errors.ConfigError("f", "k", "p").exit_code is ExitCode.USAGE_ERROR
    assert errors.CaseHeaderError("f", 1, "p").exit_code is ExitCode.USAGE_ERROR
    assert errors.NoCasesError("x").exit_code is ExitCode.NO_CASES
    assert errors.BinaryNotFoundError("x").exit_code is ExitCode.NO_BINARIES
    assert errors.BuildError("x").exit_code is ExitCode.BUILD_FAILED
    assert errors.IotestsError("x").exit_code is ExitCode.INTERNAL_ERROR


def test_command_error_shows_argv_code_and_tail() -> None:
    output = "\n".join(f"line {i}" for i in range(50))
    err = errors.CommandError(["qemu-img", "check", "t.img"], 3, output)
    text = str(err)
    assert text.startswith("command failed (exit code 3): qemu-img check t.img")
    assert "line 49" in text
    assert "line 29" not in text
    assert "killed by signal 11" in str(errors.CommandError(["x"], -11, ""))
