"""Selecting cases: names, numeric ranges, groups, exclusions, shards, start-from.

Pure functions over discovered cases; no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from iotests.errors import NoCasesError, UsageError
from iotests.runner.discovery import Case

_RANGE = re.compile(r"^(\d+)-(\d+)$")
_SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """The *index*-th (1-based) of *count* disjoint slices of a selection."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text.strip())
        if match is None:
            raise UsageError(f"--shard must look like I/N (for example 2/4), not {text!r}")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise UsageError(f"--shard {text}: I must be between 1 and N, and N at least 1")
        return cls(index, count)


@dataclass(frozen=True)
class Selection:
    names: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    exclude_groups: tuple[str, ...] = ()
    shard: Shard | None = None
    start_from: str | None = None


def _normalise(name: str) -> str:
    return name.zfill(3) if name.isdigit() else name


def _match_names(cases: Sequence[Case], names: Sequence[str]) -> list[Case]:
    by_name = {c.name: c for c in cases}
    chosen: dict[str, Case] = {}
    for raw in names:
        match = _RANGE.match(raw)
        if match is not None:
            low, high = int(match.group(1)), int(match.group(2))
            if low > high:
                raise UsageError(f"range {raw!r} is backwards")
            hits = [c for c in cases if c.name.isdigit() and low <= int(c.name) <= high]
            if not hits:
                raise NoCasesError(f"no case in range {raw}")
            chosen.update((c.name, c) for c in hits)
            continue
        name = _normalise(raw)
        if name not in by_name:
            close = difflib.get_close_matches(name, by_name, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise NoCasesError(f"no case named {raw!r}{hint}")
        chosen[name] = by_name[name]
    order = {c.name: i for i, c in enumerate(cases)}
    return sorted(chosen.values(), key=lambda c: order[c.name])


def select(cases: Sequence[Case], sel: Selection) -> list[Case]:
    """Apply *sel* to *cases* (already in canonical order).

    :raises NoCasesError: when a named case does not exist or nothing is left.
    :raises UsageError: for a malformed range or an unknown --start-from.
    """
    chosen = _match_names(cases, sel.names) if sel.names else list(cases)
    known: set[str] = set().union(*(c.groups for c in cases)) if cases else set()
    for flag, groups, error in (
        ("-g", sel.groups, NoCasesError),
        ("-x", sel.exclude_groups, UsageError),
    ):
        for group in groups:
            if group not in known:
                close = difflib.get_close_matches(group, sorted(known), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise error(f"{flag} {group}: no case is in group {group!r}{hint}")
    if sel.groups:
        wanted = set(sel.groups)
        chosen = [c for c in chosen if c.groups & wanted]
    if sel.exclude_groups:
        unwanted = set(sel.exclude_groups)
        chosen = [c for c in chosen if not c.groups & unwanted]
    if sel.start_from is not None:
        start = _normalise(sel.start_from)
        names = [c.name for c in chosen]
        if start not in names:
            raise UsageError(f"--start-from {sel.start_from}: not among the selected cases")
        chosen = chosen[names.index(start) :]
    if sel.shard is not None:
        chosen = [c for i, c in enumerate(chosen) if i % sel.shard.count == sel.shard.index - 1]
    if not chosen and not sel.shard:
        raise NoCasesError("the selection matched no case")
    return chosen
