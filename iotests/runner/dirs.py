"""Where one case's files live: its result directory, scratch and socket directories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CaseDirs:
    result: Path
    scratch: Path
    sock: Path

    @property
    def notrun_file(self) -> Path:
        return self.result / "notrun"

    @property
    def events_file(self) -> Path:
        return self.result / "events.jsonl"

    @property
    def valgrind_dir(self) -> Path:
        return self.result / "valgrind"
