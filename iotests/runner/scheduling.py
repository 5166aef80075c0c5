"""Longest-first ordering from the durations recorded by earlier runs.

With N workers pulling from one queue, starting the longest cases first keeps
one long case from running alone at the end of a parallel run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from iotests import fileio

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
        self._data = self._read()
        #: What this run measured; only these entries are written back.
        self._updates: dict[str, dict[str, dict[str, float]]] = {}

    def _read(self) -> dict[str, dict[str, dict[str, float]]]:
        data: dict[str, dict[str, dict[str, float]]] = {}
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            raw = {}
        if isinstance(raw, dict):
            for combo, table in raw.items():
                if isinstance(table, dict):
                    data[str(combo)] = {
                        str(k): entry for k, v in table.items() if (entry := _entry(v))
                    }
        return data

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
        self._updates.setdefault(combo, {})[name] = entry

    def save(self) -> None:
        """Merge this run's figures into the file as it is now, atomically and under a lock.

        Another run on the same results directory may have saved since this
        one started: its figures are kept, not overwritten with what was
        read at the start.
        """
        if not self._updates:
            return
        with fileio.locked(self.path.with_name(f".{self.path.name}.lock")):
            current = self._read()
            for combo, table in self._updates.items():
                current.setdefault(combo, {}).update(table)
            fileio.atomic_write(self.path, json.dumps(current, indent=1, sort_keys=True))
        self._data = current


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
