"""The ``iotests`` command: ``run``, ``list`` and ``env``.

A run is a pipeline of small steps (configuration, binaries, probe,
discovery, selection, execution, reports). Only :func:`main` exits the
process; every user error becomes one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iotests import __version__
from iotests.config import RunnerConfig, find_config, load_runner_config
from iotests.env import binaries as binaries_mod
from iotests.env.probe import Probe, probe
from iotests.errors import BinaryNotFoundError, IotestsError, UsageError
from iotests.exitcodes import ExitCode
from iotests.runner.discovery import Case, discover
from iotests.runner.execution import Suite
from iotests.runner.results import CaseResult
from iotests.runner.selection import Selection, Shard, select
from iotests.runner.session import not_run_reason, run_selection
from iotests.runner.settings import AIOMODES, CACHEMODES, FORMATS, PROTOCOLS, RunSettings

if TYPE_CHECKING:
    from iotests.upstream.suite import UpstreamSuite


def _comma_list(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(v for item in values or () for v in item.split(",") if v)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="YAML config (default: ./iotests.yaml)")
    p.add_argument("-f", "--format", choices=FORMATS, help="image format (default: raw)")
    p.add_argument("-p", "--protocol", choices=PROTOCOLS, help="image protocol (default: file)")
    p.add_argument("--build-dir", metavar="DIR", help="take binaries from this QEMU build tree")
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
    parser = argparse.ArgumentParser(
        prog="iotests",
        description="Run QEMU block-layer I/O test cases against real QEMU binaries.",
    )
    parser.add_argument("--version", action="version", version=f"iotests {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run test cases")
    _add_common(run)
    _add_selection(run)
    run.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would run, run nothing"
    )
    run.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel cases (default: CPUs)")
    run.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per-case timeout (default 600)"
    )
    run.add_argument("-c", "--cachemode", choices=CACHEMODES, help="cache mode for QEMU tools")
    run.add_argument("-i", "--aiomode", choices=AIOMODES, help="AIO mode for QEMU tools")
    run.add_argument("-o", "--imgopts", metavar="OPTS", help="extra qemu-img create -o options")
    run.add_argument("--valgrind", action="store_true", help="run QEMU tools under valgrind")
    run.add_argument("--misalign", action="store_true", help="misaligned buffers in qemu-io")
    run.add_argument("-v", "--verbose", action="store_true", help="show each case's output live")
    run.add_argument(
        "--regenerate", action="store_true", help="write actual output as the golden files"
    )
    run.add_argument(
        "--results-dir", metavar="DIR", help="results and kept outputs (default: ./results)"
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    run.add_argument("--json", metavar="FILE", dest="json_file", help="write a JSON report")
    run.add_argument("--tap", action="store_true", help="print TAP instead of the console view")

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
    _add_common(lst)
    _add_selection(lst)
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    env = sub.add_parser("env", help="show the binaries found and their capabilities")
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


def _pick(args: argparse.Namespace, config: RunnerConfig, key: str, default: Any = None) -> Any:
    value = getattr(args, key, None)
    return value if value not in (None, False) else config.get(key, default)


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
        Path(build_dir) if build_dir else None, ctx.environ, use_cache=use_cache
    )
    if not ctx.binaries.found():
        raise BinaryNotFoundError(
            "no QEMU binaries found: install qemu-utils, pass --build-dir, or set QEMU_IMG_PROG"
        )
    return ctx


def step_probe(ctx: Context) -> Context:
    assert ctx.binaries is not None
    ctx.probe = probe(ctx.binaries)
    return ctx


def step_settings(ctx: Context) -> Context:
    a, c = ctx.args, ctx.config
    jobs = _pick(a, c, "jobs", os.cpu_count() or 1)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    timeout = _pick(a, c, "timeout", 600.0)
    if timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {timeout}")
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
    cases_dir = Path(_pick(ctx.args, ctx.config, "cases_dir"))
    expected_dir = Path(_pick(ctx.args, ctx.config, "expected_dir"))
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
    return ctx


def _environment_summary(ctx: Context) -> dict[str, Any]:
    assert ctx.binaries is not None and ctx.probe is not None
    return {"origin": ctx.binaries.origin, **ctx.probe.serialize()}


def cmd_run(args: argparse.Namespace, suite: Suite | None = None) -> ExitCode:
    ctx = step_settings(step_discover(step_probe(step_binaries(step_config(args)))))
    assert ctx.settings is not None and ctx.cases is not None and ctx.probe is not None
    assert ctx.binaries is not None
    settings = ctx.settings
    not_run = not_run_reason
    upstream: UpstreamSuite | None = None
    if ctx.upstream_tree is not None:
        from iotests.upstream import mode

        suite = upstream = mode.make_suite(
            ctx.upstream_tree, settings, args, ctx.binaries.env(), ctx.environ
        )
        not_run = upstream.not_run
    if not args.tap:
        print(f"binaries: {ctx.binaries.origin}", flush=True)
        versions = sorted(set(ctx.probe.versions.values()))
        if len(versions) > 1:
            detail = ", ".join(f"{r} {v}" for r, v in sorted(ctx.probe.versions.items()))
            print(f"warning: the binaries are of different QEMU versions: {detail}", flush=True)
    if args.dry_run:
        for case in ctx.cases:
            reason = not_run(case, settings, ctx.probe)
            print(f"{case.name}  {'would run' if reason is None else 'not run: ' + reason}")
        return ExitCode.OK
    if settings.valgrind:
        _check_valgrind(ctx.binaries)
    from iotests.runner import reaper

    stale = reaper.kill_orphans()
    if stale:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in stale)
        print(
            f"killed {len(stale)} processes left by an earlier run that died: {names}",
            file=sys.stderr,
        )
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    ctx.probe.save(settings.results_dir / settings.combo / "probe.json")
    env = ctx.binaries.env()
    env["IOTESTS_PROBE"] = str(settings.results_dir / settings.combo / "probe.json")
    from iotests.report.console import ConsoleReporter
    from iotests.report.tap import TapReporter

    reporter = TapReporter() if args.tap else ConsoleReporter()
    started = datetime.now(UTC)
    interrupted = False
    try:
        results = run_selection(
            ctx.cases, settings, ctx.probe, env, reporter, suite=suite, not_run=not_run
        )
    except KeyboardInterrupt:
        interrupted = True
        results = _load_results(ctx.cases, settings)
    if upstream is not None and not args.tap:
        for note in upstream.casenotrun_lines(results):
            print(note)
    if upstream is not None and (hint := upstream.qtest_hint(results, ctx.probe)):
        print(f"# {hint}" if args.tap else hint)
    _write_reports(args, results, started, settings, _environment_summary(ctx))
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED if any(r.status.failed for r in results) else ExitCode.OK


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


def _load_results(cases: Sequence[Case], settings: RunSettings) -> list[CaseResult]:
    """Results of an interrupted run, as the cases that finished left them."""
    out = []
    for case in cases:
        path = settings.results_dir / settings.combo / case.name / "result.json"
        try:
            out.append(CaseResult.deserialize(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError):
            continue
    return out


def _write_reports(
    args: argparse.Namespace,
    results: list[CaseResult],
    started: datetime,
    settings: RunSettings,
    environment: dict[str, Any],
) -> None:
    from iotests.report import files

    settings_data = {
        "format": settings.format,
        "protocol": settings.protocol,
        "cachemode": settings.cachemode,
        "aiomode": settings.aiomode,
        "imgopts": settings.imgopts,
        "jobs": settings.jobs,
        "valgrind": settings.valgrind,
        "misalign": settings.misalign,
    }
    if args.junit:
        files.write_junit(Path(args.junit), results)
    if args.json_file:
        files.write_json(Path(args.json_file), results, started, settings_data, environment)


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
    args = parser.parse_args(list(argv))
    if args.command is None:
        parser.print_help()
        return ExitCode.USAGE_ERROR
    return COMMANDS[args.command](args)


def main(argv: Sequence[str] | None = None) -> None:
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
        print(f"iotests: error: {exc}", file=sys.stderr)
        code = ExitCode.USAGE_ERROR
    sys.exit(int(code))
