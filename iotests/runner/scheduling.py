"""Longest-first ordering from the durations recorded by earlier runs.

With N workers pulling from one queue, starting the longest cases first keeps
one long case from running alone at the end of a parallel run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def longest_first(names: Sequence[T], durations: Mapping[str, float], key: str = "name") -> list[T]:
    """Order items so that the ones with the longest recorded duration come first.

    Items never timed come before all timed ones (they might be long), in
    their given order; ties keep their given order.
    """

    def name_of(item: T) -> str:
        return item if isinstance(item, str) else str(getattr(item, key))

    indexed = list(enumerate(names))
    indexed.sort(
        key=lambda p: (name_of(p[1]) in durations, -durations.get(name_of(p[1]), 0.0), p[0])
    )
    return [item for _, item in indexed]


class TimingStore:
    """Wall and CPU seconds of earlier runs, per ``format-protocol`` combination, in one file.

    Layout: ``{combo: {case: {"wall": seconds, "cpu": seconds}}}``; a plain
    number for a case (what older versions wrote) is its wall time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, dict[str, dict[str, float]]] = {}
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            raw = {}
        if isinstance(raw, dict):
            for combo, table in raw.items():
                if isinstance(table, dict):
                    self._data[str(combo)] = {
                        str(k): entry for k, v in table.items() if (entry := _entry(v))
                    }

    def durations(self, combo: str) -> dict[str, float]:
        """Wall seconds of each case last time."""
        return {k: v["wall"] for k, v in self._data.get(combo, {}).items()}

    def cpu(self, combo: str) -> dict[str, float]:
        """CPU seconds of each case last time, for the cases whose CPU time was measured."""
        return {k: v["cpu"] for k, v in self._data.get(combo, {}).items() if "cpu" in v}

    def record(self, combo: str, name: str, seconds: float, cpu: float | None = None) -> None:
        entry = {"wall": round(seconds, 3)}
        if cpu is not None:
            entry["cpu"] = round(cpu, 3)
        self._data.setdefault(combo, {})[name] = entry

    def save(self) -> None:
        """Write atomically, so an interrupted run never leaves a torn file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".timings-")
        with os.fdopen(fd, "w") as f:
            json.dump(self._data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def _entry(value: object) -> dict[str, float] | None:
    """One case's stored figures, or None when the value is not understood."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"wall": float(value)}
    if not isinstance(value, dict):
        return None
    entry = {
        k: float(v)
        for k, v in value.items()
        if k in ("wall", "cpu") and isinstance(v, int | float) and not isinstance(v, bool)
    }
    return entry if "wall" in entry else None
