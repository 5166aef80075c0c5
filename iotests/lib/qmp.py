"""A QEMU process driven over QMP: qemu-storage-daemon or the system emulator.

Cases talk to a live block layer through :class:`QMPServer`. The case's side
listens on a Unix socket in SOCK_DIR and QEMU connects to it, so there is no
window where the case polls for QEMU's socket to appear: QEMU is ready when
its greeting arrives. Commands and replies are printed as sorted JSON (the
runner then filters paths and timestamps), events are kept in a backlog so
that waiting for one never loses another, and the process is always shut
down and reaped when the ``with`` block ends, whatever the case did.

The QMP protocol itself is the ``qemu.qmp`` package's (its synchronous
``legacy`` shim); nothing here parses QMP by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from qemu.qmp.legacy import QEMUMonitorProtocol

from iotests.lib.env import case_env, notrun
from iotests.lib.errors import QMPCommandError, QMPTimeout, ServerError
from iotests.lib.output import log, log_json
from iotests.lib.process import ManagedProcess

Kind = Literal["qsd", "qemu"]
#: A QMP message (command, reply or event) as a JSON object.
Message = dict[str, Any]
#: Rewrites a reply or event before it is printed (e.g. to drop volatile fields).
Filter = Callable[[Any], Any]

_counter = itertools.count()


def drop_keys(value: Any, keys: Sequence[str]) -> Any:
    """*value* with every dict entry named in *keys* removed, at any depth.

    Used to keep volatile fields (offsets of a running job, generated node
    names) out of goldens while the stable rest of a reply is still shown.
    """
    if isinstance(value, dict):
        return {k: drop_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [drop_keys(v, keys) for v in value]
    return value


def server_argv(kind: Kind, prog: str, socket: str, extra: Sequence[str]) -> list[str]:
    """Command line of a server that connects its QMP monitor to *socket*."""
    chardev = f"socket,id=qmp0,path={socket}"
    if kind == "qsd":
        return [prog, "--chardev", chardev, "--monitor", "chardev=qmp0", *extra]
    return [
        prog,
        "-machine",
        "none",
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-chardev",
        chardev,
        "-mon",
        "chardev=qmp0,mode=control",
        *extra,
    ]


class QMPServer(ManagedProcess):
    """A managed qemu-storage-daemon (``kind="qsd"``) or system emulator (``"qemu"``).

    Use it as a context manager::

        with lib.QMPServer("qsd", ["--blockdev", "..."]) as qsd:
            qsd.qmp("block-dirty-bitmap-add", node="n0", name="b0")

    :param kind: which binary; a missing one makes the case "not run".
    :param args: extra command-line arguments.
    :param name: a label used in socket and log file names.
    :param quiet: do not print commands and replies (they are still checked).

    When the server is reaped, how it ended is judged: death by a signal the
    case did not send (:meth:`kill`), or a sanitizer report, assertion or
    crash message in its log, is recorded as evidence that fails the case.
    Under ``--valgrind`` it runs under valgrind like every tool.
    """

    def __init__(
        self,
        kind: Kind = "qsd",
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        quiet: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.kind: Kind = kind
        self.args = list(args)
        self.name = name or f"{kind}{next(_counter)}"
        self.quiet = quiet
        env = case_env()
        prog = env.prog("qsd" if kind == "qsd" else "qemu")
        super().__init__(prog, env.test_dir / f"{self.name}.log", timeout=timeout)
        self.socket = str(env.sock_dir / f"{self.name}.qmp")
        self._qmp: QEMUMonitorProtocol | None = None
        self._backlog: list[Message] = []
        #: ``(socket, port)`` of its NBD server once started (one per QMP server).
        self.nbd_address: tuple[str | None, int | None] | None = None
        #: Writable exports :func:`iotests.lib.protocol.guest_io` added for the "guest".
        self.io_exports: set[str] = set()

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> QMPServer:
        self.launch()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        if exc is not None and self.output().strip():
            # The case is failing: what the server said is often the reason.
            print(f"--- {self.name} output ---\n{self.output().rstrip()}", file=sys.stderr)

    def launch(self) -> None:
        """Start the server and wait (with a timeout) for its QMP greeting."""
        Path(self.socket).unlink(missing_ok=True)
        qmp = QEMUMonitorProtocol(self.socket, server=True, nickname=self.name)
        self._qmp = qmp
        self._spawn(server_argv(self.kind, self.prog, self.socket, self.args), append=True)
        try:
            qmp.accept(timeout=self.timeout)
        except Exception as exc:
            self.shutdown()
            text = self.output().strip()
            if "invalid accelerator" in text or "not supported" in text:
                notrun(f"{Path(self.prog).name} cannot start: {text.splitlines()[-1]}")
            raise ServerError(f"{self.name} did not start: {text or exc}", output=text) from exc
        qmp.settimeout(self.timeout)

    def shutdown(self, *, timeout: float = 10.0) -> int | None:
        """Ask the server to quit, then reap it; kill it if it does not go.

        Safe to call twice and after the server died. Returns its exit code.
        """
        qmp, self._qmp = self._qmp, None
        if qmp is not None:
            if self.is_running():
                with contextlib.suppress(Exception):
                    qmp.cmd_obj({"execute": "quit"})
            with contextlib.suppress(Exception):
                qmp.close()
        self._reap(timeout)
        Path(self.socket).unlink(missing_ok=True)
        return self.exitcode

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would; then reap it.

        The SIGKILL is the case's own doing, so the death it causes is no crash.
        """
        self._signal(signal.SIGKILL)
        self.shutdown()

    def _close(self) -> None:
        self.shutdown()

    # -- commands ----------------------------------------------------------

    @property
    def monitor(self) -> QEMUMonitorProtocol:
        if self._qmp is None:
            raise ServerError(f"{self.name} is not running")
        return self._qmp

    def qmp(
        self,
        cmd: str,
        args: Mapping[str, Any] | None = None,
        *,
        quiet: bool | None = None,
        filter: Filter | None = None,  # noqa: A002 - the natural name here
        **kwargs: Any,
    ) -> Message:
        """Send *cmd* with *args* (a dict, or keyword arguments) and return the reply.

        Both the command and the reply are printed unless *quiet*; an error
        reply is returned, not raised, so goldens can show expected errors
        (use :meth:`ok` where an error is a failure). Underscores in keyword
        names become dashes, QMP's spelling.
        """
        arguments = dict(args or {})
        arguments.update({k.replace("_", "-"): v for k, v in kwargs.items()})
        msg: Message = {"execute": cmd}
        if arguments:
            msg["arguments"] = arguments
        show = not (self.quiet if quiet is None else quiet)
        if show:
            log_json(msg)
        reply = self._collect(self.monitor.cmd_obj(msg))
        if show:
            log_json(filter(reply) if filter else reply)
        return reply

    def ok(
        self,
        cmd: str,
        args: Mapping[str, Any] | None = None,
        *,
        quiet: bool | None = None,
        filter: Filter | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> Any:
        """Like :meth:`qmp` but return the ``return`` value.

        :raises QMPCommandError: when QEMU answers with an error.
        """
        reply = self.qmp(cmd, args, quiet=quiet, filter=filter, **kwargs)
        if "error" in reply:
            raise QMPCommandError(cmd, reply)
        return reply.get("return")

    def hmp(self, command_line: str) -> str:
        """An HMP command through QMP (system emulator only); its text output."""
        result = self.ok("human-monitor-command", quiet=True, command_line=command_line)
        return str(result)

    def _collect(self, reply: Message) -> Message:
        # cmd_obj returns only the reply; events that arrived meanwhile queue up inside
        # qemu.qmp and are moved to our backlog, in arrival order.
        self._drain()
        return reply

    def _drain(self) -> None:
        for event in self.monitor.get_events(wait=False):
            self._backlog.append(event)

    # -- events ------------------------------------------------------------

    def events(self) -> list[Message]:
        """Every event received so far and not yet consumed; consumes them."""
        self._drain()
        events, self._backlog = self._backlog, []
        return events

    def event_wait(
        self,
        name: str,
        match: Mapping[str, Any] | None = None,
        *,
        timeout: float = 30.0,
    ) -> Message:
        """The first event called *name* whose ``data`` contains *match*; consumes it.

        Other events stay in the backlog for later waits.

        :raises QMPTimeout: when no such event arrives within *timeout* seconds.
        """
        found = self._take(name, match)
        if found is not None:
            return found
        loop = asyncio.get_event_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise QMPTimeout(f"{self.name}: no {name} event {dict(match or {})} in {timeout}s")
            try:
                event = self.monitor.pull_event(wait=float(remaining))
            except TimeoutError:
                continue
            if event is not None:
                self._backlog.append(event)
                found = self._take(name, match)
                if found is not None:
                    return found

    def _take(self, name: str, match: Mapping[str, Any] | None) -> Message | None:
        self._drain()
        for i, event in enumerate(self._backlog):
            if event.get("event") == name and _matches(event.get("data", {}), match or {}):
                return self._backlog.pop(i)
        return None

    def log_event(self, event: Message, *, filter: Filter | None = None) -> None:  # noqa: A002
        """Print an event without its timestamp (QEMU's clock is never stable)."""
        shown = {k: v for k, v in event.items() if k != "timestamp"}
        log_json(filter(shown) if filter else shown)

    # -- conveniences used by many cases ------------------------------------

    def node_names(self) -> list[str]:
        """Names of the named block nodes, sorted; generated (``#block``) names left out."""
        nodes = self.ok("query-named-block-nodes", quiet=True, flat=True)
        return sorted(n["node-name"] for n in nodes if not n["node-name"].startswith("#"))

    def bitmaps(self, node: str) -> list[dict[str, Any]]:
        """The dirty bitmaps of *node* as QEMU reports them, sorted by name."""
        for n in self.ok("query-named-block-nodes", quiet=True, flat=True):
            if n["node-name"] == node:
                found: list[dict[str, Any]] = n.get("dirty-bitmaps", [])
                return sorted(found, key=lambda b: str(b["name"]))
        raise KeyError(node)

    def bitmap(self, node: str, name: str) -> dict[str, Any] | None:
        for b in self.bitmaps(node):
            if b["name"] == name:
                return b
        return None


def _matches(data: Any, match: Mapping[str, Any]) -> bool:
    return isinstance(data, dict) and all(data.get(k) == v for k, v in match.items())


@contextlib.contextmanager
def qsd(*args: str, name: str | None = None, quiet: bool = False) -> Iterator[QMPServer]:
    """A qemu-storage-daemon with *args*, shut down and reaped on exit."""
    with QMPServer("qsd", args, name=name, quiet=quiet) as server:
        yield server


def blockdev(node: str, filename: str, fmt: str | None = None, **options: Any) -> dict[str, Any]:
    """``blockdev-add`` arguments for a format node *node* over a file node ``<node>-file``."""
    spec: dict[str, Any] = {
        "driver": fmt or case_env().imgfmt,
        "node-name": node,
        "file": {"driver": "file", "filename": filename, "node-name": f"{node}-file"},
    }
    spec.update({k.replace("_", "-"): v for k, v in options.items()})
    return spec


def blockdev_arg(spec: Mapping[str, Any]) -> list[str]:
    """``--blockdev`` command-line arguments for a blockdev-add *spec* (JSON syntax)."""
    return ["--blockdev", json.dumps(spec, sort_keys=True)]


def log_bitmaps(server: QMPServer, node: str, *, fields: Sequence[str] = ()) -> None:
    """Print *node*'s bitmaps: name, count, granularity, recording, persistent, busy.

    *fields* narrows what is printed; volatile fields stay out by default.
    """
    shown = fields or ("name", "count", "granularity", "recording", "persistent", "busy")
    bitmaps = server.bitmaps(node)
    if not bitmaps:
        log(f"{node}: no bitmaps")
    for b in bitmaps:
        log_json({k: b[k] for k in shown if k in b})
