"""Probing what the binaries can do, once per binary.

The probe result is written to the results directory and handed to every
case (``IOTESTS_PROBE``), so neither the runner nor a case asks a binary
the same question twice. Each binary's answers (:class:`Answers`) are the
unit :mod:`iotests.env.probe_cache` keeps across runs, keyed by the file's
identity, so an unchanged binary is not asked again in the next run either.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from iotests import command, fileio
from iotests.env.binaries import Binaries
from iotests.errors import CommandError

# "qemu-img version 7.2.22 (...)", but "qemu-nbd 7.2.22 (...)": no "version".
_VERSION = re.compile(r"^\S.*?\b(\d+\.\d+\.\d+)", re.M)
_FORMATS = re.compile(r"^Supported formats:(.*)$", re.M)

#: A QEMU version as numbers: (10, 0, 13); a developer's master reports (10, 1, 50).
Version = tuple[int, int, int]

#: Whose version stands for "the QEMU under test", most telling first.
_VERSION_ROLES = ("qemu-img", "qemu-io", "qemu-nbd", "qsd", "qemu")


def parse_version(text: str) -> Version | None:
    """``"10.0.13"`` (or ``"10.0"``) as ``(10, 0, 13)``; None when it is no version.

    Tuples compare the way QEMU's versions do: 10.0.50 (master after 10.0)
    comes after every 10.0.x release and before 10.1.0.
    """
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3] or 0))


@dataclass(frozen=True)
class Probe:
    """Capabilities of one set of binaries."""

    binaries: dict[str, str | None]
    versions: dict[str, str] = field(default_factory=dict)
    version_lines: dict[str, str] = field(default_factory=dict)
    formats: tuple[str, ...] = ()
    accelerators: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def qemu_version(self) -> Version | None:
        """The version of the QEMU under test: qemu-img's, else another tool's.

        Mixed versions are warned about by the CLI; goldens and requirements
        follow qemu-img, which most cases drive.
        """
        for role in _VERSION_ROLES:
            if (found := parse_version(self.versions.get(role, ""))) is not None:
                return found
        return None

    def serialize(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Probe:
        return cls(
            binaries=dict(data.get("binaries", {})),
            versions=dict(data.get("versions", {})),
            version_lines=dict(data.get("version_lines", {})),
            formats=tuple(data.get("formats", ())),
            accelerators=tuple(data.get("accelerators", ())),
            machines=tuple(data.get("machines", ())),
            problems=dict(data.get("problems", {})),
        )

    def save(self, path: Path) -> None:
        fileio.atomic_write(path, json.dumps(self.serialize(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Probe:
        return cls.deserialize(json.loads(path.read_text()))

    def unmet(self, requirement: str) -> str | None:
        """Why *requirement* (a header ``requires:`` word) is not met, or None."""
        prefix, sep, arg = requirement.partition(":")
        if not sep:
            if requirement == "root":
                return None if os.geteuid() == 0 else "needs root"
            if not self.binaries.get(requirement):
                return f"{requirement} binary not found"
            if requirement in self.problems:
                return f"{requirement} does not work: {self.problems[requirement]}"
            return None
        if prefix == "format":
            if arg not in self.formats:
                return f"format {arg} not supported by qemu-img"
            return None
        if prefix == "accel":
            if not self.binaries.get("qemu"):
                return f"accelerator {arg} needs a system emulator, none found"
            if arg not in self.accelerators:
                return f"accelerator {arg} not available in {self.binaries['qemu']}"
            return None
        if prefix == "machine":
            if not self.binaries.get("qemu"):
                return f"machine {arg} needs a system emulator, none found"
            if arg not in self.machines:
                return f"machine type {arg} not available"
            return None
        if prefix == "cmd":
            return None if command.which(arg) else f"{arg} not found on PATH"
        return f"unknown requirement {requirement}"


#: Valgrind's client-request preamble on x86_64 (four rolq of %rdi). QEMU
#: emits it where it registers coroutine stacks with valgrind, which it does
#: only when built with valgrind.h; without that, valgrind reports every
#: coroutine stack switch as an error.
_VALGRIND_PREAMBLE = {"x86_64": bytes.fromhex("48c1c70348c1c70d48c1c73d48c1c733")}


def valgrind_aware(path: str, machine: str | None = None) -> bool | None:
    """Whether the binary at *path* makes valgrind client requests (None: cannot tell)."""
    import platform

    preamble = _VALGRIND_PREAMBLE.get(machine or platform.machine())
    if preamble is None:
        return None
    try:
        return preamble in Path(path).read_bytes()
    except OSError:
        return None


def _ask(argv: list[str]) -> str:
    return command.run(argv, timeout=30, check=False).output


@dataclass(frozen=True)
class Answers:
    """What one binary said about itself; a :class:`Probe` is assembled from these."""

    version: str | None = None
    version_line: str | None = None
    #: Why the binary cannot be used (it did not start, or printed no version).
    problem: str | None = None
    formats: tuple[str, ...] = ()
    accelerators: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()

    def serialize(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Answers:
        return cls(
            version=data.get("version"),
            version_line=data.get("version_line"),
            problem=data.get("problem"),
            formats=tuple(data.get("formats", ())),
            accelerators=tuple(data.get("accelerators", ())),
            machines=tuple(data.get("machines", ())),
        )


def ask(role: str, path: str) -> Answers:
    """Ask the binary at *path* (playing *role*) what the cases may need to know."""
    try:
        out = _ask([path, "--version"])
    except CommandError as exc:
        return Answers(problem=str(exc).splitlines()[0])
    match = _VERSION.search(out)
    if match is None:
        return Answers(problem="no version in --version output")
    found = Answers(version=match.group(1), version_line=out.strip().splitlines()[0])
    if role == "qemu-img":
        help_match = _FORMATS.search(_ask([path, "--help"]))
        if help_match:
            formats = tuple(sorted(help_match.group(1).split()))
            found = replace(found, formats=formats)
    if role == "qemu":
        accel_out = _ask([path, "-accel", "help"])
        accels = tuple(
            line.strip()
            for line in accel_out.splitlines()[1:]
            if re.fullmatch(r"[a-z0-9_-]+", line.strip())
        )
        machine_out = _ask([path, "-machine", "help"])
        machines = tuple(line.split()[0] for line in machine_out.splitlines()[1:] if line.strip())
        found = replace(found, accelerators=accels, machines=machines)
    return found


def assemble(binaries: Binaries, answers: Mapping[str, Answers]) -> Probe:
    """The probe of *binaries* from each found binary's *answers* (keyed by role)."""
    versions = {r: a.version for r, a in answers.items() if a.version is not None}
    lines = {r: a.version_line for r, a in answers.items() if a.version_line is not None}
    problems = {r: a.problem for r, a in answers.items() if a.problem is not None}
    img, emu = answers.get("qemu-img", Answers()), answers.get("qemu", Answers())
    return Probe(
        binaries=dict(binaries.paths),
        versions=versions,
        version_lines=lines,
        formats=img.formats,
        accelerators=emu.accelerators,
        machines=emu.machines,
        problems=problems,
    )


def probe(binaries: Binaries) -> Probe:
    """Ask each found binary for its version and capabilities."""
    answers = {}
    for role in binaries.found():
        path = binaries.paths[role]
        assert path is not None
        answers[role] = ask(role, path)
    return assemble(binaries, answers)
