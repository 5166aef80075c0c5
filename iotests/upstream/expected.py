"""Upstream's reference-output lookup (``TestRunner.find_reference`` in 7.2).

Order: ``NAME.out.nocache`` (only with cache mode none), ``NAME.out.<fmt>``,
``NAME.<default machine>.out``, ``NAME.out``. Unlike our suite, a test
without a reference is "not run", not failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def candidates(name: str, fmt: str, cachemode: str, machine: str) -> list[str]:
    """Reference file names, most specific first (pure)."""
    found = [f"{name}.out.nocache"] if cachemode == "none" else []
    found.append(f"{name}.out.{fmt}")
    if machine:
        found.append(f"{name}.{machine}.out")
    found.append(f"{name}.out")
    return found


def reference(
    directory: Path,
    name: str,
    fmt: str,
    cachemode: str,
    machine: str,
    exists: Callable[[Path], bool] = Path.is_file,
) -> Path | None:
    """The reference file for test *name* in *directory*, or None."""
    for candidate in candidates(name, fmt, cachemode, machine):
        if exists(directory / candidate):
            return directory / candidate
    return None
