"""A campaign's results as the next piece of work reads them: scores, and every survivor.

Three forms of one content: JSON in the mutation-testing-elements schema
(version 2, so Stryker's HTML viewer and dashboards read it), Markdown for a
review or an issue, and a self-contained HTML page (no script fetched from a
CDN). The score counts killed and timed-out mutants over those that compiled
(survivors and uncovered ones included); a mutant that does not compile is
listed and not counted. Pure: callers write the returned text.
"""

from __future__ import annotations

import difflib
import html
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iotests import __version__
from iotests.mutate.campaign import MutantResult, Status
from iotests.mutate.engine import apply

THRESHOLDS = {"high": 80, "low": 60}


@dataclass(frozen=True)
class Score:
    """Detected over counted mutants of one file or function."""

    name: str
    detected: int
    survived: int
    no_coverage: int
    not_compiled: int

    @property
    def counted(self) -> int:
        return self.detected + self.survived + self.no_coverage

    @property
    def percent(self) -> float:
        return 100.0 * self.detected / self.counted if self.counted else 0.0

    @property
    def covered_percent(self) -> float:
        """The score among covered mutants: what the cases that ran could have caught."""
        covered = self.detected + self.survived
        return 100.0 * self.detected / covered if covered else 0.0


def score(name: str, results: Iterable[MutantResult]) -> Score:
    chosen = list(results)
    return Score(
        name,
        sum(r.status.detected for r in chosen),
        sum(r.status == Status.SURVIVED for r in chosen),
        sum(r.status == Status.NO_COVERAGE for r in chosen),
        sum(r.status == Status.COMPILE_ERROR for r in chosen),
    )


def scores(results: Sequence[MutantResult], by: str) -> list[Score]:
    """Scores per ``file`` or per ``function`` (``file:function``), sorted by name."""
    groups: dict[str, list[MutantResult]] = {}
    for result in results:
        m = result.mutant
        key = m.file if by == "file" else f"{m.file}:{m.function}"
        groups.setdefault(key, []).append(result)
    return [score(key, group) for key, group in sorted(groups.items())]


def survivor_diff(result: MutantResult, source: bytes, context: int = 2) -> str:
    """The survivor as a unified diff of its file (a few lines of context)."""
    m = result.mutant
    before = source.decode(errors="replace").splitlines(keepends=True)
    after = apply(source, m).decode(errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{m.file}", f"b/{m.file}", n=context))


def to_elements(
    results: Sequence[MutantResult],
    sources: Mapping[str, bytes],
    *,
    project_root: str,
    performance: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The mutation-testing-elements (schema version 2) report."""
    files: dict[str, dict[str, Any]] = {}
    tests: set[str] = set()
    for result in results:
        m = result.mutant
        entry = files.setdefault(
            m.file,
            {"language": "c", "source": sources[m.file].decode(errors="replace"), "mutants": []},
        )
        mutant: dict[str, Any] = {
            "id": m.id,
            "mutatorName": str(m.operator),
            "replacement": m.replacement,
            "description": f"{m.function}: {m.original!r} -> {m.replacement!r}",
            "location": {
                "start": {"line": m.line, "column": m.column},
                "end": {"line": m.end_line, "column": m.end_column},
            },
            "status": str(result.status),
            "coveredBy": list(result.covered_by),
            "killedBy": list(result.killed_by),
            "testsCompleted": result.tests_completed,
            "duration": round(1000 * (result.build_seconds + result.test_seconds)),
        }
        if result.reason:
            mutant["statusReason"] = result.reason
        entry["mutants"].append(mutant)
        tests.update(result.covered_by)
    report: dict[str, Any] = {
        "$schema": "https://git.io/mutation-testing-schema",
        "schemaVersion": "2",
        "thresholds": dict(THRESHOLDS),
        "projectRoot": project_root,
        "files": files,
        "testFiles": {"": {"tests": [{"id": t, "name": t} for t in sorted(tests)]}},
        "framework": {"name": "qemu-iotests-toolkit", "version": __version__},
        "system": {
            "ci": False,
            "os": {"platform": platform.system().lower(), "description": platform.platform()},
        },
    }
    if performance is not None:
        report["performance"] = {k: round(1000 * v) for k, v in performance.items()}
    return report


def _survivors(results: Sequence[MutantResult]) -> list[MutantResult]:
    return sorted(
        (r for r in results if r.status == Status.SURVIVED),
        key=lambda r: (r.mutant.file, r.mutant.line, r.mutant.column),
    )


def markdown(results: Sequence[MutantResult], sources: Mapping[str, bytes], title: str) -> str:
    """Scores per file and function, then each survivor as a diff with its covering cases."""
    total = score("all", results)
    out = [
        f"# Mutation testing: {title}",
        "",
        f"**Score {total.percent:.1f}%** ({total.detected} detected of {total.counted}; "
        f"{total.covered_percent:.1f}% of the {total.detected + total.survived} covered); "
        f"{total.survived} survived, {total.no_coverage} without coverage, "
        f"{total.not_compiled} did not compile (not counted).",
        "",
        "| file | score | detected | survived | no coverage | not compiled |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [_row(s) for s in scores(results, "file")]
    out += [
        "",
        "| function | score | detected | survived | no coverage | not compiled |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [_row(s) for s in scores(results, "function")]
    survivors = _survivors(results)
    out += ["", f"## Survivors ({len(survivors)})", ""]
    for result in survivors:
        m = result.mutant
        out += [
            f"### {m.file}:{m.line}:{m.column} {m.function} ({m.operator}, id {m.id})",
            "",
            f"Covered by {len(result.covered_by)} case(s), all passed: "
            + ", ".join(result.covered_by[:12])
            + (f" and {len(result.covered_by) - 12} more" if len(result.covered_by) > 12 else ""),
            "",
            "```diff",
            survivor_diff(result, sources[m.file]).rstrip("\n"),
            "```",
            "",
        ]
    return "\n".join(out) + "\n"


def _row(s: Score) -> str:
    return (
        f"| {s.name} | {s.percent:.1f}% | {s.detected} | {s.survived} | {s.no_coverage} "
        f"| {s.not_compiled} |"
    )


def html_page(results: Sequence[MutantResult], sources: Mapping[str, bytes], title: str) -> str:
    """The same content as :func:`markdown` as one self-contained HTML page."""
    total = score("all", results)
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(s.name)}</td><td>{s.percent:.1f}%</td><td>{s.detected}</td>"
        f"<td>{s.survived}</td><td>{s.no_coverage}</td><td>{s.not_compiled}</td></tr>"
        for s in [*scores(results, "file"), *scores(results, "function")]
    )
    parts = []
    for result in _survivors(results):
        m = result.mutant
        lines = []
        for line in survivor_diff(result, sources[m.file]).splitlines():
            kind = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
            lines.append(f'<span class="{kind}">{esc(line)}</span>')
        parts.append(
            f"<h3>{esc(m.file)}:{m.line} {esc(m.function)} ({esc(str(m.operator))})</h3>"
            f"<p>covered by: {esc(', '.join(result.covered_by))}</p>"
            f"<pre>{chr(10).join(lines)}</pre>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>Mutation testing: {esc(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}.add{color:#070}.del{color:#a00}"
        "pre{background:#f6f6f6;padding:8px}</style></head><body>"
        f"<h1>Mutation testing: {esc(title)}</h1>"
        f"<p><b>Score {total.percent:.1f}%</b>: {total.detected} detected of {total.counted}, "
        f"{total.survived} survived, {total.no_coverage} without coverage, "
        f"{total.not_compiled} did not compile (not counted).</p>"
        "<table><tr><th>file / function</th><th>score</th><th>detected</th><th>survived</th>"
        f"<th>no coverage</th><th>not compiled</th></tr>{rows}</table>"
        f"<h2>Survivors</h2>{''.join(parts)}</body></html>\n"
    )
