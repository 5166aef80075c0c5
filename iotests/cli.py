"""The ``iotests`` command: ``run``, ``list`` and ``env``.

A run is a pipeline of small steps (configuration, binaries, probe,
discovery, selection, execution, reports). Only :func:`main` exits the
process; every user error becomes one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from iotests import __version__, completion
from iotests.config import (
    RunnerConfig,
    find_config,
    jobs_argument,
    load_runner_config,
    seconds_argument,
)
from iotests.env import binaries as binaries_mod
from iotests.env.probe import Probe
from iotests.env.probe_cache import cached_probe
from iotests.errors import BinaryNotFoundError, IotestsError, ResultsBusyError, UsageError
from iotests.exitcodes import ExitCode
from iotests.report import github
from iotests.runner import known
from iotests.runner.discovery import Case, discover
from iotests.runner.execution import GOLDEN_CHANGED, GOLDEN_NEW, Suite
from iotests.runner.results import CaseResult, Status
from iotests.runner.selection import Selection, Shard, select
from iotests.runner.session import Reporter, RunOutcome, not_run_reason, run_selection
from iotests.runner.settings import AIOMODES, CACHEMODES, FORMATS, PROTOCOLS, RunSettings

if TYPE_CHECKING:
    from iotests.upstream.suite import UpstreamSuite


def _comma_list(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(v for item in values or () for v in item.split(",") if v)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors in one line; the usage only where the command line's shape is wrong."""

    def error(self, message: str) -> NoReturn:
        if message.startswith(("unrecognized arguments", "the following arguments")):
            self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _named(kind: str, names: Sequence[str]) -> Callable[[str], str]:
    """argparse type for one of *names*, suggesting the closest on a typo."""

    def check(text: str) -> str:
        if text in names:
            return text
        close = difflib.get_close_matches(text, names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown {kind} {text!r} ({hint}known: {', '.join(names)})"
        )

    return check


BUILD_DIR_HELP = (
    "take binaries from this QEMU build tree: qemu-img, qemu-io, qemu-nbd, "
    "storage-daemon/qemu-storage-daemon and qemu-system-ARCH in it; a binary it lacks "
    "comes from $QEMU_*_PROG, the cached build or PATH only if it is of the same QEMU "
    "release (see --mix-versions)"
)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: ./iotests.yaml)")
    p.add_argument(
        "-f",
        "--format",
        type=_named("format", FORMATS),
        metavar="FMT",
        help="image format (default: raw): " + ", ".join(FORMATS),
    )
    p.add_argument(
        "-p",
        "--protocol",
        type=_named("protocol", PROTOCOLS),
        metavar="PROTO",
        help="image protocol (default: file): " + ", ".join(PROTOCOLS),
    )
    p.add_argument("--build-dir", metavar="DIR", help=BUILD_DIR_HELP)
    p.add_argument(
        "--mix-versions",
        action="store_true",
        help="let binaries of different QEMU releases run together",
    )
    p.add_argument("--cases-dir", metavar="DIR", help="where the cases live (default: ./cases)")
    p.add_argument("--expected-dir", metavar="DIR", help="golden outputs (default: ./expected)")


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "tests", nargs="*", metavar="TEST", help="case names, numbers or ranges (001-050)"
    )
    p.add_argument(
        "-g", "--group", action="append", metavar="G[,G]", help="only cases in these groups"
    )
    p.add_argument(
        "-x", "--exclude-group", action="append", metavar="G[,G]", help="skip these groups"
    )
    p.add_argument("--shard", metavar="I/N", help="run only the I-th of N deterministic slices")
    p.add_argument("--start-from", metavar="TEST", help="skip the selected cases before TEST")
    p.add_argument(
        "--upstream", metavar="DIR", help="run an upstream QEMU tests/qemu-iotests instead"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="iotests",
        description="Run QEMU block-layer I/O test cases against real QEMU binaries.",
    )
    parser.add_argument("--version", action="version", version=f"iotests {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run test cases")
    run.set_defaults(command_parser=run)
    _add_common(run)
    _add_selection(run)
    from iotests.mutate.select import add_arguments as add_change_selection

    add_change_selection(run)
    run.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would run, run nothing"
    )
    run.add_argument(
        "-j", "--jobs", type=jobs_argument, metavar="N", help="parallel cases (default: CPUs)"
    )
    run.add_argument(
        "--timeout", type=seconds_argument, metavar="SECONDS", help="per-case timeout (default 600)"
    )
    run.add_argument("-c", "--cachemode", choices=CACHEMODES, help="cache mode for QEMU tools")
    run.add_argument("-i", "--aiomode", choices=AIOMODES, help="AIO mode for QEMU tools")
    run.add_argument("-o", "--imgopts", metavar="OPTS", help="extra qemu-img create -o options")
    run.add_argument("--valgrind", action="store_true", help="run QEMU tools under valgrind")
    run.add_argument("--misalign", action="store_true", help="misaligned buffers in qemu-io")
    run.add_argument("-v", "--verbose", action="store_true", help="show each case's output live")
    run.add_argument(
        "--regenerate",
        action="store_true",
        default=None,
        help="write actual output as the golden files",
    )
    run.add_argument(
        "--results-dir", metavar="DIR", help="results and kept outputs (default: ./results)"
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    run.add_argument("--json", metavar="FILE", dest="json_file", help="write a JSON report")
    run.add_argument("--tap", action="store_true", help="print TAP instead of the console view")
    run.add_argument("--github", action="store_true", help="GitHub step summary and annotations")
    outcomes = run.add_argument_group(
        "known failures and flakes",
        "a known-failures.yaml beside cases/ is read by default (see docs/known-failures.md)",
    )
    outcomes.add_argument(
        "--known",
        action="append",
        metavar="FILE",
        help="a known-failures list of your own (repeatable): listed failures do not fail the run",
    )
    outcomes.add_argument(
        "--rerun-failures",
        type=int,
        default=0,
        metavar="N",
        help="re-run each failed case alone up to N times; one that then passes is flaky",
    )
    outcomes.add_argument(
        "--flaky-fails",
        action="store_true",
        help="a flaky case fails the run (default: reported, not failing)",
    )
    strict = run.add_argument_group(
        "strictness",
        "for packagers and CI: a run whose binaries lacked what cases need is not green",
    )
    strict.add_argument(
        "--fail-on-not-run",
        action="store_true",
        help="exit 1 if any selected case was not run (whatever the reason)",
    )
    strict.add_argument(
        "--min-run",
        type=jobs_argument,
        metavar="N",
        help="exit 1 unless at least N cases ran (passed or failed)",
    )

    sub.add_parser(
        "report",
        help="merge JSON reports of several runs (Markdown, HTML, JUnit; --baseline), "
        "or --history DIR: flake rates over many runs",
        add_help=False,
    )
    sub.add_parser(
        "check",
        help="run tests with upstream check's options (-qcow2 -g quick ...)",
        add_help=False,
    )

    lst = sub.add_parser("list", help="list the selected cases and whether they would run")
    lst.set_defaults(command_parser=lst)
    _add_common(lst)
    _add_selection(lst)
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    env = sub.add_parser("env", help="show the binaries found and their capabilities")
    env.set_defaults(command_parser=env)
    _add_common(env)
    env.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


@dataclass
class Context:
    """What the pipeline steps pass along."""

    args: argparse.Namespace
    config: RunnerConfig
    environ: dict[str, str]
    binaries: binaries_mod.Binaries | None = None
    probe: Probe | None = None
    cases: list[Case] | None = None
    settings: RunSettings | None = None
    upstream_tree: Path | None = None
    #: Warnings about the binaries, printed before the run.
    notes: list[str] = field(default_factory=list)


def _pick(args: argparse.Namespace, config: RunnerConfig, key: str, default: Any = None) -> Any:
    """The flag's value if given (0 and empty strings are values), else the config's."""
    value = getattr(args, key, None)
    return value if value is not None else config.get(key, default)


def step_config(args: argparse.Namespace) -> Context:
    environ = dict(os.environ)
    path = find_config(args.config, environ, Path.cwd())
    return Context(args, load_runner_config(path, environ), environ)


def step_binaries(ctx: Context) -> Context:
    build_dir = _pick(ctx.args, ctx.config, "build_dir")
    use_cache = ctx.environ.get("IOTESTS_NO_CACHED_BUILD", "") in ("", "0")
    if build_dir is None and use_cache and getattr(ctx.args, "upstream", None):
        from iotests.upstream import mode

        build_dir = mode.cached_build_for(Path(ctx.args.upstream), ctx.environ)
    ctx.binaries = binaries_mod.resolve(
        Path(build_dir).resolve() if build_dir else None, ctx.environ, use_cache=use_cache
    )
    if not ctx.binaries.found():
        raise BinaryNotFoundError(
            "no QEMU binaries found: install qemu-utils, pass --build-dir, or set QEMU_IMG_PROG"
        )
    return ctx


def step_probe(ctx: Context) -> Context:
    """Probe the binaries; keep a build tree's substitutes only if they are of its release."""
    assert ctx.binaries is not None
    ctx.probe = cached_probe(ctx.binaries, ctx.args.config, ctx.environ)
    dropped = _judge_substitutes(ctx)
    if dropped:
        paths = {r: (None if r in dropped else p) for r, p in ctx.binaries.paths.items()}
        ctx.binaries = replace(ctx.binaries, paths=paths)
        ctx.probe = cached_probe(ctx.binaries, ctx.args.config, ctx.environ)
    return ctx


def _series(version: str | None) -> str | None:
    """A QEMU release series ("7.2" of "7.2.22"): binaries of one series work together."""
    return ".".join(version.split(".")[:2]) if version else None


def _judge_substitutes(ctx: Context) -> set[str]:
    """Say where each binary a build tree lacks came from; return those of another release."""
    assert ctx.binaries is not None and ctx.probe is not None
    found, versions = ctx.binaries, ctx.probe.versions
    tree_kinds = ("build-dir", "cached build")
    tree_roles = [r for r, kind in found.sources.items() if kind in tree_kinds]
    series = {_series(versions.get(r)) for r in tree_roles} - {None}
    if not tree_roles or len(series) != 1:
        return set()
    [tree_series] = series
    dropped: set[str] = set()
    for role, kind in sorted(found.sources.items()):
        if kind in tree_kinds:
            continue
        path, version = found.paths[role], versions.get(role, "unknown version")
        what = f"{found.build_dir} has no {role}"
        if _series(version) in (tree_series, None) or getattr(ctx.args, "mix_versions", False):
            ctx.notes.append(f"note: {what}: using {path} ({kind}, QEMU {version})")
        else:
            dropped.add(role)
            ctx.notes.append(
                f"warning: {what}; not using {path} ({kind}) of QEMU {version} with the "
                f"build's {tree_series} (--mix-versions allows it): cases needing it are not run"
            )
    return dropped


def step_settings(ctx: Context) -> Context:
    a, c = ctx.args, ctx.config
    jobs = _pick(a, c, "jobs", os.cpu_count() or 1)
    timeout = _pick(a, c, "timeout", 600.0)
    ctx.settings = RunSettings(
        format=_pick(a, c, "format", "raw"),
        protocol=_pick(a, c, "protocol", "file"),
        cachemode=_pick(a, c, "cachemode", "writeback"),
        aiomode=_pick(a, c, "aiomode", "threads"),
        imgopts=_pick(a, c, "imgopts", ""),
        misalign=bool(getattr(a, "misalign", False)),
        valgrind=bool(getattr(a, "valgrind", False)),
        timeout=float(timeout),
        jobs=int(jobs),
        verbose=bool(getattr(a, "verbose", False)),
        regenerate=bool(_pick(a, c, "regenerate", False)),
        results_dir=_results_dir(ctx),
        bytecode_cache=bool(_pick(a, c, "bytecode_cache", True)),
        qemu_version=ctx.probe.qemu_version if ctx.probe is not None else None,
    )
    return ctx


def _results_dir(ctx: Context) -> Path:
    configured = Path(_pick(ctx.args, ctx.config, "results_dir")).resolve()
    if ctx.upstream_tree is None:
        return configured
    from iotests.upstream import mode

    return mode.results_dir(ctx.args, configured)


def step_discover(ctx: Context) -> Context:
    from iotests.upstream import mode

    ctx.upstream_tree = mode.tree_for(ctx.args, Path.cwd())
    if ctx.upstream_tree is not None:
        ctx.cases = list(mode.select_cases(ctx.upstream_tree, ctx.args))
        return ctx
    cases_dir = Path(_pick(ctx.args, ctx.config, "cases_dir")).resolve()
    expected_dir = Path(_pick(ctx.args, ctx.config, "expected_dir")).resolve()
    everything = discover(cases_dir, expected_dir)
    a = ctx.args
    selection = Selection(
        names=tuple(a.tests),
        groups=_comma_list(a.group),
        exclude_groups=_comma_list(a.exclude_group),
        shard=Shard.parse(a.shard) if a.shard else None,
        start_from=a.start_from,
    )
    ctx.cases = select(everything, selection)
    from iotests.mutate.select import narrow  # --changed/--touching: per-case coverage

    ctx.cases = narrow(ctx.cases, a, cases_dir, expected_dir)
    return ctx


def _environment_summary(ctx: Context) -> dict[str, Any]:
    """The binaries, what they can do, their QEMU version and build flavour.

    Recorded on the machine that ran: a merge elsewhere cannot find the
    build (nor its manifest) to ask.
    """
    assert ctx.binaries is not None and ctx.probe is not None
    version = ctx.probe.qemu_version
    return {
        "origin": ctx.binaries.origin,
        **ctx.probe.serialize(),
        "build_dir": ctx.binaries.build_dir,
        "flavour": ctx.binaries.flavour,
        "qemu_version": ".".join(map(str, version)) if version else None,
    }


def cmd_run(args: argparse.Namespace, suite: Suite | None = None) -> ExitCode:
    ctx = step_settings(step_discover(step_probe(step_binaries(step_config(args)))))
    assert ctx.settings is not None and ctx.cases is not None and ctx.probe is not None
    assert ctx.binaries is not None
    settings = ctx.settings
    upstream: UpstreamSuite | None = None
    if ctx.upstream_tree is not None:
        from iotests.upstream import mode

        suite = upstream = mode.make_suite(
            ctx.upstream_tree, settings, args, ctx.binaries.env(), ctx.environ
        )
    not_run = upstream.not_run if upstream is not None else not_run_reason
    if not args.tap:
        _print_binaries(ctx)
    if args.dry_run:
        for case in ctx.cases:
            reason = not_run(case, settings, ctx.probe)
            print(f"{case.name}  {'would run' if reason is None else 'not run: ' + reason}")
        return ExitCode.OK
    if settings.valgrind:
        _check_valgrind(ctx.binaries)
    _check_report_paths(args)
    _kill_orphans()
    started = datetime.now(UTC)
    found = ctx.probe
    judge = _known_failures(ctx)
    with _results_lock(settings, started):
        ctx.probe.save(settings.results_dir / settings.combo / "probe.json")
        env = ctx.binaries.env()
        env["IOTESTS_PROBE"] = str(settings.results_dir / settings.combo / "probe.json")

        def run(cases: Sequence[Case], settings: RunSettings) -> RunOutcome:
            reporter = _reporter(args, settings, upstream, found)
            return run_selection(
                cases,
                settings,
                found,
                env,
                reporter,
                suite=suite,
                not_run=not_run,
                reruns=getattr(args, "rerun_failures", 0) or 0,
                judge=judge,
            )

        outcome = run(ctx.cases, settings)
        unstable = _check_regenerated(ctx.cases, outcome, settings, run)
    if outcome.aborted:
        print(f"iotests: error: stopped starting cases: {outcome.aborted}", file=sys.stderr)
    written = _write_reports(args, outcome.results, started, settings, _environment_summary(ctx))
    github.publish(args, outcome.results, ctx.cases, ctx.environ)
    if outcome.interrupted:
        return ExitCode.INTERRUPTED
    expired = _known_outcome(judge, outcome.results)
    flaky_fail = getattr(args, "flaky_fails", False) and any(
        r.status is Status.FLAKY for r in outcome.results
    )
    if unstable or expired or flaky_fail or any(r.status.failed for r in outcome.results):
        return ExitCode.FAILED
    code = _strictness(args, outcome.results)
    if code is not ExitCode.OK:
        return code
    return ExitCode.OK if written else ExitCode.USAGE_ERROR


def _known_failures(ctx: Context) -> known.Judge:
    """The known failures that apply to this run: the project's list and --known lists."""
    assert ctx.binaries is not None and ctx.settings is not None
    paths = [Path(p) for p in getattr(ctx.args, "known", None) or ()]
    project = Path(_pick(ctx.args, ctx.config, "cases_dir")).resolve().parent / KNOWN_FILE
    if project.is_file() and project not in [p.resolve() for p in paths]:
        paths.insert(0, project)
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--known {path}: no such file")
    return known.Judge(
        known.load(paths), flavour=ctx.binaries.flavour, qemu=ctx.settings.qemu_version
    )


def _known_outcome(judge: known.Judge, results: Sequence[CaseResult]) -> bool:
    """Say which listed cases passed (stale entries?) and which entries expired; True if any did."""
    for r in judge.fixed(results):
        print(f"warning: {r.name}: {r.reason}")
    expired = judge.expired(results)
    for entry in expired:
        print(
            f"iotests: error: {entry.source}: the known failure of {entry.case} expired on "
            f"{entry.expires.isoformat()} ({entry.reason}): renew it with a reason, or remove it",
            file=sys.stderr,
        )
    return bool(expired)


def _reporter(
    args: argparse.Namespace,
    settings: RunSettings,
    upstream: UpstreamSuite | None,
    found: Probe,
) -> Reporter:
    from iotests.report.console import ConsoleReporter
    from iotests.report.tap import TapReporter

    reporter: ConsoleReporter | TapReporter = (
        TapReporter() if args.tap else ConsoleReporter.for_run(settings, args, upstream)
    )
    if upstream is not None:
        suite = upstream

        def notes(results: Sequence[CaseResult]) -> list[str]:
            hint = suite.qtest_hint(list(results), found)
            casenotrun = [] if args.tap else suite.casenotrun_lines(list(results))
            return [*casenotrun, *([hint] if hint else [])]

        reporter.notes = notes
    return reporter


def _check_regenerated(
    cases: Sequence[Case],
    outcome: RunOutcome,
    settings: RunSettings,
    run: Callable[[Sequence[Case], RunSettings], RunOutcome],
) -> list[CaseResult]:
    """Name the goldens --regenerate wrote, then re-run those cases against them.

    A case whose output changes from one run to the next would get a golden
    that fails the next time: that is found here, not in someone's CI.
    Returns the regenerated cases that did not pass again.
    """
    if not settings.regenerate or outcome.interrupted:
        return []
    changed = [
        r for r in outcome.results if r.reason and r.reason.startswith((GOLDEN_NEW, GOLDEN_CHANGED))
    ]
    for r in changed:
        print(r.reason)
    if not changed:
        print("--regenerate: every golden was already up to date")
        return []
    names = {r.name for r in changed}
    print(f"--regenerate: re-running the {len(changed)} cases against their new goldens")
    again = run([c for c in cases if c.name in names], replace(settings, regenerate=False))
    unstable = [r for r in again.results if r.status is not Status.PASS]
    if unstable:
        print(
            "iotests: error: --regenerate: not clean against the golden just written (is the "
            "output deterministic?): " + ", ".join(f"{r.name} ({r.reason})" for r in unstable),
            file=sys.stderr,
        )
    return unstable


KNOWN_FILE = "known-failures.yaml"


def _strictness(args: argparse.Namespace, results: Sequence[CaseResult]) -> ExitCode:
    """Whether a run without failures is still not green: nothing ran, or too little."""
    not_run = [r for r in results if r.status is Status.NOT_RUN]
    ran = len(results) - len(not_run)
    if results and ran == 0:
        print(
            f"iotests: error: no case ran: all {len(results)} selected cases were not run",
            file=sys.stderr,
        )
        return ExitCode.NO_CASES
    if not_run and getattr(args, "fail_on_not_run", False):
        print(f"iotests: error: --fail-on-not-run: {len(not_run)} cases not run", file=sys.stderr)
        return ExitCode.FAILED
    minimum = getattr(args, "min_run", None)
    if minimum is not None and ran < minimum:
        print(f"iotests: error: --min-run {minimum}: only {ran} cases ran", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _print_binaries(ctx: Context) -> None:
    assert ctx.binaries is not None and ctx.probe is not None
    print(f"binaries: {ctx.binaries.origin}", flush=True)
    for note in ctx.notes:
        print(note, flush=True)
    versions = sorted(set(ctx.probe.versions.values()))
    if len(versions) > 1:
        detail = ", ".join(f"{r} {v}" for r, v in sorted(ctx.probe.versions.items()))
        print(f"warning: the binaries are of different QEMU versions: {detail}", flush=True)


def _kill_orphans() -> None:
    from iotests.runner import reaper

    stale = reaper.kill_orphans()
    if stale.processes:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in stale.processes)
        print(
            f"killed {len(stale.processes)} processes left by an earlier run that died: {names}",
            file=sys.stderr,
        )
    if stale.socket_dirs:
        print(
            f"removed {len(stale.socket_dirs)} socket directories left by earlier runs that died",
            file=sys.stderr,
        )


@contextlib.contextmanager
def _results_lock(settings: RunSettings, started: datetime) -> Iterator[None]:
    """Hold this run's folder of the results directory, or refuse in one line.

    Two runs of one format and protocol on one results directory would
    delete each other's case folders; runs of different ones share only
    files that are merged under a lock (timings.json) or written whole.
    """
    from iotests import fileio

    folder = settings.results_dir / settings.combo
    holder = (
        f"pid {os.getpid()} on {platform.node()}, started {started.isoformat(timespec='seconds')}"
    )
    try:
        with fileio.exclusive(folder / ".lock", holder):
            yield
    except fileio.Busy as exc:
        raise ResultsBusyError(
            f"{folder} is in use by another run ({exc.holder or 'holder unknown'}): "
            "wait for it to finish, or give this run another --results-dir"
        ) from None


def _check_report_paths(args: argparse.Namespace) -> None:
    """Refuse report paths that cannot be written before the run, not after it."""
    for flag, value in (("--junit", args.junit), ("--json", args.json_file)):
        if not value:
            continue
        path = Path(value)
        if path.is_dir():
            raise UsageError(f"{flag} {value}: is a directory")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        try:
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as exc:
            raise UsageError(f"{flag} {value}: cannot write in {parent}: {exc.strerror}") from None


def _check_valgrind(found: binaries_mod.Binaries) -> None:
    """Refuse --valgrind where its every report would be a false positive."""
    from iotests import command
    from iotests.env.probe import valgrind_aware

    if command.which("valgrind") is None:
        raise UsageError("--valgrind: valgrind is not installed")
    for role in ("qemu-img", "qemu-io", "qemu-nbd"):
        path = found.get(role)
        if path and valgrind_aware(path) is False:
            raise UsageError(
                f"--valgrind: {path} was built without valgrind support (no valgrind.h), so "
                "valgrind would flag every coroutine switch; use a build that has it "
                "(invoke build-qemu, then --build-dir)"
            )


def _write_reports(
    args: argparse.Namespace,
    results: list[CaseResult],
    started: datetime,
    settings: RunSettings,
    environment: dict[str, Any],
) -> bool:
    """Write the reports asked for; False if one of them could not be written.

    Both come from one document (what was selected, with which settings,
    on which binaries, by which toolkit), so the JSON report can reproduce
    the run and the JUnit properties cannot disagree with it.
    """
    from iotests.report import files
    from iotests.upstream import mode

    finished = datetime.now(UTC)
    settings_data = {
        "format": settings.format,
        "protocol": settings.protocol,
        "cachemode": settings.cachemode,
        "aiomode": settings.aiomode,
        "imgopts": settings.imgopts,
        "timeout": settings.timeout,
        "jobs": settings.jobs,
        "reruns": getattr(args, "rerun_failures", 0) or 0,
        "regenerate": settings.regenerate,
        "valgrind": settings.valgrind,
        "misalign": settings.misalign,
        "known": [str(Path(p).resolve()) for p in getattr(args, "known", None) or ()],
        "flaky_fails": bool(getattr(args, "flaky_fails", False)),
        "fail_on_not_run": bool(getattr(args, "fail_on_not_run", False)),
        "min_run": getattr(args, "min_run", None),
        "results_dir": str(settings.results_dir),
    }
    try:
        tree = mode.tree_for(args, Path.cwd())
    except IotestsError:
        tree = None
    selection = {
        "tests": list(getattr(args, "tests", None) or ()),
        "groups": list(_comma_list(getattr(args, "group", None))),
        "exclude_groups": list(_comma_list(getattr(args, "exclude_group", None))),
        "shard": getattr(args, "shard", None),
        "start_from": getattr(args, "start_from", None),
        "upstream": str(tree) if tree is not None else None,
    }
    data = files.report_data(
        results,
        started,
        finished,
        settings_data,
        environment,
        selection=selection,
        toolkit=files.toolkit_revision(),
    )
    writers: dict[str, Callable[[Path], None]] = {
        "--junit": lambda p: files.write_junit(p, results, run=files.suite_run(data)),
        "--json": lambda p: files.write_document(p, data),
    }
    written = True
    for flag, value in (("--junit", args.junit), ("--json", args.json_file)):
        if not value:
            continue
        try:
            writers[flag](Path(value))
        except OSError as exc:
            # One report lost (a disk filled up) must not cost the others.
            print(f"iotests: error: {flag} {value}: {exc.strerror or exc}", file=sys.stderr)
            written = False
    return written


def cmd_list(args: argparse.Namespace) -> ExitCode:
    ctx = step_settings(step_discover(step_probe(step_binaries(step_config(args)))))
    assert ctx.cases is not None and ctx.settings is not None and ctx.probe is not None
    rows: list[dict[str, Any]] = []
    for case in ctx.cases:
        reason = not_run_reason(case, ctx.settings, ctx.probe)
        rows.append(
            {
                "name": case.name,
                "groups": sorted(case.groups),
                "formats": list(case.header.formats),
                "protocols": list(case.header.protocols),
                "requires": list(case.header.requires),
                "runs": reason is None,
                "reason": reason,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return ExitCode.OK
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "runs" if r["runs"] else f"not run: {r['reason']}"
        print(f"{r['name']:<{width}}  {','.join(r['groups']):<28} {state}")
    return ExitCode.OK


def cmd_env(args: argparse.Namespace) -> ExitCode:
    ctx = step_probe(step_binaries(step_config(args)))
    assert ctx.binaries is not None and ctx.probe is not None
    if args.json:
        print(json.dumps(_environment_summary(ctx), indent=1))
        return ExitCode.OK
    print(f"binaries from: {ctx.binaries.origin}")
    for note in ctx.notes:
        print(note)
    for role in binaries_mod.ROLES:
        path = ctx.binaries.get(role.name)
        version = ctx.probe.versions.get(role.name, "")
        problem = ctx.probe.problems.get(role.name)
        detail = f"  ({problem})" if problem else (f"  {version}" if version else "")
        print(f"  {role.name:<9} {path or 'not found'}{detail}")
    print("formats:      " + (" ".join(ctx.probe.formats) or "(unknown)"))
    print("accelerators: " + (" ".join(ctx.probe.accelerators) or "(no system emulator)"))
    return ExitCode.OK


COMMANDS = {"run": cmd_run, "list": cmd_list, "env": cmd_env}


def dispatch(argv: Sequence[str]) -> ExitCode:
    if argv and argv[0] == "report":
        from iotests.report.merge import main_report

        return ExitCode(main_report(list(argv[1:])))
    if argv and argv[0] == "check":
        from iotests.upstream import options

        return cmd_run(options.parse(argv[1:]))
    parser = build_parser()
    completion.answer(parser)
    args, extra = parser.parse_known_args(list(argv))
    if extra:
        # The sub-command's own usage, not the top level's: that is what was mistyped.
        owner = getattr(args, "command_parser", None) or parser
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return ExitCode.USAGE_ERROR
    return COMMANDS[args.command](args)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command; the only place that exits, always with a documented code."""
    try:
        code = dispatch(sys.argv[1:] if argv is None else argv)
    except IotestsError as exc:
        print(f"iotests: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("iotests: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except OSError as exc:
        # A results or cases path the user pointed at cannot be used.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"iotests: error: {where}{exc.strerror or exc}", file=sys.stderr)
        code = ExitCode.USAGE_ERROR
    except Exception as exc:  # a bug in the toolkit: one line, the traceback kept
        print(f"iotests: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(
            f"iotests: the traceback is in {_save_traceback()}; please report it", file=sys.stderr
        )
        code = ExitCode.INTERNAL_ERROR
    sys.exit(int(code))


def _save_traceback() -> str:
    """Write the current exception's traceback to a file of its own and return its path."""
    text = traceback.format_exc()
    try:
        fd, path = tempfile.mkstemp(prefix="iotests-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except OSError:
        sys.stderr.write(text)
        return "the lines above"
    return path
