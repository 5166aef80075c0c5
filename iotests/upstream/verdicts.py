"""Verdict tables: reading upstream ``check`` output, reading our JSON, comparing them.

The compatibility promise is "same pass / fail / not run as upstream's own
``check``, test by test"; this module turns both runners' reports into
``{test: verdict}`` tables so that the benchmark and the integration tests
can show every difference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from iotests.report import files
from iotests.runner.results import Status

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"

# upstream -tap lines: "ok qcow2 001", "not ok qcow2 002", "ok qcow2 003 # SKIP"
_TAP = re.compile(r"^(?P<ok>ok|not ok) (?P<fmt>\S+) (?P<name>\S+)(?P<skip> # SKIP)?\s*$")
# upstream console lines: "001   pass   [10:00:00] [10:00:01]   1.0s ..."
_CONSOLE = re.compile(r"^(?P<name>\S+)\s+(?P<status>pass|fail|not run)\s+\[\d\d:\d\d:\d\d\]")


def parse_check_output(text: str) -> dict[str, str]:
    """Upstream ``check`` output (``-tap`` or console) as test -> verdict (pure)."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        tap = _TAP.match(line)
        if tap is not None:
            if tap.group("skip"):
                table[tap.group("name")] = NOT_RUN
            else:
                table[tap.group("name")] = PASS if tap.group("ok") == "ok" else FAIL
            continue
        console = _CONSOLE.match(line)
        if console is not None:
            table[console.group("name")] = console.group("status")
    return table


def verdict_of(status: Status) -> str:
    """Our status in upstream's three verdicts (a timeout is a failure there too)."""
    if status is Status.PASS:
        return PASS
    if status is Status.NOT_RUN:
        return NOT_RUN
    return FAIL


def read_json_report(path: Path) -> dict[str, str]:
    """Our ``--json`` report as test -> verdict."""
    _, results = files.load_json(path)
    return {r.name: verdict_of(r.status) for r in results}


@dataclass(frozen=True)
class Difference:
    name: str
    upstream: str | None
    ours: str | None


def differences(upstream: Mapping[str, str], ours: Mapping[str, str]) -> list[Difference]:
    """Tests whose verdicts differ, or that only one side ran, in name order (pure)."""
    names = sorted(set(upstream) | set(ours))
    return [
        Difference(n, upstream.get(n), ours.get(n)) for n in names if upstream.get(n) != ours.get(n)
    ]


def tally(table: Mapping[str, str]) -> dict[str, int]:
    """How many tests got each verdict."""
    counts = {PASS: 0, FAIL: 0, NOT_RUN: 0}
    for verdict in table.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    return counts


#: Output by which QEMU itself makes a verdict a matter of chance, whichever
#: runner runs the test. QEMU 7.2's PBKDF calibration fails now and then
#: (``qemu-img create -f luks ... -o iter-time=10``: 18 times in 40 on a busy
#: 2-core machine), so LUKS tests are "not run" or fail in one run and pass in
#: the next.
QEMU_FLAKES = ("Unable to get accurate CPU usage",)


def flake_in(evidence: str) -> str | None:
    """The known QEMU flake that *evidence* (a test's output or reason) shows, if any."""
    return next((marker for marker in QEMU_FLAKES if marker in evidence), None)
