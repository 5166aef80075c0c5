"""Known failures: cases that fail for a reason someone owns, until a date.

A list (``known-failures.yaml`` in the project, and ``--known FILE``) names
each case with where it applies (formats, protocols, build flavours, a QEMU
version range), a reason, a link to the bug and an expiry date::

    - case: "087"
      formats: [luks]
      qemu: ">=7.2, <8.0"
      reason: luks creation flakes with "Unable to get accurate CPU usage"
      bug: https://gitlab.com/qemu-project/qemu/-/issues/NNNN
      expires: 2027-03-01

A listed case still runs. Its failure is reported as ``known`` and does not
fail the run; its pass is reported loudly (the entry may be stale); an
entry past its date no longer applies and fails the run, so that nobody's
list silently grows old.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iotests.errors import ConfigError
from iotests.runner.results import CaseResult, Status

_KEYS = {"case", "formats", "protocols", "flavours", "qemu", "reason", "bug", "expires"}
_BOUND = re.compile(r"^(>=|<=|==|>|<)\s*(\d+(?:\.\d+){0,2})$")

Version = tuple[int, int, int]


def _version(text: str) -> Version:
    parts = [int(p) for p in text.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class VersionRange:
    """A comma-separated list of bounds such as ``>=7.2, <8.0``; all must hold."""

    bounds: tuple[tuple[str, Version], ...]

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        bounds = []
        for part in text.split(","):
            match = _BOUND.match(part.strip())
            if match is None:
                raise ValueError(f"not a version bound: {part.strip()!r} (e.g. '>=7.2, <8.0')")
            bounds.append((match.group(1), _version(match.group(2))))
        return cls(tuple(bounds))

    def contains(self, version: Version) -> bool:
        checks = {
            ">=": version.__ge__,
            "<=": version.__le__,
            "==": version.__eq__,
            ">": version.__gt__,
            "<": version.__lt__,
        }
        return all(checks[op](bound) for op, bound in self.bounds)


@dataclass(frozen=True)
class KnownFailure:
    case: str
    reason: str
    bug: str
    expires: dt.date
    #: Where it came from, ``FILE:N`` (N: the entry's position, from 1).
    source: str
    formats: frozenset[str] = frozenset()
    protocols: frozenset[str] = frozenset()
    flavours: frozenset[str] = frozenset()
    qemu: VersionRange | None = None

    def applies(self, result: CaseResult, flavour: str, qemu: Version | None) -> bool:
        """Whether this entry is about *result*'s case in this run (expiry aside)."""
        if result.name != self.case:
            return False
        if self.formats and result.format not in self.formats:
            return False
        if self.protocols and result.protocol not in self.protocols:
            return False
        if self.flavours and flavour not in self.flavours:
            return False
        return self.qemu is None or (qemu is not None and self.qemu.contains(qemu))

    def expired(self, today: dt.date) -> bool:
        return today > self.expires


def _names(value: Any, where: str, key: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, key, "expected a name or a list of names")
    return frozenset(value)


def _entry(raw: Any, path: Path, index: int) -> KnownFailure:
    where = f"{path}:{index}"
    if not isinstance(raw, dict):
        raise ConfigError(where, "(entry)", "expected a mapping with case, reason, bug, expires")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(
            where, sorted(unknown)[0], f"unknown key (known: {', '.join(sorted(_KEYS))})"
        )
    for key in ("case", "reason", "bug", "expires"):
        if key not in raw:
            raise ConfigError(
                where, key, "missing: every entry needs case, reason, bug and expires"
            )
    case = str(raw["case"])
    case = case.zfill(3) if case.isdigit() else case
    expires = raw["expires"]
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            raise ConfigError(
                where, "expires", f"expected a date (YYYY-MM-DD), got {expires!r}"
            ) from None
    if not isinstance(expires, dt.date):
        raise ConfigError(where, "expires", f"expected a date (YYYY-MM-DD), got {expires!r}")
    qemu = None
    if raw.get("qemu") is not None:
        try:
            qemu = VersionRange.parse(str(raw["qemu"]))
        except ValueError as exc:
            raise ConfigError(where, "qemu", str(exc)) from None
    for key in ("reason", "bug"):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError(where, key, "expected a non-empty string")
    return KnownFailure(
        case=case,
        reason=raw["reason"].strip(),
        bug=raw["bug"].strip(),
        expires=expires,
        source=where,
        formats=_names(raw.get("formats"), where, "formats"),
        protocols=_names(raw.get("protocols"), where, "protocols"),
        flavours=_names(raw.get("flavours"), where, "flavours"),
        qemu=qemu,
    )


def load(paths: Sequence[Path]) -> list[KnownFailure]:
    """Every entry of every list in *paths*.

    :raises ConfigError: naming the file, the entry and the key, for a list
        that cannot be read or an entry that is not complete and valid.
    """
    from iotests.config import read_yaml_document

    entries: list[KnownFailure] = []
    for path in paths:
        document = read_yaml_document(path)
        if document is None:
            continue
        if not isinstance(document, list):
            raise ConfigError(str(path), "(top level)", "expected a list of entries")
        entries.extend(_entry(raw, path, i) for i, raw in enumerate(document, start=1))
    return entries


@dataclass(frozen=True)
class Judge:
    """Applies the known failures to each final result of a run."""

    entries: Sequence[KnownFailure]
    flavour: str = ""
    qemu: Version | None = None
    today: dt.date = field(default_factory=dt.date.today)

    def __call__(self, result: CaseResult) -> CaseResult:
        entry = self.match(result)
        if entry is None or entry.expired(self.today):
            return result
        if result.status.failed:
            why = f"known failure ({entry.source}: {entry.reason}; {entry.bug}): {result.reason}"
            return replace(result, status=Status.KNOWN, reason=why)
        if result.status is Status.PASS:
            note = f"listed as a known failure but passed: fixed? remove it from {entry.source}"
            return replace(result, reason=note)
        return result

    def match(self, result: CaseResult) -> KnownFailure | None:
        for entry in self.entries:
            if entry.applies(result, self.flavour, self.qemu):
                return entry
        return None

    def expired(self, results: Sequence[CaseResult]) -> list[KnownFailure]:
        """Entries past their date for cases of this run (they fail the run)."""
        seen = []
        for result in results:
            entry = self.match(result)
            if entry is not None and entry.expired(self.today) and entry not in seen:
                seen.append(entry)
        return seen

    def fixed(self, results: Sequence[CaseResult]) -> list[CaseResult]:
        """Listed cases that passed: their entries may be stale."""
        return [
            r
            for r in results
            if r.status is Status.PASS and r.reason and r.reason.startswith("listed as a known")
        ]
