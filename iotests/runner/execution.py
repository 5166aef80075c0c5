"""Running one case: its own directories, environment, process group and deadline.

Where a hung case is killed, where leftovers are reaped, and where the
verdict (pass, fail, timeout, not run) is reached.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from iotests.contract import CaseEnvironment
from iotests.errors import CommandError
from iotests.runner import compare, evidence, expected, filters, process, reaper
from iotests.runner.dirs import CaseDirs
from iotests.runner.discovery import Case
from iotests.runner.filters import Filter
from iotests.runner.results import CaseResult, Status
from iotests.runner.settings import RunSettings

#: Only these variables of the runner's environment reach a case (plus QEMU_*/IOTESTS_* ones).
_PASS_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TERM",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "SHELL",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "MALLOC_PERTURB_",
    "GNUPGHOME",
)


class Suite:
    """How cases of one suite are set up and judged; the upstream mode overrides parts."""

    def environment(
        self, case: Case, settings: RunSettings, dirs: CaseDirs, base: Mapping[str, str]
    ) -> dict[str, str]:
        env = dict(base)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, base.get("PYTHONPATH")) if p)
        # The binaries and the probe come from the CLI in *base*; the rest is this case's.
        contract = dataclasses.replace(
            CaseEnvironment.from_environ(base),
            imgfmt=settings.format,
            imgproto=settings.protocol,
            cachemode=settings.cachemode,
            aiomode=settings.aiomode,
            imgopts=settings.imgopts,
            test_dir=dirs.scratch,
            sock_dir=dirs.sock,
            case=case.name,
            result_dir=dirs.result,
            notrun_file=dirs.notrun_file,
            events_file=dirs.events_file,
            misalign=settings.misalign,
            valgrind=settings.valgrind,
            valgrind_dir=dirs.valgrind_dir if settings.valgrind else None,
            stacks_dir=dirs.stacks_dir,
        )
        env.update(contract.to_environ())
        env.update(PYTHONUNBUFFERED="1", **bytecode_environment(settings))
        return env

    def filters(self, path_map: list[tuple[str, str]]) -> Filter:
        """How a case's output is normalised before comparison (``path_map``: path, name)."""
        return filters.standard_filters(path_map)

    def expected_file(self, case: Case, settings: RunSettings) -> Path | None:
        variant = expected.Variant(
            settings.format, settings.protocol, settings.cachemode, settings.qemu_version
        )
        return expected.choose(case.expected_dir, case.name, variant)

    def regenerate_target(self, case: Case, settings: RunSettings) -> Path:
        return self.expected_file(case, settings) or case.expected_dir / f"{case.name}.out"

    def notrun_reason(self, case: Case, dirs: CaseDirs) -> str | None:
        try:
            return dirs.notrun_file.read_text().strip() or "not run (no reason given)"
        except OSError:
            return None


def bytecode_environment(settings: RunSettings) -> dict[str, str]:
    """How the Python processes of a case handle compiled bytecode.

    With the cache on (the default) every module a case imports is compiled
    once into ``RESULTS/pycache`` (PYTHONPYCACHEPREFIX) and loaded from there
    by every later case: no case recompiles the toolkit, QEMU's python/
    package or upstream's iotests.py, even where PYTHONDONTWRITEBYTECODE is
    set or a tree is read-only, and no ``__pycache__`` appears in any source
    tree. Python writes those files atomically, so parallel cases can share
    them. With the cache off, nothing is written.
    """
    if settings.bytecode_cache:
        return {"PYTHONPYCACHEPREFIX": str(settings.pycache_dir)}
    return {"PYTHONDONTWRITEBYTECODE": "1"}


def _base_environment(environ: Mapping[str, str], token: str, dirs: CaseDirs) -> dict[str, str]:
    base = {k: v for k, v in environ.items() if k in _PASS_THROUGH}
    base.update({k: v for k, v in environ.items() if k.startswith(("QEMU_", "QSD_", "IOTESTS_"))})
    base[reaper.TOKEN_VARIABLE] = token
    base[reaper.RUNNER_VARIABLE] = str(os.getpid())
    base.update(evidence.sanitizer_environment(environ, dirs.result))
    return base


def _short_tempdir() -> Path:
    """A socket directory's path: short (sun_path holds 108 bytes), named after the run.

    Only named here: process.run_process makes the directory for the case's
    life and removes it however the case ends, so nothing in between can leak it.
    """
    return reaper.socket_path()


#: How --regenerate left a golden, as the start of the case's reason.
GOLDEN_NEW, GOLDEN_CHANGED, GOLDEN_SAME = "golden written", "golden changed", "golden unchanged"


class ResultsDirError(Exception):
    """The results directory cannot take a case's files (full, read-only, gone).

    Not the case's fault and not QEMU's: the case is an error, named in one
    line with the path and the errno. When the file system itself is full or
    read-only (:attr:`fatal`), no later case could do better, and the run
    stops starting cases.
    """

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal

    @classmethod
    def of(cls, exc: OSError) -> ResultsDirError:
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        where = exc.filename or "results directory"
        return cls(
            f"cannot write {where}: {exc.strerror or exc} ({code})",
            fatal=exc.errno in _DISK_ERRNOS,
        )


#: A file system that cannot take more: whatever path was named, the run cannot go on.
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def execute(
    case: Case,
    settings: RunSettings,
    binaries_env: Mapping[str, str],
    *,
    suite: Suite | None = None,
    stop: threading.Event | None = None,
    last_duration: float | None = None,
    echo: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> CaseResult:
    """Run *case* once and judge it. Never raises for anything the case does.

    :raises ResultsDirError: the case's files could not be written under
        the results directory.
    """
    try:
        return _execute(case, settings, binaries_env, suite, stop, last_duration, echo, environ)
    except OSError as exc:
        results = settings.results_dir.resolve()
        where = Path(os.fsdecode(exc.filename)) if exc.filename else None
        if (where is not None and where.is_relative_to(results)) or exc.errno in _DISK_ERRNOS:
            raise ResultsDirError.of(exc) from exc
        raise


@dataclasses.dataclass(frozen=True)
class _Verdict:
    """What one run of a case came to, before it is written down as its CaseResult."""

    status: Status
    reason: str | None = None
    expected_file: str | None = None
    output_file: str | None = None
    diff: str | None = None
    hang_file: str | None = None


def _execute(
    case: Case,
    settings: RunSettings,
    binaries_env: Mapping[str, str],
    suite: Suite | None,
    stop: threading.Event | None,
    last_duration: float | None,
    echo: Callable[[str], None] | None,
    environ: Mapping[str, str] | None,
) -> CaseResult:
    suite = suite or Suite()
    dirs = _case_dirs(settings, case)
    token = uuid.uuid4().hex
    source_env = dict(os.environ if environ is None else environ)
    source_env.update(binaries_env)
    env = suite.environment(case, settings, dirs, _base_environment(source_env, token, dirs))
    timeout = case.header.timeout or settings.timeout
    try:
        outcome = process.run_process(
            case.command(), env, dirs, timeout, stop or threading.Event(), echo, token
        )
    except CommandError as exc:
        outcome = process.Outcome(None, "", 0.0, False, False, [])
        verdict = _Verdict(Status.FAIL, str(exc).splitlines()[0])
    else:
        verdict = _judge(case, settings, suite, dirs, outcome, timeout, binaries_env)
    return _record(case, settings, dirs, outcome, verdict, last_duration)


def _case_dirs(settings: RunSettings, case: Case) -> CaseDirs:
    """This case's results, scratch and socket directories, with nothing of an earlier run."""
    result_dir = settings.results_dir / settings.combo / case.name
    shutil.rmtree(result_dir, ignore_errors=True)
    if result_dir.exists():
        # Something the last run left cannot be removed (a stale mount, a
        # read-only file): keep it aside rather than mix old and new files.
        result_dir.rename(result_dir.with_name(f"{case.name}.stale-{uuid.uuid4().hex[:8]}"))
    dirs = CaseDirs(result_dir, result_dir / "scratch", _short_tempdir())
    dirs.scratch.mkdir(parents=True)
    return dirs


def _record(
    case: Case,
    settings: RunSettings,
    dirs: CaseDirs,
    outcome: process.Outcome,
    verdict: _Verdict,
    last_duration: float | None,
) -> CaseResult:
    """The verdict as the case's result, in ``result.json``; a failed case keeps its scratch."""
    if not verdict.status.failed:
        shutil.rmtree(dirs.scratch, ignore_errors=True)
    shutil.rmtree(dirs.sock, ignore_errors=True)
    result = CaseResult(
        name=case.name,
        format=settings.format,
        protocol=settings.protocol,
        status=verdict.status,
        reason=verdict.reason,
        duration=round(outcome.duration, 3),
        cpu=None if outcome.cpu is None else round(outcome.cpu, 3),
        last_duration=last_duration,
        expected_file=verdict.expected_file,
        output_file=verdict.output_file,
        diff=verdict.diff,
        hang_file=verdict.hang_file,
    )
    (dirs.result / "result.json").write_text(json.dumps(result.serialize(), indent=1))
    return result


def _judge(
    case: Case,
    settings: RunSettings,
    suite: Suite,
    dirs: CaseDirs,
    outcome: process.Outcome,
    timeout: float,
    binaries_env: Mapping[str, str],
) -> _Verdict:
    """What the finished process says: its output is kept (filtered) before anything is judged."""
    if outcome.interrupted:
        return _Verdict(Status.INTERRUPTED, "interrupted")
    path_map = [
        (str(dirs.scratch), "TEST_DIR"),
        (str(dirs.sock), "SOCK_DIR"),
        (str(dirs.result), "RESULT_DIR"),
        *((p, Path(p).name) for p in binaries_env.values()),
    ]
    actual = suite.filters(path_map)(outcome.output)
    output_file = dirs.result / "output"
    output_file.write_text(actual)
    if outcome.timed_out:
        # What the case printed before it hung says where it hung: keep it.
        return _Verdict(
            Status.TIMEOUT,
            f"timed out after {timeout:g}s",
            output_file=str(output_file),
            hang_file=outcome.hang_file,
        )
    verdict = _evidence(case, suite, dirs, outcome, str(output_file))
    if verdict is not None:
        return verdict
    if settings.regenerate:
        return _regenerate(suite.regenerate_target(case, settings), actual)
    golden = suite.expected_file(case, settings)
    return _compare(case, golden, dirs, actual, output_file, outcome.returncode)


def _evidence(
    case: Case, suite: Suite, dirs: CaseDirs, outcome: process.Outcome, output_file: str
) -> _Verdict | None:
    """Not run, a crash or a process left behind, whatever the output: else None.

    A case that said "not run" but crashed on the way is a failure.
    """
    notrun = suite.notrun_reason(case, dirs)
    crashes = evidence.crash_evidence(outcome, dirs)
    if notrun is not None and not crashes:
        return _Verdict(Status.NOT_RUN, notrun)
    if crashes:
        return _Verdict(Status.FAIL, "; ".join(crashes), output_file=output_file)
    if outcome.leftovers:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in outcome.leftovers)
        return _Verdict(Status.FAIL, f"left processes running: {names}", output_file=output_file)
    return None


def _regenerate(target: Path, actual: str) -> _Verdict:
    """--regenerate: *actual* becomes the golden *target*; the reason says what changed."""
    text = actual if actual.endswith("\n") or not actual else actual + "\n"
    try:
        old: str | None = target.read_text()
    except FileNotFoundError:
        old = None
    if old != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    change = GOLDEN_NEW if old is None else GOLDEN_CHANGED if old != text else GOLDEN_SAME
    return _Verdict(Status.PASS, f"{change}: {target}", expected_file=str(target))


def _compare(
    case: Case,
    golden: Path | None,
    dirs: CaseDirs,
    actual: str,
    output_file: Path,
    returncode: int | None,
) -> _Verdict:
    """*actual* (kept in *output_file*) against the *golden* output, then the exit code."""
    if golden is None:
        return _Verdict(
            Status.FAIL,
            f"no expected output ({case.expected_dir / (case.name + '.out')})",
            output_file=str(output_file),
        )
    diff = compare.unified_diff(golden.read_text(), actual, str(golden), str(output_file))
    if diff is not None:
        (dirs.result / "diff").write_text(diff + "\n")
        return _Verdict(
            Status.FAIL,
            "output differs from " + golden.name,
            expected_file=str(golden),
            output_file=str(output_file),
            diff=diff,
        )
    if returncode:
        return _Verdict(
            Status.FAIL,
            f"case exited with code {returncode}",
            expected_file=str(golden),
            output_file=str(output_file),
        )
    return _Verdict(Status.PASS, None, expected_file=str(golden))


def prefixing_echo(name: str, lock: threading.Lock) -> Callable[[str], None]:
    """An echo for --verbose that prefixes each line with the case name."""

    def echo(line: str) -> None:
        with lock:
            sys.stdout.write(f"[{name}] {line}\n")
            sys.stdout.flush()

    return echo
