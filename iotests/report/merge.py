"""One report from many runs: Markdown and HTML summaries, JUnit XML, a baseline diff.

A matrix run (``nox -s release``, or CI shards on many machines) leaves one
JSON report per runner invocation (``iotests run --json FILE``). This module
reads those, validated at the boundary into small frozen records, merges
them, and writes: a Markdown summary (format x status counts, then each
failure with its diff), the same as HTML with the diffs as linked files,
JUnit XML for CI, and, against a baseline run, what newly fails and what
newly passes.

``iotests report r1.json r2.json --html out/ --junit all.xml --baseline old.json``
is :func:`main_report`.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    #: The build profile the run used (``asan``, ``gcov``, ...) when the
    #: binaries came from a cached build whose manifest is readable here.
    flavour: str = ""

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


def load_report(path: Path) -> list[CaseResult]:
    """The results of one run report.

    :raises UsageError: naming the file and what is wrong with it.
    """
    return _parse_report(path, _read_json(path))


def _parse_report(path: Path, data: Any) -> list[CaseResult]:
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
    return [_result(item, index, path, settings, flavour) for index, item in enumerate(results)]


@dataclass(frozen=True)
class Loaded:
    """The results read from a list of files, and one line on each file passed over."""

    results: list[CaseResult]
    reports: int
    notes: list[str]


def load_reports(paths: Sequence[Path]) -> Loaded:
    """Every run report among *paths*; other JSON files are passed over with a note.

    ``iotests report results/*.json`` also matches the runner's own
    timings.json and probe.json; those are skipped whether a glob or the
    user named them (the command cannot tell which), but a file that is not
    JSON, cannot be read, or claims to be a run report and is malformed is
    an error: merging without it would report fewer results than were run.

    :raises UsageError: for such a file.
    """
    results: list[CaseResult] = []
    notes: list[str] = []
    reports = 0
    for path in paths:
        data = _read_json(path)
        if not is_run_report(data):
            notes.append(f'{path}: not a run report (no "version" and "results"), skipped')
            continue
        results += _parse_report(path, data)
        reports += 1
    return Loaded(results, reports, notes)


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
    return Loaded(load_report(path), 1, [])


def _flavour(environment: Any) -> str:
    """The profile of the cached build the run's qemu-img came from, or "" when unknown.

    A run on an ASan build and a plain run of the same format must not be
    counted (or compared with a baseline) as one; the build's manifest, next
    to its tree, says which profile it is.
    """
    from iotests.build.manifest import Manifest
    from iotests.errors import BuildError

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
    return CaseResult(
        name=name,
        format=str(item.get("format") or settings.get("format") or "?"),
        protocol=str(item.get("protocol") or settings.get("protocol") or "file"),
        status=status,
        reason=item.get("reason") if isinstance(item.get("reason"), str) else None,
        duration=float(duration),
        diff=item.get("diff") if isinstance(item.get("diff"), str) else None,
        origin=path.name,
        flavour=flavour,
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


def write_html(
    results: Sequence[CaseResult], out_dir: Path, comparison: Comparison | None = None
) -> Path:
    """Write out_dir/index.html with the diffs as linked files under out_dir/diffs/."""
    diffs = out_dir / "diffs"
    diffs.mkdir(parents=True, exist_ok=True)
    links: dict[tuple[str, str, str], str] = {}
    for number, result in enumerate(r for r in results if r.failing and r.diff):
        stem = f"{number:04d}-{result.name}-{result.column}".replace("/", "_")
        (diffs / f"{stem}.diff").write_text(result.diff or "", encoding="utf-8")
        links[result.key] = f"diffs/{stem}.diff"
    esc = html.escape
    table = counts(results)
    rows = "".join(
        f"<tr><th>{esc(row)}</th>"
        + "".join(f"<td class='{esc(s).replace(' ', '-')}'>{c.get(s, 0)}</td>" for s in STATUSES)
        + f"<td>{sum(c.values())}</td></tr>\n"
        for row, c in table.items()
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>iotests report</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "td.fail,td.timeout{color:#b00}td.pass{color:#070}pre{background:#f4f4f4}</style>",
        "</head><body><h1>iotests report</h1><table><tr><th>format</th>",
        "".join(f"<th>{esc(s)}</th>" for s in STATUSES),
        "<th>total</th></tr>\n",
        rows,
        "</table>",
    ]
    if comparison is not None:
        parts.append("<h2>Against the baseline</h2>")
        for title, items in (
            ("Newly failing", comparison.newly_failing),
            ("Newly passing", comparison.newly_passing),
        ):
            parts.append(f"<h3>{title}: {len(items)}</h3><ul>")
            parts += [f"<li>{esc(_label(r))}: {esc(r.status)}</li>" for r in items]
            parts.append("</ul>")
    failures = [r for r in results if r.failing]
    if failures:
        parts.append("<h2>Failures</h2>")
    for result in failures:
        parts.append(f"<h3>{esc(_label(result))}: {esc(result.status)}</h3>")
        if result.reason:
            parts.append(f"<p>{esc(result.reason)}</p>")
        if result.key in links:
            parts.append(f"<p><a href='{esc(links[result.key])}'>diff</a></p>")
        if result.diff:
            parts.append(f"<details><summary>diff</summary><pre>{esc(result.diff)}</pre></details>")
    parts.append("</body></html>\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text("".join(parts), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(results, comparison, links), encoding="utf-8")
    return index


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
        description="Merge run reports (iotests run --json) into one summary.",
    )
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    p.add_argument("--html", type=Path, metavar="DIR", help="write DIR/index.html (+ report.md)")
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
    return p


def run_report(args: argparse.Namespace) -> int:
    """Write what *args* asks for; return 0 when nothing failed, else ExitCode.FAILED.

    :raises UsageError: for unreadable or malformed reports.
    """
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
        write_html(results, args.html, comparison)
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
    """
    args = parser().parse_args(argv)
    try:
        return run_report(args)
    except IotestsError as exc:
        print(f"iotests report: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
