"""The release report: one HTML page a release manager reads in a minute, without JavaScript.

``iotests report *.json --html DIR`` writes ``DIR/index.html``. From the top:
what was tested (QEMU versions, dates, hosts, build flavours, as each run
report recorded them: the merging machine knows nothing of the runs), the
verdict in one line, what changed against a baseline, two charts (per
format, protocol and flavour a stacked bar of the statuses; the slowest
cases), the case x (format, protocol, flavour) matrix with failing rows
first, every failure, flake and known failure with its reason, coloured
diff, (partial) output and hang record, and the cases not run grouped by
reason.

The page is static: inline CSS and SVG made here, no script, no external
asset (its Content-Security-Policy forbids both), so it reads the same from
a CI artifact, a mail attachment or a file system. Each diff, output and
hang record is one click away twice: folded in a ``<details>`` on the page
(the end of it, when long) and copied whole to ``DIR/diffs/``,
``DIR/outputs/`` and ``DIR/hangs/``, linked from its entry. Everything a
report holds comes from files a case controls, so every text goes through
:func:`_esc`: HTML-escaped, with control characters spelled out.

The pure parts (:func:`matrix`, :func:`status_bars`, :func:`slowest`,
:func:`not_run_groups`, :func:`header_facts`) decide what is shown; the
``*_html`` and ``*_svg`` functions only render them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iotests.report.files import OUTPUT_LIMIT, read_tail, xml_safe
from iotests.report.merge import (
    FAILING,
    CaseResult,
    Comparison,
    RunInfo,
    markdown,
    natural_key,
    run_span,
)
from iotests.runner.hang import JSON_NAME as HANG_JSON

#: Worst first: a matrix cell holding several results shows the worst, and
#: a bar's segments run in this order, failures at the left where they are seen.
SEVERITY = ("fail", "timeout", "error", "interrupted", "flaky", "known", "pass", "not run")
#: Statuses that want a reader's attention without failing the run.
ATTENTION = frozenset({"interrupted", "flaky", "known"})
COLOURS = {
    "fail": "#c62828",
    "timeout": "#6a1b9a",
    "error": "#ad1457",
    "interrupted": "#ef6c00",
    "flaky": "#f9a825",
    "known": "#8d6e63",
    "pass": "#2e7d32",
    "not run": "#9e9e9e",
}
#: Statuses whose entry (reason, diff, output, hang record) the page lists.
DETAILED = ("fail", "timeout", "error", "interrupted", "flaky", "known")
#: How many cases the slowest-cases chart shows.
SLOWEST = 10
#: A hang record lists every process and thread: keep more of it on the page than of an output.
HANG_LIMIT = 4 * OUTPUT_LIMIT

Column = tuple[str, str, str]


def _esc(text: str) -> str:
    """*text* safe as HTML text or a quoted attribute, whatever bytes a case printed."""
    return html.escape(xml_safe(text), quote=True)


def column_of(result: CaseResult) -> Column:
    return (result.format, result.protocol, result.flavour)


def worst(statuses: Iterable[str]) -> str:
    return min(statuses, key=SEVERITY.index)


# --- what is shown -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One case's line of the matrix: per column, the indices of its results there."""

    name: str
    cells: tuple[tuple[int, ...], ...]
    #: 0: a result fails; 1: one wants attention (flaky, known, interrupted); 2: the rest.
    rank: int
    #: Whether one of its failures is newly failing against the baseline.
    regressed: bool


@dataclass(frozen=True)
class Matrix:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


def matrix(results: Sequence[CaseResult], newly_failing: Iterable[int] = ()) -> Matrix:
    """Cases by (format, protocol, flavour), failing rows first (regressions first among them).

    :param newly_failing: indices into *results* of the newly failing results.
    """
    regressions = set(newly_failing)
    columns = tuple(sorted({column_of(r) for r in results}))
    where = {column: i for i, column in enumerate(columns)}
    by_case: dict[str, list[list[int]]] = {}
    for index, result in enumerate(results):
        cells = by_case.setdefault(result.name, [[] for _ in columns])
        cells[where[column_of(result)]].append(index)
    rows = []
    for name, cells in by_case.items():
        indices = [i for cell in cells for i in cell]
        statuses = {results[i].status for i in indices}
        rank = 0 if statuses & FAILING else 1 if statuses & ATTENTION else 2
        regressed = any(i in regressions for i in indices)
        rows.append(Row(name, tuple(tuple(cell) for cell in cells), rank, regressed))
    rows.sort(key=lambda row: (row.rank, not row.regressed, natural_key(row.name), row.name))
    return Matrix(columns, tuple(rows))


@dataclass(frozen=True)
class Bar:
    """One stacked bar: a column's label and its counts per status, worst first, zeros left out."""

    label: str
    counts: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)


def status_bars(results: Iterable[CaseResult]) -> list[Bar]:
    """One bar per (format, protocol, flavour), in the matrix's column order."""
    per_column: dict[Column, tuple[str, Counter[str]]] = {}
    for result in results:
        per_column.setdefault(column_of(result), (result.column, Counter()))[1][result.status] += 1
    return [
        Bar(label, tuple((s, tally[s]) for s in SEVERITY if tally[s]))
        for label, tally in (per_column[column] for column in sorted(per_column))
    ]


def slowest(results: Sequence[CaseResult], count: int = SLOWEST) -> list[int]:
    """Indices of the *count* longest results that ran, longest first."""
    ran = [i for i, r in enumerate(results) if r.status != "not run" and r.duration > 0]
    ran.sort(key=lambda i: (-results[i].duration, natural_key(results[i].name)))
    return ran[:count]


def not_run_groups(results: Iterable[CaseResult]) -> list[tuple[str, list[CaseResult]]]:
    """Cases not run, grouped by reason: the largest group first."""
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        if result.status == "not run":
            groups.setdefault(result.reason or "no reason given", []).append(result)
    for items in groups.values():
        items.sort(key=lambda r: (natural_key(r.name), column_of(r)))
    return sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))


def _flavour_label(flavour: str) -> str:
    return flavour or "none (binaries the toolkit did not build)"


def _listed(values: Iterable[str | None], unknown: str = "unknown") -> str:
    found = list(dict.fromkeys(v for v in values if v))
    return ", ".join(found) if found else unknown


def header_facts(runs: Sequence[RunInfo]) -> list[tuple[str, str]]:
    """What was tested, as the run reports recorded it: (label, value) pairs for the header."""
    flavours = list(dict.fromkeys(_flavour_label(r.flavour) for r in runs))
    names = ", ".join(r.path.name for r in runs)
    return [
        ("QEMU", _listed(r.qemu_version for r in runs)),
        ("Date", run_span(runs)),
        ("Hosts", _listed(r.host for r in runs)),
        ("Flavours", ", ".join(flavours) if flavours else "unknown"),
        ("Toolkit", _listed(r.toolkit for r in runs)),
        (f"Run reports ({len(runs)})", names or "none"),
    ]


def verdict(results: Sequence[CaseResult], comparison: Comparison | None) -> list[tuple[str, int]]:
    """The headline's counts: failing, then each status, then (with a baseline) newly failing."""
    tally = Counter(r.status for r in results)
    line = [("failing", sum(tally[s] for s in FAILING))]
    line += [(s, tally[s]) for s in ("flaky", "known", "interrupted", "pass", "not run")]
    line = [(s, n) for s, n in line if n or s != "interrupted"]
    if comparison is not None:
        line.append(("newly failing", len(comparison.newly_failing)))
    return line


# --- how it is drawn -----------------------------------------------------------------------------

_CHAR = 7  # px per character of 12px sans-serif, near enough to lay labels out


def _legend(statuses: Sequence[str], y: int) -> list[str]:
    parts, x = [], 0
    for status in statuses:
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{COLOURS[status]}"/>'
            f'<text x="{x + 16}" y="{y + 10}">{_esc(status)}</text>'
        )
        x += 16 + _CHAR * len(status) + 14
    return parts


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(label)}" '
        'font-family="sans-serif" font-size="12">' + "".join(body) + "</svg>"
    )


def bars_svg(bars: Sequence[Bar], width: int = 760) -> str:
    """Stacked horizontal bars on one scale; each segment carries its status and count."""
    if not bars:
        return ""
    label_width = min(240, _CHAR * max(len(b.label) for b in bars) + 12)
    scale = (width - label_width - 50) / max(b.total for b in bars)
    present = [s for s in SEVERITY if any(s == status for b in bars for status, _ in b.counts)]
    body = _legend(present, 0)
    for row, bar in enumerate(bars):
        y = 26 + 24 * row
        body.append(
            f'<g class="bar" data-column="{_esc(bar.label)}" data-total="{bar.total}">'
            f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end">{_esc(bar.label)}</text>'
        )
        x = float(label_width)
        for status, count in bar.counts:
            w = count * scale
            body.append(
                f'<rect class="segment" data-status="{_esc(status)}" data-count="{count}" '
                f'x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" fill="{COLOURS[status]}">'
                f"<title>{_esc(bar.label)}: {count} {_esc(status)}</title></rect>"
            )
            if w >= _CHAR * len(str(count)) + 6:
                body.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 13}" text-anchor="middle" '
                    f'fill="#fff">{count}</text>'
                )
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 13}">{bar.total}</text></g>')
    return _svg(width, 26 + 24 * len(bars), "statuses per format, protocol and flavour", body)


def slowest_svg(results: Sequence[CaseResult], indices: Sequence[int], width: int = 760) -> str:
    """Horizontal bars of the slowest cases' seconds, coloured by status, linked to entries."""
    if not indices:
        return ""
    labels = [f"{results[i].name} {results[i].column}" for i in indices]
    label_width = min(280, _CHAR * max(map(len, labels)) + 12)
    longest = max(results[i].duration for i in indices)
    scale = (width - label_width - 70) / longest
    body = []
    for row, (index, label) in enumerate(zip(indices, labels, strict=True)):
        result, y = results[index], 24 * row
        w = max(1.0, result.duration * scale)
        body.append(
            f'<g class="slow" data-case="{_esc(result.name)}" data-seconds="{result.duration:.3f}">'
            f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end">{_esc(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="18" '
            f'fill="{COLOURS[result.status]}"><title>{_esc(label)}: {result.duration:.1f} s, '
            f"{_esc(result.status)}</title></rect>"
            f'<text x="{label_width + w + 6:.1f}" y="{y + 13}">{result.duration:.1f} s</text></g>'
        )
    return _svg(width, 24 * len(indices), "the slowest cases, in seconds", body)


def diff_kind(line: str) -> str:
    """What a unified diff's line is: ``file``, ``hunk``, ``add``, ``del``, or "" for context."""
    if line.startswith(("--- ", "+++ ")):
        return "file"
    for prefix, kind in (("@@", "hunk"), ("+", "add"), ("-", "del")):
        if line.startswith(prefix):
            return kind
    return ""


def diff_html(diff: str) -> str:
    """A unified diff with its added, removed, hunk and file lines marked for colour."""
    return "\n".join(
        f'<span class="{kind}">{_esc(line)}</span>' if (kind := diff_kind(line)) else _esc(line)
        for line in diff.splitlines()
    )


def _status(status: str, href: str | None = None, new: bool = False) -> str:
    text = _esc(status) + (" (new)" if new else "")
    inner = f'<a href="{_esc(href)}">{text}</a>' if href else text
    return f'<span class="st st-{status.replace(" ", "-")}">{inner}</span>'


def _anchor(index: int) -> str:
    return f"r{index}"


def matrix_html(results: Sequence[CaseResult], grid: Matrix, regressions: set[int]) -> str:
    head = "".join(
        f"<th>{_esc(fmt)}<br>{_esc(protocol)}"
        + (f"<br>[{_esc(flavour)}]" if flavour else "")
        + "</th>"
        for fmt, protocol, flavour in grid.columns
    )
    rows = []
    for row in grid.rows:
        cells = []
        for cell in row.cells:
            if not cell:
                cells.append('<td class="none">-</td>')
                continue
            shown = [results[i] for i in cell]
            status = worst(r.status for r in shown)
            first = next(i for i in cell if results[i].status == status)
            href = f"#{_anchor(first)}" if status in DETAILED else None
            title = "; ".join(f"{r.status}: {r.reason}" for r in shown if r.reason)
            more = f" +{len(cell) - 1}" if len(cell) > 1 else ""
            cells.append(
                f'<td data-status="{_esc(status)}" title="{_esc(title)}">'
                f"{_status(status, href, first in regressions)}{more}</td>"
            )
        rows.append(
            f'<tr class="rank{row.rank}" data-case="{_esc(row.name)}"><th>{_esc(row.name)}</th>'
            + "".join(cells)
            + "</tr>"
        )
    return (
        '<table class="matrix"><thead><tr><th>case</th>'
        + head
        + "</tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table>"
    )


def _stem(index: int, result: CaseResult) -> str:
    raw = f"{index:04d}-{result.name}-{result.column}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)[:100]


def _excerpt(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The first *limit* characters of *text* in whole lines, saying what was left out."""
    if len(text) <= limit:
        return text
    kept = text[:limit]
    kept = kept[: kept.rfind("\n") + 1] or kept
    return kept + f"[iotests: {len(text) - len(kept)} more characters in the linked file]\n"


@dataclass(frozen=True)
class Evidence:
    """One file of an entry: what the page folds in and what it links."""

    kind: str  # "hang", "diff" or "output"
    title: str
    href: str | None
    text: str | None
    #: Why there is no text: the file is on the machine that ran the case.
    missing: str | None = None
    #: Lines shown unfolded (a hang record's :func:`hang_summary`).
    summary: tuple[str, ...] = ()


def _copy(kind: str, title: str, source: str, target: Path, limit: int) -> Evidence:
    """*source* copied to *target* (under the output directory), and its end for the page."""
    try:
        tail = read_tail(source, limit)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        why = f"{source} is not readable here ({exc.strerror or exc})"
        return Evidence(kind, title, None, None, why)
    href = f"{target.parent.name}/{target.name}"
    return Evidence(kind, title, href, tail.note(source) + tail.text)


def _bytes(text: str) -> bytes:
    """*text* as the bytes a case printed: bytes that were not UTF-8 (surrogateescape) restored."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate of another origin: spelled out
        return text.encode("utf-8", "backslashreplace")


_PYTHON_FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def hang_summary(record: Any, limit: int = 8) -> list[str]:
    """One line per process of a hang record (``hang.json``): state, wait, Python line, jobs.

    What a reader needs to see before opening the record: which process
    waits on what, the line a case's Python is stuck at, and the block jobs
    a QEMU process is running. Anything the record lacks is left out.
    """
    processes = record.get("processes") if isinstance(record, dict) else None
    lines = []
    for process in processes if isinstance(processes, list) else []:
        if not isinstance(process, dict):
            continue
        text = f"{process.get('name', '?')} (pid {process.get('pid', '?')}): "
        text += str(process.get("state") or "state unknown")
        threads = process.get("threads")
        main = threads[0] if isinstance(threads, list) and threads else None
        if isinstance(main, dict) and main.get("wchan"):
            text += f", waiting in {main['wchan']}"
        frame = _PYTHON_FRAME.search(str(process.get("python_stack") or ""))
        if frame:
            text += f"; at {Path(frame.group(1)).name} line {frame.group(2)}"
        for monitor in process.get("monitors") or []:
            answers = monitor.get("answers") if isinstance(monitor, dict) else None
            jobs = answers.get("query-jobs") if isinstance(answers, dict) else None
            for job in jobs if isinstance(jobs, list) else []:
                if isinstance(job, dict):
                    text += (
                        f"; job {job.get('id')}: {job.get('type')} {job.get('status')}, "
                        f"{job.get('current-progress')} of {job.get('total-progress')} bytes"
                    )
        lines.append(text)
    if len(lines) > limit:
        lines[limit:] = [f"and {len(lines) - limit} more processes"]
    return lines


def _read_hang_summary(hang_file: str) -> list[str]:
    """The summary of the ``hang.json`` beside *hang_file*; none if it is not readable here."""
    try:
        record = json.loads(Path(hang_file).with_name(HANG_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return hang_summary(record)


def evidence(index: int, result: CaseResult, out_dir: Path) -> list[Evidence]:
    """Write the entry's hang record, diff and output under *out_dir*; what the page shows."""
    stem = _stem(index, result)
    found = []
    if result.hang_file:
        target = out_dir / "hangs" / f"{stem}.txt"
        hang = _copy("hang", "hang record", result.hang_file, target, HANG_LIMIT)
        found.append(replace(hang, summary=tuple(_read_hang_summary(result.hang_file))))
    if result.diff:
        target = out_dir / "diffs" / f"{stem}.diff"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_bytes(result.diff))
        found.append(Evidence("diff", "diff", f"diffs/{target.name}", _excerpt(result.diff)))
    if result.output_file:
        title = {
            "timeout": "partial output",
            "interrupted": "partial output",
            "flaky": "output of the failed attempt",
        }.get(result.status, "output")
        target = out_dir / "outputs" / f"{stem}.txt"
        found.append(_copy("output", title, result.output_file, target, OUTPUT_LIMIT))
    return found


def entry_html(index: int, result: CaseResult, found: Sequence[Evidence], new: bool) -> str:
    """One failure, flake or known failure: reason, links, and each file folded."""
    label = result.column
    parts = [
        f'<section class="entry" id="{_anchor(index)}" data-status="{_esc(result.status)}">',
        f"<h3>{_status(result.status, new=new)} {_esc(result.name)} "
        f"<small>{_esc(label)}, {result.duration:.1f} s, from {_esc(result.origin)}</small></h3>",
    ]
    if result.reason:
        parts.append(f'<p class="reason">{_esc(result.reason)}</p>')
    links = [
        f'<a class="{e.kind}" href="{_esc(e.href)}">{_esc(e.title)}</a>'
        if e.href
        else f"{_esc(e.title)}: {_esc(e.missing or '')}"
        for e in found
    ]
    if links:
        parts.append('<p class="files">' + " · ".join(links) + "</p>")
    for e in found:
        if e.summary:
            parts.append(
                f'<ul class="{e.kind}-summary">'
                + "".join(f"<li>{_esc(line)}</li>" for line in e.summary)
                + "</ul>"
            )
        if e.text is None:
            continue
        body = diff_html(e.text) if e.kind == "diff" else _esc(e.text)
        count = e.text.count("\n") + (not e.text.endswith("\n"))
        parts.append(
            f'<details class="{e.kind}"><summary>{_esc(e.title)} '
            f"({count} line{'' if count == 1 else 's'})</summary>"
            f'<pre class="{e.kind}">{body}</pre></details>'
        )
    parts.append("</section>")
    return "\n".join(parts)


_CSS = (
    "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1200px}"
    "h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}"
    "dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;margin:.5em 0}"
    "dl.facts dt{font-weight:bold}dl.facts dd{margin:0}"
    ".verdict{font-size:1.2em}.verdict b{padding:.1em .4em;border-radius:.3em}"
    ".verdict .bad{background:#c62828;color:#fff}.verdict .good{background:#2e7d32;color:#fff}"
    "nav a{margin-right:1em}figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.4em}"
    "table.matrix{border-collapse:collapse}table.matrix td,table.matrix th{border:1px solid #ddd;"
    "padding:2px 8px;text-align:center}table.matrix tbody th{text-align:left}"
    "tr.rank0 th{background:#fdecea}tr.rank1 th{background:#fff8e1}td.none{color:#bbb}"
    ".st{font-weight:bold}.st a{color:inherit}"
    + "".join(f".st-{s.replace(' ', '-')}{{color:{c}}}" for s, c in COLOURS.items())
    + ".st-flaky{color:#b27d00}"
    "section.entry{border-left:4px solid #ccc;padding:.1em 1em;margin:1em 0}"
    + "".join(f"section.entry[data-status='{s}']{{border-color:{c}}}" for s, c in COLOURS.items())
    + "pre{background:#f6f8fa;padding:.6em;overflow-x:auto;max-height:40em}"
    "pre.diff .add{color:#116329;background:#dafbe1}pre.diff .del{color:#82071e;"
    "background:#ffebe9}pre.diff .hunk{color:#0550ae}pre.diff .file{font-weight:bold}"
    "summary{cursor:pointer;color:#0550ae}small{color:#666;font-weight:normal}"
    "ul.notrun li{margin:.3em 0}ul.hang-summary{font-family:monospace;font-size:.9em}"
)


def _list(title: str, items: Sequence[str]) -> str:
    rows = "".join(f"<li>{item}</li>" for item in items) or "<li>none</li>"
    return f"<h3>{_esc(title)}: {len(items)}</h3><ul>{rows}</ul>"


def page(
    results: Sequence[CaseResult],
    runs: Sequence[RunInfo],
    comparison: Comparison | None,
    found: dict[int, list[Evidence]],
) -> str:
    """The whole page; *found* holds each detailed result's files, by index."""
    position = {id(r): i for i, r in enumerate(results)}
    newly_failing = comparison.newly_failing if comparison else []
    # compare() lists the very results it was given: each has its place in *results*.
    regressions = {position[id(r)] for r in newly_failing}
    grid = matrix(results, regressions)
    versions = _listed((r.qemu_version for r in runs), "QEMU")
    title = f"iotests report: QEMU {versions}" if runs else "iotests report"
    counts = verdict(results, comparison)
    failing = counts[0][1]
    headline = f'<b class="{"bad" if failing else "good"}">' + (
        f"{failing} failing</b>" if failing else "nothing failing</b>"
    )
    rest = " · ".join(f"{n} {_esc(s)}" for s, n in counts[1:])
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:\">",
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_esc(title)}</h1>",
        '<dl class="facts">'
        + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in header_facts(runs))
        + "</dl>",
        f'<p class="verdict">{headline} · {rest} <small>of {len(results)} results</small></p>',
        '<nav><a href="#charts">charts</a><a href="#matrix">matrix</a>'
        '<a href="#entries">failures and flakes</a><a href="#not-run">not run</a></nav></header>',
    ]
    if comparison is not None:
        parts.append('<section id="baseline"><h2>Against the baseline</h2>')
        parts.append(
            _list(
                "Newly failing (passed in the baseline)",
                [
                    f"{_status(r.status, f'#{_anchor(position[id(r)])}')} {_esc(r.name)} "
                    f"({_esc(r.column)})"
                    for r in comparison.newly_failing
                ],
            )
        )
        parts.append(
            _list(
                "Newly passing (failed in the baseline)",
                [f"{_esc(r.name)} ({_esc(r.column)})" for r in comparison.newly_passing],
            )
        )
        parts.append("</section>")
    parts += [
        '<section id="charts"><h2>Charts</h2>',
        "<figure><figcaption>Statuses per format, protocol and flavour</figcaption>"
        f"{bars_svg(status_bars(results))}</figure>",
        "<figure><figcaption>The slowest cases</figcaption>"
        f"{slowest_svg(results, slowest(results))}</figure></section>",
        '<section id="matrix"><h2>Matrix</h2>',
        "<p>Failing cases first, then flaky, known and interrupted ones. "
        "A status links to its entry below.</p>",
        matrix_html(results, grid, regressions),
        "</section>",
        '<section id="entries"><h2>Failures, flakes and known failures</h2>',
    ]
    shown = False
    for heading, statuses in (
        ("Failures", ("fail", "timeout", "error")),
        ("Interrupted", ("interrupted",)),
        ("Flaky", ("flaky",)),
        ("Known failures", ("known",)),
    ):
        indices = sorted(
            (i for i in found if results[i].status in statuses),
            key=lambda i: (
                i not in regressions,
                natural_key(results[i].name),
                column_of(results[i]),
            ),
        )
        if not indices:
            continue
        shown = True
        parts.append(f"<h3>{_esc(heading)}: {len(indices)}</h3>")
        parts += [entry_html(i, results[i], found[i], i in regressions) for i in indices]
    if not shown:
        parts.append("<p>None.</p>")
    parts.append('</section><section id="not-run"><h2>Not run</h2>')
    groups = not_run_groups(results)
    if groups:
        parts.append('<ul class="notrun">')
        for reason, items in groups:
            cases = ", ".join(f"{_esc(r.name)} <small>{_esc(r.column)}</small>" for r in items)
            parts.append(f"<li><b>{_esc(reason)}</b> ({len(items)}): {cases}</li>")
        parts.append("</ul>")
    else:
        parts.append("<p>Every case ran.</p>")
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"</section><footer><small>written {generated}</small></footer></body></html>\n")
    return "\n".join(parts)


def write_html(
    results: Sequence[CaseResult],
    out_dir: Path,
    comparison: Comparison | None = None,
    runs: Sequence[RunInfo] = (),
) -> Path:
    """Write out_dir/index.html, the files it links and out_dir/report.md; the page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    found = {i: evidence(i, r, out_dir) for i, r in enumerate(results) if r.status in DETAILED}
    index = out_dir / "index.html"
    index.write_text(page(results, runs, comparison, found), encoding="utf-8")
    links = {
        results[i].key: e.href
        for i, items in found.items()
        for e in items
        if e.kind == "diff" and e.href
    }
    (out_dir / "report.md").write_text(
        markdown(results, comparison, links), encoding="utf-8", errors="backslashreplace"
    )
    return index
