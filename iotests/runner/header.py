"""Case metadata: parsed from the comment header at the top of each case file.

A header is the first block of ``#`` comment lines (after the shebang)::

    #!/usr/bin/env python3
    # group: rw quick auto
    # formats: raw qcow2          (or * for every format)
    # exclude-formats: luks
    # protocols: file nbd         (default: file)
    # requires: qemu-io format:luks accel:qtest
    # timeout: 120
    #
    # Free text below a blank comment line describes the case.

Keys are ``key: value`` pairs; values are space or comma separated lists.
A malformed header is an error that names the file and the line.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from iotests.errors import CaseHeaderError
from iotests.runner.settings import FORMATS, PROTOCOLS

#: Binaries a case can require by role name.
BINARY_ROLES = ("qemu", "qemu-img", "qemu-io", "qemu-nbd", "qsd")
#: Requirement prefixes taking an argument: ``accel:qtest``, ``format:luks``, ``cmd:gpg``.
PREFIXED_REQUIREMENTS = ("accel", "format", "cmd", "machine")
OTHER_REQUIREMENTS = ("root",)

_KEY = re.compile(r"^#\s*([A-Za-z][A-Za-z_-]*)\s*:\s*(.*?)\s*$")
_LIST_KEYS = {
    "group",
    "groups",
    "formats",
    "exclude-formats",
    "protocols",
    "exclude-protocols",
    "requires",
}


@dataclass(frozen=True)
class CaseHeader:
    groups: frozenset[str] = frozenset()
    formats: tuple[str, ...] = ("*",)
    exclude_formats: frozenset[str] = frozenset()
    protocols: tuple[str, ...] = ("file",)
    exclude_protocols: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()
    timeout: float | None = None
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def supports_format(self, fmt: str) -> bool:
        if fmt in self.exclude_formats:
            return False
        return "*" in self.formats or fmt in self.formats

    def supports_protocol(self, proto: str) -> bool:
        if proto in self.exclude_protocols:
            return False
        return "*" in self.protocols or proto in self.protocols


#: Header lists whose words must be known names: a typo would silently never run
#: the case, or run it where it was meant to be excluded.
_NAMED_LISTS = {
    "formats": ("*", *FORMATS),
    "exclude-formats": FORMATS,
    "protocols": ("*", *PROTOCOLS),
    "exclude-protocols": PROTOCOLS,
}


def _unknown_name(key: str, name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{key}: unknown name {name!r} ({hint}known: {', '.join(known)})"


def _split(value: str) -> list[str]:
    return [v for v in re.split(r"[\s,]+", value) if v]


def validate_requirement(req: str) -> str | None:
    """Return a problem description, or None when *req* is a known requirement."""
    if req in BINARY_ROLES or req in OTHER_REQUIREMENTS:
        return None
    prefix, sep, arg = req.partition(":")
    if sep and prefix in PREFIXED_REQUIREMENTS and arg:
        return None
    known = ", ".join(
        [*BINARY_ROLES, *OTHER_REQUIREMENTS, *(p + ":NAME" for p in PREFIXED_REQUIREMENTS)]
    )
    return f"unknown requirement {req!r} (known: {known})"


def parse_header(text: str, path: str) -> CaseHeader:
    """Parse the header of a case file's *text*; *path* is only used in errors.

    :raises CaseHeaderError: for an unknown key, a repeated key, a bad
        timeout or an unknown requirement, naming *path* and the line.
    """
    values: dict[str, tuple[int, str]] = {}
    description: list[str] = []
    in_description = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if lineno == 1 and line.startswith("#!"):
            continue
        if not line.startswith("#"):
            break
        if line.startswith("#!"):
            continue
        body = line[1:].strip()
        if in_description:
            description.append(body)
            continue
        if not body:
            if values:
                in_description = True
            continue
        match = _KEY.match(line)
        if match is None:
            if values:
                in_description = True
                description.append(body)
            continue
        key = match.group(1).lower()
        if key.startswith("spdx-") or key in {"copyright", "author"}:
            continue
        if (
            key not in _LIST_KEYS
            and key not in {"timeout", "description"}
            and not key.startswith("x-")
        ):
            raise CaseHeaderError(path, lineno, f"unknown header key {key!r}")
        if key in values:
            raise CaseHeaderError(path, lineno, f"header key {key!r} given twice")
        values[key] = (lineno, match.group(2))

    def listed(key: str) -> list[str]:
        return _split(values[key][1]) if key in values else []

    groups = listed("group") + listed("groups")
    timeout: float | None = None
    if "timeout" in values:
        lineno, raw_timeout = values["timeout"]
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise CaseHeaderError(
                path, lineno, f"timeout must be a number of seconds, not {raw_timeout!r}"
            ) from None
        if not math.isfinite(timeout) or timeout <= 0:
            raise CaseHeaderError(
                path, lineno, f"timeout must be a positive, finite number, not {raw_timeout!r}"
            )
    for req in listed("requires"):
        problem = validate_requirement(req)
        if problem is not None:
            raise CaseHeaderError(path, values["requires"][0], problem)
    for key in ("formats", "protocols"):
        if key in values and not listed(key):
            raise CaseHeaderError(path, values[key][0], f"{key} is empty (use * for any)")
    for key, known in _NAMED_LISTS.items():
        for name in listed(key):
            if name not in known:
                raise CaseHeaderError(path, values[key][0], _unknown_name(key, name, known))
    if "description" in values:
        description.insert(0, values["description"][1])
    return CaseHeader(
        groups=frozenset(groups),
        formats=tuple(listed("formats")) or ("*",),
        exclude_formats=frozenset(listed("exclude-formats")),
        protocols=tuple(listed("protocols")) or ("file",),
        exclude_protocols=frozenset(listed("exclude-protocols")),
        requires=tuple(listed("requires")),
        timeout=timeout,
        description="\n".join(description).strip(),
        extra={k: v for k, (_, v) in values.items() if k.startswith("x-")},
    )


def read_header(path: Path) -> CaseHeader:
    with path.open(encoding="utf-8", errors="replace") as f:
        head = f.read(16384)
    return parse_header(head, str(path))
