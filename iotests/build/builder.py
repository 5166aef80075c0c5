"""Configure and compile QEMU into the cache: the ``build-qemu`` task's logic.

The flow: key the build (source identity + profile + extra options) and
return at once when that key is already built; else check the build
dependencies, take the key's lock, prepare the source, configure out of
tree, run ninja, check the profile's binaries exist, let the source adapter
finish the tree, and write the manifest last. A failure removes the
half-built tree (the log is kept beside the cache) so the cache holds only
complete builds.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from rich.console import Console

from iotests import __version__, command
from iotests.build import deps
from iotests.build.cache import BuildEntry, Cache, build_key
from iotests.build.config import BuildConfig
from iotests.build.manifest import Manifest
from iotests.build.profiles import Profile, parse_version
from iotests.build.sources import Context, Source
from iotests.errors import BuildError, CommandError

_NINJA_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\]")


@dataclass(frozen=True)
class BuildOutcome:
    """A finished (or found) build."""

    entry: BuildEntry
    manifest: Manifest
    #: True when nothing had to be done because the key was already built.
    no_op: bool
    seconds: float


@dataclass(frozen=True)
class BuildRequest:
    """Everything a build depends on or is steered by."""

    source: Source
    profile: Profile
    extra_options: tuple[str, ...] = ()
    jobs: int | None = None
    offline: bool = False
    allow_unverified: bool = False
    check_deps: bool = True
    show_progress: bool = True

    def key(self) -> str:
        inputs = {
            "source": self.source.identity(),
            "profile": self.profile.name,
            "definition": self.profile.definition,
            "extra": list(self.extra_options),
        }
        return build_key(self.source.label(), self.profile.name, inputs)


def build(
    request: BuildRequest, config: BuildConfig, console: Console | None = None
) -> BuildOutcome:
    """Build *request* into the cache, or find it there already built.

    :raises BuildError: missing dependencies, source problems, or a failed
        configure/compile (with the log's path and its last lines).
    """
    out = console or Console(stderr=True, soft_wrap=True)
    started = time.monotonic()
    cache = Cache(config.cache_dir)
    entry = cache.entry(request.key())
    found = entry.manifest()
    if found is not None and not request.source.incremental:
        return BuildOutcome(entry, found, True, time.monotonic() - started)
    if request.check_deps:
        deps.check(request.profile)
    with cache.lock(
        entry.key, on_wait=lambda: out.print(f"waiting for another build of {entry.key} to finish")
    ):
        found = entry.manifest()
        if found is not None and not request.source.incremental:
            return BuildOutcome(entry, found, True, time.monotonic() - started)
        manifest = _build_locked(request, config, cache, entry, out)
    return BuildOutcome(entry, manifest, False, time.monotonic() - started)


def _build_locked(
    request: BuildRequest, config: BuildConfig, cache: Cache, entry: BuildEntry, out: Console
) -> Manifest:
    source, profile = request.source, request.profile
    ctx = Context(
        cache=cache,
        config=config,
        console=out,
        offline=request.offline,
        allow_unverified=request.allow_unverified,
        show_progress=request.show_progress,
    )
    prepared = source.prepare(ctx)
    options = [
        *profile.configure_options(parse_version(prepared.version)),
        *source.configure_options(prepared.tree, profile),
        *request.extra_options,
    ]
    fresh = not (source.incremental and (entry.tree / "build.ninja").is_file())
    if fresh:
        shutil.rmtree(entry.root, ignore_errors=True)
    entry.tree.mkdir(parents=True, exist_ok=True)
    env = source.build_env(profile, _compiler_env(cache), entry.root / "env")
    configure = [str(prepared.tree / "configure"), *options]
    wall = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    try:
        with entry.log.open("a", encoding="utf-8") as log:
            if fresh:
                _step("configure", configure, entry, env, log, out, request.show_progress)
            jobs = str(request.jobs or os.cpu_count() or 1)
            _step(
                "compile",
                ["ninja", "-C", str(entry.tree), "-j", jobs],
                entry,
                env,
                log,
                out,
                request.show_progress,
            )
        binaries = _check_binaries(entry.tree, profile)
        source.after_build(profile, entry.tree, options)
    except BaseException as exc:
        _discard(cache, entry, keep_tree=source.incremental)
        if isinstance(exc, CommandError):
            raise BuildError(
                f"building {entry.key} failed: {Path(exc.argv[0]).name} exited with code "
                f"{exc.returncode}; full log: {cache.root / 'logs' / (entry.key + '.log')}\n"
                + "\n".join("    " + line for line in exc.output.rstrip().splitlines()[-12:])
            ) from exc
        raise
    manifest = Manifest(
        key=entry.key,
        source=source.describe(),
        version=prepared.version,
        profile=profile.name,
        configure=configure,
        compiler=_compiler_version(env),
        ccache=env.get("CC", "").startswith("ccache "),
        binaries=binaries,
        build_dir=str(entry.tree),
        source_dir=str(prepared.tree),
        started=wall.isoformat(timespec="seconds"),
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.monotonic() - clock, 1),
        extra={"toolkit_version": __version__, "extra_options": list(request.extra_options)},
    )
    manifest.write(entry.manifest_path)
    return manifest


def _compiler_env(cache: Cache) -> dict[str, str]:
    """The build environment: ccache in front of the compiler when it is installed."""
    env = dict(os.environ)
    if "CC" not in env and command.which("ccache"):
        env["CC"] = "ccache cc"
        # Paths below the cache root hash as relative ones, and the build
        # directory is not hashed even with -g: one source built under two
        # keys (or in a second cache) still hits.
        env.setdefault("CCACHE_BASEDIR", str(cache.root))
        env.setdefault("CCACHE_NOHASHDIR", "true")
    return env


def _compiler_version(env: dict[str, str]) -> str:
    compiler = env.get("CC", "cc").split()[-1]
    result = command.run([compiler, "--version"], env=env, check=False)
    return (result.stdout.splitlines() or ["unknown"])[0]


def _step(
    name: str,
    argv: Sequence[str],
    entry: BuildEntry,
    env: dict[str, str],
    log: TextIO,
    out: Console,
    show_progress: bool,
) -> None:
    log.write(f"$ {' '.join(argv)}\n")
    out.print(f"{name}: {' '.join(argv)}")
    shown = -1

    def on_line(line: str) -> None:
        nonlocal shown
        log.write(line + "\n")
        match = _NINJA_PROGRESS.match(line)
        if match and show_progress:
            done, total = int(match.group(1)), int(match.group(2))
            tenth = done * 10 // total
            if tenth > shown:
                shown = tenth
                out.print(f"{name}: {done}/{total} ({tenth * 10}%)")

    command.stream(argv, on_line=on_line, env=env, cwd=entry.tree)


def _check_binaries(tree: Path, profile: Profile) -> dict[str, str]:
    found: dict[str, str] = {}
    missing: list[str] = []
    for rel in profile.binaries:
        if command.is_executable(tree / rel):
            found[Path(rel).name] = rel
        else:
            missing.append(rel)
    if missing:
        raise BuildError(
            f"build finished but profile {profile.name!r} binaries are missing: "
            f"{', '.join(missing)}"
        )
    return found


def _discard(cache: Cache, entry: BuildEntry, *, keep_tree: bool) -> None:
    """Remove a failed build, keeping its log in logs/ for the user."""
    logs = cache.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if entry.log.exists():
        shutil.copyfile(entry.log, logs / f"{entry.key}.log")
    entry.manifest_path.unlink(missing_ok=True)
    if not keep_tree:
        shutil.rmtree(entry.root, ignore_errors=True)
