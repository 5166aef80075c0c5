"""Finding the QEMU binaries: explicit build tree or variables, cached build, PATH.

Order, first hit per binary wins:

1. ``--build-dir DIR`` (a QEMU build tree) for every binary it holds;
2. the ``QEMU_PROG`` / ``QEMU_IMG_PROG`` / ... environment variables;
3. the toolkit's own cached build (``iotests.build``), when one exists;
4. the binaries on PATH.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iotests import command
from iotests.errors import UsageError


@dataclass(frozen=True)
class Role:
    """One kind of QEMU binary and where each source keeps it."""

    name: str
    variable: str
    program: str
    build_path: str


def _system_program() -> str:
    machine = platform.machine()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    return f"qemu-system-{arch}"


ROLES: tuple[Role, ...] = (
    Role("qemu", "QEMU_PROG", _system_program(), _system_program()),
    Role("qemu-img", "QEMU_IMG_PROG", "qemu-img", "qemu-img"),
    Role("qemu-io", "QEMU_IO_PROG", "qemu-io", "qemu-io"),
    Role("qemu-nbd", "QEMU_NBD_PROG", "qemu-nbd", "qemu-nbd"),
    Role("qsd", "QSD_PROG", "qemu-storage-daemon", "storage-daemon/qemu-storage-daemon"),
)
ROLE_NAMES = tuple(r.name for r in ROLES)


@dataclass(frozen=True)
class Binaries:
    """Absolute path per role (None: not found) and where the set came from."""

    paths: Mapping[str, str | None]
    origin: str
    build_dir: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def get(self, role: str) -> str | None:
        return self.paths.get(role)

    def found(self) -> list[str]:
        return [r for r in ROLE_NAMES if self.paths.get(r)]

    def env(self) -> dict[str, str]:
        """QEMU_*_PROG variables for the binaries that were found."""
        return {r.variable: p for r in ROLES if (p := self.paths.get(r.name))}

    @property
    def flavour(self) -> str:
        """The build profile (plain, asan, gcov...) of a toolkit build, or "" for others.

        Read from the build's manifest; a run on an ASan build and a plain
        run must not be taken for one (reports, known failures).
        """
        if self.build_dir is None:
            return ""
        manifest = Path(self.build_dir).parent / "manifest.json"
        try:
            profile = json.loads(manifest.read_text()).get("profile", "")
        except (OSError, ValueError, AttributeError):
            return ""
        return profile if isinstance(profile, str) else ""

    def missing(self) -> list[str]:
        """Programs of the roles not found (upstream's ``check`` needs every one)."""
        return [r.program for r in ROLES if not self.paths.get(r.name)]


def _cached_build_dir() -> Path | None:
    try:
        from iotests.build.cache import default_build_dir
    except ImportError:
        return None
    try:
        return default_build_dir()
    except Exception:
        return None


def resolve(
    build_dir: Path | None,
    environ: Mapping[str, str],
    *,
    use_cache: bool = True,
    search_path: str | None = None,
) -> Binaries:
    """Find every role's binary.

    :raises UsageError: when *build_dir* or a ``*_PROG`` variable names
        something that is not an executable file: an explicit choice that
        does not work must not silently fall back to another binary.
    """
    paths: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    if build_dir is not None:
        if not build_dir.is_dir():
            raise UsageError(f"--build-dir {build_dir}: not a directory")
        for role in ROLES:
            candidate = build_dir / role.build_path
            if command.is_executable(candidate):
                paths[role.name] = str(candidate.resolve())
                sources[role.name] = "build-dir"
        if not paths:
            raise UsageError(
                f"--build-dir {build_dir}: no QEMU binaries in it (is it a QEMU build tree?)"
            )
    for role in ROLES:
        if role.name in paths:
            continue
        value = environ.get(role.variable)
        if value:
            resolved = value if os.sep in value else command.which(value, path=search_path)
            if resolved is None or not command.is_executable(Path(resolved)):
                raise UsageError(f"{role.variable}={value}: not an executable file")
            paths[role.name] = str(Path(resolved).resolve())
            sources[role.name] = role.variable
    cached = _cached_build_dir() if use_cache and build_dir is None else None
    if cached is not None:
        for role in ROLES:
            candidate = cached / role.build_path
            if role.name not in paths and command.is_executable(candidate):
                paths[role.name] = str(candidate)
                sources[role.name] = "cached build"
    for role in ROLES:
        if role.name not in paths:
            found = command.which(role.program, path=search_path)
            paths[role.name] = str(Path(found).resolve()) if found else None
            if found:
                sources[role.name] = "PATH"
    kinds = sorted(set(sources.values()))
    origin = {
        "build-dir": f"build tree {build_dir}",
        "cached build": f"cached build {cached}",
    }
    described = ", ".join(origin.get(k, k if k == "PATH" else "$" + k) for k in kinds) or "nothing"
    return Binaries(
        paths=paths,
        origin=described,
        build_dir=str(build_dir or cached) if (build_dir or cached) else None,
        sources=sources,
    )
