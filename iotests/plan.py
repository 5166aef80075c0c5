"""The run plan: configuration, binaries, probe, selection, settings, each found once.

As in nox's workflow, a run is built by small steps in a fixed order. Each
step takes what the earlier ones produced and returns a new frozen value
holding what it adds, so the order is in the types: a step cannot read what
a later one sets, because it is not handed it::

    configure(options, mode) -> Setup        config file and environment
    find_binaries(setup)     -> Binaries     build tree, $QEMU_*_PROG, cached build, PATH
    probe(setup, binaries)   -> Machine      what they can do; a build's substitutes judged
    mode.select(setup)       -> cases        discovery and selection
    settle(setup, machine)   -> RunSettings  flags over environment over config over defaults
    mode.prepare(...)        -> SuiteRun     how the cases are set up, skipped and shown

:func:`build` runs them all (``run``, ``list``); :func:`inspect` the first
three (``env``). :class:`Mode` is the one place where our own cases and an
upstream tree's tests (:class:`iotests.upstream.mode.UpstreamMode`) differ;
the CLI picks it once, before the first step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from iotests.config import RunnerConfig, find_config, load_runner_config
from iotests.env import binaries as binaries_mod
from iotests.env.binaries import Binaries
from iotests.env.probe import Probe
from iotests.env.probe_cache import cached_probe
from iotests.errors import BinaryNotFoundError
from iotests.options import Options
from iotests.runner.discovery import Case, discover
from iotests.runner.execution import Suite
from iotests.runner.selection import Selection, select
from iotests.runner.session import Reporter, not_run_reason
from iotests.runner.settings import RunSettings

if TYPE_CHECKING:
    from iotests.report.console import ConsoleReporter
    from iotests.report.tap import TapReporter
    from iotests.upstream.suite import UpstreamSuite

T = TypeVar("T")
DEFAULTS = RunSettings()


def _merged(flag: T | None, config: RunnerConfig, key: str, default: T) -> T:
    """The flag if given (0 and "" are values), else the config's value, else *default*."""
    if flag is not None:
        return flag
    value: T = config.get(key, default)
    return value


@dataclass(frozen=True)
class Setup:
    """Step 1: the command line, the environment and the config file they point at."""

    options: Options
    mode: Mode
    config: RunnerConfig
    environ: Mapping[str, str]

    def _directory(self, flag: str | None, key: str) -> Path:
        # load_runner_config always sets the directory keys.
        return Path(_merged(flag, self.config, key, "")).resolve()

    @property
    def cases_dir(self) -> Path:
        return self._directory(self.options.cases_dir, "cases_dir")

    @property
    def expected_dir(self) -> Path:
        return self._directory(self.options.expected_dir, "expected_dir")

    @property
    def results_dir(self) -> Path:
        """The results directory as configured (a mode may keep its results below it)."""
        return self._directory(self.options.results_dir, "results_dir")


@dataclass(frozen=True)
class Machine:
    """Steps 2 and 3: the binaries, what they can do, and where the substitutes came from."""

    binaries: Binaries
    probe: Probe
    #: Said before the run: which binaries a build tree lacked, and what stood in.
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The binaries, what they can do, their QEMU version and build flavour.

        Recorded on the machine that ran: a merge elsewhere cannot find the
        build (nor its manifest) to ask.
        """
        version = self.probe.qemu_version
        return {
            "origin": self.binaries.origin,
            **self.probe.serialize(),
            "build_dir": self.binaries.build_dir,
            "flavour": self.binaries.flavour,
            "qemu_version": ".".join(map(str, version)) if version else None,
        }


@dataclass(frozen=True)
class SuiteRun:
    """The last step: how this run's cases are set up and judged, skipped, and shown."""

    suite: Suite
    #: Why a case is not started with these settings and binaries, or None.
    not_run: Callable[[Case, RunSettings, Probe], str | None]
    #: The live view of one pass over the cases (the run, or --regenerate's re-run).
    reporter: Callable[[RunSettings], Reporter]


@dataclass(frozen=True)
class Plan:
    """The whole run, built once before the first case starts."""

    setup: Setup
    machine: Machine
    cases: tuple[Case, ...]
    settings: RunSettings
    suite: SuiteRun

    @property
    def options(self) -> Options:
        return self.setup.options


def view(
    settings: RunSettings, options: Options, upstream: UpstreamSuite | None = None
) -> ConsoleReporter | TapReporter:
    """The console view (with its re-run lines), or TAP when ``--tap`` asked for it."""
    from iotests.report.console import ConsoleReporter
    from iotests.report.tap import TapReporter

    if options.tap:
        return TapReporter()
    return ConsoleReporter.for_run(settings, options, upstream)


class Mode:
    """Our own cases (cases/ with goldens in expected/); upstream mode overrides each part."""

    #: The upstream tree whose tests run, as reports record it; None for our cases.
    upstream_tree: Path | None = None

    def build_dir(self, setup: Setup) -> Path | None:
        """A build to take binaries from when none was named and the cache may be used."""
        return None

    def select(self, setup: Setup) -> Sequence[Case]:
        """The cases the command line selects, in the order they are listed."""
        from iotests.mutate.select import narrow  # --changed/--touching: per-case coverage

        o = setup.options
        cases_dir, expected_dir = setup.cases_dir, setup.expected_dir
        selection = Selection(
            names=o.tests,
            groups=o.groups,
            exclude_groups=o.exclude_groups,
            shard=o.shard,
            start_from=o.start_from,
        )
        chosen = select(discover(cases_dir, expected_dir), selection)
        # The coverage map is keyed by the format and protocol settle() gives the run.
        settled = replace(
            DEFAULTS,
            format=_merged(o.format, setup.config, "format", DEFAULTS.format),
            protocol=_merged(o.protocol, setup.config, "protocol", DEFAULTS.protocol),
        )
        return narrow(chosen, o, settled.combo, cases_dir, expected_dir)

    def results_dir(self, setup: Setup) -> Path:
        return setup.results_dir

    def prepare(self, setup: Setup, machine: Machine, settings: RunSettings) -> SuiteRun:
        """The suite the cases run in, once the settings are known."""
        return SuiteRun(Suite(), not_run_reason, lambda s: view(s, setup.options))


def configure(options: Options, mode: Mode) -> Setup:
    """Step 1: read the config file the command line or $IOTESTS_CONFIG names."""
    environ = dict(os.environ)
    path = find_config(options.config, environ, Path.cwd())
    return Setup(options, mode, load_runner_config(path, environ), environ)


def find_binaries(setup: Setup) -> Binaries:
    """Step 2: the binaries, from the build tree named, the mode's build, $QEMU_*_PROG or PATH."""
    given = _merged(setup.options.build_dir, setup.config, "build_dir", None)
    use_cache = setup.environ.get("IOTESTS_NO_CACHED_BUILD", "") in ("", "0")
    build_dir = Path(given) if given else None
    if build_dir is None and use_cache:
        build_dir = setup.mode.build_dir(setup)
    found = binaries_mod.resolve(
        build_dir.resolve() if build_dir else None, setup.environ, use_cache=use_cache
    )
    if not found.found():
        raise BinaryNotFoundError(
            "no QEMU binaries found: install qemu-utils, pass --build-dir, or set QEMU_IMG_PROG"
        )
    return found


def probe(setup: Setup, found: Binaries) -> Machine:
    """Step 3: probe the binaries; keep a build tree's substitutes only if of its release."""
    config_file, environ = setup.options.config, setup.environ
    probed = cached_probe(found, config_file, environ)
    dropped, notes = judge_substitutes(found, probed.versions, mix=setup.options.mix_versions)
    if dropped:
        found = replace(
            found, paths={r: None if r in dropped else p for r, p in found.paths.items()}
        )
        probed = cached_probe(found, config_file, environ)
    return Machine(found, probed, tuple(notes))


def _series(version: str | None) -> str | None:
    """A QEMU release series ("7.2" of "7.2.22"): binaries of one series work together."""
    return ".".join(version.split(".")[:2]) if version else None


def judge_substitutes(
    found: Binaries, versions: Mapping[str, str], *, mix: bool
) -> tuple[set[str], list[str]]:
    """The binaries a build tree lacks that are of another release, and a note on each stand-in.

    Pure: *versions* are the probe's, *mix* is ``--mix-versions``.
    """
    tree_kinds = ("build-dir", "cached build")
    tree_roles = [r for r, kind in found.sources.items() if kind in tree_kinds]
    series = {_series(versions.get(r)) for r in tree_roles} - {None}
    if not tree_roles or len(series) != 1:
        return set(), []
    [tree_series] = series
    dropped: set[str] = set()
    notes: list[str] = []
    for role, kind in sorted(found.sources.items()):
        if kind in tree_kinds:
            continue
        path, version = found.paths[role], versions.get(role, "unknown version")
        what = f"{found.build_dir} has no {role}"
        if mix or _series(version) in (tree_series, None):
            notes.append(f"note: {what}: using {path} ({kind}, QEMU {version})")
        else:
            dropped.add(role)
            notes.append(
                f"warning: {what}; not using {path} ({kind}) of QEMU {version} with the "
                f"build's {tree_series} (--mix-versions allows it): cases needing it are not run"
            )
    return dropped, notes


def settle(setup: Setup, machine: Machine) -> RunSettings:
    """Step 5: each setting from its flag, else the environment or config, else the default."""
    o, c = setup.options, setup.config
    return RunSettings(
        format=_merged(o.format, c, "format", DEFAULTS.format),
        protocol=_merged(o.protocol, c, "protocol", DEFAULTS.protocol),
        cachemode=_merged(o.cachemode, c, "cachemode", DEFAULTS.cachemode),
        aiomode=_merged(o.aiomode, c, "aiomode", DEFAULTS.aiomode),
        imgopts=_merged(o.imgopts, c, "imgopts", DEFAULTS.imgopts),
        misalign=o.misalign,
        valgrind=o.valgrind,
        timeout=float(_merged(o.timeout, c, "timeout", DEFAULTS.timeout)),
        jobs=int(_merged(o.jobs, c, "jobs", os.cpu_count() or DEFAULTS.jobs)),
        verbose=o.verbose,
        regenerate=bool(_merged(o.regenerate, c, "regenerate", DEFAULTS.regenerate)),
        results_dir=setup.mode.results_dir(setup),
        bytecode_cache=bool(_merged(None, c, "bytecode_cache", DEFAULTS.bytecode_cache)),
        qemu_version=machine.probe.qemu_version,
    )


def inspect(options: Options, mode: Mode) -> tuple[Setup, Machine]:
    """Steps 1 to 3: what ``iotests env`` shows."""
    setup = configure(options, mode)
    return setup, probe(setup, find_binaries(setup))


def build(options: Options, mode: Mode) -> Plan:
    """Every step, in order: the plan ``run`` executes and ``list`` shows."""
    setup, machine = inspect(options, mode)
    cases = tuple(setup.mode.select(setup))
    settings = settle(setup, machine)
    return Plan(setup, machine, cases, settings, setup.mode.prepare(setup, machine, settings))
