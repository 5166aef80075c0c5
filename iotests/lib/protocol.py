"""How the guest-visible side of a test image is reached for the run's protocol.

With ``file`` a case's qemu-io talks to the image file directly. Other
protocols (``nbd``: the image served by qemu-nbd) put a server between them;
:func:`guest_view` hides that from cases: it yields what qemu-io should open
and in which format.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from iotests.lib.env import case_env


@contextmanager
def guest_view(image: str, fmt: str) -> Iterator[tuple[str, str]]:
    """Yield ``(target, format)`` for qemu-io to open *image* (of format *fmt*)."""
    proto = case_env().imgproto
    if proto == "file":
        yield image, fmt
        return
    from iotests.lib.output import notrun

    notrun(f"protocol {proto} is not implemented by the case library yet")
