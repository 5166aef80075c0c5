"""Choosing the golden output file for a case.

The most specific variant that exists wins::

    NAME.out.<fmt>.<proto>, NAME.out.<cachemode>, NAME.out.<fmt>,
    NAME.out.<proto>, NAME.out

Each of those may have QEMU-version variants, ``NAME.out.qcow2.qemu-10.0``:
a version variant takes effect from that version on (``qemu-10.0`` for
10.0.0 and every later release, ``qemu-10.0.50`` for a master build after
10.0), and within one level the newest that the QEMU under test has reached
wins over the level's plain file. The format/protocol/cache-mode level is
chosen first: a version variant never overrides a more specific level's
file, since what a format does differently usually outlives a rewording.
When the version is unknown, only plain files are chosen.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from iotests.env.probe import Version, parse_version

_VERSIONED = re.compile(r"^(?P<level>.+)\.qemu-(?P<version>\d+\.\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Variant:
    fmt: str
    proto: str
    cachemode: str
    #: The QEMU under test (``Probe.qemu_version``); None: only plain goldens.
    qemu: Version | None = None


def _levels(name: str, variant: Variant) -> list[str]:
    base = f"{name}.out"
    return [
        f"{base}.{variant.fmt}.{variant.proto}",
        f"{base}.{variant.cachemode}",
        f"{base}.{variant.fmt}",
        f"{base}.{variant.proto}",
        base,
    ]


def candidates(name: str, variant: Variant, versioned: Iterable[str] = ()) -> list[str]:
    """File names to look for, most specific first (pure).

    *versioned* names the version variants that exist for *name*
    (``042.out.qemu-10.0``); those the QEMU under test has reached are put
    before their level's plain file, newest first.
    """
    reached: dict[str, list[tuple[Version, str]]] = {}
    for filename in versioned:
        match = _VERSIONED.match(filename)
        version = parse_version(match["version"]) if match else None
        if match and version is not None and variant.qemu is not None and version <= variant.qemu:
            reached.setdefault(match["level"], []).append((version, filename))
    found: list[str] = []
    for level in _levels(name, variant):
        found += [filename for _, filename in sorted(reached.get(level, ()), reverse=True)]
        found.append(level)
    return found


def _versioned_on_disk(directory: Path, name: str) -> list[str]:
    return [p.name for p in directory.glob(f"{glob.escape(name)}.out*.qemu-*")]


def choose(
    directory: Path,
    name: str,
    variant: Variant,
    exists: Callable[[Path], bool] = Path.is_file,
    versioned: Callable[[Path, str], Iterable[str]] = _versioned_on_disk,
) -> Path | None:
    """The golden file for *name* in *directory*, or None when there is none."""
    present = versioned(directory, name) if variant.qemu is not None else ()
    for candidate in candidates(name, variant, present):
        path = directory / candidate
        if exists(path):
            return path
    return None
