"""Writing byte patterns into an image and verifying them back.

A case states what each region of the guest disk should hold as
``(pattern, offset, length)`` triples; :func:`verify` reads every region
with ``qemu-io read -P`` and prints one ``ok:``/``FAIL:`` line, so a wrong
byte anywhere fails the case while the golden file stays short.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from iotests.lib.output import check, log
from iotests.lib.protocol import qemu_io
from iotests.lib.tools import ToolResult

#: One region of the guest disk: (byte pattern, offset, length); sizes as int or "64k".
Region = tuple[int, int | str, int | str]

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgtb]?)(?:i?b)?\s*$", re.I)


def parse_size(value: int | str) -> int:
    """Bytes in a qemu-style size: ``4096``, ``"64k"``, ``"1M"``, ``"2G"``.

    :raises ValueError: for anything else (fractions and negative sizes too).
    """
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative size {value}")
        return value
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"not a size: {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def io_commands(verb: str, regions: Iterable[Region], *flags: str) -> list[str]:
    """qemu-io commands (``write -P 0x11 0 65536``) for *regions*."""
    extra = "".join(f" {f}" for f in flags)
    return [
        f"{verb}{extra} -P 0x{pattern:02x} {parse_size(off)} {parse_size(length)}"
        for pattern, off, length in regions
    ]


def describe(regions: Sequence[Region]) -> str:
    """``0x11@0+65536, 0x22@65536+512``: regions in one short, exact line."""
    return ", ".join(
        f"0x{pattern:02x}@{parse_size(off)}+{parse_size(length)}"
        for pattern, off, length in regions
    )


def write(
    image: str, *regions: Region, fmt: str | None = None, flags: Sequence[str] = ()
) -> ToolResult:
    """Write each region's pattern with qemu-io, print one summary line.

    :param flags: extra ``write`` flags (``-v`` vectored is not a flag: use
        :func:`iotests.lib.qemu_io` with ``writev`` for that).
    :raises ToolError: when a write fails (a setup step: the case cannot go on).
    """
    result = qemu_io(image, *io_commands("write", regions, *flags), fmt=fmt, quiet=True)
    result.require()
    log(f"wrote {describe(regions)}")
    return result


def verify(
    image: str,
    *regions: Region,
    fmt: str | None = None,
    image_opts: bool = False,
    extra: Sequence[str] = (),
    what: str | None = None,
) -> bool:
    """Read every region back with ``read -P`` and assert all match.

    Prints ``ok: <what>`` or ``FAIL: <what>`` plus qemu-io's complaint, so
    one wrong byte fails the case. Returns whether everything matched.

    :param extra: more qemu-io options (``("-r",)`` for read-only formats).
    """
    result = qemu_io(
        image,
        *io_commands("read", regions),
        fmt=fmt,
        image_opts=image_opts,
        extra=extra,
        quiet=True,
    )
    good = result.ok and "Pattern verification failed" not in result.output
    if not good:
        log(result.output.rstrip())
    check(good, what or f"reads back {describe(regions)}")
    return good
