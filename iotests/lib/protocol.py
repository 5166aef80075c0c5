"""How a case's I/O reaches the image: the guest's side of the run's protocol.

A case writes and reads "as a guest" in two ways, and both are here:

- :func:`qemu_io` on an image file. With ``file`` qemu-io talks to the
  image directly. With ``nbd`` the image is served by qemu-nbd (in its own
  format, ``-f IMGFMT``) on a Unix socket in SOCK_DIR and qemu-io opens the
  export as raw, the way QEMU's own iotests run their ``-nbd`` mode: every
  guest read and write then crosses the NBD protocol, while metadata checks
  still look at the file. One server per call keeps each call independent
  (a case may reopen, convert or check the image between calls) and leaves
  nothing running between them.
- :func:`guest_io` on a node of a running QMP server (qemu-storage-daemon
  has no guest and no HMP ``qemu-io``): the writes reach the node the way a
  guest's would, through a writable NBD export kept for the server's life.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from iotests.lib.env import case_env, notrun
from iotests.lib.exports import start_nbd_server
from iotests.lib.names import nbd_image_opts
from iotests.lib.nbdserver import QemuNBD
from iotests.lib.qmp import QMPServer
from iotests.lib.tools import ToolResult, run_qemu_io

#: Protocols :func:`guest_view` can serve.
SUPPORTED = ("file", "nbd")


@contextmanager
def guest_view(image: str, fmt: str) -> Iterator[tuple[str, str]]:
    """Yield ``(target, format)`` for qemu-io to open *image* (of format *fmt*).

    :raises NotRun: for a protocol the library does not implement.
    """
    proto = case_env().imgproto
    if proto == "file":
        yield image, fmt
        return
    if proto == "nbd":
        if image.startswith("json:") or not Path(image).is_file():
            # A json: filename or option string already says how to reach the
            # image; only a plain image file gets a server in front of it.
            yield image, fmt
            return
        # Discards reach the image as a guest's would (qemu-nbd ignores them by default).
        with QemuNBD(image, fmt or None, extra=["--discard=unmap"]) as server:
            yield server.uri, "raw"
        return
    notrun(f"protocol {proto} is not implemented by the case library")


def qemu_io(
    image: str,
    *commands: str,
    fmt: str | None = None,
    image_opts: bool = False,
    extra: Sequence[str] = (),
    quiet: bool = False,
) -> ToolResult:
    """Run qemu-io *commands* (``-c`` each, in order) against *image*, as the guest.

    :param fmt: the image's format (default: the format under test).
    :param image_opts: *image* is an ``--image-opts`` string, opened as it
        says (the helpers' secret object is defined, so ``key-secret=sec0``
        works in it).
    """
    if image_opts:
        return run_qemu_io(image, *commands, fmt=fmt, image_opts=True, extra=extra, quiet=quiet)
    with guest_view(image, case_env().imgfmt if fmt is None else fmt) as (target, target_fmt):
        return run_qemu_io(target, *commands, fmt=target_fmt, extra=extra, quiet=quiet)


def _guest_export(node: str) -> str:
    return f"io-{node}"


def guest_io(server: QMPServer, node: str, *commands: str, quiet: bool = False) -> ToolResult:
    """Run qemu-io *commands* against *node* of a running QMP server: the "guest".

    The export (``io-NODE``) is added once and kept for the server's life,
    not shown in the output. Attach the guest before a job inserts a filter
    above *node*, or write through the filter's node name, so writes go
    where a guest's would.
    """
    export = _guest_export(node)
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
    opts = nbd_image_opts(sock=sock, port=port, export=export)
    return run_qemu_io(opts, *commands, image_opts=True, quiet=quiet)


def release_guest(server: QMPServer, node: str) -> None:
    """Detach the guest of *node* (see :func:`guest_io`), e.g. before a filter
    that unshares writes on *node* (copy-before-write) takes the guest's place."""
    export = _guest_export(node)
    if export in server.io_exports:
        server.ok("block-export-del", quiet=True, id=export)
        server.event_wait("BLOCK_EXPORT_DELETED", {"id": export}, timeout=10.0)
        server.io_exports.discard(export)
