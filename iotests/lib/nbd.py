"""NBD servers and clients for cases: qemu-nbd, exports from QMP servers, URIs.

qemu-nbd writes its ``--pid-file`` only once its socket listens, so
:class:`QemuNBD` is ready when that file appears (polled, with a timeout),
never after a guessed sleep. TCP servers bind 127.0.0.1 only, on a port
that was free a moment before; if another process takes it in between,
qemu-nbd fails to bind and is started again on a new port.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from iotests import command
from iotests.lib.env import case_env
from iotests.lib.image import img_map, merge_ranges
from iotests.lib.output import log
from iotests.lib.qmp import QMPServer
from iotests.lib.tools import (
    ToolResult,
    judge_exit,
    judge_output,
    program_name,
    qemu_img,
    qemu_io,
    unwatch,
    watch,
    wrap,
)

LOOPBACK = "127.0.0.1"
_counter = itertools.count()


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on *host* that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def unix_uri(sock: str, export: str = "") -> str:
    """``nbd+unix:///EXPORT?socket=SOCK``."""
    return f"nbd+unix:///{export}?socket={sock}"


def tcp_uri(port: int, export: str = "", host: str = LOOPBACK) -> str:
    """``nbd://HOST:PORT/EXPORT``."""
    return f"nbd://{host}:{port}/{export}"


def image_opts(
    *,
    sock: str | None = None,
    port: int | None = None,
    export: str = "",
    bitmap: str | None = None,
    context: str | None = None,
    fmt: str = "raw",
) -> str:
    """An ``--image-opts`` string opening an NBD export, optionally through a meta context.

    With *bitmap* (``x-dirty-bitmap=qemu:dirty-bitmap:NAME``) or *context*
    (e.g. ``qemu:allocation-depth``), block status comes from that context:
    ``qemu-img map`` then shows the bitmap's dirty extents as
    ``"data": false`` and clean ones as ``"data": true``.
    """
    if sock is not None:
        parts = [f"driver={fmt}", "file.driver=nbd", "file.server.type=unix"]
        parts.append(f"file.server.path={sock}")
    elif port is not None:
        parts = [f"driver={fmt}", "file.driver=nbd", "file.server.type=inet"]
        parts += [f"file.server.host={LOOPBACK}", f"file.server.port={port}"]
    else:
        raise ValueError("image_opts needs sock or port")
    if export:
        parts.append(f"file.export={export}")
    meta = context or (f"qemu:dirty-bitmap:{bitmap}" if bitmap else None)
    if meta:
        parts.append(f"file.x-dirty-bitmap={meta}")
    return ",".join(parts)


def dirty_extents(mapping: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """``(start, length)`` of the dirty extents of a ``qemu-img map`` over a bitmap context.

    With ``x-dirty-bitmap`` QEMU reports a dirty extent as ``"data": false``;
    neighbouring dirty extents are merged.
    """
    return merge_ranges(
        (int(entry["start"]), int(entry["length"])) for entry in mapping if not entry["data"]
    )


class Endpoint:
    """Where a client finds an export: a Unix socket or a loopback port, and a name."""

    sock: str | None = None
    port: int | None = None
    export: str = ""

    @property
    def uri(self) -> str:
        if self.sock is not None:
            return unix_uri(self.sock, self.export)
        assert self.port is not None
        return tcp_uri(self.port, self.export)

    def image_opts(self, *, bitmap: str | None = None, context: str | None = None) -> str:
        return image_opts(
            sock=self.sock, port=self.port, export=self.export, bitmap=bitmap, context=context
        )


class QemuNBD(Endpoint):
    """A ``qemu-nbd`` serving *image*, reaped when the ``with`` block ends.

    :param fmt: the image's format (``-f``); None lets qemu-nbd probe.
    :param tcp: listen on 127.0.0.1 and a free port instead of a Unix socket.
    :param export: export name (``-x``); description (``-D``).
    :param read_only: ``--read-only``.
    :param shared: how many clients at once (``-e``); with *persistent*
        (``-t``) the server stays up after its last client leaves.
    :param bitmaps: dirty bitmaps to expose (``-B NAME`` each).
    :param extra: further qemu-nbd arguments.

    When the server is reaped, how it ended is judged: death by a signal
    that :meth:`stop` did not send, or a sanitizer report, assertion or
    crash message in its log, is recorded as evidence that fails the case.
    """

    def __init__(
        self,
        image: str,
        fmt: str | None = None,
        *,
        tcp: bool = False,
        export: str = "",
        description: str | None = None,
        read_only: bool = False,
        shared: int | None = None,
        persistent: bool = True,
        bitmaps: Sequence[str] = (),
        extra: Sequence[str] = (),
        image_opts: bool = False,
        timeout: float = 10.0,
    ) -> None:
        env = case_env()
        self.prog = env.prog("qemu-nbd")
        n = next(_counter)
        self.sock: str | None = None if tcp else str(env.sock_dir / f"nbd{n}.sock")
        self.port: int | None = None
        self.export = export
        self.pid_file = env.test_dir / f"qemu-nbd{n}.pid"
        self.log_file = env.test_dir / f"qemu-nbd{n}.log"
        # valgrind starts a QEMU binary several times slower.
        self.timeout = timeout * (5 if env.valgrind else 1)
        args: list[str] = []
        if image_opts:
            args.append("--image-opts")
        elif fmt is not None:
            args += ["-f", fmt]
        if export:
            args += ["-x", export]
        if description is not None:
            args += ["-D", description]
        if read_only:
            args.append("--read-only")
        if shared is not None:
            args += ["-e", str(shared)]
        if persistent:
            args.append("-t")
        for name in bitmaps:
            args += ["-B", name]
        self._args = [*args, *extra, image]
        self._proc: command.Process | None = None
        self.exitcode: int | None = None
        #: Signals sent on purpose to the running process: its death by one is no crash.
        self._sent: set[int] = set()

    def __enter__(self) -> QemuNBD:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def output(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        """Start qemu-nbd and return once it listens.

        :raises RuntimeError: when it exits first (its output is in the message)
            or is not listening within the timeout.
        """
        for _attempt in range(5):
            if self._launch():
                return
            if "Address already in use" not in self.output():
                break
        raise RuntimeError(f"qemu-nbd did not start: {self.output().strip()}")

    def _launch(self) -> bool:
        self.pid_file.unlink(missing_ok=True)
        self.log_file.unlink(missing_ok=True)
        if self.sock is not None:
            Path(self.sock).unlink(missing_ok=True)
            where = ["-k", self.sock]
        else:
            self.port = free_port()
            where = ["-b", LOOPBACK, "-p", str(self.port)]
        argv = wrap([self.prog, "--pid-file", str(self.pid_file), *where, *self._args])
        self._sent = set()
        with self.log_file.open("wb") as sink:
            self._proc = command.spawn(argv, stdout=sink, stderr=command.STDOUT)
        watch(self)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.pid_file.exists() and self.pid_file.read_text().strip():
                return True
            if self._proc.poll() is not None:
                self.stop()
                return False
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"qemu-nbd not listening after {self.timeout}s: {self.output()}")

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, *, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server (SIGTERM by default, SIGKILL to simulate a crash) and reap it.

        Death by *sig* is the case's own doing; death by any other signal
        (a SIGSEGV while handling the SIGTERM) is a crash.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return self.exitcode
        if proc.poll() is None:
            self._sent.add(sig)
            proc.signal_group(sig)
        code = proc.wait(max(5.0, self.timeout / 2))
        if code is None:
            self._sent.update((signal.SIGTERM, signal.SIGKILL))
            code = proc.kill_group()
        proc.close()
        self.exitcode = code
        self._judge(code)
        if self.sock is not None:
            Path(self.sock).unlink(missing_ok=True)
        return code

    def judge_if_exited(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self.stop()

    def _judge(self, code: int) -> None:
        unwatch(self)
        name = program_name(self.prog)
        judge_exit(name, code, sent=self._sent)
        judge_output(name, self.output(), source=self.log_file.name)

    def wait(self, timeout: float = 10.0) -> int | None:
        """Wait for a non-persistent server to exit by itself after its client left."""
        if self._proc is None:
            return self.exitcode
        code = self._proc.wait(timeout)
        if code is not None:
            self.stop()
        return code


class QMPExport(Endpoint):
    """An NBD export of a node of a QMP server (``nbd-server-start`` + ``block-export-add``).

    Starts the server's NBD server on a Unix socket in SOCK_DIR (or TCP on
    loopback) the first time; removes the export when the block ends.
    """

    def __init__(
        self,
        server: QMPServer,
        node: str,
        export: str | None = None,
        *,
        writable: bool = False,
        bitmaps: Sequence[str] = (),
        description: str | None = None,
        allocation_depth: bool = False,
        tcp: bool = False,
        quiet: bool | None = None,
    ) -> None:
        self.server = server
        self.node = node
        self.export = export if export is not None else node
        # Export ids are QMP identifiers; export names may hold anything.
        self.id = "exp-" + (re.sub(r"[^A-Za-z0-9_-]", "_", self.export) or f"{node}-default")
        self.quiet = quiet
        args: dict[str, Any] = {
            "type": "nbd",
            "id": self.id,
            "node-name": node,
            "name": self.export,
            "writable": writable,
        }
        if bitmaps:
            args["bitmaps"] = list(bitmaps)
        if description is not None:
            args["description"] = description
        if allocation_depth:
            args["allocation-depth"] = True
        self._args = args
        self._tcp = tcp
        self.sock: str | None = None
        self.port: int | None = None

    def __enter__(self) -> QMPExport:
        self.sock, self.port = start_nbd_server(self.server, tcp=self._tcp, quiet=self.quiet)
        self.server.ok("block-export-add", self._args, quiet=self.quiet)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.server.is_running():
            with contextlib.suppress(Exception):
                self.server.qmp("block-export-del", id=self.id, quiet=True)
                self.server.event_wait("BLOCK_EXPORT_DELETED", {"id": self.id}, timeout=10.0)


def start_nbd_server(
    server: QMPServer, *, tcp: bool = False, quiet: bool | None = None
) -> tuple[str | None, int | None]:
    """Start *server*'s NBD server once (idempotent); return its ``(socket, port)``.

    ``nbd-server-start`` takes the legacy socket address form (``data``).
    """
    if server.nbd_address is not None:
        return server.nbd_address
    if tcp:
        port = free_port()
        addr: dict[str, Any] = {"type": "inet", "data": {"host": LOOPBACK, "port": str(port)}}
        result: tuple[str | None, int | None] = (None, port)
    else:
        sock = str(case_env().sock_dir / f"{server.name}-nbd.sock")
        addr = {"type": "unix", "data": {"path": sock}}
        result = (sock, None)
    server.ok("nbd-server-start", quiet=quiet, addr=addr)
    server.nbd_address = result
    return result


def node_io(server: QMPServer, node: str, *commands: str, quiet: bool = False) -> ToolResult:
    """Run qemu-io *commands* against *node* of a running QMP server: the "guest".

    qemu-storage-daemon has no guest and no HMP ``qemu-io``; writes reach a
    node the way a guest's would through a writable NBD export (``io-NODE``,
    added once and kept for the server's lifetime, not shown in the output).
    """
    export = f"io-{node}"
    if export not in server.io_exports:
        start_nbd_server(server, quiet=True)
        server.ok(
            "block-export-add",
            quiet=True,
            type="nbd",
            id=export,
            node_name=node,
            name=export,
            writable=True,
        )
        server.io_exports.add(export)
    sock, port = server.nbd_address or (None, None)
    opts = image_opts(sock=sock, port=port, export=export)
    return qemu_io(opts, *commands, image_opts=True, quiet=quiet)


def bitmap_extents(server: QMPServer, node: str, bitmap: str) -> list[tuple[int, int]]:
    """The dirty extents of *bitmap* of *node*, as a third-party NBD client learns them.

    The node is exported with the bitmap (writable while the bitmap still
    records, since QEMU refuses an enabled bitmap on a read-only export) and
    ``qemu-img map`` reads the ``qemu:dirty-bitmap:NAME`` context.
    """
    info = server.bitmap(node, bitmap)
    recording = bool(info and info.get("recording"))
    with QMPExport(
        server, node, f"map-{bitmap}", bitmaps=[bitmap], writable=recording, quiet=True
    ) as export:
        return dirty_extents(img_map(export.image_opts(bitmap=bitmap), image_opts=True))


def log_extents(extents: Sequence[tuple[int, int]], what: str = "dirty") -> None:
    """Print extents one a line as ``dirty: START+LENGTH``."""
    if not extents:
        log(f"{what}: none")
    for start, length in extents:
        log(f"{what}: {start}+{length}")


def release_io(server: QMPServer, node: str) -> None:
    """Remove the guest's export of *node* (see :func:`node_io`), e.g. before a filter
    that unshares writes on *node* (copy-before-write) takes the guest's place."""
    export = f"io-{node}"
    if export in server.io_exports:
        server.ok("block-export-del", quiet=True, id=export)
        server.event_wait("BLOCK_EXPORT_DELETED", {"id": export}, timeout=10.0)
        server.io_exports.discard(export)


def copy_extents(
    source: Endpoint, extents: Sequence[tuple[int, int]], target: str, target_fmt: str
) -> None:
    """Copy *extents* of an export into the same offsets of *target*, as a backup tool would.

    Each extent is read over NBD through a raw offset/size window (so only
    those bytes cross the wire) into a scratch file, then written into the
    target image with qemu-io.
    """
    window = ",".join(source.image_opts().split(",")[1:])  # the export, without "driver=raw"
    for start, length in extents:
        piece = str(case_env().test_dir / f"extent-{start}-{length}.raw")
        src = f"driver=raw,offset={start},size={length},{window}"
        qemu_img("convert", "--image-opts", src, "-O", "raw", piece, quiet=True).require()
        qemu_io(target, f"write -s {piece} {start} {length}", fmt=target_fmt, quiet=True)
        Path(piece).unlink()
