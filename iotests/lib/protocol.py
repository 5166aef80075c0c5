"""How the guest-visible side of a test image is reached for the run's protocol.

With ``file`` a case's qemu-io talks to the image file directly. With
``nbd`` the image is served by qemu-nbd (in its own format, ``-f IMGFMT``)
on a Unix socket in SOCK_DIR and qemu-io opens the export as raw, the way
QEMU's own iotests run their ``-nbd`` mode: every guest read and write then
crosses the NBD protocol, while metadata checks still look at the file.
One server per qemu-io call keeps each call independent (a case may
reopen, convert or check the image between calls) and leaves nothing
running between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iotests.lib.env import case_env

#: Protocols :func:`guest_view` can serve.
SUPPORTED = ("file", "nbd")


@contextmanager
def guest_view(image: str, fmt: str) -> Iterator[tuple[str, str]]:
    """Yield ``(target, format)`` for qemu-io to open *image* (of format *fmt*)."""
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
        from iotests.lib.nbd import QemuNBD

        # Discards reach the image as a guest's would (qemu-nbd ignores them by default).
        with QemuNBD(image, fmt or None, extra=["--discard=unmap"]) as server:
            yield server.uri, "raw"
        return
    from iotests.lib.output import notrun

    notrun(f"protocol {proto} is not implemented by the case library")
