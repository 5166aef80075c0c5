"""Reports written to files at the end of a run: JUnit XML and JSON.

The JSON report is the run's record: enough to reproduce it (selection,
settings, binaries, QEMU version, build flavour, the toolkit's own version
and commit) and to merge it with others (``iotests report``). JUnit is what
CI systems show; each reads a little differently (Jenkins' junit plugin
follows its junit-10 schema, GitLab shows a failure's text and nothing
else), so tests/data/junit.xsd writes down what this module promises, and
the facts of the run travel in both: a testsuite's ``timestamp``,
``hostname``, wall ``time`` and ``<properties>`` come from the same
document the JSON report is (:func:`suite_run`).

XML 1.0 cannot carry most control characters at all, not even as
character references, and a case's output may hold any byte: every text
and attribute is made legal by :func:`xml_safe`, which spells the
offending characters out instead of dropping them.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from iotests import fileio
from iotests.runner.results import CaseResult, Status

#: Additive changes only: readers of version 1 ignore fields they do not know.
JSON_VERSION = 1
#: Statuses JUnit calls errors: the case did not come to a verdict on its output.
_ERRORS = (Status.TIMEOUT, Status.INTERRUPTED, Status.ERROR)
_SKIPPED = (Status.NOT_RUN, Status.KNOWN)
#: How much of a case's output (and of a hang record) goes into the XML: the
#: end, where a failure usually shows; CI systems choke on huge reports.
OUTPUT_LIMIT = 64 * 1024

# Everything XML 1.0's Char production leaves out: C0 controls but tab, LF
# and CR; surrogates (a lone one comes from errors="surrogateescape"); U+FFFE/F.
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _spelled(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        # surrogateescape's stand-in for the undecodable byte code - 0xDC00.
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_safe(text: str) -> str:
    r"""*text* with every character XML 1.0 forbids spelled out (``\x1b``, ``\x00``, ``\ud800``).

    Spelled out rather than dropped: an escape sequence in a diff is often
    the difference that failed the case.
    """
    return _ILLEGAL.sub(_spelled, text)


@dataclass(frozen=True)
class Tail:
    """The end of a file, and what was left out of it."""

    text: str
    size: int
    cut: int

    def note(self, path: str) -> str:
        if not self.cut:
            return ""
        return (
            f"[iotests: {path} is {self.size} bytes; the first {self.cut} are cut, "
            f"the last {self.size - self.cut} follow]\n"
        )


def read_tail(path: str, limit: int = OUTPUT_LIMIT) -> Tail:
    """The last *limit* bytes of *path*, decoded, starting at a whole character and line.

    :raises OSError: when *path* cannot be read.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start = max(0, size - limit)
        f.seek(start)
        data = f.read(limit)
    if start:
        skip = 0
        while skip < min(3, len(data)) and 0x80 <= data[skip] <= 0xBF:
            skip += 1  # UTF-8 continuation bytes of a character cut in half
        newline = data.find(b"\n", skip, skip + 4096)
        skip = newline + 1 if newline >= 0 else skip
        start, data = start + skip, data[skip:]
    return Tail(data.decode("utf-8", errors="surrogateescape"), size, start)


@dataclass(frozen=True)
class SuiteRun:
    """When, where and on what a testsuite's cases ran.

    What is unknown is left out of the XML, not guessed: a merged report's
    start is not the time of the merge, nor its host the merging machine.
    """

    started: datetime | None = None
    hostname: str | None = None
    #: Seconds from the run's start to its end; without it a suite's time is
    #: the sum of its cases', which parallel jobs make larger than the run.
    wall_time: float | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def report_properties(data: Mapping[str, Any]) -> dict[str, str]:
    """The JUnit ``<properties>`` of a run report document (as :func:`report_data` makes).

    Names are dotted and stable (tools match on them); a fact the report
    does not have is left out rather than written as "None".
    """
    props: dict[str, str] = {}
    toolkit = data.get("toolkit")
    if isinstance(toolkit, dict):
        for key in ("version", "commit", "dirty", "python"):
            if toolkit.get(key) is not None:
                props[f"iotests.{key}"] = _text(toolkit[key])
    env = data.get("environment")
    env = env if isinstance(env, dict) else {}
    if env.get("qemu_version"):
        props["qemu.version"] = str(env["qemu_version"])
    if "flavour" in env:
        # "" is a fact too: not a toolkit build, so no profile to name.
        props["flavour"] = str(env["flavour"] or "")
    if env.get("origin"):
        props["qemu.origin"] = str(env["origin"])
    for kind, prefix in (("binaries", "qemu.binary."), ("versions", "qemu.version.")):
        values = env.get(kind)
        for role, value in sorted(values.items() if isinstance(values, dict) else []):
            if value:
                props[prefix + role] = str(value)
    settings = data.get("settings")
    for key, value in sorted(settings.items() if isinstance(settings, dict) else []):
        if value is None:
            continue
        props[key if key in ("format", "protocol") else f"setting.{key}"] = _text(value)
    selection = data.get("selection")
    for key, value in sorted(selection.items() if isinstance(selection, dict) else []):
        if value not in (None, [], ()):
            props[f"selection.{key}"] = _text(value)
    return props


def suite_run(data: Mapping[str, Any]) -> SuiteRun:
    """The testsuite facts of a run report document, for :func:`junit_xml`.

    ``iotests report`` can call this on each report it loads; a field the
    report lacks (older reports) is simply unknown.
    """

    def when(key: str) -> datetime | None:
        try:
            return datetime.fromisoformat(str(data[key]))
        except (KeyError, ValueError):
            return None

    started, finished = when("started"), when("finished")
    wall = data.get("wall_time")
    if not isinstance(wall, int | float) and started and finished:
        wall = (finished - started).total_seconds()
    host = data.get("host")
    return SuiteRun(
        started=started,
        hostname=host if isinstance(host, str) and host else None,
        wall_time=float(wall) if isinstance(wall, int | float) else None,
        properties=report_properties(data),
    )


def combine(runs: Sequence[SuiteRun]) -> SuiteRun:
    """One suite's facts from several runs of it (shards, perhaps on several machines).

    It started with the first, lasted until the last ended (None when any
    run's start or length is unknown), and keeps each property and host
    once: values that differ are listed, so ``selection.shard`` reads
    ``1/2, 2/2``.
    """
    if not runs:
        return SuiteRun()
    starts = [r.started for r in runs if r.started is not None]
    wall = None
    if len(starts) == len(runs) and all(r.wall_time is not None for r in runs):
        ends = [r.started + timedelta(seconds=r.wall_time or 0) for r in runs if r.started]
        wall = (max(ends) - min(starts)).total_seconds()
    hosts = list(dict.fromkeys(r.hostname for r in runs if r.hostname))
    props: dict[str, list[str]] = {}
    for r in runs:
        for name, value in r.properties.items():
            values = props.setdefault(name, [])
            if value not in values:
                values.append(value)
    return SuiteRun(
        started=min(starts) if starts else None,
        hostname=", ".join(hosts) or None,
        wall_time=wall,
        properties={name: ", ".join(values) for name, values in props.items()},
    )


def _timestamp(when: datetime) -> str:
    """UTC, to the second, without an offset: the form Ant's JUnit schema requires."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.replace(tzinfo=None, microsecond=0).isoformat()


def _one(values: Iterable[str]) -> str | None:
    found = set(values)
    return found.pop() if len(found) == 1 else None


def _file_part(path: str, what: str) -> str:
    """The end of *path* for system-out/-err, with a note on what was cut or why it is missing."""
    try:
        tail = read_tail(path)
    except OSError as exc:
        return f"[iotests: {what} {path} could not be read: {exc.strerror or exc}]\n"
    return tail.note(path) + tail.text


def _diff(r: CaseResult) -> str:
    """The diff's first :data:`OUTPUT_LIMIT` bytes, in whole lines: the first hunks say most."""
    diff = r.diff or ""
    data = diff.encode("utf-8", "surrogatepass")
    if len(data) <= OUTPUT_LIMIT:
        return diff
    cut = data[:OUTPUT_LIMIT]
    cut = cut[: cut.rfind(b"\n") + 1] or cut
    kept = cut.decode("utf-8", "surrogatepass")
    where = f" in {Path(r.output_file).parent / 'diff'}" if r.output_file else " in the JSON report"
    total, shown = len(diff.splitlines()), len(kept.splitlines())
    return kept + f"[iotests: the first {shown} of the diff's {total} lines; the rest is{where}]\n"


def _system_out(r: CaseResult) -> str:
    parts = []
    if r.status is Status.FLAKY:
        parts.append(f"[iotests: flaky: {r.reason or 'passed when re-run'}]\n")
    if r.output_file:
        parts.append(_file_part(r.output_file, "output"))
    return "".join(parts)


def _system_err(r: CaseResult) -> str:
    parts = []
    if r.diff:
        diff = _diff(r)
        parts.append(diff if diff.endswith("\n") else diff + "\n")
    if r.hang_file:
        parts.append(f"[iotests: what the case's processes were doing: {r.hang_file}]\n")
        parts.append(_file_part(r.hang_file, "hang record"))
    return "".join(parts)


def _error_text(r: CaseResult) -> str:
    lines = [r.reason or r.status.value]
    if r.hang_file:
        lines.append(f"hang record: {r.hang_file}")
    if r.output_file:
        lines.append(f"{'partial ' if r.hang_file else ''}output: {r.output_file}")
    return "\n".join(lines)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child whose text and attributes are legal XML whatever they held."""
    child = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})
    if text:
        child.text = xml_safe(text)
    return child


def _testcase(suite: ET.Element, combo: str, r: CaseResult) -> None:
    case = _element(
        suite, "testcase", classname=f"iotests.{combo}", name=r.name, time=f"{r.duration:.3f}"
    )
    message = r.reason or r.status.value
    if r.status is Status.FAIL:
        # GitLab shows only this element's text: the diff belongs here as well.
        _element(case, "failure", _diff(r) or r.reason or "", message=message, type="fail")
    elif r.status in _ERRORS:
        _element(case, "error", _error_text(r), message=message, type=r.status.value)
    elif r.status in _SKIPPED:
        # A known failure is neither a pass nor a failure: CI shows it as skipped,
        # with the entry's reason and bug link in the message.
        _element(case, "skipped", message=message, type=r.status.value)
    out, err = _system_out(r), _system_err(r)
    if out:
        _element(case, "system-out", out)
    if err:
        _element(case, "system-err", err)


def junit_xml(
    results: Sequence[CaseResult],
    suite_name: str,
    group: Callable[[CaseResult], str] | None = None,
    run: SuiteRun | Mapping[str, SuiteRun] | None = None,
) -> str:
    """JUnit XML with one testsuite per group (default: format-protocol combination).

    Failures are ``<failure>`` with the diff; timeouts, interruptions and
    runner errors are ``<error>``; cases not run and known failures are
    ``<skipped>`` with the reason. A case's kept output is its
    ``<system-out>`` (the last :data:`OUTPUT_LIMIT` bytes), its diff and
    hang record its ``<system-err>``.

    :param run: the facts of the run every suite comes from, or one per
        group key (a merge of several runs); a suite without them has no
        timestamp, hostname or properties, and the sum of its cases' times.
    """
    combos: dict[str, list[CaseResult]] = {}
    for r in results:
        combos.setdefault(group(r) if group else f"{r.format}-{r.protocol}", []).append(r)
    suites: list[tuple[str, list[CaseResult], SuiteRun]] = []
    for combo, items in combos.items():
        facts = run if isinstance(run, SuiteRun) else (run or {}).get(combo, SuiteRun())
        suites.append((combo, items, facts))

    def seconds(items: list[CaseResult], facts: SuiteRun) -> float:
        return facts.wall_time if facts.wall_time is not None else sum(r.duration for r in items)

    total = (
        run.wall_time
        if isinstance(run, SuiteRun) and run.wall_time is not None
        else sum(seconds(items, facts) for _, items, facts in suites)
    )
    root = ET.Element(
        "testsuites",
        name=xml_safe(suite_name),
        tests=str(len(results)),
        failures=str(sum(r.status is Status.FAIL for r in results)),
        errors=str(sum(r.status in _ERRORS for r in results)),
        time=f"{total:.3f}",
    )
    for combo, items, facts in suites:
        attrs = {
            "name": f"iotests.{combo}",
            "tests": str(len(items)),
            "failures": str(sum(r.status is Status.FAIL for r in items)),
            "errors": str(sum(r.status in _ERRORS for r in items)),
            "skipped": str(sum(r.status in _SKIPPED for r in items)),
            "time": f"{seconds(items, facts):.3f}",
        }
        if facts.started is not None:
            attrs["timestamp"] = _timestamp(facts.started)
        if facts.hostname:
            attrs["hostname"] = facts.hostname
        suite = _element(root, "testsuite", **attrs)
        props = dict(facts.properties)
        for key, value in (
            ("format", _one(r.format for r in items)),
            ("protocol", _one(r.protocol for r in items)),
        ):
            if value:
                props[key] = value
        if props:
            holder = _element(suite, "properties")
            for name, value in props.items():
                _element(holder, "property", name=name, value=value)
        for r in items:
            _testcase(suite, combo, r)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _git(root: Path, *args: str) -> str | None:
    from iotests import command
    from iotests.errors import CommandError

    try:
        done = command.run(
            # Another user's checkout (a CI user reading a shared tree) is still ours to read.
            ["git", "-c", f"safe.directory={root}", "--no-optional-locks", "-C", str(root), *args],
            timeout=10,
            check=False,
            merge_stderr=False,
        )
    except CommandError:
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def toolkit_revision() -> dict[str, Any]:
    """The toolkit's version, the Python it runs on and, from a checkout of its own, the commit."""
    import iotests

    return {
        "version": iotests.__version__,
        **checkout_revision(Path(iotests.__file__).resolve().parent.parent),
        "python": platform.python_version(),
    }


def checkout_revision(root: Path) -> dict[str, Any]:
    """``commit`` and ``dirty`` of the git checkout whose top is *root*; None for each if none.

    Only a checkout whose top is *root* counts: a package installed under
    some other repository (a venv inside a project) must not report that
    project's commit as its own. ``dirty``: tracked files differ from it.
    """
    unknown: dict[str, Any] = {"commit": None, "dirty": None}
    if not (root / ".git").exists():
        return unknown
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != root.resolve():
        return unknown
    commit = _git(root, "rev-parse", "--verify", "HEAD")
    if commit is None:
        return unknown
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def report_data(
    results: Sequence[CaseResult],
    started: datetime,
    finished: datetime,
    settings: dict[str, Any],
    environment: dict[str, Any],
    *,
    selection: dict[str, Any] | None = None,
    toolkit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report as a document: what :func:`json_report` writes and :func:`suite_run` reads.

    ``selection`` and ``toolkit`` are additive to version 1 (absent from
    older reports).
    """
    data: dict[str, Any] = {
        "version": JSON_VERSION,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "wall_time": round((finished - started).total_seconds(), 3),
        "host": platform.node(),
        "settings": settings,
        "environment": environment,
    }
    if selection is not None:
        data["selection"] = selection
    if toolkit is not None:
        data["toolkit"] = toolkit
    data["results"] = [r.serialize() for r in results]
    return data


def json_report(
    results: Sequence[CaseResult],
    started: datetime,
    finished: datetime,
    settings: dict[str, Any],
    environment: dict[str, Any],
    *,
    selection: dict[str, Any] | None = None,
    toolkit: dict[str, Any] | None = None,
) -> str:
    data = report_data(
        results, started, finished, settings, environment, selection=selection, toolkit=toolkit
    )
    return dumps(data)


def dumps(data: Mapping[str, Any]) -> str:
    """A report document as the JSON file's text.

    Lone surrogates (bytes a case printed that were not UTF-8) stay escaped
    as ``\\udcXX`` by json's ASCII output, so the file always encodes.
    """
    return json.dumps(data, indent=1) + "\n"


def write_junit(
    path: Path,
    results: Sequence[CaseResult],
    suite_name: str = "iotests",
    *,
    run: SuiteRun | Mapping[str, SuiteRun] | None = None,
) -> None:
    fileio.atomic_write(path, junit_xml(results, suite_name, run=run))


def write_json(
    path: Path,
    results: Sequence[CaseResult],
    started: datetime,
    settings: dict[str, Any],
    environment: dict[str, Any],
) -> None:
    fileio.atomic_write(
        path, json_report(results, started, datetime.now(UTC), settings, environment)
    )


def write_document(path: Path, data: Mapping[str, Any]) -> None:
    """Write a document :func:`report_data` made (the JUnit report is built from the same one)."""
    fileio.atomic_write(path, dumps(data))


def load_json(path: Path) -> tuple[dict[str, Any], list[CaseResult]]:
    """Read a JSON report back: (the whole document, its results)."""
    data = json.loads(path.read_text())
    return data, [CaseResult.deserialize(r) for r in data["results"]]
