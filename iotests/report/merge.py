"""One report from many runs: loading and merging run reports, Markdown, JUnit, a baseline diff.

A matrix run (``nox -s release``, or CI shards on many machines) leaves one
JSON report per runner invocation (``iotests run --json FILE``). This module
reads those, validated at the boundary into small frozen records (each
case's result, and each run's when, where and on what), merges them, and
writes: a Markdown summary (format x status counts, then each failure with
its diff), JUnit XML for CI, and, against a baseline run, what newly fails
and what newly passes. The HTML release report is :mod:`iotests.report.html`,
flake rates over many runs :mod:`iotests.report.history`.

``iotests report r1.json r2.json --html out/ --junit all.xml --baseline old.json``
and ``iotests report --history DIR`` are :func:`main_report`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from iotests.errors import IotestsError, UsageError
from iotests.exitcodes import ExitCode
from iotests.runner.results import Status

#: One truth with the runner: every status it can report, and which ones fail a run.
STATUSES = tuple(s.value for s in Status)
FAILING = frozenset(s.value for s in Status if s.failed)
REPORT_VERSION = 1


@dataclass(frozen=True)
class CaseResult:
    """One case's result in one run, as the runner's JSON report has it."""

    name: str
    format: str
    protocol: str
    status: str
    reason: str | None
    duration: float
    diff: str | None
    origin: str
    #: The build profile the run used (``asan``, ``gcov``, ...), "" for
    #: binaries the toolkit did not build (see :func:`_flavour`).
    flavour: str = ""
    #: The case's kept output and hang record, as paths on the machine that ran it.
    output_file: str | None = None
    hang_file: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.column, self.flavour)

    @property
    def column(self) -> str:
        """The summary table row: format or format/protocol, then the flavour if known."""
        where = self.format if self.protocol in ("", "file") else f"{self.format}/{self.protocol}"
        return f"{where} [{self.flavour}]" if self.flavour else where

    @property
    def failing(self) -> bool:
        return self.status in FAILING


def natural_key(name: str) -> list[str | int]:
    """A case name's sort key: ``2`` before ``10``; text and numbers alternate, so keys compare."""
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", name))]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read run report: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON: {exc}") from exc


def is_run_report(data: Any) -> bool:
    """Whether *data* claims to be a run report: an object with "version" and "results".

    The claim, not its validity: a report that claims to be one and is
    broken is an error, while the runner's other JSON files (timings.json,
    probe.json, a case's result.json) make no such claim.
    """
    return isinstance(data, dict) and "version" in data and "results" in data


@dataclass(frozen=True)
class RunInfo:
    """When, where and on what one report's run happened: a release report's header."""

    path: Path
    started: datetime | None
    finished: datetime | None
    host: str | None
    qemu_version: str | None
    flavour: str
    #: The toolkit's version and, from a checkout, its short commit: ``0.1.0 (992c580)``.
    toolkit: str | None


def run_span(runs: Sequence[RunInfo]) -> str:
    """When *runs* happened, first start to last end, in UTC: ``2026-12-02 04:29 to 05:10 UTC``."""
    starts = [r.started.astimezone(UTC) for r in runs if r.started is not None]
    ends = [r.finished.astimezone(UTC) for r in runs if r.finished is not None]
    if not starts:
        return "unknown"
    first = min(starts).strftime("%Y-%m-%d %H:%M")
    last = max(ends).strftime("%Y-%m-%d %H:%M") if ends else first
    if last == first:
        return f"{first} UTC"
    return f"{first} to {last[11:] if last[:10] == first[:10] else last} UTC"


@dataclass(frozen=True)
class Report:
    """One run report: its run and its results."""

    run: RunInfo
    results: list[CaseResult]


def load_report(path: Path) -> list[CaseResult]:
    """The results of one run report.

    :raises UsageError: naming the file and what is wrong with it.
    """
    return _parse_report(path, _read_json(path)).results


def read_report(path: Path) -> Report | None:
    """The run report in *path*, or None when it is JSON that claims to be none.

    :raises UsageError: when it cannot be read, is not JSON, or claims to be
        a run report and is malformed.
    """
    data = _read_json(path)
    return _parse_report(path, data) if is_run_report(data) else None


def _run_info(path: Path, data: dict[str, Any], flavour: str) -> RunInfo:
    from iotests.report.files import suite_run

    facts = suite_run(data)
    finished = None
    if facts.started is not None and facts.wall_time is not None:
        finished = facts.started + timedelta(seconds=facts.wall_time)
    props = facts.properties
    toolkit = props.get("iotests.version")
    if toolkit and props.get("iotests.commit"):
        toolkit += f" ({props['iotests.commit'][:12]})"
    return RunInfo(
        path=path,
        started=facts.started,
        finished=finished,
        host=facts.hostname,
        qemu_version=props.get("qemu.version"),
        flavour=flavour,
        toolkit=toolkit,
    )


def _parse_report(path: Path, data: Any) -> Report:
    if not is_run_report(data):
        raise UsageError(f'{path}: not an iotests run report (no "version" and "results")')
    if data["version"] != REPORT_VERSION:
        raise UsageError(
            f"{path}: run report version {data['version']!r}; this toolkit reads "
            f"version {REPORT_VERSION}"
        )
    results = data["results"]
    if not isinstance(results, list):
        raise UsageError(f"{path}: results: expected a list")
    raw_settings = data.get("settings")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    flavour = _flavour(data.get("environment"))
    return Report(
        _run_info(path, data, flavour),
        [_result(item, index, path, settings, flavour) for index, item in enumerate(results)],
    )


@dataclass(frozen=True)
class Loaded:
    """The results read from a list of files, their runs, and one line on each file passed over."""

    results: list[CaseResult]
    notes: list[str]
    runs: list[RunInfo] = field(default_factory=list)

    @property
    def reports(self) -> int:
        return len(self.runs)


def load_reports(paths: Sequence[Path]) -> Loaded:
    """Every run report among *paths*; other JSON files are passed over with a note.

    ``iotests report results/*.json`` also matches the runner's own
    timings.json and probe.json; those are skipped whether a glob or the
    user named them (the command cannot tell which), but a file that is not
    JSON, cannot be read, or claims to be a run report and is malformed is
    an error: merging without it would report fewer results than were run.

    :raises UsageError: for such a file.
    """
    loaded = Loaded([], [])
    for path in paths:
        report = read_report(path)
        if report is None:
            loaded.notes.append(not_a_report(path))
            continue
        loaded.results.extend(report.results)
        loaded.runs.append(report.run)
    return loaded


def not_a_report(path: Path) -> str:
    """The note on a JSON file passed over: the runner's other files make no claim to be one."""
    return f'{path}: not a run report (no "version" and "results"), skipped'


def load_baseline(path: Path) -> Loaded | None:
    """The baseline: one run report, or every run report in a directory; None if absent.

    A CI job's baseline is the default branch's last reports, which the
    first pipeline (or an expired cache) does not have. A missing baseline
    makes the judgement stricter, not looser (every failure counts), so it
    is a note rather than an error; a baseline file that is not a run
    report is an error, since it was named on purpose.
    """
    if path.is_dir():
        loaded = load_reports(sorted(path.glob("*.json")))
        return loaded if loaded.reports else None
    if not path.exists():
        return None
    report = _parse_report(path, _read_json(path))
    return Loaded(report.results, [], [report.run])


def _flavour(environment: Any) -> str:
    """The build profile of the run's binaries (``asan``, ``tools``...), or "" for none.

    A run on an ASan build and a plain run of the same format must not be
    counted (or compared with a baseline) as one. The report records the
    flavour the running machine found (``environment.flavour``; "" is a
    fact too: binaries the toolkit did not build), and that is what counts:
    the merging machine may have other builds, or none, at the recorded
    paths. Only reports from before it was recorded fall back to the
    build's manifest next to the recorded qemu-img, if this machine has it.
    """
    from iotests.build.manifest import Manifest
    from iotests.errors import BuildError

    if isinstance(environment, dict) and "flavour" in environment:
        recorded = environment["flavour"]
        return recorded if isinstance(recorded, str) else ""
    binaries = environment.get("binaries") if isinstance(environment, dict) else None
    image_tool = binaries.get("qemu-img") if isinstance(binaries, dict) else None
    if not isinstance(image_tool, str):
        return ""
    manifest = Path(image_tool).parent.parent / "manifest.json"
    if not manifest.is_file():
        return ""
    try:
        return Manifest.read(manifest).profile
    except BuildError:
        return ""


def _result(
    item: Any, index: int, path: Path, settings: dict[str, Any], flavour: str
) -> CaseResult:
    where = f"{path}: results[{index}]"
    if not isinstance(item, dict):
        raise UsageError(f"{where}: expected an object")
    name = item.get("name")
    status = item.get("status")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}.name: expected a non-empty string")
    if status not in STATUSES:
        raise UsageError(f"{where}.status: expected one of {', '.join(STATUSES)}, got {status!r}")
    duration = item.get("duration") or 0.0
    if not isinstance(duration, int | float):
        raise UsageError(f"{where}.duration: expected a number")

    def text(key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) else None

    return CaseResult(
        name=name,
        format=str(item.get("format") or settings.get("format") or "?"),
        protocol=str(item.get("protocol") or settings.get("protocol") or "file"),
        status=status,
        reason=text("reason"),
        duration=float(duration),
        diff=text("diff"),
        origin=path.name,
        flavour=flavour,
        output_file=text("output_file"),
        hang_file=text("hang_file"),
    )


def merge(paths: Sequence[Path]) -> list[CaseResult]:
    """All results of all run reports among *paths*, in the order given."""
    return load_reports(paths).results


def counts(results: Iterable[CaseResult]) -> dict[str, Counter[str]]:
    """Format (or format/protocol) -> status -> count, rows sorted."""
    table: dict[str, Counter[str]] = {}
    for result in results:
        table.setdefault(result.column, Counter())[result.status] += 1
    return dict(sorted(table.items()))


@dataclass(frozen=True)
class Comparison:
    """How a run differs from a baseline run."""

    newly_failing: list[CaseResult]
    newly_passing: list[CaseResult]


def compare(current: Sequence[CaseResult], baseline: Sequence[CaseResult]) -> Comparison:
    """Cases failing now that passed in *baseline*, and cases passing now that failed there.

    A case the baseline has no verdict on (new since, not run there, or in a
    shard whose report was lost) is neither: nothing shows it ever passed,
    so calling its failure a regression would block a pipeline on a case
    that never worked. It still appears among the failures.
    """
    before = {r.key: r.status for r in baseline}
    newly_failing = [r for r in current if r.failing and before.get(r.key) == "pass"]
    newly_passing = [r for r in current if r.status == "pass" and before.get(r.key) in FAILING]
    return Comparison(newly_failing, newly_passing)


def _label(result: CaseResult) -> str:
    return f"{result.name} ({result.column})"


def markdown(
    results: Sequence[CaseResult],
    comparison: Comparison | None = None,
    diff_links: dict[tuple[str, str, str], str] | None = None,
) -> str:
    """The Markdown summary: counts table, baseline changes, failures with diffs."""
    table = counts(results)
    lines = ["# iotests report", ""]
    lines.append("| format | " + " | ".join(STATUSES) + " | total |")
    lines.append("|---" * (len(STATUSES) + 2) + "|")
    totals: Counter[str] = Counter()
    for row, counter in table.items():
        totals.update(counter)
        cells = [str(counter.get(s, 0)) for s in STATUSES]
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {sum(counter.values())} |")
    cells = [f"**{totals.get(s, 0)}**" for s in STATUSES]
    lines.append("| **all** | " + " | ".join(cells) + f" | **{sum(totals.values())}** |")
    if comparison is not None:
        lines += ["", "## Against the baseline", ""]
        lines.append(f"Newly failing: {len(comparison.newly_failing)}")
        lines += [f"- {_label(r)}: {r.status}" for r in comparison.newly_failing]
        lines.append("")
        lines.append(f"Newly passing: {len(comparison.newly_passing)}")
        lines += [f"- {_label(r)}" for r in comparison.newly_passing]
    failures = [r for r in results if r.failing]
    if failures:
        lines += ["", "## Failures", ""]
    for result in failures:
        lines.append(f"### {_label(result)}: {result.status}")
        lines.append("")
        if result.reason:
            lines += [result.reason, ""]
        link = (diff_links or {}).get(result.key)
        if link:
            lines += [f"[diff]({link})", ""]
        if result.diff:
            lines += ["```diff", result.diff.rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def junit(results: Sequence[CaseResult]) -> str:
    """JUnit XML: one testsuite per format (or format/protocol) and flavour."""
    from iotests.report.files import junit_xml
    from iotests.runner.results import CaseResult as RunResult
    from iotests.runner.results import Status

    columns: dict[int, str] = {}
    converted = []
    for r in sorted(results, key=lambda r: r.column):
        run_result = RunResult(
            r.name, r.format, r.protocol, Status(r.status), r.reason, r.duration, diff=r.diff
        )
        columns[id(run_result)] = r.column
        converted.append(run_result)
    return junit_xml(converted, "iotests", group=lambda r: columns[id(r)])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iotests report",
        description="Merge run reports (iotests run --json) into one summary, "
        "or (--history DIR) print per-case flake rates over many runs' reports.",
    )
    p.add_argument("reports", nargs="*", type=Path, metavar="REPORT.json")
    p.add_argument(
        "--html",
        type=Path,
        metavar="DIR",
        help="write the release report DIR/index.html (+ report.md, the files it links)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the Markdown summary to FILE (default: print it)",
    )
    p.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="OLD.json|DIR",
        help="a previous run report, or a directory of them: list what newly fails "
        "(failing now, passed there) and newly passes; if absent, every failure counts",
    )
    p.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help="instead of merging: the run reports under DIR (say, the last CI runs'), "
        "as a table of each case's runs, passes, failures, flakes and flake rate",
    )
    return p


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse a command line that mixes --history with a merge, or asks for nothing."""
    if args.history is None:
        if not args.reports:
            raise UsageError("give the run reports to merge (REPORT.json...), or --history DIR")
        return
    merging = [str(path) for path in args.reports[:1]] + [
        flag
        for flag in ("--html", "--markdown", "--junit", "--baseline")
        if getattr(args, flag[2:]) is not None
    ]
    if merging:
        raise UsageError(
            f"--history DIR reads the run reports in DIR and prints a table; "
            f"{merging[0]} belongs to a merge: give it without --history"
        )


def run_report(args: argparse.Namespace) -> int:
    """Write what *args* asks for; return 0 when nothing failed, else ExitCode.FAILED.

    :raises UsageError: for unreadable or malformed reports.
    """
    _check_arguments(args)
    if args.history is not None:
        from iotests.report import history

        return history.print_history(args.history)
    loaded = load_reports(args.reports)
    for note in loaded.notes:
        print(f"iotests report: warning: {note}", file=sys.stderr)
    if not loaded.reports:
        raise UsageError("no run report among the files given (iotests run --json FILE writes one)")
    results = loaded.results
    comparison = None
    if args.baseline:
        baseline = load_baseline(args.baseline)
        if baseline is None:
            print(
                f"iotests report: note: no run report at --baseline {args.baseline}: "
                "every failure counts",
                file=sys.stderr,
            )
        else:
            for note in baseline.notes:
                print(f"iotests report: warning: {note}", file=sys.stderr)
            comparison = compare(results, baseline.results)
    if args.html:
        from iotests.report import html

        html.write_html(results, args.html, comparison, runs=loaded.runs)
    text = markdown(results, comparison)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(junit(results), encoding="utf-8")
    failing = (
        comparison.newly_failing if comparison is not None else [r for r in results if r.failing]
    )
    return int(ExitCode.FAILED) if failing else int(ExitCode.OK)


def main_report(argv: list[str]) -> int:
    """``iotests report``: parse *argv* (without the subcommand), run, return the exit code.

    With ``--baseline`` the exit code reflects only newly failing cases, so
    known failures do not block a CI pipeline; without it, any failure does.
    ``--history`` ends 0 whatever the runs' verdicts: it measures, it judges
    nothing.
    """
    args = parser().parse_args(argv)
    try:
        return run_report(args)
    except IotestsError as exc:
        print(f"iotests report: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
