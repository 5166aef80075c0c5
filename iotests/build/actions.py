"""The build tasks as plain functions: what tasks.py, noxfile.py and benchmarks call.

Each takes the options a user gives on the command line, prints progress
and results to a rich console, and raises :class:`~iotests.errors.IotestsError`
subclasses for everything a user can get wrong; turning those into an exit
code and one line is the caller's job.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from iotests.build import deps
from iotests.build.builder import BuildOutcome, BuildRequest, build
from iotests.build.cache import Cache
from iotests.build.config import BuildConfig, load_build_config
from iotests.build.sources import Context, ReleaseSource, parse_source
from iotests.errors import BuildError, UsageError


def fetch_qemu(
    version: str,
    *,
    url: str | None = None,
    offline: bool = False,
    allow_unverified: bool = False,
    config_file: str | None = None,
    console: Console | None = None,
) -> Path:
    """Download and verify the release tarball of *version*; return its cached path."""
    out = console or Console(stderr=True, soft_wrap=True)
    config = _with_url(load_build_config(config_file), url)
    source = parse_source(version)
    if not isinstance(source, ReleaseSource):
        raise UsageError(f"--version {version}: expected a release version such as 9.2.0")
    ctx = Context(
        cache=Cache(config.cache_dir),
        config=config,
        console=out,
        offline=offline,
        allow_unverified=allow_unverified,
    )
    path = source.fetch(ctx)
    out.print(f"{path}")
    return path


def build_qemu(
    *,
    source: str | None = None,
    profile: str = "tools",
    configure_options: Sequence[str] = (),
    jobs: int | None = None,
    url: str | None = None,
    offline: bool = False,
    allow_unverified: bool = False,
    check_deps: bool = True,
    config_file: str | None = None,
    console: Console | None = None,
) -> BuildOutcome:
    """Build (or find already built) *profile* from *source* (default: the config's)."""
    out = console or Console(stderr=True, soft_wrap=True)
    config = _with_url(load_build_config(config_file), url)
    request = BuildRequest(
        source=parse_source(source or config.default_source, config),
        profile=config.profile(profile),
        extra_options=tuple(configure_options),
        jobs=jobs,
        offline=offline,
        allow_unverified=allow_unverified,
        check_deps=check_deps,
    )
    outcome = build(request, config, out)
    if outcome.no_op:
        out.print(f"already built, nothing to do ({outcome.seconds:.2f}s): {outcome.entry.tree}")
    else:
        out.print(f"built {outcome.entry.key} in {outcome.seconds:.0f}s: {outcome.entry.tree}")
    return outcome


def find_build(
    *,
    source: str | None = None,
    profile: str = "tools",
    configure_options: Sequence[str] = (),
    config_file: str | None = None,
) -> Path:
    """The cached build tree for these inputs, without building anything.

    :raises BuildError: when that build is not in the cache (naming the command that makes it).
    """
    config = load_build_config(config_file)
    request = BuildRequest(
        source=parse_source(source or config.default_source, config),
        profile=config.profile(profile),
        extra_options=tuple(configure_options),
    )
    entry = Cache(config.cache_dir).entry(request.key())
    if entry.manifest() is None:
        raise BuildError(
            f"no cached {profile} build of {request.source.spec}: run "
            f"invoke build-qemu --source {request.source.spec} --profile {profile}"
        )
    return entry.tree


def scan_sanitizer_logs(log_dir: Path, console: Console | None = None) -> int:
    """Print every sanitizer report in *log_dir*'s files; return how many there were.

    Files holding only known noise (ASan's coroutine warning) count for nothing.
    """
    from iotests.runner.sanitizers import reports_in_logs

    out = console or Console(soft_wrap=True)
    files = [p for p in log_dir.glob("*san.*") if p.is_file()] if log_dir.is_dir() else []
    found = reports_in_logs(files)
    for path, report in found:
        out.print(f"[bold red]{report.summary}[/] ({path})", highlight=False)
        out.print(report.text, markup=False, highlight=False)
    out.print(f"sanitizer logs: {len(files)} file(s), {len(found)} report(s)")
    return len(found)


def coverage(
    build_dir: Path,
    *,
    out_dir: Path | None = None,
    reset: bool = False,
    console: Console | None = None,
) -> None:
    """Reset a gcov build's counters, or report its coverage with gcovr into *out_dir*."""
    from iotests.build.coverage import report as gcovr_report
    from iotests.build.coverage import reset_counters
    from iotests.build.manifest import Manifest

    out = console or Console(soft_wrap=True)
    manifest = Manifest.read(build_dir.parent / "manifest.json")
    if reset:
        out.print(f"reset {reset_counters(build_dir)} coverage counter file(s) in {build_dir}")
        return
    target = out_dir or Path("results/coverage")
    areas = gcovr_report(Path(manifest.source_dir), build_dir, target)
    for area in areas:
        out.print(area.line(), highlight=False)
    out.print(f"coverage report: {target / 'index.html'}")


def show_deps(
    *,
    profile: str = "tools",
    install: bool = False,
    config_file: str | None = None,
    console: Console | None = None,
) -> list[str]:
    """Print (or install) the packages *profile* needs; return those still missing."""
    out = console or Console(soft_wrap=True)
    chosen = load_build_config(config_file).profile(profile)
    manager = deps.package_manager()
    if manager is None:
        raise BuildError(
            "unknown distribution: only apt (Debian/Ubuntu) and dnf (Fedora) "
            "are supported; see iotests/build/deps.py for the package names"
        )
    needed = deps.needs_of(chosen)
    lacking = deps.missing(needed, manager)
    if install and lacking:
        deps.install(lacking, manager)
        lacking = deps.missing(needed, manager)
    out.print(" ".join(deps.packages(needed, manager)))
    if lacking:
        out.print(f"missing: {' '.join(lacking)}")
    return lacking


def list_builds(
    *, as_json: bool = False, config_file: str | None = None, console: Console | None = None
) -> None:
    """Print the complete builds in the cache, newest first."""
    out = console or Console(soft_wrap=True)
    builds = Cache(load_build_config(config_file).cache_dir).complete()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "key": e.key,
                        "build_dir": str(e.tree),
                        "profile": m.profile,
                        "version": m.version,
                        "source": m.source.get("spec"),
                        "finished": m.finished,
                    }
                    for e, m in builds
                ]
            )
        )
        return
    if not builds:
        out.print("no cached builds")
    for entry, manifest in builds:
        out.print(
            f"{entry.key}  {manifest.profile:<7} {manifest.version:<10} "
            f"{manifest.finished}  {entry.tree}",
            highlight=False,
        )


def clean(
    *, keys: Sequence[str] = (), config_file: str | None = None, console: Console | None = None
) -> list[str]:
    """Remove cached builds (all when *keys* is empty); downloads and sources stay."""
    out = console or Console(soft_wrap=True)
    removed = Cache(load_build_config(config_file).cache_dir).remove(keys)
    out.print(f"removed {len(removed)} build(s)" + "".join(f"\n  {k}" for k in removed))
    return removed


def _with_url(config: BuildConfig, url: str | None) -> BuildConfig:
    if url is None:
        return config
    from dataclasses import replace

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url}: expected an http:// or https:// URL")
    return replace(config, download_url=url if url.endswith("/") else url + "/")
