"""A mutation campaign: plant each mutant in a copy of QEMU, rebuild, run the cases that cover it.

The user's tree is never written: the campaign works in a copy of the gcov
build's source inside the cache (``mutants/<build key>/src``), configured
like that build without ``--enable-gcov`` (``build/``), and rebuilds only the
binaries the suite runs. What keeps the copy honest:

- before a file is mutated its checksum goes into a journal; it is restored
  (by rename, never in place) and checked against that checksum after every
  mutant, on Ctrl-C or SIGTERM too, and a journal left by a killed campaign
  is repaired from the original source before anything else happens;
- only cases that passed on the unmutated build and executed the mutated
  line run, cheapest and most-killing first, in growing batches, and the
  mutant's run stops at the first batch with a failure: a timeout is a kill;
- every result is appended to a JSON-lines file as soon as it is known, so
  an interrupted campaign resumes where it stopped (ids are stable).
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from iotests import command
from iotests.errors import BuildError, CommandError, UsageError
from iotests.mutate.covmap import CoverageMap
from iotests.mutate.engine import Mutant, apply

#: What ninja rebuilds after each mutant: the binaries a suite run uses.
TARGETS = ("qemu-img", "qemu-io", "qemu-nbd", "storage-daemon/qemu-storage-daemon")
#: Cases per batch: small first (most mutants die in the first case), then doubling.
FIRST_BATCH = 2
#: Statuses of the runner that mean "the suite saw the mutant".
KILLING = frozenset({"fail", "timeout"})


class Status(enum.StrEnum):
    """A mutant's fate, named as the mutation-testing-elements schema names it."""

    KILLED = "Killed"
    SURVIVED = "Survived"
    TIMEOUT = "Timeout"
    NO_COVERAGE = "NoCoverage"
    COMPILE_ERROR = "CompileError"
    RUNTIME_ERROR = "RuntimeError"

    @property
    def detected(self) -> bool:
        return self in (Status.KILLED, Status.TIMEOUT)

    @property
    def counted(self) -> bool:
        """Whether the mutant enters the score (a mutant that does not compile does not)."""
        return self in (Status.KILLED, Status.TIMEOUT, Status.SURVIVED, Status.NO_COVERAGE)


@dataclass(frozen=True)
class MutantResult:
    """What happened to one mutant, with the times of its rebuild and of its cases."""

    mutant: Mutant
    status: Status
    covered_by: tuple[str, ...] = ()
    killed_by: tuple[str, ...] = ()
    tests_completed: int = 0
    build_seconds: float = 0.0
    test_seconds: float = 0.0
    reason: str = ""

    def serialize(self) -> dict[str, Any]:
        return {
            "mutant": self.mutant.serialize(),
            "status": str(self.status),
            "covered_by": list(self.covered_by),
            "killed_by": list(self.killed_by),
            "tests_completed": self.tests_completed,
            "build_seconds": round(self.build_seconds, 3),
            "test_seconds": round(self.test_seconds, 3),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MutantResult:
        return cls(
            mutant=Mutant.from_dict(data["mutant"]),
            status=Status(data["status"]),
            covered_by=tuple(data.get("covered_by", ())),
            killed_by=tuple(data.get("killed_by", ())),
            tests_completed=int(data.get("tests_completed", 0)),
            build_seconds=float(data.get("build_seconds", 0.0)),
            test_seconds=float(data.get("test_seconds", 0.0)),
            reason=str(data.get("reason", "")),
        )


@dataclass
class ResultStore:
    """Results as JSON lines, one appended and flushed per mutant: resumable after any stop."""

    path: Path

    def load(self) -> dict[str, MutantResult]:
        found: dict[str, MutantResult] = {}
        if not self.path.is_file():
            return found
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                result = MutantResult.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill: that mutant simply runs again
            found[result.mutant.id] = result
        return found

    def append(self, result: MutantResult) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.serialize()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _replace(path: Path, data: bytes) -> None:
    """Write *data* as a new file renamed over *path*: a hard link elsewhere never sees it."""
    temporary = path.with_name(f".{path.name}.mutant-tmp")
    temporary.write_bytes(data)
    shutil.copymode(path, temporary)
    temporary.replace(path)


@dataclass
class Workspace:
    """The campaign's copy of the source and its build tree, below *root* in the cache."""

    root: Path
    origin: Path
    configure: tuple[str, ...]

    @property
    def source(self) -> Path:
        return self.root / "src"

    @property
    def tree(self) -> Path:
        return self.root / "build"

    @property
    def journal(self) -> Path:
        return self.root / "journal.json"

    def repair(self) -> list[str]:
        """Put back every file a killed campaign left mutated; return their names.

        :raises UsageError: when the original itself no longer matches the journal.
        """
        if not self.journal.is_file():
            return []
        pending: dict[str, str] = json.loads(self.journal.read_text(encoding="utf-8"))
        for rel, digest in pending.items():
            original = (self.origin / rel).read_bytes()
            if _sha256(original) != digest:
                raise UsageError(
                    f"{self.origin / rel}: changed since the campaign began; "
                    f"remove {self.root} to start again"
                )
            _replace(self.source / rel, original)
        self.journal.unlink()
        return sorted(pending)

    def prepare(self, log: Callable[[str], None]) -> None:
        """Copy the source (once), configure (once) and bring the build up to date.

        :raises BuildError: when configure or ninja fails on the unmutated source.
        """
        for rel in self.repair():
            log(f"restored {rel} left mutated by an interrupted campaign")
        if not (self.source / "configure").is_file():
            log(f"copying {self.origin} to {self.source}")
            partial = self.root / "src.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(
                self.origin, partial, symlinks=True, ignore=shutil.ignore_patterns(".git", "build")
            )
            partial.rename(self.source)
        if not (self.tree / "build.ninja").is_file():
            self.tree.mkdir(parents=True, exist_ok=True)
            options = [o for o in self.configure[1:] if o != "--enable-gcov"]
            argv = [str(self.source / "configure"), *options]
            log("configure: " + " ".join(argv))
            try:
                command.run(argv, cwd=self.tree, env=build_env(self.root))
            except CommandError as exc:
                shutil.rmtree(self.tree, ignore_errors=True)
                raise BuildError(f"configuring the mutant build failed: {exc}") from exc
        started = time.monotonic()
        ok, output = self.rebuild()
        if not ok:
            raise BuildError(f"the unmutated copy does not build in {self.tree}:\n{output}")
        log(f"build up to date in {time.monotonic() - started:.0f}s: {self.tree}")

    def rebuild(self) -> tuple[bool, str]:
        """ninja on :data:`TARGETS`; (success, the output's tail)."""
        result = command.run(
            ["ninja", "-C", str(self.tree), *TARGETS],
            env=build_env(self.root),
            check=False,
        )
        return result.returncode == 0, "\n".join(result.output.splitlines()[-20:])


def build_env(root: Path) -> dict[str, str]:
    """ccache in front of the compiler when there is one: a restored file compiles from cache."""
    env = dict(os.environ)
    if "CC" not in env and command.which("ccache"):
        env["CC"] = "ccache cc"
        env.setdefault("CCACHE_BASEDIR", str(root))
        env.setdefault("CCACHE_NOHASHDIR", "true")
    return env


@dataclass
class Guard:
    """Plants mutants in the copy and guarantees every touched file goes back, checked."""

    workspace: Workspace
    originals: dict[str, bytes] = field(default_factory=dict)

    def plant(self, mutant: Mutant) -> None:
        path = self.workspace.source / mutant.file
        original = self.originals.get(mutant.file)
        if original is None:
            original = path.read_bytes()
            self.originals[mutant.file] = original
        mutated = apply(original, mutant)
        self.workspace.journal.write_text(
            json.dumps({rel: _sha256(data) for rel, data in self.originals.items()}),
            encoding="utf-8",
        )
        _replace(path, mutated)

    def restore(self) -> list[str]:
        """Put every touched file back and check it by checksum; return their names.

        :raises BuildError: when a restored file does not read back as its original.
        """
        for rel, data in self.originals.items():
            path = self.workspace.source / rel
            if path.read_bytes() != data:
                _replace(path, data)
            if _sha256(path.read_bytes()) != _sha256(data):
                raise BuildError(f"{path}: could not be restored (checksum differs)")
        self.workspace.journal.unlink(missing_ok=True)
        return sorted(self.originals)


class CaseRunner(Protocol):
    """Runs named cases of one combo on a build; returns each case's runner status."""

    def __call__(self, combo: str, names: Sequence[str], timeout: float) -> dict[str, str]: ...


@dataclass
class SuiteRunner:
    """The real :class:`CaseRunner`: ``iotests run`` on the campaign's build tree."""

    tree: Path
    results_dir: Path
    project: Path
    extra_args: tuple[str, ...] = ()
    environ: Mapping[str, str] | None = None

    def __call__(self, combo: str, names: Sequence[str], timeout: float) -> dict[str, str]:
        fmt, _, protocol = combo.partition("-")
        shutil.rmtree(self.results_dir, ignore_errors=True)
        report = self.results_dir / "report.json"
        argv = [
            sys.executable, "-m", "iotests", "run", "-f", fmt, "-p", protocol or "file",
            "--build-dir", str(self.tree), "--timeout", str(int(timeout)),
            "--results-dir", str(self.results_dir), "--json", str(report),
            "-j", str(min(len(names), os.cpu_count() or 1)), *self.extra_args, *names,
        ]  # fmt: skip
        completed = command.run(argv, cwd=self.project, env=self.environ, check=False)
        if not report.is_file():
            tail = "\n".join(completed.output.strip().splitlines()[-3:])
            raise UsageError(f"iotests run ended with code {completed.returncode}: {tail}")
        data = json.loads(report.read_text(encoding="utf-8"))
        return {r["name"]: r["status"] for r in data["results"]}


def batches(cases: Sequence[str], first: int = FIRST_BATCH) -> Iterator[list[str]]:
    """*cases* in batches of first, 2*first, 4*first, ... (pure)."""
    at, size = 0, max(1, first)
    while at < len(cases):
        yield list(cases[at : at + size])
        at += size
        size *= 2


def case_timeout(cmap: CoverageMap, keys: Sequence[str]) -> float:
    """Per-case timeout for a batch: generous beside the unmutated durations, never tiny."""
    longest = max((cmap.cases[k].duration for k in keys), default=0.0)
    return max(15.0, 4 * longest + 5)


def order_cases(cmap: CoverageMap, keys: Sequence[str], kills: Mapping[str, int]) -> list[str]:
    """Cases that killed most so far first, then the fastest (pure)."""
    return sorted(keys, key=lambda k: (-kills.get(k, 0), cmap.cases[k].duration, k))


def test_mutant(
    mutant: Mutant,
    cmap: CoverageMap,
    guard: Guard,
    runner: CaseRunner,
    kills: dict[str, int],
) -> MutantResult:
    """Plant, rebuild, run the covering cases until one fails; always restore."""
    covering = cmap.covering(mutant.file, mutant.lines, passing_only=True)
    if not covering:
        return MutantResult(mutant, Status.NO_COVERAGE, reason="no passing case executes it")
    started = time.monotonic()
    try:
        guard.plant(mutant)
        ok, output = guard.workspace.rebuild()
        built = time.monotonic()
        if not ok:
            return MutantResult(
                mutant, Status.COMPILE_ERROR, tuple(covering), build_seconds=built - started,
                reason=output,
            )  # fmt: skip
        completed = 0
        for batch in batches(order_cases(cmap, covering, kills)):
            by_combo: dict[str, list[str]] = {}
            for key in batch:
                combo, _, name = key.partition("/")
                by_combo.setdefault(combo, []).append(name)
            failed: list[str] = []
            timed_out: list[str] = []
            for combo, names in by_combo.items():
                keys = [f"{combo}/{n}" for n in names]
                statuses = runner(combo, names, case_timeout(cmap, keys))
                completed += len(names)
                for name, status in statuses.items():
                    if status in KILLING:
                        failed.append(f"{combo}/{name}")
                        if status == "timeout":
                            timed_out.append(f"{combo}/{name}")
            if failed:
                for key in failed:
                    kills[key] = kills.get(key, 0) + 1
                return MutantResult(
                    mutant,
                    Status.TIMEOUT if timed_out == failed else Status.KILLED,
                    tuple(covering),
                    tuple(sorted(failed)),
                    completed,
                    built - started,
                    time.monotonic() - built,
                )
        return MutantResult(
            mutant, Status.SURVIVED, tuple(covering), (), completed, built - started,
            time.monotonic() - built,
        )  # fmt: skip
    finally:
        guard.restore()


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end the campaign as Ctrl-C does, through every ``finally``."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run(
    mutants: Sequence[Mutant],
    cmap: CoverageMap,
    workspace: Workspace,
    store: ResultStore,
    runner: CaseRunner,
    on_result: Callable[[MutantResult, bool], None] = lambda r, resumed: None,
) -> list[MutantResult]:
    """Test every mutant (those already in *store* are taken from it); return all results."""
    done = store.load()
    kills: dict[str, int] = {}
    for result in done.values():
        for key in result.killed_by:
            kills[key] = kills.get(key, 0) + 1
    results: list[MutantResult] = []
    guard = Guard(workspace)
    with signals_interrupt():
        try:
            for mutant in mutants:
                known = done.get(mutant.id)
                if known is not None and known.mutant == mutant:
                    results.append(known)
                    on_result(known, True)
                    continue
                result = test_mutant(mutant, cmap, guard, runner, kills)
                store.append(result)
                results.append(result)
                on_result(result, False)
        finally:
            guard.restore()
    return results
