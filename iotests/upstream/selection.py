"""Upstream's selection rules, which differ from ours (pure functions, no I/O).

Upstream's ``check -g quick 001`` runs the quick group *plus* 001 (ours
would intersect); the ``disabled`` group is always left out unless named;
``-x`` cannot be combined with test names alone. Keeping these rules makes
``iotests check`` select exactly what ``./check`` selects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from iotests.errors import NoCasesError, UsageError
from iotests.runner.selection import Shard
from iotests.upstream.discovery import UpstreamCase


@dataclass(frozen=True)
class UpstreamSelection:
    names: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    exclude_groups: tuple[str, ...] = ()
    start_from: str | None = None
    shard: Shard | None = None


def test_name(raw: str, known: Sequence[str]) -> str:
    """A command-line test name as upstream spells it in its tree.

    :raises UsageError: for a path, as upstream refuses paths.
    :raises NoCasesError: for a test that does not exist.
    """
    if "/" in raw:
        raise UsageError(
            f"paths are not test names: {raw!r} (name the test, e.g. 001 or reopen-file)"
        )
    name = f"{int(raw):03}" if raw.isdigit() else raw
    if name not in known:
        raise NoCasesError(f"no upstream test named {raw!r}")
    return name


def select(cases: Sequence[UpstreamCase], sel: UpstreamSelection) -> list[UpstreamCase]:
    """Apply upstream's ``find_tests`` rules to *cases* (in canonical order).

    :raises UsageError: for ``-x`` with only test names, a bad name, or an
        unknown ``--start-from``.
    :raises NoCasesError: when nothing is selected.
    """
    known = [c.name for c in cases]
    chosen: set[str] = set()
    if sel.groups:
        chosen = {c.name for c in cases if c.groups & set(sel.groups)}
    elif sel.names:
        if sel.exclude_groups:
            raise UsageError("cannot exclude groups from individually named tests")
    else:
        chosen = set(known)
    excluded = set(sel.exclude_groups)
    if "disabled" not in sel.groups:
        excluded.add("disabled")
    chosen = {c.name for c in cases if c.name in chosen and not c.groups & excluded}
    chosen.update(test_name(raw, known) for raw in sel.names)
    ordered = [c for c in cases if c.name in chosen]
    if sel.start_from is not None:
        start = test_name(sel.start_from, known)
        names = [c.name for c in ordered]
        if start not in names:
            raise UsageError(f"--start-from {sel.start_from}: not among the selected tests")
        ordered = ordered[names.index(start) :]
    if sel.shard is not None:
        ordered = [c for i, c in enumerate(ordered) if i % sel.shard.count == sel.shard.index - 1]
    if not ordered and sel.shard is None:
        raise NoCasesError("no tests selected")
    return ordered
