"""NBD exports of a QMP server's nodes: ``nbd-server-start`` and ``block-export-add``.

A server (qemu-storage-daemon or QEMU) runs one NBD server, started the
first time an export needs it, on a Unix socket in SOCK_DIR or on loopback;
each :class:`QMPExport` adds one export for the ``with`` block and removes
it (and waits until QEMU says so) when the block ends.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from iotests.lib.env import case_env
from iotests.lib.names import LOOPBACK, Endpoint, free_port
from iotests.lib.qmp import QMPServer


class QMPExport(Endpoint):
    """An NBD export of a node of a QMP server (``nbd-server-start`` + ``block-export-add``).

    Starts the server's NBD server on a Unix socket in SOCK_DIR (or TCP on
    loopback) the first time; removes the export when the block ends.

    :param bitmaps: dirty bitmaps to expose, each a name on *node* or
        ``{"node": ..., "name": ...}`` for a bitmap of another node.
    """

    def __init__(
        self,
        server: QMPServer,
        node: str,
        export: str | None = None,
        *,
        writable: bool = False,
        bitmaps: Sequence[str | Mapping[str, str]] = (),
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
