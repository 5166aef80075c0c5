"""Finding AddressSanitizer, LeakSanitizer and UBSan reports in output.

QEMU's own iotests refuse to run on sanitizer builds because the output
changes; here a sanitizer build runs the suite and any report fails the case.
Known noise, such as ASan's warning about QEMU's coroutine stack switching,
is filtered line by line, and a line that is part of a report is never
filtered: noise filtering may change a diff, it may not hide a bug.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


class Kind(enum.StrEnum):
    ASAN = "AddressSanitizer"
    LSAN = "LeakSanitizer"
    UBSAN = "UndefinedBehaviorSanitizer"
    OTHER = "Sanitizer"


@dataclass(frozen=True)
class Report:
    """One sanitizer report: its kind, a one-line summary and its full text."""

    kind: Kind
    summary: str
    text: str
    #: 1-based line where the report starts in the scanned text.
    line: int


#: How a sanitizer starts its lines: ``==PID==``, or ``==PROGRAM==PID==`` with
#: ``log_exe_name=1`` (which the runner sets, to name the program).
PREFIX = r"==(?:[^=\s]+==)?\d+=="
_ERROR = re.compile(rf"^{PREFIX}\s*ERROR: (?P<tool>\w+Sanitizer): (?P<what>.*)$")
_SUMMARY = re.compile(r"^SUMMARY: (?P<tool>\w+Sanitizer): (?P<what>.*)$")
_ABORTING = re.compile(rf"^{PREFIX}ABORTING$")
_UBSAN = re.compile(r"^(?P<where>\S+:\d+(?::\d+)?): runtime error: (?P<what>.*)$")

#: Lines that sanitizers print that are not reports. Each is anchored on a
#: whole line, so a pattern cannot swallow part of a real report.
KNOWN_NOISE: tuple[re.Pattern[str], ...] = (
    # QEMU switches coroutine stacks with makecontext/swapcontext.
    re.compile(
        rf"^{PREFIX}WARNING: ASan doesn't fully support makecontext/swapcontext functions"
        r" and may produce false positives in some cases!$"
    ),
    re.compile(rf"^{PREFIX}WARNING: ASan is ignoring requested __asan_handle_no_return: .*$"),
    re.compile(r"^False positive error reports may follow$"),
    re.compile(r"^For details see https://github\.com/google/sanitizers/issues/189$"),
)


def _kind(tool: str) -> Kind:
    try:
        return Kind(tool)
    except ValueError:
        return Kind.OTHER


def find_reports(text: str) -> list[Report]:
    """Every sanitizer report in *text*, in order."""
    lines = text.splitlines()
    reports: list[Report] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        error = _ERROR.match(line)
        ubsan = _UBSAN.match(line)
        if error:
            end = _report_end(lines, index + 1)
            kind = _kind(error.group("tool"))
            summary = f"{kind.value}: {error.group('what')}"
            reports.append(Report(kind, summary, "\n".join(lines[index:end]), index + 1))
            index = end
            continue
        if ubsan:
            end = index + 1
            if end < len(lines) and _SUMMARY.match(lines[end]):
                end += 1
            summary = f"{Kind.UBSAN.value}: {ubsan.group('what')} at {ubsan.group('where')}"
            reports.append(Report(Kind.UBSAN, summary, "\n".join(lines[index:end]), index + 1))
            index = end
            continue
        index += 1
    return reports


def _report_end(lines: list[str], start: int) -> int:
    """Index just past the report begun before *start*.

    A report ends with its SUMMARY line, or, when ASan goes on to print the
    shadow memory map, with the ``==PID==ABORTING`` line that follows it.
    Another report's start (or the end of the text) also ends it.
    """
    for index in range(start, len(lines)):
        if _ERROR.match(lines[index]):
            return index
        if _SUMMARY.match(lines[index]):
            for after in range(index + 1, min(len(lines), index + 80)):
                if _ABORTING.match(lines[after]):
                    return after + 1
                if _ERROR.match(lines[after]) or _UBSAN.match(lines[after]):
                    break
            return index + 1
    return len(lines)


def is_noise(line: str) -> bool:
    return any(pattern.match(line) for pattern in KNOWN_NOISE)


def strip_noise(text: str) -> str:
    """*text* without known-noise lines; lines inside reports are always kept."""
    keep_from_report: set[int] = set()
    for report in find_reports(text):
        count = report.text.count("\n") + 1
        keep_from_report.update(range(report.line - 1, report.line - 1 + count))
    lines = text.splitlines(keepends=True)
    return "".join(
        line
        for number, line in enumerate(lines)
        if number in keep_from_report or not is_noise(line.rstrip("\n"))
    )


def reports_in_logs(paths: Iterable[Path]) -> list[tuple[Path, Report]]:
    """Reports found in sanitizer log files (as written with ``log_path=``)."""
    found: list[tuple[Path, Report]] = []
    for path in sorted(paths):
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend((path, report) for report in find_reports(text))
    return found


def sanitizer_env(log_dir: Path | None = None) -> Mapping[str, str]:
    """ASAN/UBSAN/LSAN options for running tests on a sanitizer build.

    Stop at the first error (a half-corrupted process only adds confusion)
    and print UBSan stack traces. With *log_dir*, ASan and LSan reports go to
    files there (``asan.<pid>``), which catches processes whose stderr nobody
    reads (a daemonised qemu-nbd). UBSan in a combined ASan+UBSan runtime
    keeps reporting on stderr whatever ``log_path`` says (measured with
    gcc 12), so a case's own output must be scanned too.
    """
    asan = ["halt_on_error=1", "abort_on_error=0", "detect_leaks=1", "print_summary=1"]
    ubsan = ["halt_on_error=1", "print_stacktrace=1", "print_summary=1"]
    if log_dir is not None:
        asan.append(f"log_path={log_dir / 'asan'}")
        ubsan.append(f"log_path={log_dir / 'ubsan'}")
    return {"ASAN_OPTIONS": ":".join(asan), "UBSAN_OPTIONS": ":".join(ubsan)}
