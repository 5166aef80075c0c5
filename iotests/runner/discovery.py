"""Finding cases on disk and deciding how each one is executed."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from iotests.errors import UsageError
from iotests.runner.header import CaseHeader, read_header

#: Case files are numbers (``001``) or names (``nbd-fleecing``); no dots or suffixes.
CASE_NAME = re.compile(r"^(?:\d+|[a-z0-9][a-z0-9_-]*)$")


@dataclass(frozen=True)
class Case:
    """One discovered test case."""

    name: str
    path: Path
    header: CaseHeader
    #: The directory holding this case's golden outputs.
    expected_dir: Path

    @property
    def groups(self) -> frozenset[str]:
        return self.header.groups

    def command(self) -> list[str]:
        """The argv that runs this case.

        Python cases run under the runner's own interpreter so that the
        iotests package is importable whatever the shebang says.
        """
        with self.path.open("rb") as f:
            first = f.readline(256).decode(errors="replace")
        if first.startswith("#!") and "python" in first:
            return [sys.executable, "-u", str(self.path)]
        if first.startswith("#!") and "bash" in first:
            return ["bash", str(self.path)]
        return [str(self.path)]


def sort_key(name: str) -> tuple[int, int, str]:
    """Numbered cases first in numeric order, then named ones alphabetically."""
    if name.isdigit():
        return (0, int(name), name)
    return (1, 0, name)


def discover(cases_dir: Path, expected_dir: Path) -> list[Case]:
    """Every case in *cases_dir*, sorted, with its parsed header.

    :raises UsageError: when *cases_dir* or *expected_dir* does not exist
        (a typo there would fail every case, or none would be found).
    :raises CaseHeaderError: when a case's header is malformed.
    """
    if not cases_dir.is_dir():
        raise UsageError(f"cases directory not found: {cases_dir}")
    if not expected_dir.is_dir():
        raise UsageError(f"expected-output directory not found: {expected_dir}")
    found = [
        Case(p.name, p, read_header(p), expected_dir)
        for p in cases_dir.iterdir()
        if p.is_file() and CASE_NAME.match(p.name)
    ]
    return sorted(found, key=lambda c: sort_key(c.name))
