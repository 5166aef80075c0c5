"""Naming images and exports for QEMU's tools: option strings, ``json:``, secrets, NBD.

The one place that knows how an image is *named* on a command line: most
formats need only ``-f FMT PATH``, but an encrypted image (luks) needs a
secret object and ``--image-opts``; :func:`open_args` hides that from
cases and from the image helpers alike. An NBD export is named by a URI or
an ``--image-opts`` string (:class:`Endpoint`). Nothing here runs a
process or reads the case's environment: these are pure functions of
their arguments, at the bottom of the library.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

#: The id and passphrase of the secret every helper passes for encrypted images.
SECRET_ID = "sec0"
SECRET_DATA = "iotests-passphrase"
#: Formats whose images cannot be opened without the secret.
ENCRYPTED_FORMATS = frozenset({"luks"})
#: Where NBD servers listen: loopback only, never beyond the host.
LOOPBACK = "127.0.0.1"


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


def nbd_image_opts(
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
        raise ValueError("nbd_image_opts needs sock or port")
    if export:
        parts.append(f"file.export={export}")
    meta = context or (f"qemu:dirty-bitmap:{bitmap}" if bitmap else None)
    if meta:
        parts.append(f"file.x-dirty-bitmap={meta}")
    return ",".join(parts)


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
        return nbd_image_opts(
            sock=self.sock, port=self.port, export=self.export, bitmap=bitmap, context=context
        )
