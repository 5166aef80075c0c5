"""Running QEMU's tools from a case: valgrind wrapping, crash records, stable output."""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from iotests import command
from iotests.lib.env import case_env
from iotests.lib.output import format_neutral


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _wrap(argv: list[str]) -> list[str]:
    env = case_env()
    if not env.valgrind or env.valgrind_dir is None:
        return argv
    env.valgrind_dir.mkdir(parents=True, exist_ok=True)
    return [
        "valgrind",
        "--quiet",
        "--leak-check=no",
        "--error-exitcode=0",
        f"--log-file={env.valgrind_dir}/%p.log",
        *argv,
    ]


def _record_crash(argv: Sequence[str], returncode: int) -> None:
    events = case_env().events_file
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = str(-returncode)
    event = {"event": "crash", "program": argv[0].rsplit("/", 1)[-1], "signal": name}
    if events is not None:
        with events.open("a") as f:
            f.write(json.dumps(event) + "\n")


def qemu_tool(
    role: str,
    args: Sequence[str],
    *,
    quiet: bool = False,
    timeout: float | None = 300,
    input: str | None = None,  # noqa: A002 - mirrors subprocess
    expect_signal: bool = False,
) -> ToolResult:
    """Run a QEMU binary by role and, unless *quiet*, print its output.

    A non-zero exit is printed as ``[<tool> exit code N]`` so that a golden
    file records which commands are expected to fail. A process killed by a
    signal is recorded as a crash, which fails the case whatever its output,
    unless *expect_signal* (the case kills it on purpose).
    """
    prog = case_env().prog(role)
    argv = _wrap([prog, *args])
    result = command.run(argv, timeout=timeout, input=input, check=False)
    name = prog.rsplit("/", 1)[-1]
    if result.returncode < 0 and not expect_signal:
        _record_crash(argv, result.returncode)
    out = format_neutral(result.output)
    if not quiet:
        if out:
            print(out, end="" if out.endswith("\n") else "\n", flush=True)
        if result.returncode:
            print(f"[{name} exit code {result.returncode}]", flush=True)
    return ToolResult(result.argv, result.returncode, out)


def qemu_img(*args: str, quiet: bool = False) -> ToolResult:
    """``qemu-img ARGS``."""
    return qemu_tool("qemu-img", args, quiet=quiet)


def qemu_io_args(image: str, fmt: str | None, image_opts: bool, extra: Sequence[str]) -> list[str]:
    env = case_env()
    args = ["--cache", env.cachemode, "--aio", env.aiomode]
    if env.misalign:
        args.append("--misalign")
    if image_opts:
        args.append("--image-opts")
    else:
        args += ["-f", fmt or env.imgfmt]
    return [*args, *extra, image]


def qemu_io(
    image: str,
    *commands: str,
    fmt: str | None = None,
    image_opts: bool = False,
    extra: Sequence[str] = (),
    quiet: bool = False,
) -> ToolResult:
    """Run qemu-io *commands* (``-c`` each, in order) against *image*.

    :param fmt: the image's format (default: the format under test).
    :param image_opts: *image* is an ``--image-opts`` string.
    """
    cmd_args = [a for c in commands for a in ("-c", c)]
    if image_opts:
        return qemu_tool(
            "qemu-io", [*cmd_args, *qemu_io_args(image, fmt, True, extra)], quiet=quiet
        )
    from iotests.lib.protocol import guest_view

    with guest_view(image, fmt or case_env().imgfmt) as (target, target_fmt):
        args = qemu_io_args(target, target_fmt, False, extra)
        return qemu_tool("qemu-io", [*cmd_args, *args], quiet=quiet)
