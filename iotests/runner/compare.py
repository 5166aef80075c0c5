"""Comparing actual output with a golden file, and spotting crashes in output."""

from __future__ import annotations

import difflib
import re

from iotests.runner import sanitizers


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")] if text.strip() else []


def unified_diff(expected: str, actual: str, expected_name: str, actual_name: str) -> str | None:
    """A unified diff ignoring trailing whitespace, or None when they match."""
    exp, act = _lines(expected), _lines(actual)
    if exp == act:
        return None
    return "\n".join(
        difflib.unified_diff(exp, act, fromfile=expected_name, tofile=actual_name, lineterm="")
    )


# Evidence that a QEMU process crashed or hit a checker, whatever the output
# comparison says. Sanitizer reports are recognised by iotests.runner.sanitizers.
_CRASH_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^WARNING: ThreadSanitizer: (.*)$", re.M), "ThreadSanitizer: {}"),
    (
        re.compile(r"^(\S+): (.+?): Assertion [`'](.*)' failed\.$", re.M),
        "assertion failed in {}: {}: {}",
    ),
    (re.compile(r"^\*\*\nERROR:(.*)$", re.M), "GLib assertion: {}"),
    (re.compile(r"^(\S+): (?:qemu: )?.*(?:Segmentation fault|core dumped).*$", re.M), "crash: {}"),
]


def crash_reasons(text: str) -> list[str]:
    """Human-readable reasons for every crash marker found in *text*."""
    reasons = [report.summary for report in sanitizers.find_reports(text)]
    for pattern, template in _CRASH_PATTERNS:
        for match in pattern.finditer(text):
            reasons.append(template.format(*(g.strip() for g in match.groups())))
    return reasons
