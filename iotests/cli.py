"""The ``iotests`` command: ``run``, ``list``, ``env``, and ``check`` in upstream's spellings.

Each command line is parsed into one typed :class:`~iotests.options.Options`
(``check`` by :mod:`iotests.upstream.options`), the mode is chosen once (our
cases, or an upstream tree's tests), and :mod:`iotests.plan` builds the run
from them in explicit steps. This module executes the plan and reports on
it. Only :func:`main` exits the process; every user error becomes one line
on stderr and its exit code, anything else exit 5 and where the traceback
went.
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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from iotests import __version__, completion
from iotests.config import jobs_argument, seconds_argument
from iotests.env import binaries as binaries_mod
from iotests.errors import IotestsError, ResultsBusyError, UsageError
from iotests.exitcodes import ExitCode
from iotests.options import Options, comma_list
from iotests.plan import Machine, Mode, Plan, build, inspect
from iotests.report import github
from iotests.runner import known
from iotests.runner.discovery import Case
from iotests.runner.execution import GOLDEN_CHANGED, GOLDEN_NEW
from iotests.runner.results import CaseResult, Status
from iotests.runner.selection import Shard
from iotests.runner.session import RunOutcome, run_selection
from iotests.runner.settings import AIOMODES, CACHEMODES, FORMATS, PROTOCOLS, RunSettings
from iotests.upstream import mode as upstream_mode
from iotests.upstream import options as check_options


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


def _count_argument(text: str) -> int:
    """argparse type for a number of times: 0 is a value, negatives are refused."""
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, not {text!r}")
    return count


def _add_execution(run: argparse.ArgumentParser) -> None:
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


def _add_reports(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--results-dir", metavar="DIR", help="results and kept outputs (default: ./results)"
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    run.add_argument("--json", metavar="FILE", dest="json_file", help="write a JSON report")
    run.add_argument("--tap", action="store_true", help="print TAP instead of the console view")
    run.add_argument("--github", action="store_true", help="GitHub step summary and annotations")


def _add_verdict(run: argparse.ArgumentParser) -> None:
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
        type=_count_argument,
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``run``, ``list`` and ``env``; ``report`` and ``check`` parse their own."""
    from iotests.mutate.select import add_arguments as add_change_selection

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
    add_change_selection(run)
    _add_execution(run)
    _add_reports(run)
    _add_verdict(run)
    sub.add_parser(
        "report",
        help="merge JSON reports of several runs (Markdown, HTML, JUnit; --baseline)",
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


def options_of(args: argparse.Namespace) -> Options:
    """The typed options of a parsed ``run``, ``list`` or ``env`` command line.

    A sub-command's parser has only its own flags; those it lacks keep
    their defaults ("not given").

    :raises UsageError: for a malformed ``--shard``.
    """
    given = vars(args).get
    shard = given("shard")
    return Options(
        command=args.command,
        config=given("config"),
        build_dir=given("build_dir"),
        mix_versions=bool(given("mix_versions")),
        cases_dir=given("cases_dir"),
        expected_dir=given("expected_dir"),
        results_dir=given("results_dir"),
        upstream=given("upstream"),
        format=given("format"),
        protocol=given("protocol"),
        tests=tuple(given("tests") or ()),
        groups=comma_list(given("group")),
        exclude_groups=comma_list(given("exclude_group")),
        shard=Shard.parse(shard) if shard else None,
        start_from=given("start_from"),
        changed=given("changed"),
        touching=tuple(given("touching") or ()),
        source_dir=given("source_dir"),
        coverage_map=given("coverage_map"),
        jobs=given("jobs"),
        timeout=given("timeout"),
        cachemode=given("cachemode"),
        aiomode=given("aiomode"),
        imgopts=given("imgopts"),
        valgrind=bool(given("valgrind")),
        misalign=bool(given("misalign")),
        verbose=bool(given("verbose")),
        regenerate=given("regenerate"),
        dry_run=bool(given("dry_run")),
        json=given("json") is True,
        json_file=given("json_file"),
        junit=given("junit"),
        tap=bool(given("tap")),
        github=bool(given("github")),
        known=tuple(given("known") or ()),
        rerun_failures=given("rerun_failures") or 0,
        flaky_fails=bool(given("flaky_fails")),
        fail_on_not_run=bool(given("fail_on_not_run")),
        min_run=given("min_run"),
    )


def _mode(options: Options) -> Mode:
    """The one question: an upstream tree's tests, or our own cases?"""
    return upstream_mode.chosen(options, Path.cwd()) or Mode()


def build_plan(options: Options) -> Plan:
    return build(options, _mode(options))


def _dry_run(plan: Plan) -> ExitCode:
    for case in plan.cases:
        reason = plan.suite.not_run(case, plan.settings, plan.machine.probe)
        print(f"{case.name}  {'would run' if reason is None else 'not run: ' + reason}")
    return ExitCode.OK


def cmd_run(options: Options) -> ExitCode:
    plan = build_plan(options)
    if not options.tap:
        _print_binaries(plan.machine)
    if options.dry_run:
        return _dry_run(plan)
    if plan.settings.valgrind:
        _check_valgrind(plan.machine.binaries)
    _check_report_paths(options)
    _kill_orphans()
    started = datetime.now(UTC)
    judge = _known_failures(plan)
    with _results_lock(plan.settings, started):
        outcome, unstable = _execute(plan, judge)
    if outcome.aborted:
        print(f"iotests: error: stopped starting cases: {outcome.aborted}", file=sys.stderr)
    written = _write_reports(plan, outcome.results, started)
    github.publish(options, outcome.results, plan.cases, plan.setup.environ)
    return _verdict(options, outcome, judge, unstable=bool(unstable), written=written)


def _execute(plan: Plan, judge: known.Judge) -> tuple[RunOutcome, list[CaseResult]]:
    """Run the plan's cases, then (with --regenerate) again against the goldens written."""
    settings, probe = plan.settings, plan.machine.probe
    probe_file = settings.results_dir / settings.combo / "probe.json"
    probe.save(probe_file)
    env = {**plan.machine.binaries.env(), "IOTESTS_PROBE": str(probe_file)}

    def run(cases: Sequence[Case], run_settings: RunSettings) -> RunOutcome:
        return run_selection(
            cases,
            run_settings,
            probe,
            env,
            plan.suite.reporter(run_settings),
            suite=plan.suite.suite,
            not_run=plan.suite.not_run,
            reruns=plan.options.rerun_failures,
            judge=judge,
        )

    outcome = run(plan.cases, settings)
    return outcome, _check_regenerated(plan.cases, outcome, settings, run)


def _verdict(
    options: Options, outcome: RunOutcome, judge: known.Judge, *, unstable: bool, written: bool
) -> ExitCode:
    """The run's exit code: interrupted, failed, not green enough, a report lost, or OK."""
    if outcome.interrupted:
        return ExitCode.INTERRUPTED
    results = outcome.results
    expired = _known_outcome(judge, results)
    flaky_fail = options.flaky_fails and any(r.status is Status.FLAKY for r in results)
    if unstable or expired or flaky_fail or any(r.status.failed for r in results):
        return ExitCode.FAILED
    code = _strictness(options, results)
    if code is not ExitCode.OK:
        return code
    return ExitCode.OK if written else ExitCode.USAGE_ERROR


KNOWN_FILE = "known-failures.yaml"


def _known_failures(plan: Plan) -> known.Judge:
    """The known failures that apply to this run: the project's list and --known lists."""
    paths = [Path(p) for p in plan.options.known]
    project = plan.setup.cases_dir.parent / KNOWN_FILE
    if project.is_file() and project not in [p.resolve() for p in paths]:
        paths.insert(0, project)
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--known {path}: no such file")
    return known.Judge(
        known.load(paths), flavour=plan.machine.binaries.flavour, qemu=plan.settings.qemu_version
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


def _strictness(options: Options, results: Sequence[CaseResult]) -> ExitCode:
    """Whether a run without failures is still not green: nothing ran, or too little."""
    not_run = [r for r in results if r.status is Status.NOT_RUN]
    ran = len(results) - len(not_run)
    if results and ran == 0:
        print(
            f"iotests: error: no case ran: all {len(results)} selected cases were not run",
            file=sys.stderr,
        )
        return ExitCode.NO_CASES
    if not_run and options.fail_on_not_run:
        print(f"iotests: error: --fail-on-not-run: {len(not_run)} cases not run", file=sys.stderr)
        return ExitCode.FAILED
    minimum = options.min_run
    if minimum is not None and ran < minimum:
        print(f"iotests: error: --min-run {minimum}: only {ran} cases ran", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _print_binaries(machine: Machine) -> None:
    print(f"binaries: {machine.binaries.origin}", flush=True)
    for note in machine.notes:
        print(note, flush=True)
    versions = sorted(set(machine.probe.versions.values()))
    if len(versions) > 1:
        detail = ", ".join(f"{r} {v}" for r, v in sorted(machine.probe.versions.items()))
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


def _check_report_paths(options: Options) -> None:
    """Refuse report paths that cannot be written before the run, not after it."""
    for flag, value in (("--junit", options.junit), ("--json", options.json_file)):
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


def _report_settings(options: Options, settings: RunSettings) -> dict[str, Any]:
    """Every setting the run used, and the flags that judged its outcome."""
    return {
        "format": settings.format,
        "protocol": settings.protocol,
        "cachemode": settings.cachemode,
        "aiomode": settings.aiomode,
        "imgopts": settings.imgopts,
        "timeout": settings.timeout,
        "jobs": settings.jobs,
        "reruns": options.rerun_failures,
        "regenerate": settings.regenerate,
        "valgrind": settings.valgrind,
        "misalign": settings.misalign,
        "known": [str(Path(p).resolve()) for p in options.known],
        "flaky_fails": options.flaky_fails,
        "fail_on_not_run": options.fail_on_not_run,
        "min_run": options.min_run,
        "results_dir": str(settings.results_dir),
    }


def _report_selection(options: Options, mode: Mode) -> dict[str, Any]:
    """What the command line selected, as given, and the upstream tree it ran."""
    shard = options.shard
    return {
        "tests": list(options.tests),
        "groups": list(options.groups),
        "exclude_groups": list(options.exclude_groups),
        "shard": f"{shard.index}/{shard.count}" if shard else None,
        "start_from": options.start_from,
        "upstream": str(mode.upstream_tree) if mode.upstream_tree is not None else None,
    }


def _write_reports(plan: Plan, results: list[CaseResult], started: datetime) -> bool:
    """Write the reports asked for; False if one of them could not be written.

    Both come from one document (what was selected, with which settings,
    on which binaries, by which toolkit), so the JSON report can reproduce
    the run and the JUnit properties cannot disagree with it.
    """
    from iotests.report import files

    options = plan.options
    data = files.report_data(
        results,
        started,
        datetime.now(UTC),
        _report_settings(options, plan.settings),
        plan.machine.summary(),
        selection=_report_selection(options, plan.setup.mode),
        toolkit=files.toolkit_revision(),
    )
    writers: dict[str, Callable[[Path], None]] = {
        "--junit": lambda p: files.write_junit(p, results, run=files.suite_run(data)),
        "--json": lambda p: files.write_document(p, data),
    }
    written = True
    for flag, value in (("--junit", options.junit), ("--json", options.json_file)):
        if not value:
            continue
        try:
            writers[flag](Path(value))
        except OSError as exc:
            # One report lost (a disk filled up) must not cost the others.
            print(f"iotests: error: {flag} {value}: {exc.strerror or exc}", file=sys.stderr)
            written = False
    return written


def cmd_list(options: Options) -> ExitCode:
    plan = build_plan(options)
    rows: list[dict[str, Any]] = []
    for case in plan.cases:
        reason = plan.suite.not_run(case, plan.settings, plan.machine.probe)
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
    if options.json:
        print(json.dumps(rows, indent=1))
        return ExitCode.OK
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        state = "runs" if r["runs"] else f"not run: {r['reason']}"
        print(f"{r['name']:<{width}}  {','.join(r['groups']):<28} {state}")
    return ExitCode.OK


def cmd_env(options: Options) -> ExitCode:
    _, machine = inspect(options, _mode(options))
    if options.json:
        print(json.dumps(machine.summary(), indent=1))
        return ExitCode.OK
    print(f"binaries from: {machine.binaries.origin}")
    for note in machine.notes:
        print(note)
    for role in binaries_mod.ROLES:
        path = machine.binaries.get(role.name)
        version = machine.probe.versions.get(role.name, "")
        problem = machine.probe.problems.get(role.name)
        detail = f"  ({problem})" if problem else (f"  {version}" if version else "")
        print(f"  {role.name:<9} {path or 'not found'}{detail}")
    print("formats:      " + (" ".join(machine.probe.formats) or "(unknown)"))
    print("accelerators: " + (" ".join(machine.probe.accelerators) or "(no system emulator)"))
    return ExitCode.OK


COMMANDS: dict[str, Callable[[Options], ExitCode]] = {
    "run": cmd_run,
    "list": cmd_list,
    "env": cmd_env,
}


def dispatch(argv: Sequence[str]) -> ExitCode:
    if argv and argv[0] == "report":
        from iotests.report.merge import main_report

        return ExitCode(main_report(list(argv[1:])))
    if argv and argv[0] == "check":
        return cmd_run(check_options.parse(argv[1:]))
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
    return COMMANDS[args.command](options_of(args))


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
