"""Output normalisation: pure functions that remove what changes between runs.

Each filter takes text and returns text. :func:`standard_filters` builds the
chain the runner applies to every case's output before comparing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import reduce

from iotests.runner.sanitizers import strip_noise

Filter = Callable[[str], str]

# qemu-io's per-command timing line, e.g.
# "64 KiB, 1 ops; 00.00 sec (28.531 MiB/sec and 456.4993 ops/sec)"
_QEMU_IO_RATE = re.compile(
    r"(?P<size>[\d.]+ (?:bytes|[KMGTPE]iB)), (?P<ops>\d+) ops; "
    # under a second "00.25 sec"; from one second on "0:00:02.98" and no unit
    r"(?:[\d:.]+ sec|\d+:\d\d:\d\d\.\d+) \([\d.]+ [A-Za-z/]+ and [\d.]+ ops/sec\)"
)
_QEMU_IO_RATE_OUT = r"\g<size>, \g<ops> ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)"

# QMP event timestamps: {"seconds": 1700000000, "microseconds": 123456}
_QMP_TIMESTAMP = re.compile(r'"timestamp":\s*\{\s*"seconds":\s*\d+,\s*"microseconds":\s*\d+\s*\}')
_QMP_TIMESTAMP_OUT = '"timestamp": {"seconds": "SECS", "microseconds": "USECS"}'

# "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" and the like.
_VERSION = re.compile(
    r"(?P<tool>qemu-[a-z-]+|QEMU emulator|QEMU|qemu-storage-daemon)(?: version)? "
    r"\d+\.\d+\.\d+[^\s]*(?: \([^)]*\))?"
)

_ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\b")
_SNAPSHOT_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\s+\d{2,}:\d{2}:\d{2}\.\d{3}\b")


def qemu_io_rates(text: str) -> str:
    """Replace qemu-io's throughput and timing figures."""
    return _QEMU_IO_RATE.sub(_QEMU_IO_RATE_OUT, text)


def qmp_timestamps(text: str) -> str:
    """Replace the timestamps QEMU puts in every QMP event."""
    return _QMP_TIMESTAMP.sub(_QMP_TIMESTAMP_OUT, text)


def versions(text: str) -> str:
    """Replace QEMU version strings, keeping the tool name."""
    return _VERSION.sub(r"\g<tool> version X.Y.Z", text)


def timestamps(text: str) -> str:
    """Replace wall-clock dates and times (snapshot tables, logs)."""
    text = _SNAPSHOT_DATE.sub("yyyy-mm-dd hh:mm:ss 0000:00:00.000", text)
    return _ISO_TIME.sub("yyyy-mm-dd hh:mm:ss", text)


def paths(replacements: Sequence[tuple[str, str]]) -> Filter:
    """Replace each path with its placeholder, longest path first.

    Only whole path prefixes are replaced, so ``/tmp/a`` does not rewrite
    ``/tmp/ab``.
    """
    ordered = sorted((r for r in replacements if r[0]), key=lambda r: -len(r[0]))
    patterns = [(re.compile(re.escape(p.rstrip("/")) + r"(?=/|\b|$)"), name) for p, name in ordered]

    def apply(text: str) -> str:
        for pattern, name in patterns:
            text = pattern.sub(name, text)
        return text

    return apply


def trailing_whitespace(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))


def chain(filters: Iterable[Filter]) -> Filter:
    fs = list(filters)
    return lambda text: reduce(lambda acc, f: f(acc), fs, text)


def standard_filters(path_map: Sequence[tuple[str, str]]) -> Filter:
    """The chain applied to every case's output, in this order."""
    return chain(
        [
            strip_noise,
            paths(path_map),
            qemu_io_rates,
            qmp_timestamps,
            versions,
            timestamps,
            trailing_whitespace,
        ]
    )
