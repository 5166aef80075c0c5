"""The per-case coverage map: which QEMU source lines each case executed.

Keys are ``<format>-<protocol>/<case>`` (the runner's combo and the case
name): one case run with qcow2 and with raw is two entries, because it
executes different code. Files are paths relative to the QEMU source root.
Lines are stored as ranges ("1-5,9") so a map of a whole suite stays a few
megabytes of JSON.

A map is only trusted for the QEMU source, build and suite it was made
from: :func:`suite_digest` is part of where it is stored (see
:mod:`iotests.mutate.percase`). Pure: no I/O beyond reading and writing the
map file itself.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotests.errors import UsageError

FORMAT_VERSION = 1
#: Areas a block-layer developer reads one line each; a trailing "/" means a directory.
AREAS = (
    "block/qcow2*.c",
    "block/io.c",
    "block/block-backend.c",
    "block.c",
    "block/file-posix.c",
    "block/",
    "nbd/server.c",
    "nbd/",
    "qemu-img.c",
    "qemu-io-cmds.c",
    "util/",
)


def encode_lines(lines: Iterable[int]) -> str:
    """``{1, 2, 3, 7}`` as ``"1-3,7"``."""
    ordered = sorted(set(lines))
    parts: list[str] = []
    start = prev = None
    for number in ordered:
        if prev is not None and number == prev + 1:
            prev = number
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = number
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def decode_lines(text: str) -> frozenset[int]:
    """The inverse of :func:`encode_lines`."""
    lines: set[int] = set()
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        lines.update(range(int(first), int(last or first) + 1))
    return frozenset(lines)


def matches(path: str, area: str) -> bool:
    """Whether *path* is in *area* (a glob, or a directory when it ends with "/")."""
    if area.endswith("/"):
        return path.startswith(area)
    return fnmatch.fnmatchcase(path, area)


@dataclass
class CaseCoverage:
    """What one case run executed, and how that run ended."""

    status: str
    duration: float
    files: dict[str, frozenset[int]] = field(default_factory=dict)


@dataclass
class CoverageMap:
    """Executable lines per file, and per case the lines it executed."""

    executable: dict[str, frozenset[int]] = field(default_factory=dict)
    cases: dict[str, CaseCoverage] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, case: CaseCoverage, executable: Mapping[str, Iterable[int]]) -> None:
        """Record *case* under *key* (replacing an earlier run of it) and widen the totals."""
        self.cases[key] = case
        for path, lines in executable.items():
            self.executable[path] = self.executable.get(path, frozenset()) | frozenset(lines)

    def covering(self, path: str, lines: Iterable[int], *, passing_only: bool = False) -> list[str]:
        """Keys of the cases that executed any of *lines* of *path*, fastest first.

        With *passing_only*, cases that did not pass on the unmutated build are
        left out: a case that already fails cannot tell a mutant apart.
        """
        wanted = frozenset(lines)
        found = [
            key
            for key, case in self.cases.items()
            if (not passing_only or case.status == "pass")
            and case.files.get(path, frozenset()) & wanted
        ]
        return sorted(found, key=lambda k: (self.cases[k].duration, k))

    def covered(self, path: str) -> frozenset[int]:
        """The lines of *path* that any case executed."""
        union: set[int] = set()
        for case in self.cases.values():
            union |= case.files.get(path, frozenset())
        return frozenset(union)

    def serialize(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "meta": self.meta,
            "executable": {p: encode_lines(v) for p, v in sorted(self.executable.items())},
            "cases": {
                key: {
                    "status": case.status,
                    "duration": case.duration,
                    "files": {p: encode_lines(v) for p, v in sorted(case.files.items()) if v},
                }
                for key, case in sorted(self.cases.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "coverage map") -> CoverageMap:
        if data.get("version") != FORMAT_VERSION:
            raise UsageError(
                f"{origin}: format version {data.get('version')!r}, expected {FORMAT_VERSION}"
            )
        return cls(
            executable={p: decode_lines(v) for p, v in data.get("executable", {}).items()},
            cases={
                key: CaseCoverage(
                    status=str(entry["status"]),
                    duration=float(entry["duration"]),
                    files={p: decode_lines(v) for p, v in entry.get("files", {}).items()},
                )
                for key, entry in data.get("cases", {}).items()
            },
            meta=dict(data.get("meta", {})),
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.serialize()), encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def read(cls, path: Path) -> CoverageMap:
        """:raises UsageError: when *path* is not a coverage map this version reads."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a readable coverage map: {exc}") from exc
        return cls.from_dict(data, str(path))


@dataclass(frozen=True)
class FileLines:
    """Line coverage of one file or area, and which cases reached it."""

    name: str
    covered: int
    total: int
    cases: tuple[str, ...] = ()

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 0.0


def per_file(cmap: CoverageMap, files: Sequence[str] | None = None) -> list[FileLines]:
    """Each file's line coverage (union over the cases) and its covering cases."""
    result = []
    for path in sorted(files if files is not None else cmap.executable):
        executable = cmap.executable.get(path, frozenset())
        cases = tuple(
            sorted(k for k, c in cmap.cases.items() if c.files.get(path, frozenset()) & executable)
        )
        result.append(FileLines(path, len(cmap.covered(path) & executable), len(executable), cases))
    return result


def per_area(cmap: CoverageMap, areas: Sequence[str] = AREAS) -> list[FileLines]:
    """Line coverage summed over the files of each area."""
    files = per_file(cmap)
    result = []
    for area in areas:
        inside = [f for f in files if matches(f.name, area)]
        cases = sorted({c for f in inside for c in f.cases})
        result.append(
            FileLines(
                area, sum(f.covered for f in inside), sum(f.total for f in inside), tuple(cases)
            )
        )
    return result


def markdown(cmap: CoverageMap, areas: Sequence[str] = AREAS) -> str:
    """The report: areas first, then every file with the cases that cover it."""
    lines = [
        "# Per-case line coverage",
        "",
        f"{len(cmap.cases)} case run(s); {cmap.meta.get('source', '')}",
        "",
        "| area | lines | covered | cases |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {a.name} | {a.covered}/{a.total} | {a.percent:.1f}% | {len(a.cases)} |"
        for a in per_area(cmap, areas)
    ]
    lines += ["", "| file | lines | covered | covering cases |", "|---|---:|---:|---|"]
    for f in per_file(cmap):
        if f.total:
            shown = ", ".join(f.cases[:12]) + (
                f" (+{len(f.cases) - 12})" if len(f.cases) > 12 else ""
            )
            lines.append(f"| {f.name} | {f.covered}/{f.total} | {f.percent:.1f}% | {shown} |")
    return "\n".join(lines) + "\n"


def suite_digest(paths: Iterable[Path]) -> str:
    """A digest of every file below *paths* (cases, goldens, the case library), by content."""
    digest = hashlib.sha256()
    for root in sorted(paths):
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(root.parent)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]
