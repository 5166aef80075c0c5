"""Evidence that a QEMU process misbehaved, whatever the case's output says.

Signal deaths, sanitizer reports, QEMU assertions and valgrind errors of the
case and of every process it started are turned into failure reasons here.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

from iotests.runner import compare, sanitizers
from iotests.runner.dirs import CaseDirs
from iotests.runner.process import Outcome

SANITIZER_VARIABLES = {"ASAN_OPTIONS": "asan", "UBSAN_OPTIONS": "ubsan", "LSAN_OPTIONS": "lsan"}


def sanitizer_environment(environ: Mapping[str, str], result_dir: Path) -> dict[str, str]:
    """The sanitizer variables a case gets: the runner's, with logs in the result directory."""
    out: dict[str, str] = {}
    for variable, stem in SANITIZER_VARIABLES.items():
        value = environ.get(variable)
        if value is not None:
            if "log_path=" not in value:
                value = (
                    f"{value}:log_path={result_dir / stem}"
                    if value
                    else f"log_path={result_dir / stem}"
                )
            out[variable] = value
    return out


def crash_evidence(outcome: Outcome, dirs: CaseDirs) -> list[str]:
    reasons = compare.crash_reasons(outcome.output)
    if outcome.returncode is not None and outcome.returncode < 0 and not outcome.timed_out:
        reasons.append(f"case killed by signal {-outcome.returncode}")
    with contextlib.suppress(OSError):
        for line in dirs.events_file.read_text().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if event.get("event") == "crash":
                    reasons.append(f"{event.get('program')} killed by signal {event.get('signal')}")
    for stem in SANITIZER_VARIABLES.values():
        for log in sorted(dirs.result.glob(f"{stem}.*")):
            # Known noise (ASan's coroutine warning) is written by every tool
            # of a sanitizer build; anything else in the log is a finding.
            text = sanitizers.strip_noise(log.read_text(errors="replace"))
            found = compare.crash_reasons(text)
            first = text.strip().splitlines()[0] if text.strip() else ""
            reasons.extend(found or ([f"sanitizer output in {log.name}: {first}"] if first else []))
    if dirs.valgrind_dir.is_dir():
        for log in sorted(dirs.valgrind_dir.glob("*.log")):
            problem = valgrind_problem(log.read_text(errors="replace"))
            if problem:
                reasons.append(f"valgrind: {problem} ({log.name})")
    return reasons


def valgrind_problem(log: str) -> str | None:
    """What a valgrind log reports, or None for a clean one.

    With ``--quiet`` valgrind writes only errors, so any error header counts;
    without it, the ERROR SUMMARY line gives the number.
    """

    counts = [int(n) for n in re.findall(r"ERROR SUMMARY: (\d+) errors", log)]
    if counts:
        return f"{sum(counts)} errors" if sum(counts) else None
    headers = re.findall(r"^==\d+== (\S.*)$", log, re.M)
    first = [h for h in headers if not h.startswith(("at ", "by ", "Address ", "Block "))]
    return f"{len(first)} errors, first: {first[0]}" if first else None
