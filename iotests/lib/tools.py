"""Running QEMU's tools from a case: one entry point, stable output, every run judged.

:func:`qemu_tool` is the one place a tool is run (through
:mod:`iotests.command`); it prints what the tool said and a
``[tool exit code N]`` line unless *quiet*, and judges the process however
quiet it was (:mod:`iotests.lib.evidence`). It returns a
:class:`ToolResult`, true when the tool succeeded; :meth:`ToolResult.require`
raises :class:`~iotests.lib.errors.ToolError` where the case cannot go on.

qemu-io here opens exactly the image it is given: :func:`run_qemu_io`. A
case's qemu-io goes through :func:`iotests.lib.protocol.qemu_io`, which
first decides how the guest reaches the image (file or NBD).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from iotests import command
from iotests.lib.env import case_env, notrun
from iotests.lib.errors import ToolError
from iotests.lib.evidence import judge_exit, judge_output, program_name, wrap
from iotests.lib.names import open_args, secret_object

#: QEMU 7.2's PBKDF benchmark fails at random on fast hosts with this message
#: (its CPU clock is too coarse for the first round); creating again works.
_PBKDF_FLAKE = "Unable to get accurate CPU usage"
_PBKDF_RETRIES = 20
#: Debian's QEMU 7.2 asks for optional modules its packages do not ship (the
#: dmg driver loads dmg-bz2 and dmg-lzfse on every open) and says so on
#: stderr; the line is about the installation, not the behaviour under test.
_MISSING_MODULE = re.compile(
    r"^qemu: module block-\S+ not found, do you want to install qemu-block-extra package\?\n",
    re.M,
)


@dataclass(frozen=True)
class ToolResult:
    """What a tool run by an action helper did: its command line, exit code and output.

    True when the tool succeeded, so ``lib.check(lib.convert(...), "...")``
    and ``if not lib.create(...)`` read as they did when actions returned bools.
    """

    argv: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __bool__(self) -> bool:
        return self.ok

    def require(self) -> ToolResult:
        """Return self, or raise :class:`~iotests.lib.errors.ToolError` when the tool failed."""
        if not self.ok:
            raise ToolError(self.argv, self.returncode, self.output)
        return self


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
    file records which commands are expected to fail. Quiet or not, what the
    tool printed is judged: a sanitizer report or an assertion in it, or a
    death by a signal, is recorded as evidence that fails the case whatever
    its output. *expect_signal* (the case kills the tool on purpose) excuses
    the signal, never a report.
    """
    prog = case_env().prog(role)
    argv = wrap([prog, *args])
    name = program_name(prog)
    for _ in range(_PBKDF_RETRIES):
        result = command.run(argv, timeout=timeout, input=input, check=False)
        judge_output(name, result.output, source="output")
        if not (result.returncode == 1 and _PBKDF_FLAKE in result.output):
            break
    if not expect_signal:
        judge_exit(name, result.returncode)
    out = _MISSING_MODULE.sub("", result.output)
    if not quiet:
        if out:
            print(out, end="" if out.endswith("\n") else "\n", flush=True)
        if result.returncode:
            print(f"[{name} exit code {result.returncode}]", flush=True)
    return ToolResult(result.argv, result.returncode, out)


#: What qemu-img says when built without a crypto library able to make luks headers.
_NO_CRYPTO = ("No crypto library supporting PBKDF", "Unsupported cipher mode")


def require_crypto(result: ToolResult) -> ToolResult:
    """End the case as "not run" when *result* failed for want of a crypto backend.

    A QEMU built without gnutls/nettle/gcrypt lists luks among its formats
    but cannot create a luks header; that is a missing capability, not a bug.
    """
    if not result.ok and any(text in result.output for text in _NO_CRYPTO):
        notrun("QEMU has no crypto backend able to create luks headers")
    return result


def qemu_img(*args: str, quiet: bool = False) -> ToolResult:
    """``qemu-img ARGS``."""
    return qemu_tool("qemu-img", args, quiet=quiet)


def qemu_io_args(image: str, fmt: str | None, image_opts: bool, extra: Sequence[str]) -> list[str]:
    env = case_env()
    args = ["--cache", env.cachemode, "--aio", env.aiomode]
    if env.misalign:
        args.append("--misalign")
    if image_opts:
        args += [*secret_object(), "--image-opts", *extra, image]
        return args
    target = open_args(image, env.imgfmt if fmt is None else fmt)
    return [*args, *target[:-1], *extra, target[-1]]


def run_qemu_io(
    target: str,
    *commands: str,
    fmt: str | None = None,
    image_opts: bool = False,
    extra: Sequence[str] = (),
    quiet: bool = False,
) -> ToolResult:
    """Run qemu-io *commands* (``-c`` each, in order) against exactly *target*.

    :param fmt: the image's format (default: the format under test).
    :param image_opts: *target* is an ``--image-opts`` string (the helpers'
        secret object is defined, so ``key-secret=sec0`` works in it).
    """
    cmd_args = [a for c in commands for a in ("-c", c)]
    return qemu_tool(
        "qemu-io", [*cmd_args, *qemu_io_args(target, fmt, image_opts, extra)], quiet=quiet
    )


class QemuIoSession:
    """A qemu-io process that keeps an image open while the case does other things.

    Commands are fed on stdin one at a time; :meth:`cmd` returns the output
    of one command. Used to hold an image (and its locks) open from another
    process. qemu-io's stdout is a pseudo-terminal, because into a pipe it
    would buffer its answers until it exits; the prompt it prints after
    each command marks the end of that command's output. Everything it
    printed, returned to the case or not, is judged when the session ends.
    """

    _PROMPT = "qemu-io> "

    def __init__(
        self,
        argv: Sequence[str],
        proc: command.Process,
        stdin: IO[bytes],
        master: int,
        *,
        program: str = "qemu-io",
    ) -> None:
        self._argv = tuple(argv)
        self.program = program
        self._proc = proc
        self._stdin = stdin
        self._master = master
        #: Everything read from qemu-io so far, for :meth:`judge`.
        self.transcript = ""

    def _read(self, timeout: float) -> str | None:
        """One chunk of output, "" when none came in *timeout*, None once qemu-io has gone."""
        import select

        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return ""
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # the pty reports EIO once qemu-io has exited
            return None
        if not chunk:
            return None
        text = chunk.decode(errors="replace").replace("\r", "")
        self.transcript += text
        return text

    def read_until_prompt(self, timeout: float = 60) -> str:
        """What qemu-io prints up to its next prompt (or until it exits)."""
        import time

        buf = ""
        deadline = time.monotonic() + timeout
        while not buf.endswith(self._PROMPT):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolError(self._argv, -1, buf + "\n(no prompt: timed out)")
            chunk = self._read(min(left, 1.0))
            if chunk is None:
                break
            buf += chunk
        return buf.removesuffix(self._PROMPT).replace(self._PROMPT, "")

    def cmd(self, line: str) -> str:
        """Run one qemu-io command and return what it printed."""
        with contextlib.suppress(BrokenPipeError):
            self._stdin.write(f"{line}\n".encode())
            self._stdin.flush()
        return self.read_until_prompt()

    def judge(self, *, sent: Collection[int] = ()) -> None:
        """Judge the ended qemu-io: what it printed up to its exit, and how it exited."""
        while self._read(0.5):
            pass
        # A report printed at exit follows the last prompt on its line.
        judge_output(self.program, self.transcript.replace(self._PROMPT, "\n"), source="output")
        judge_exit(self.program, self._proc.returncode, sent=sent)


@contextmanager
def qemu_io_session(
    image: str, *, fmt: str | None = None, extra: Sequence[str] = ()
) -> Iterator[QemuIoSession]:
    """Open *image* in a background qemu-io for the duration of the block.

    The image is known to be open when the block starts (a first command
    has completed); the process is ended (stdin closed, then killed if it
    hangs) when the block ends.

    :raises ToolError: when qemu-io cannot open the image.
    """
    import pty

    prog = case_env().prog("qemu-io")
    argv = wrap([prog, *qemu_io_args(image, fmt, False, extra)])
    read_end, write_end = os.pipe()
    master, slave = pty.openpty()
    try:
        proc = command.spawn(argv, stdin=read_end, stdout=slave, stderr=slave)
    finally:
        os.close(read_end)
        os.close(slave)
    stdin = os.fdopen(write_end, "wb")
    session = QemuIoSession(argv, proc, stdin, master, program=program_name(prog))
    try:
        opened = session.read_until_prompt()
        if proc.poll() is not None or "can't open" in opened:
            raise ToolError(argv, proc.returncode or 1, opened)
        yield session
    finally:
        with contextlib.suppress(BrokenPipeError):
            stdin.close()
        sent: tuple[int, ...] = ()
        if proc.wait(10) is None:
            sent = (signal.SIGTERM, signal.SIGKILL)
            proc.kill_group()
        session.judge(sent=sent)
        os.close(master)
