"""Building the per-case coverage map from a gcov build of QEMU.

QEMU's gcov build writes each process's counters into ``.gcda`` files next
to its objects; ``GCOV_PREFIX`` moves them below another root. The runner
passes only QEMU_*/IOTESTS_* variables to a case, and sets IOTESTS_CASE, so
the suite runs against a *wrapper tree*: one small script per binary that
sets ``GCOV_PREFIX=$IOTESTS_GCOV_ROOT/$IOTESTS_CASE`` and execs the real
binary. Every case then counts into its own directory, so the cases run in
parallel, as in any run, with the runner's own timeouts and verdicts; the
runner's probe counts into ``_runner`` and is left out.

Each case's counters are read with gcov's own JSON (``gcov --json-format
--stdout``, what fastcov and gcovr read too) after linking the build's
``.gcno`` notes beside them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotests import command
from iotests.errors import BuildError, CommandError, UsageError
from iotests.mutate.covmap import CaseCoverage, CoverageMap, suite_digest

#: The binaries a suite run uses, relative to the build tree (the tools profile's list).
BINARIES = ("qemu-img", "qemu-io", "qemu-nbd", "storage-daemon/qemu-storage-daemon")
ROOT_VARIABLE = "IOTESTS_GCOV_ROOT"
#: The prefix of the runner's own probe, which belongs to no case.
RUNNER_PREFIX = "_runner"
_GCOV_BATCH = 200


@dataclass(frozen=True)
class Suite:
    """Where the suite's content lives: its digest is part of where a map is stored."""

    project: Path
    cases_dir: Path
    expected_dir: Path

    def digest(self) -> str:
        return suite_digest([self.cases_dir, self.expected_dir, Path(__file__).parents[1] / "lib"])


def map_path(cache_root: Path, build_tree: Path, suite: Suite, combo: str) -> Path:
    """Where the map of *combo* (e.g. ``qcow2-file``) for this build and suite is kept.

    The build key (the cache directory above the tree) already covers the
    QEMU source and the profile; a tree outside the cache is keyed by its path.
    """
    build = build_tree.parent.name if build_tree.name == "build" else _path_key(build_tree)
    return cache_root / "coverage" / build / suite.digest() / f"{combo}.json"


def _path_key(path: Path) -> str:
    import hashlib

    return f"tree-{path.name}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"


def write_wrappers(build_tree: Path, wrap_dir: Path) -> Path:
    """A tree of scripts standing in for the build's binaries, each counting per case.

    :raises BuildError: when the build lacks one of :data:`BINARIES`.
    """
    for rel in BINARIES:
        real = build_tree / rel
        if not command.is_executable(real):
            raise BuildError(f"{real}: missing; is {build_tree} a complete gcov build?")
        script = wrap_dir / rel
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "#!/bin/sh\n"
            f'if [ -n "${ROOT_VARIABLE}" ]; then\n'
            f'    GCOV_PREFIX="${ROOT_VARIABLE}/${{IOTESTS_CASE:-{RUNNER_PREFIX}}}"\n'
            "    GCOV_PREFIX_STRIP=0\n"
            "    export GCOV_PREFIX GCOV_PREFIX_STRIP\n"
            "fi\n"
            f'exec {shlex.quote(str(real))} "$@"\n',
            encoding="utf-8",
        )
        script.chmod(0o755)
    return wrap_dir


def _gcov_documents(paths: Sequence[Path], cwd: Path) -> Iterator[dict[str, Any]]:
    for at in range(0, len(paths), _GCOV_BATCH):
        batch = [str(p) for p in paths[at : at + _GCOV_BATCH]]
        try:
            result = command.run(
                ["gcov", "--json-format", "--stdout", *batch], cwd=cwd, merge_stderr=False
            )
        except CommandError as exc:
            raise BuildError(f"gcov failed: {exc}") from exc
        for line in result.stdout.splitlines():
            if line.startswith("{"):
                yield json.loads(line)


#: Executed and executable lines per source file, of one counter file.
Lines = tuple[dict[str, frozenset[int]], dict[str, frozenset[int]]]


def _lines_of(document: Mapping[str, Any], root: str, cwd: Path) -> Lines:
    base = str(document.get("current_working_directory", cwd))
    executed: dict[str, frozenset[int]] = {}
    executable: dict[str, frozenset[int]] = {}
    for entry in document.get("files", []):
        name = os.path.normpath(os.path.join(base, entry["file"]))
        if not name.startswith(root + os.sep) or not name.endswith((".c", ".h")):
            continue
        rel = name[len(root) + 1 :]
        numbers = [(int(n["line_number"]), int(n["count"])) for n in entry["lines"]]
        executable[rel] = executable.get(rel, frozenset()) | {n for n, _c in numbers}
        executed[rel] = executed.get(rel, frozenset()) | {n for n, c in numbers if c > 0}
    return executed, executable


@dataclass
class CounterReader:
    """Reads counter files with gcov, once per distinct content.

    Most objects of a binary run the same way in every case (module
    registration, option parsing), so their ``.gcda`` are byte-identical
    from one case to the next: each distinct file is read once.
    """

    source_root: Path
    cwd: Path
    memo: dict[tuple[str, str], Lines] = field(default_factory=dict)

    def read(self, gcdas: Sequence[Path], mirror: Path) -> Lines:
        """Executed and executable lines per source file (relative to the source root).

        Files outside the source tree (system headers, generated trace headers)
        are left out.
        """
        root = os.path.realpath(self.source_root)
        keys = {p: (str(p.relative_to(mirror)), _digest(p)) for p in gcdas}
        unread = [p for p in gcdas if keys[p] not in self.memo]
        by_path = {str(p): p for p in unread}
        for document in _gcov_documents(unread, self.cwd):
            path = by_path.get(str(document.get("data_file", "")))
            if path is not None:
                self.memo[keys[path]] = _lines_of(document, root, self.cwd)
        executed: dict[str, frozenset[int]] = {}
        executable: dict[str, frozenset[int]] = {}
        for path in gcdas:
            hit, lines = self.memo.get(keys[path], ({}, {}))
            for rel, numbers in hit.items():
                executed[rel] = executed.get(rel, frozenset()) | numbers
            for rel, numbers in lines.items():
                executable[rel] = executable.get(rel, frozenset()) | numbers
        return executed, executable


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()


def mirror_of(case_root: Path, build_tree: Path) -> Path:
    """Where GCOV_PREFIX puts *build_tree*'s counters for the case counting into *case_root*."""
    return case_root / build_tree.resolve().relative_to("/")


def link_notes(case_root: Path, build_tree: Path) -> list[Path]:
    """Put the build's ``.gcno`` beside each ``.gcda`` under *case_root*; return the ``.gcda``."""
    mirror = mirror_of(case_root, build_tree)
    found = sorted(mirror.rglob("*.gcda")) if mirror.is_dir() else []
    for gcda in found:
        notes = gcda.with_suffix(".gcno")
        if not notes.exists():
            notes.symlink_to(build_tree / gcda.relative_to(mirror).with_suffix(".gcno"))
    return found


@dataclass(frozen=True)
class RunResult:
    """One suite run's verdicts and durations per case name."""

    status: dict[str, str]
    duration: dict[str, float]
    combo: str
    seconds: float


def run_suite(
    wrap_dir: Path,
    gcov_root: Path,
    runner_args: Sequence[str],
    results_dir: Path,
    *,
    project: Path,
    environ: Mapping[str, str] | None = None,
) -> RunResult:
    """Run ``iotests run`` on the wrapper tree; every case counts into ``gcov_root/<case>``.

    A failing case is a verdict, not an error: the map records it.

    :raises UsageError: when the runner ends without a report (bad selection, no binaries).
    """
    report = results_dir / "report.json"
    argv = [
        sys.executable, "-m", "iotests", "run", *runner_args,
        "--build-dir", str(wrap_dir), "--results-dir", str(results_dir), "--json", str(report),
    ]  # fmt: skip
    env = dict(os.environ if environ is None else environ)
    env[ROOT_VARIABLE] = str(gcov_root)
    started = time.monotonic()
    completed = command.run(argv, env=env, cwd=project, check=False)
    if not report.is_file():
        tail = "\n".join(completed.output.strip().splitlines()[-3:])
        raise UsageError(f"iotests run ended with code {completed.returncode}: {tail}")
    data = json.loads(report.read_text(encoding="utf-8"))
    settings = data["settings"]
    return RunResult(
        status={r["name"]: r["status"] for r in data["results"]},
        duration={r["name"]: float(r.get("duration") or 0.0) for r in data["results"]},
        combo=f"{settings['format']}-{settings['protocol']}",
        seconds=time.monotonic() - started,
    )


def build_map(
    build_tree: Path,
    source_root: Path,
    runner_args: Sequence[str],
    work_dir: Path,
    *,
    project: Path,
    into: CoverageMap | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[CoverageMap, RunResult]:
    """Run the selection once on *build_tree* and add every case's lines to *into*."""
    shutil.rmtree(work_dir, ignore_errors=True)
    gcov_root = work_dir / "gcda"
    wrap = write_wrappers(build_tree, work_dir / "bin")
    result = run_suite(
        wrap, gcov_root, runner_args, work_dir / "results", project=project, environ=environ
    )
    cmap = into if into is not None else CoverageMap()
    ran = [name for name, status in sorted(result.status.items()) if status != "not run"]
    jobs = [(gcov_root / name, build_tree, source_root) for name in ran]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for name, (executed, executable) in zip(ran, pool.map(_collect, jobs), strict=True):
            status = result.status[name]
            case = CaseCoverage(status, result.duration.get(name, 0.0), _frozen(executed))
            cmap.add(f"{result.combo}/{name}", case, executable)
    shutil.rmtree(gcov_root, ignore_errors=True)
    return cmap, result


#: One reader per worker process, so its memo serves every case that worker reads.
_READERS: dict[tuple[Path, Path], CounterReader] = {}


def _collect(job: tuple[Path, Path, Path]) -> Lines:
    case_root, build_tree, source_root = job
    reader = _READERS.setdefault((source_root, build_tree), CounterReader(source_root, build_tree))
    return reader.read(link_notes(case_root, build_tree), mirror_of(case_root, build_tree))


def _frozen(lines: Mapping[str, Iterable[int]]) -> dict[str, frozenset[int]]:
    return {path: frozenset(v) for path, v in lines.items() if v}
