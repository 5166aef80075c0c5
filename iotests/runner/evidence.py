"""Evidence that a QEMU process misbehaved, whatever the case's output says.

Signal deaths, sanitizer reports, QEMU assertions and valgrind errors of the
case and of every process it started are turned into failure reasons here.
Three sources feed it, so that no process escapes by being quiet:

- the case's output (what it printed, and the tools it let print);
- the case's events file, where the case library records what it judged
  itself: a tool or server that died by a signal nobody sent, and every
  report in the output of a tool run quietly or in a server's log (only the
  library knows which process printed what, and how it was stopped);
- the result directory's sanitizer logs: every process of the case writes
  its ASan/UBSan/LSan reports there (``log_path``, named after the program),
  whatever the runner's own environment said, and valgrind logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from iotests.runner import compare, sanitizers
from iotests.runner.dirs import CaseDirs
from iotests.runner.process import Outcome

#: Each sanitizer variable and the stem of its log files. ASan reads the common
#: options (log_path among them) from LSAN_OPTIONS too, after ASAN_OPTIONS, so
#: both name one stem: whichever the runtime obeys, the logs are called alike.
SANITIZER_VARIABLES = {"ASAN_OPTIONS": "asan", "LSAN_OPTIONS": "asan", "UBSAN_OPTIONS": "ubsan"}
_STEMS = sorted(set(SANITIZER_VARIABLES.values()))
#: Where the runner's environment asked sanitizer logs to go, per log stem
#: (``{"asan": "/logs/asan"}``): each case's logs are copied there too.
DESTINATIONS_FILE = "sanitizer-log-paths.json"
#: A sanitizer option (``key=value``; a value may be quoted), as the runtimes split them.
_OPTION = re.compile(r"""(?:[^\s,:"']|"[^"]*"|'[^']*')+""")


def _options(value: str) -> list[str]:
    return _OPTION.findall(value)


def sanitizer_environment(environ: Mapping[str, str], result_dir: Path) -> dict[str, str]:
    """The sanitizer variables a case gets: the runner's options, logs in the result directory.

    Every variable is set, even where the runner's environment has none: a
    process whose stderr nobody reads (a daemon, a tool run quietly, a
    client a case started itself) must still leave its report where the
    verdict looks. ``log_exe_name`` names each log after its program
    (``asan.qemu-io.1234``), so the reason can say which one it was.

    A ``log_path`` of the runner's own (``nox -s asan`` sets one, then scans
    it) is replaced, not obeyed, and written down in the result directory:
    :func:`crash_evidence` copies the case's logs there afterwards, so both
    the verdict and that scan see every report.
    """
    out: dict[str, str] = {}
    destinations: dict[str, str] = {}
    for variable, stem in SANITIZER_VARIABLES.items():
        kept: list[str] = []
        for option in _options(environ.get(variable, "")):
            key, _, value = option.partition("=")
            if key == "log_path":
                if value.strip("\"'") not in ("", "stderr", "stdout"):
                    destinations.setdefault(stem, os.path.abspath(value.strip("\"'")))
            elif key != "log_exe_name":
                kept.append(option)
        log_path = result_dir.absolute() / stem
        out[variable] = ":".join([*kept, f"log_path={log_path}", "log_exe_name=1"])
    if destinations:
        (result_dir / DESTINATIONS_FILE).write_text(json.dumps(destinations))
    return out


def crash_evidence(outcome: Outcome, dirs: CaseDirs) -> list[str]:
    """Every reason to fail the case that its output comparison cannot see.

    Also copies the case's sanitizer logs to the ``log_path`` the runner's
    environment named (see :func:`sanitizer_environment`).
    """
    judged, covered = _events(dirs.events_file)
    reasons = []
    for reason in compare.crash_reasons(outcome.output):
        # A tool the case let print is also judged by the library, which
        # names the program: keep that reason, not the bare one.
        if covered[reason]:
            covered[reason] -= 1
        else:
            reasons.append(reason)
    if outcome.returncode is not None and outcome.returncode < 0 and not outcome.timed_out:
        reasons.append(f"case killed by signal {-outcome.returncode}")
    reasons.extend(judged)
    reasons.extend(_sanitizer_logs(dirs.result))
    _copy_to_destinations(dirs.result)
    if dirs.valgrind_dir.is_dir():
        for log in sorted(dirs.valgrind_dir.glob("*.log")):
            problem = valgrind_problem(log.read_text(errors="replace"))
            if problem:
                reasons.append(f"valgrind: {problem} ({log.name})")
    return reasons


def _events(path: Path) -> tuple[list[str], Counter[str]]:
    """Reasons from the library's events, and how often each bare finding was recorded."""
    reasons: list[str] = []
    covered: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                event = json.loads(line)
                program = str(event.get("program"))
                if event.get("event") == "crash":
                    reasons.append(f"{program} killed by signal {event.get('signal')}")
                elif event.get("event") == "finding":
                    found = str(event.get("reason"))
                    covered[found] += 1
                    source = event.get("source")
                    where = f" (in {source})" if source and source != "output" else ""
                    reasons.append(named(program, found) + where)
    return reasons, covered


def named(program: str, reason: str) -> str:
    """*reason* naming *program*, unless the detector's words already do.

    ``assertion failed in qemu-nbd: ...`` and ``crash: qemu-nbd`` name it;
    a sanitizer's summary does not.
    """
    head, _, rest = reason.partition(": ")
    if program in head.split() or rest.split(":")[0] == program:
        return reason
    return f"{program}: {reason}"


def _sanitizer_logs(result_dir: Path) -> list[str]:
    """Reasons from the sanitizer logs of the case's processes."""
    reasons: list[str] = []
    for stem in _STEMS:
        for log in sorted(result_dir.glob(f"{stem}.*")):
            # Known noise (ASan's coroutine warning) is written by every tool
            # of a sanitizer build; anything else in the log is a finding.
            text = sanitizers.strip_noise(log.read_text(errors="replace"))
            found = compare.crash_reasons(text)
            first = text.strip().splitlines()[0] if text.strip() else ""
            if not found and first:
                found = [f"sanitizer output: {first}"]
            # asan.<program>.<pid>, from log_exe_name.
            parts = log.name.split(".")
            program = ".".join(parts[1:-1]) if len(parts) > 2 else None
            reasons.extend(named(program, reason) if program else reason for reason in found)
    return reasons


def _copy_to_destinations(result_dir: Path) -> None:
    """Copy the case's sanitizer logs to the ``log_path`` the runner's environment named.

    Best effort: a destination that cannot be written costs the copy, never
    the verdict, which the logs in the result directory already gave.
    """
    try:
        destinations = json.loads((result_dir / DESTINATIONS_FILE).read_text())
    except (OSError, ValueError):
        return
    for stem, destination in destinations.items():
        for log in sorted(result_dir.glob(f"{stem}.*")):
            target = Path(f"{destination}{log.name[len(stem) :]}")
            if target.exists():  # a pid reused by another case: keep both
                target = Path(f"{target}.{result_dir.parent.name}.{result_dir.name}")
            with contextlib.suppress(OSError):
                shutil.copyfile(log, target)


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
