"""Build dependencies of a profile: which distribution packages, which are missing.

Dependencies are named abstractly (``base``, ``fdt``, ``asan``, ...) so that a
profile in the config can ask for them without knowing the distribution;
this module maps each name to apt (Debian/Ubuntu) and dnf (Fedora) packages.
A dependency that is a program is checked on PATH, so a tool installed by
other means (pip, a local build) counts as present.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from iotests import command
from iotests.build.profiles import Profile
from iotests.errors import BuildError, CommandError


@dataclass(frozen=True)
class Need:
    """One abstract dependency: the packages providing it per package manager."""

    apt: tuple[str, ...]
    dnf: tuple[str, ...]
    #: When set, the need is met by these programs on PATH, however installed.
    programs: tuple[str, ...] = ()


NEEDS: Mapping[str, Need] = {
    "base": Need(
        apt=(
            "gcc",
            "make",
            "python3",
            "ninja-build",
            # QEMU 7.2's configure runs the system's meson when the tarball has no
            # meson/ (Debian's +dfsg ones strip it); 8.1 on bring their own wheel.
            "meson",
            "pkg-config",
            "flex",
            "bison",
            "libglib2.0-dev",
            "zlib1g-dev",
            "libpixman-1-dev",
            "libaio-dev",
            "libzstd-dev",
            # a crypto backend: without one qemu-img cannot create luks headers
            "libgnutls28-dev",
        ),
        dnf=(
            "gcc",
            "make",
            "python3",
            "ninja-build",
            "meson",
            "pkgconf-pkg-config",
            "flex",
            "bison",
            "glib2-devel",
            "zlib-devel",
            "pixman-devel",
            "libaio-devel",
            "libzstd-devel",
            "gnutls-devel",
        ),
    ),
    "fdt": Need(apt=("libfdt-dev",), dnf=("libfdt-devel",)),
    "slirp": Need(apt=("libslirp-dev",), dnf=("libslirp-devel",)),
    "asan": Need(apt=("libasan8", "libubsan1"), dnf=("libasan", "libubsan")),
    "gcov": Need(apt=("gcovr",), dnf=("gcovr",), programs=("gcovr",)),
}
KNOWN_NEEDS = frozenset(NEEDS) - {"base"}


def package_manager(os_release: Path = Path("/etc/os-release")) -> str | None:
    """``"apt"`` or ``"dnf"`` for this machine's distribution, None when unknown."""
    try:
        text = os_release.read_text(encoding="utf-8")
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    ids = {fields.get("ID", ""), *fields.get("ID_LIKE", "").split()}
    if ids & {"debian", "ubuntu"}:
        return "apt"
    if ids & {"fedora", "rhel", "centos"}:
        return "dnf"
    return None


def needs_of(profile: Profile, extra: Sequence[str] = ()) -> list[str]:
    """Every abstract dependency *profile* needs, base first."""
    names = ["base", *profile.needs, *extra]
    return list(dict.fromkeys(names))


def packages(needs: Sequence[str], manager: str) -> list[str]:
    """The packages *manager* installs for *needs*, in order, without repeats."""
    out: list[str] = []
    for name in needs:
        out.extend(getattr(NEEDS[name], manager))
    return list(dict.fromkeys(out))


def _installed_packages(names: Sequence[str], manager: str) -> set[str]:
    if not names:
        return set()
    if manager == "apt":
        argv = ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names]
        result = command.run(argv, check=False, merge_stderr=False)
        return {
            line.split()[0].split(":")[0]
            for line in result.stdout.splitlines()
            if line.endswith(" installed")
        }
    result = command.run(
        ["rpm", "-q", "--qf", "%{NAME}\n", *names], check=False, merge_stderr=False
    )
    return {line.strip() for line in result.stdout.splitlines() if line.strip() in names}


def missing(needs: Sequence[str], manager: str | None) -> list[str]:
    """Packages (or, where the distribution is unknown, programs) that are not there."""
    lacking: list[str] = []
    to_query: list[str] = []
    for name in needs:
        need = NEEDS[name]
        if need.programs:
            if not all(command.which(p) for p in need.programs):
                lacking.extend(getattr(need, manager) if manager else need.programs)
        elif manager is not None:
            to_query.extend(getattr(need, manager))
    if manager is None:
        lacking.extend(
            p
            for p in ("cc", "ninja", "pkg-config", "python3", "flex", "bison")
            if command.which(p) is None
        )
        return list(dict.fromkeys(lacking))
    installed = _installed_packages(to_query, manager)
    lacking.extend(p for p in to_query if p not in installed)
    return list(dict.fromkeys(lacking))


def check(profile: Profile, extra: Sequence[str] = ()) -> None:
    """Fail in one line naming every missing build dependency of *profile*.

    :raises BuildError: when anything is missing.
    """
    manager = package_manager()
    lacking = missing(needs_of(profile, extra), manager)
    if lacking:
        raise BuildError(
            f"missing build dependencies for profile {profile.name!r}: {' '.join(lacking)}"
            f" (install them with: invoke deps --profile {profile.name} --install)"
        )


def install_command(pkgs: Sequence[str], manager: str) -> list[str]:
    """The command line that installs *pkgs*, with sudo when not root."""
    argv = (
        ["apt-get", "install", "-y", *pkgs] if manager == "apt" else ["dnf", "install", "-y", *pkgs]
    )
    if os.geteuid() != 0:
        argv.insert(0, "sudo")
    return argv


def install(pkgs: Sequence[str], manager: str) -> None:
    """Install *pkgs*; a failure ends in one line with the tail of the package manager's output.

    :raises BuildError: when the package manager fails.
    """
    if not pkgs:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        command.run(install_command(pkgs, manager), env=env)
    except CommandError as exc:
        raise BuildError(f"installing build dependencies failed: {exc}") from exc
