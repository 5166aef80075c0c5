"""Change-based selection: run only the cases whose coverage includes the changed lines.

``iotests run --changed REV --source-dir TREE`` asks git which lines of the
QEMU tree changed since REV; ``--touching FILE[:LINES]`` names them directly.
A case is kept when its map entry executed one of those lines, or when it
has no map entry at all (a new case, another format): the map can only rule
a case out, never rule one in by guessing. A changed file no case executes
and that is not in the map (a header, a file outside the build) keeps every
case, since nothing says which code includes it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from iotests import command
from iotests.errors import CommandError, UsageError
from iotests.mutate.covmap import CoverageMap, decode_lines
from iotests.options import Options


class _Named(Protocol):
    @property
    def name(self) -> str: ...


CaseT = TypeVar("CaseT", bound=_Named)

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def parse_diff(text: str) -> dict[str, frozenset[int]]:
    """Lines of the new side that a ``git diff -U0`` added or changed, per file (pure).

    A pure deletion has no new line; the line after it (where the code went
    missing) stands for it, so the cases running past that spot are kept.
    """
    changed: dict[str, set[int]] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            target = line[4:].strip()
            current = None if target == "/dev/null" else target.removeprefix("b/")
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match[1]), int(match[2] if match[2] is not None else 1)
            lines = range(start, start + count) if count else range(start + 1, start + 2)
            changed.setdefault(current, set()).update(lines)
    return {path: frozenset(lines) for path, lines in changed.items()}


def parse_touching(specs: Iterable[str]) -> dict[str, frozenset[int] | None]:
    """``FILE[:LINES]`` (LINES like ``10-20,31``) as {file: lines}; None means the whole file.

    :raises UsageError: naming a spec whose lines do not parse.
    """
    found: dict[str, frozenset[int] | None] = {}
    for spec in specs:
        path, sep, lines = spec.partition(":")
        if not path:
            raise UsageError(f"--touching {spec!r}: expected FILE[:LINES]")
        if not sep:
            found[path] = None
            continue
        if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", lines):
            raise UsageError(f"--touching {spec!r}: LINES must look like 10-20,31")
        if path in found and found[path] is None:
            continue  # the whole file was named already
        found[path] = (found.get(path) or frozenset()) | decode_lines(lines)
    return found


def changed_since(revision: str, tree: Path) -> dict[str, frozenset[int]]:
    """The lines of *tree* changed since *revision* (committed or not), per file.

    :raises UsageError: when *tree* is not a git tree or *revision* is unknown there.
    """
    try:
        result = command.run(
            ["git", "-C", str(tree), "diff", "-U0", "--no-color", "--no-ext-diff", revision, "--"],
            merge_stderr=False,
        )
    except CommandError as exc:
        raise UsageError(f"--changed {revision}: git diff in {tree} failed: {exc}") from exc
    return parse_diff(result.stdout)


@dataclass(frozen=True)
class Selection:
    """The outcome: the case names to run and why the others were left out."""

    keep: tuple[str, ...]
    skipped: tuple[str, ...]
    unmapped: tuple[str, ...]
    whole_suite_because: str | None = None

    def summary(self) -> str:
        head = "change-based selection:"
        if self.whole_suite_because:
            return f"{head} running all {len(self.keep)} case(s): {self.whole_suite_because}"
        text = (
            f"{head} running {len(self.keep)} case(s), skipped {len(self.skipped)} "
            "whose coverage misses the changed lines"
        )
        if self.unmapped:
            text += f"; {len(self.unmapped)} with no coverage entry run anyway"
        return text


def select_cases(
    names: Sequence[str],
    combo: str,
    cmap: CoverageMap,
    changes: Mapping[str, frozenset[int] | None],
) -> Selection:
    """Which of *names* (run as *combo*, e.g. ``qcow2-file``) a change can affect (pure)."""
    unknown = sorted(p for p in changes if p not in cmap.executable)
    if unknown:
        why = f"{unknown[0]} is not in the coverage map (a header or a file not built)"
        return Selection(tuple(names), (), (), why)
    keep: list[str] = []
    skipped: list[str] = []
    unmapped: list[str] = []
    for name in names:
        entry = cmap.cases.get(f"{combo}/{name}")
        if entry is None:
            unmapped.append(name)
            keep.append(name)
            continue
        hit = False
        for path, lines in changes.items():
            executed = entry.files.get(path, frozenset())
            hit = hit or bool(executed if lines is None else executed & lines)
        (keep if hit else skipped).append(name)
    return Selection(tuple(keep), tuple(skipped), tuple(unmapped))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``iotests run`` flags of change-based selection."""
    group = parser.add_argument_group(
        "change-based selection",
        "run only the cases whose per-case coverage map (nox -s coverage -- TREE --per-case) "
        "includes the changed lines, plus cases with no map entry",
    )
    group.add_argument("--changed", metavar="REV", help="lines of --source-dir changed since REV")
    group.add_argument(
        "--touching",
        action="append",
        metavar="FILE[:LINES]",
        help="lines of a QEMU source file, e.g. block/qcow2-cluster.c:100-140 (repeatable)",
    )
    group.add_argument("--source-dir", metavar="TREE", help="the QEMU tree the map was made of")
    group.add_argument("--coverage-map", metavar="FILE", help="a map file (default: cached)")


def find_map(
    cache_root: Path, source_dir: Path | None, suite_digest: str, combo: str
) -> Path | None:
    """The newest cached map of *combo* for this suite (and this QEMU tree, when given)."""
    found: list[tuple[float, Path]] = []
    for path in (cache_root / "coverage").glob(f"*/{suite_digest}/{combo}.json"):
        if source_dir is not None:
            try:
                meta = json.loads(path.read_text(encoding="utf-8")).get("meta", {})
            except (OSError, ValueError):
                continue
            if Path(str(meta.get("source_dir", ""))).resolve() != source_dir.resolve():
                continue
        found.append((path.stat().st_mtime, path))
    return max(found)[1] if found else None


def narrow(
    cases: Sequence[CaseT], options: Options, combo: str, cases_dir: Path, expected_dir: Path
) -> list[CaseT]:
    """*cases* narrowed by ``--changed``/``--touching``; unchanged when neither is given.

    *combo* is the format and protocol the run settled on (``RunSettings.combo``,
    e.g. ``qcow2-file``), whether a flag, the environment or the config chose
    them: the map's entries are keyed by it. Prints what it kept and skipped
    on stderr.

    :raises UsageError: when a flag is missing or wrong, or no map fits.
    """
    if not options.changed and not options.touching:
        return list(cases)
    from iotests.build.config import load_build_config
    from iotests.mutate.percase import Suite

    source_dir = Path(options.source_dir) if options.source_dir else None
    if options.changed and source_dir is None:
        raise UsageError("--changed needs --source-dir TREE (the QEMU git tree to diff)")
    if options.coverage_map:
        map_file: Path | None = Path(options.coverage_map)
    else:
        digest = Suite(Path.cwd(), cases_dir, expected_dir).digest()
        cache_root = load_build_config(options.config).cache_dir
        map_file = find_map(cache_root, source_dir, digest, combo)
    if map_file is None:
        where = f" of {source_dir}" if source_dir else ""
        fmt = combo.split("-", maxsplit=1)[0]
        raise UsageError(
            f"no {combo} coverage map{where} for this suite: make one with "
            f"nox -s coverage -- {source_dir or 'SOURCE'} --per-case -f {fmt}"
        )
    cmap = CoverageMap.read(map_file)
    changes: dict[str, frozenset[int] | None] = {}
    if options.changed:
        assert source_dir is not None
        changes.update(changed_since(options.changed, source_dir))
    if options.touching:
        changes.update(parse_touching(options.touching))
    chosen = select_cases([c.name for c in cases], combo, cmap, changes)
    print(chosen.summary() + f" ({map_file})", file=sys.stderr)
    keep = set(chosen.keep)
    return [c for c in cases if c.name in keep]
