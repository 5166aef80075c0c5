"""Running QEMU's tools from a case: valgrind wrapping, crash records, stable output.

Also the one place that knows how an image is *opened* by a tool: most
formats need only ``-f FMT PATH``, but an encrypted image (luks) needs a
secret object and ``--image-opts``; :func:`open_args` hides that from cases
and from the image helpers alike.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Protocol

from iotests import command
from iotests.lib.env import case_env
from iotests.lib.output import format_neutral

#: The id and passphrase of the secret every helper passes for encrypted images.
SECRET_ID = "sec0"
SECRET_DATA = "iotests-passphrase"
#: Formats whose images cannot be opened without the secret.
ENCRYPTED_FORMATS = frozenset({"luks"})
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


class QemuToolError(RuntimeError):
    """A QEMU tool failed where the case needed it to succeed.

    Carries the command line and the tool's output, so the case's traceback
    says what was run and what QEMU said.
    """

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(
            f"{' '.join(argv)} exited with {returncode}:\n{output.rstrip()}"
            if output.strip()
            else f"{' '.join(argv)} exited with {returncode}"
        )
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output = output


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def require(self) -> ToolResult:
        """Return self, or raise :class:`QemuToolError` when the tool failed."""
        if not self.ok:
            raise QemuToolError(self.argv, self.returncode, self.output)
        return self


def wrap(argv: list[str]) -> list[str]:
    """*argv* under valgrind when the run asked for it (``--valgrind``), else as it is.

    Each process writes its own log, named after the program, into the
    directory the runner reads after the case: a valgrind error fails it.
    """
    env = case_env()
    if not env.valgrind or env.valgrind_dir is None:
        return argv
    env.valgrind_dir.mkdir(parents=True, exist_ok=True)
    return [
        "valgrind",
        "--quiet",
        "--leak-check=no",
        "--error-exitcode=0",
        f"--log-file={env.valgrind_dir}/{program_name(argv[0])}.%p.log",
        *argv,
    ]


# --- judging: what a QEMU process did that fails the case whatever it printed


def program_name(path: str) -> str:
    """The name a failure reason gives a program: its file name."""
    return path.rsplit("/", 1)[-1]


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def record_event(event: Mapping[str, object]) -> None:
    """Append *event* to the case's events file, which the runner judges after the case.

    One ``write`` per line on a file opened for appending, so servers
    reaped in threads and tools run at once never interleave their lines.
    Outside the runner (no events file) nobody would read it: nothing is written.
    """
    path = case_env().events_file
    if path is None:
        return
    with path.open("a") as f:
        f.write(json.dumps(event, sort_keys=True) + "\n")


def judge_exit(program: str, returncode: int | None, *, sent: Collection[int] = ()) -> bool:
    """Record a crash when *program* died by a signal that is not in *sent*.

    *sent* holds the signals the case (or the library on its behalf) sent on
    purpose: a SIGKILL that simulates a crash, the SIGTERM that stops a
    qemu-nbd. A SIGSEGV or SIGABRT nobody sent is a crash even when it
    happens while the process is being stopped. Returns whether one was recorded.
    """
    if returncode is None or returncode >= 0 or -returncode in sent:
        return False
    record_event({"event": "crash", "program": program, "signal": signal_name(-returncode)})
    return True


class Watched(Protocol):
    """A long-running QEMU process the library started (a server)."""

    def judge_if_exited(self) -> None:
        """If the process has exited and nobody reaped it yet, reap and judge it."""


_watched: set[Watched] = set()


def watch(process: Watched) -> None:
    """Judge *process* when the case exits, if it died and the case never reaped it.

    A case that starts a server without ``with`` and never stops it would
    otherwise let a crash pass: the dead server is not left running, so
    the runner's reaper finds nothing. A server still running at exit is
    left alone: the reaper kills it and fails the case for leaving it.
    """
    _watched.add(process)


def unwatch(process: Watched) -> None:
    _watched.discard(process)


@atexit.register
def _judge_watched() -> None:
    for process in list(_watched):
        process.judge_if_exited()


def judge_output(program: str, text: str, *, source: str) -> list[str]:
    """Record every sanitizer report, QEMU assertion or crash message in *text*.

    The runner's detector (:func:`iotests.runner.compare.crash_reasons`,
    which knows sanitizer reports and their known noise) judges it, so a
    helper that does not print what a tool said still fails the case when
    the tool reported a bug. *source* says where the text came from (a log
    file's name, ``output``). Returns the reasons recorded.
    """
    from iotests.runner.compare import crash_reasons

    found = crash_reasons(text)
    for reason in found:
        record_event({"event": "finding", "program": program, "reason": reason, "source": source})
    return found


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
    out = format_neutral(_MISSING_MODULE.sub("", result.output))
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
        from iotests.lib.output import notrun

        notrun("QEMU has no crypto backend able to create luks headers")
    return result


def qemu_img(*args: str, quiet: bool = False) -> ToolResult:
    """``qemu-img ARGS``."""
    return qemu_tool("qemu-img", args, quiet=quiet)


# --- naming images: option strings, json: filenames, how a tool opens an image


def secret_object(secret_id: str = SECRET_ID, data: str = SECRET_DATA) -> list[str]:
    """``--object secret,...`` arguments defining the passphrase helpers use."""
    return ["--object", f"secret,id={secret_id},data={data}"]


def opts_string(options: Mapping[str, object]) -> str:
    """``key=value,...`` as QEMU parses it: commas inside values are doubled.

    Booleans become ``on``/``off``; nested dicts are flattened with dots
    (``{"file": {"filename": p}}`` gives ``file.filename=p``).
    """
    parts: list[str] = []

    def add(prefix: str, value: object) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                add(f"{prefix}.{key}" if prefix else str(key), sub)
            return
        text = ("on" if value else "off") if isinstance(value, bool) else str(value)
        parts.append(f"{prefix}={text.replace(',', ',,')}")

    add("", options)
    return ",".join(parts)


def json_filename(spec: Mapping[str, Any]) -> str:
    """A ``json:{...}`` pseudo-protocol filename for *spec* (keys kept in order)."""
    return "json:" + json.dumps(spec, separators=(",", ":"))


def node_options(path: str, fmt: str) -> dict[str, Any]:
    """Block options opening *path* as *fmt*, with the secret for encrypted formats."""
    opts: dict[str, Any] = {"driver": fmt}
    if fmt in ENCRYPTED_FORMATS:
        opts["key-secret"] = SECRET_ID
    opts["file"] = {"driver": "file", "filename": path}
    return opts


def image_opts(path: str, fmt: str) -> str:
    """The ``--image-opts`` string opening *path* as *fmt* (see :func:`node_options`)."""
    return opts_string(node_options(path, fmt))


def needs_secret(fmt: str, options: str = "") -> bool:
    """Whether a command on a *fmt* image (created with *options*) needs the secret."""
    return fmt in ENCRYPTED_FORMATS or "key-secret" in options


def open_args(path: str, fmt: str) -> list[str]:
    """Arguments (ending with the image) for a tool to open one image.

    ``-f FMT PATH`` for plain formats; the secret object, ``--image-opts``
    and an options string for encrypted ones. An empty *fmt* names no format
    (a ``json:`` filename carries its own driver); the secret is defined in
    case that filename refers to it.
    """
    if not fmt:
        return [*secret_object(), path]
    if fmt in ENCRYPTED_FORMATS:
        return [*secret_object(), "--image-opts", image_opts(path, fmt)]
    return ["-f", fmt, path]


def create_options(fmt: str) -> str:
    """Options a helper adds when creating a *fmt* image, so cases stay format-neutral.

    luks: the secret and a short PBKDF time (the default takes seconds).
    vpc: ``force_size``, so the virtual size is the one asked for instead of
    being rounded up to a CHS geometry.
    """
    if fmt in ENCRYPTED_FORMATS:
        return f"key-secret={SECRET_ID},iter-time=10"
    if fmt == "vpc":
        return "force_size=on"
    return ""


# --- qemu-io


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
    :param image_opts: *image* is an ``--image-opts`` string (the helpers'
        secret object is defined, so ``key-secret=sec0`` works in it).
    """
    cmd_args = [a for c in commands for a in ("-c", c)]
    if image_opts:
        return qemu_tool(
            "qemu-io", [*cmd_args, *qemu_io_args(image, fmt, True, extra)], quiet=quiet
        )
    from iotests.lib.protocol import guest_view

    with guest_view(image, case_env().imgfmt if fmt is None else fmt) as (target, target_fmt):
        args = qemu_io_args(target, target_fmt, False, extra)
        return qemu_tool("qemu-io", [*cmd_args, *args], quiet=quiet)


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
                raise QemuToolError(self._argv, -1, buf + "\n(no prompt: timed out)")
            chunk = self._read(min(left, 1.0))
            if chunk is None:
                break
            buf += chunk
        return format_neutral(buf.removesuffix(self._PROMPT).replace(self._PROMPT, ""))

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

    :raises QemuToolError: when qemu-io cannot open the image.
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
            raise QemuToolError(argv, proc.returncode or 1, opened)
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
