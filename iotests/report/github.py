"""GitHub Actions' own views of a run (``iotests run --github``): a step summary and annotations.

A JUnit file needs an action to be read; these need nothing. The step
summary (Markdown appended to ``$GITHUB_STEP_SUMMARY``) is the tally, each
failure with its reason and its diff collapsed, and the cases not run
grouped by reason. Annotations (``::error`` workflow commands on stdout)
put the failures on the run's page, each pointing at its case file.

Opt-in, not switched on by ``GITHUB_ACTIONS``: stdout may be TAP for a
parser, and a job that runs several formats in one step, or already
appends ``iotests report``'s Markdown to the summary, would get everything
twice.

GitHub's limits are kept here, not discovered in CI: a step summary over
1 MiB is refused whole (so the text is cut, with a note, to what the file
has room for), and a step shows at most 10 error annotations (so the
tenth names the failures left over instead of being dropped silently).
"""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from iotests.report.files import xml_safe
from iotests.runner.discovery import Case
from iotests.runner.results import CaseResult, Status

#: GitHub refuses a step summary file larger than this.
SUMMARY_LIMIT = 1024 * 1024
#: Error (and, separately, warning) annotations GitHub shows for one step.
ANNOTATION_LIMIT = 10
#: A diff longer than this is cut in the summary: the JUnit report has it whole.
DIFF_LIMIT = 64 * 1024
#: Diff lines an annotation carries: enough to see what differs, not the page.
ANNOTATION_LINES = 20
_FAILING = tuple(s for s in Status if s.failed)  # one truth with the runner


def escape_data(text: str) -> str:
    """A workflow command's message, as GitHub's toolkit escapes it (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: the message's escapes, and ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, **props: str | None) -> str:
    given = ",".join(f"{k}={escape_property(xml_safe(v))}" for k, v in props.items() if v)
    return f"::{kind}{' ' + given if given else ''}::{escape_data(xml_safe(message))}"


def case_files(cases: Sequence[Case], workspace: Path) -> Callable[[CaseResult], str | None]:
    """The path of each result's case file relative to *workspace*, where GitHub looks for it.

    A case outside the workspace (a tree elsewhere) gets no file: GitHub
    would point at a path the repository does not have.
    """
    paths: dict[str, str] = {}
    root = workspace.resolve()
    for case in cases:
        try:
            paths[case.name] = case.path.resolve().relative_to(root).as_posix()
        except ValueError:
            continue
    return lambda r: paths.get(r.name)


def _title(r: CaseResult) -> str:
    return f"{r.name} ({r.format}-{r.protocol}): {r.status.value}"


def _annotation_message(r: CaseResult) -> str:
    lines = [r.reason or r.status.value]
    if r.hang_file:
        lines.append(f"hang record: {r.hang_file}")
    if r.diff:
        diff = r.diff.splitlines()
        lines += diff[:ANNOTATION_LINES]
        if len(diff) > ANNOTATION_LINES:
            lines.append(f"... {len(diff) - ANNOTATION_LINES} more diff lines in the step summary")
    return "\n".join(lines)


def workflow_commands(
    results: Sequence[CaseResult],
    case_file: Callable[[CaseResult], str | None] = lambda r: None,
    limit: int = ANNOTATION_LIMIT,
) -> list[str]:
    """``::error`` lines for failing cases, ``::warning`` lines for flaky ones, *limit* of each."""
    lines: list[str] = []
    for kind, wanted in (("error", _FAILING), ("warning", (Status.FLAKY,))):
        items = [r for r in results if r.status in wanted]
        shown = items if len(items) <= limit else items[: limit - 1]
        lines += [
            _command(kind, _annotation_message(r), file=case_file(r), title=_title(r))
            for r in shown
        ]
        rest = items[len(shown) :]
        if rest:
            names = ", ".join(f"{r.name} ({r.status.value})" for r in rest)
            lines.append(
                _command(
                    kind,
                    f"and {len(rest)} more: {names} (see the step summary)",
                    title=f"{len(rest)} more {'failing' if kind == 'error' else 'flaky'} cases",
                )
            )
    return lines


def _md(text: str) -> str:
    """One line of plain text that Markdown shows as it is."""
    text = html.escape(xml_safe(text).replace("\r", " ").replace("\n", " "), quote=False)
    return re.sub(r"([\\`*_\[\]|~#])", r"\\\1", text)


def _code(text: str) -> str:
    """*text* as an inline code span, shown verbatim (no escapes work inside one)."""
    text = xml_safe(text).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fenced(text: str, language: str = "") -> str:
    """A code block whose fence no backtick run in *text* can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}\n"


def _cut(text: str, limit: int) -> tuple[str, int]:
    """*text* cut to whole lines within *limit* bytes, and how many lines were cut."""
    if len(text.encode()) <= limit:
        return text, 0
    kept: list[str] = []
    used = 0
    lines = text.splitlines(keepends=True)
    for line in lines:
        size = len(line.encode())
        if used + size > limit:
            break
        kept.append(line)
        used += size
    return "".join(kept), len(lines) - len(kept)


def _failure(r: CaseResult, diff_limit: int) -> str:
    parts = [f"- **{_md(r.name)}** ({r.format}-{r.protocol}) {r.status.value}: "]
    parts.append(_md(r.reason or r.status.value) + "\n")
    if r.hang_file:
        parts.append(f"  hang record: {_code(r.hang_file)}\n")
    if r.diff and diff_limit < 256:
        parts.append("  (its diff does not fit here: the JUnit report has it)\n")
    elif r.diff:
        diff, cut = _cut(xml_safe(r.diff), diff_limit)
        parts.append("\n<details><summary>diff</summary>\n\n")
        parts.append(_fenced(diff, "diff"))
        if cut:
            where = f" ({_code(r.output_file)} has the output)" if r.output_file else ""
            parts.append(f"\n{cut} more lines cut: the JUnit report has the whole diff{where}\n")
        parts.append("\n</details>\n")
    return "".join(parts) + "\n"


def _listed(title: str, results: Sequence[CaseResult]) -> str:
    if not results:
        return ""
    lines = [f"#### {title}\n\n"]
    lines += [f"- **{_md(r.name)}**: {_md(r.reason or '')}\n" for r in results]
    return "".join(lines) + "\n"


def _not_run(results: Sequence[CaseResult]) -> str:
    groups: dict[str, list[str]] = {}
    for r in results:
        if r.status is Status.NOT_RUN:
            groups.setdefault(r.reason or "no reason given", []).append(r.name)
    if not groups:
        return ""
    lines = ["#### Not run\n\n"]
    for reason, names in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        lines.append(f"- {_md(reason)} ({len(names)}): {_md(', '.join(names))}\n")
    return "".join(lines) + "\n"


def summary(results: Sequence[CaseResult], budget: int = SUMMARY_LIMIT) -> str:
    """The step summary's Markdown, at most *budget* bytes (UTF-8).

    Failures come first and get what room there is; the cases not run,
    known failures and flaky cases follow, given at most half of it.
    Whatever does not fit is named in a closing note, never dropped silently.
    """
    combos = sorted({f"{r.format}-{r.protocol}" for r in results})
    counts = {s: sum(r.status is s for r in results) for s in Status}
    failing = [r for r in results if r.status in _FAILING]
    verdict = f"{len(failing)} failed" if failing else "no failures"
    head = [f"### iotests {', '.join(combos) or '(no cases)'}: {verdict}\n\n"]
    head.append("| status | cases |\n| --- | ---: |\n")
    head += [f"| {s.value} | {n} |\n" for s, n in counts.items() if n]
    head.append(f"| **all** | **{len(results)}** |\n\n")
    text = "".join(head)
    others = (
        _listed("Known failures", [r for r in results if r.status is Status.KNOWN])
        + _listed("Flaky", [r for r in results if r.status is Status.FLAKY])
        + _not_run(results)
    )
    note_room = 1024
    room = budget - len(text.encode()) - note_room
    others, cut_lines = _cut(others, max(0, room // 2))
    if cut_lines:
        others += f"\n{cut_lines} more lines of these lists cut (GitHub's 1 MiB limit)\n"
    room -= len(others.encode())
    blocks = ["#### Failures\n\n"] if failing else []
    room -= len("".join(blocks).encode())
    left_out: list[CaseResult] = []
    for r in failing:
        block = _failure(r, min(DIFF_LIMIT, room - 1024))
        if left_out or len(block.encode()) > room:
            left_out.append(r)
            continue
        blocks.append(block)
        room -= len(block.encode())
    if left_out:
        names = ", ".join(r.name for r in left_out)
        note = (
            f"{len(left_out)} more failures not shown (GitHub's 1 MiB limit for a step "
            f"summary); the JUnit and JSON reports have them all: {names}"
        )
        blocks.append(_cut(note, note_room + max(0, room) - 2)[0] or note[:80] + "\n\n")
        blocks[-1] = blocks[-1].rstrip("\n") + "\n\n"
    whole = text + "".join(blocks) + others
    return _cut(whole, max(0, budget))[0]


def publish(
    args: object,
    results: Sequence[CaseResult],
    cases: Sequence[Case] | None,
    environ: Mapping[str, str],
    stream: TextIO | None = None,
) -> bool:
    """Write the step summary and print the annotations if ``--github`` asked for them.

    Returns False when the summary could not be written (said in one line
    on stderr); the run's verdict does not depend on it.
    """
    if not getattr(args, "github", False):
        return True
    out = stream or sys.stdout
    workspace = Path(environ.get("GITHUB_WORKSPACE") or os.getcwd())
    for line in workflow_commands(results, case_files(cases or [], workspace)):
        out.write(line + "\n")
    out.flush()
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print(
            "iotests: note: --github: GITHUB_STEP_SUMMARY is not set, so no step summary",
            file=sys.stderr,
        )
        return True
    path = Path(target)
    try:
        # Other steps' commands append to the same file: only the room left is ours.
        used = path.stat().st_size if path.exists() else 0
        text = summary(results, SUMMARY_LIMIT - used)
        with path.open("a", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        print(f"iotests: error: --github: {target}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True
