"""Line coverage of a gcov build, reported with gcovr.

The report is HTML (per-file detail) plus a few numbers a block-layer
developer reads at a glance: one line per area (block/, nbd/, qemu-img.c,
qemu-io-cmds.c) and the line coverage of block/qcow2*.c. The summarising is
pure and works on gcovr's JSON summary, so it is tested without a build.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotests import command
from iotests.errors import BuildError, CommandError

#: The areas summarised one line each; a trailing "/" means a directory.
AREAS = ("block/", "nbd/", "qemu-img.c", "qemu-io-cmds.c")
QCOW2 = "block/qcow2*.c"


@dataclass(frozen=True)
class Coverage:
    """Covered and total executable lines of one area."""

    name: str
    covered: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 0.0

    def line(self) -> str:
        return f"{self.name:<16} {self.percent:5.1f}% lines ({self.covered}/{self.total})"


def reset_counters(build_tree: Path) -> int:
    """Delete the .gcda counter files under *build_tree*; return how many there were."""
    count = 0
    for path in build_tree.rglob("*.gcda"):
        path.unlink()
        count += 1
    return count


def _matches(filename: str, area: str) -> bool:
    if area.endswith("/"):
        return filename.startswith(area)
    return fnmatch.fnmatchcase(filename, area)


def summarise(files: Iterable[Mapping[str, Any]], areas: Sequence[str]) -> list[Coverage]:
    """Per-area totals from gcovr JSON summary ``files`` entries (paths relative to the root)."""
    entries = list(files)
    result = []
    for area in areas:
        covered = total = 0
        for entry in entries:
            if _matches(str(entry["filename"]), area):
                covered += int(entry["line_covered"])
                total += int(entry["line_total"])
        result.append(Coverage(area, covered, total))
    return result


def report(source_dir: Path, build_tree: Path, out_dir: Path) -> list[Coverage]:
    """Run gcovr: HTML into *out_dir*/index.html, JSON summary beside it; return the areas.

    The last entry is the combined block/qcow2*.c coverage.

    :raises BuildError: when gcovr is missing or fails.
    """
    if command.which("gcovr") is None:
        raise BuildError("gcovr is not installed (pip install gcovr)")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = out_dir / "summary.json"
    argv = [
        "gcovr", "--root", str(source_dir), str(build_tree),
        "--gcov-ignore-parse-errors=negative_hits.warn_once_per_file",
        "--merge-mode-functions=separate",
        "--html-details", str(out_dir / "index.html"),
        "--json-summary", str(summary),
        "--json-summary-pretty",
    ]  # fmt: skip
    try:
        command.run(argv, cwd=build_tree)
    except CommandError as exc:
        raise BuildError(f"gcovr failed: {exc}") from exc
    data = json.loads(summary.read_text(encoding="utf-8"))
    return summarise(data.get("files", []), [*AREAS, QCOW2])
