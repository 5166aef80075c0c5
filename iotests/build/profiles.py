"""Build profiles: named sets of configure options and the binaries they must produce.

A profile's options may depend on the QEMU version being built (the sanitizer
switches changed in 9.2), so a profile resolves to a configure line only once
the source's version is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Version = tuple[int, ...]

_VERSION_RE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> Version:
    """The numeric ``(major, minor, micro)`` leading *text*: ``"7.2+dfsg"`` gives ``(7, 2, 0)``.

    :raises ValueError: when *text* does not start with a number.
    """
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(part or 0) for part in match.groups())


@dataclass(frozen=True)
class VersionedOptions:
    """Options added only for versions in ``[since, before)``; None leaves a side open."""

    configure: tuple[str, ...]
    since: Version | None = None
    before: Version | None = None

    def applies_to(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return self.before is None or version < self.before


@dataclass(frozen=True)
class Profile:
    """One way of building QEMU, as named in the config (``tools``, ``asan``, ...)."""

    name: str
    configure: tuple[str, ...]
    binaries: tuple[str, ...]
    description: str = ""
    versioned: tuple[VersionedOptions, ...] = ()
    #: Abstract dependency names (see :mod:`iotests.build.deps`) beyond the base set.
    needs: tuple[str, ...] = ()
    #: Everything that defines the profile, for the cache key: editing the
    #: profile in the config must not reuse a build made from the old one.
    definition: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def configure_options(self, version: Version) -> list[str]:
        """The profile's configure options for a source of *version*."""
        options = list(self.configure)
        for extra in self.versioned:
            if extra.applies_to(version):
                options.extend(extra.configure)
        return options

    @property
    def has_system_emulator(self) -> bool:
        return any(name.startswith("qemu-system-") for name in self.binaries) or any(
            opt.startswith("--target-list=") and "softmmu" in opt for opt in self.configure
        )
