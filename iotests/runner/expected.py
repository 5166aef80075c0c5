"""Choosing the golden output file for a case.

The most specific variant that exists wins::

    NAME.out.<fmt>.<proto>, NAME.out.<cachemode>, NAME.out.<fmt>,
    NAME.out.<proto>, NAME.out
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Variant:
    fmt: str
    proto: str
    cachemode: str


def candidates(name: str, variant: Variant) -> list[str]:
    """File names to look for, most specific first (pure)."""
    base = f"{name}.out"
    return [
        f"{base}.{variant.fmt}.{variant.proto}",
        f"{base}.{variant.cachemode}",
        f"{base}.{variant.fmt}",
        f"{base}.{variant.proto}",
        base,
    ]


def choose(
    directory: Path,
    name: str,
    variant: Variant,
    exists: Callable[[Path], bool] = Path.is_file,
) -> Path | None:
    """The golden file for *name* in *directory*, or None when there is none."""
    for candidate in candidates(name, variant):
        path = directory / candidate
        if exists(path):
            return path
    return None
