"""The manifest written beside every finished build: what was built, from what, how.

Its presence marks a build as complete (it is written last, atomically), so
the cache never mistakes a half-built tree for a usable one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iotests import fileio
from iotests.errors import BuildError

SCHEMA = 1


@dataclass(frozen=True)
class Manifest:
    """One finished build, as recorded in its ``manifest.json``."""

    key: str
    source: dict[str, Any]
    version: str
    profile: str
    configure: list[str]
    compiler: str
    ccache: bool
    #: Binary name -> path relative to the build tree.
    binaries: dict[str, str]
    build_dir: str
    source_dir: str
    started: str
    finished: str
    build_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        """Write atomically: readers see the old manifest, no manifest, or this one."""
        fileio.atomic_write(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """:raises BuildError: for a missing, unreadable or foreign manifest."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BuildError(f"{path}: cannot read build manifest: {exc}") from exc
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise BuildError(f"{path}: not a build manifest of schema {SCHEMA}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise BuildError(f"{path}: malformed build manifest: {exc}") from exc
