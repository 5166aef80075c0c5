"""invoke tasks for getting QEMU built: ``invoke --list`` shows them.

Thin on purpose: each task parses its flags and calls iotests.build.actions;
an error a user can cause ends the task with one line and its exit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit
from invoke.tasks import task

from iotests.errors import IotestsError

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IotestsError as exc:
            raise Exit(f"error: {exc}", code=int(exc.exit_code)) from None

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


@task(
    help={
        "version": "release to fetch, e.g. 9.2.0",
        "url": "download base URL (a mirror); default from iotests.yaml build.download_url",
        "offline": "use only the download cache; fail naming what is missing",
        "allow_unverified": "accept a tarball with no pinned SHA-256 and no checked signature",
        "config": "config file (default: $IOTESTS_CONFIG, else ./iotests.yaml)",
    }
)
@_one_line_errors
def fetch_qemu(
    c: Any,
    version: str,
    url: str | None = None,
    offline: bool = False,
    allow_unverified: bool = False,
    config: str | None = None,
) -> None:
    """Download and verify a QEMU release tarball into the download cache."""
    from iotests.build.actions import fetch_qemu as action

    action(version, url=url, offline=offline, allow_unverified=allow_unverified, config_file=config)


@task(
    iterable=["configure_option"],
    help={
        "source": "release version, 'debian' (host apt), 'debian:SUITE' (e.g. debian:sid), "
        "a tarball or a source tree (default: config)",
        "profile": "profile from iotests.yaml build.profiles (tools, system, asan, gcov, ...)",
        "configure_option": "extra configure option (repeatable), part of the cache key",
        "jobs": "parallel compile jobs (default: number of CPUs)",
        "url": "download base URL for release sources",
        "offline": "use only cached downloads",
        "allow_unverified": "accept a release tarball that cannot be verified",
        "skip_deps_check": "do not check build dependencies first",
        "config": "config file (default: $IOTESTS_CONFIG, else ./iotests.yaml)",
    },
)
@_one_line_errors
def build_qemu(
    c: Any,
    source: str | None = None,
    profile: str = "tools",
    configure_option: list[str] | None = None,
    jobs: int = 0,
    url: str | None = None,
    offline: bool = False,
    allow_unverified: bool = False,
    skip_deps_check: bool = False,
    config: str | None = None,
) -> None:
    """Build QEMU into the cache (nothing to do when the same inputs were built)."""
    from iotests.build.actions import build_qemu as action

    outcome = action(
        source=source,
        profile=profile,
        configure_options=configure_option or (),
        jobs=jobs or None,
        url=url,
        offline=offline,
        allow_unverified=allow_unverified,
        check_deps=not skip_deps_check,
        config_file=config,
    )
    print(outcome.entry.tree)


@task(
    help={
        "profile": "profile whose dependencies to show",
        "install": "install the missing packages (apt or dnf)",
        "config": "config file",
    }
)
@_one_line_errors
def deps(c: Any, profile: str = "tools", install: bool = False, config: str | None = None) -> None:
    """Print the distribution packages a profile needs to build; --install installs them."""
    from iotests.build.actions import show_deps

    if show_deps(profile=profile, install=install, config_file=config):
        raise Exit(code=1)


@task(help={"json": "print JSON instead of a table", "config": "config file"})
@_one_line_errors
def builds(c: Any, json: bool = False, config: str | None = None) -> None:
    """List the cached builds, newest first."""
    from iotests.build.actions import list_builds

    list_builds(as_json=json, config_file=config)


@task(
    iterable=["key"],
    help={"key": "build key to remove (repeatable; default: all builds)", "config": "config file"},
)
@_one_line_errors
def clean(c: Any, key: list[str] | None = None, config: str | None = None) -> None:
    """Remove cached builds: all of them, or those named with --key."""
    from iotests.build.actions import clean as action

    action(keys=key or (), config_file=config)


@task(
    iterable=["configure_option"],
    help={
        "source": "as for build-qemu (default: config)",
        "profile": "as for build-qemu",
        "configure_option": "as for build-qemu",
        "config": "config file",
    },
)
@_one_line_errors
def build_dir(
    c: Any,
    source: str | None = None,
    profile: str = "tools",
    configure_option: list[str] | None = None,
    config: str | None = None,
) -> None:
    """Print the cached build tree for these inputs (for --build-dir); never builds."""
    from iotests.build.actions import find_build

    tree = find_build(
        source=source, profile=profile, configure_options=configure_option or (), config_file=config
    )
    print(tree)


@task(help={"log_dir": "directory of sanitizer log files (log_path=DIR/asan)"})
@_one_line_errors
def sanitizer_scan(c: Any, log_dir: str) -> None:
    """Show the sanitizer reports in a log directory; fail when there is any."""
    from pathlib import Path

    from iotests.build.actions import scan_sanitizer_logs

    if scan_sanitizer_logs(Path(log_dir)):
        raise Exit(code=1)


@task(
    help={
        "build_dir": "a gcov build tree (see: invoke build-dir --profile gcov)",
        "reset": "delete the coverage counters instead of reporting",
        "out": "report directory (default: results/coverage)",
    }
)
@_one_line_errors
def coverage(c: Any, build_dir: str, reset: bool = False, out: str | None = None) -> None:
    """Reset a gcov build's coverage counters, or write its gcovr report."""
    from pathlib import Path

    from iotests.build.actions import coverage as action

    action(Path(build_dir), out_dir=Path(out) if out else None, reset=reset)


@task(
    help={
        "files": "comma-separated globs of QEMU C files, e.g. 'block/qcow2*.c,qemu-img.c'",
        "source": "as for build-qemu: the gcov build of this source is used (default: config)",
        "diff": "only lines changed since this git revision of the source",
        "sample": "test a seeded sample of N mutants",
        "seed": "the sample's seed",
        "selection": "runner options, e.g. '-f qcow2 -g auto' (the default)",
        "out": "report directory (default: results/mutants)",
        "config": "config file",
    }
)
@_one_line_errors
def mutants(
    c: Any,
    files: str,
    source: str | None = None,
    diff: str | None = None,
    sample: int = 0,
    seed: int = 0,
    selection: str = "",
    out: str | None = None,
    config: str | None = None,
) -> None:
    """Mutation testing of QEMU sources on the cached gcov build (see docs/mutation.md)."""
    import shlex

    from iotests.build.actions import find_build
    from iotests.mutate.commands import main

    tree = find_build(source=source, profile="gcov", config_file=config)
    argv = ["mutants", "--build-dir", str(tree), "--files", files, "--seed", str(seed)]
    argv += [*(["--diff", diff] if diff else []), *(["--sample", str(sample)] if sample else [])]
    argv += [*(["--out", out] if out else []), *(["--config", config] if config else [])]
    code = main([*argv, *shlex.split(selection)])
    if code:
        raise Exit(code=code)
