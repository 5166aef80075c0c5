"""Reports written to files at the end of a run: JUnit XML and JSON."""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iotests import fileio
from iotests.runner.results import CaseResult, Status

JSON_VERSION = 1
#: Statuses JUnit calls errors: the case did not come to a verdict on its output.
_ERRORS = (Status.TIMEOUT, Status.INTERRUPTED, Status.ERROR)


def junit_xml(
    results: Sequence[CaseResult],
    suite_name: str,
    group: Callable[[CaseResult], str] | None = None,
) -> str:
    """JUnit XML with one testsuite per group (default: format-protocol combination).

    Failures are ``<failure>`` with the diff; timeouts and interruptions are
    ``<error>``; cases not run are ``<skipped>`` with the reason.
    """
    root = ET.Element("testsuites", name=suite_name)
    combos: dict[str, list[CaseResult]] = {}
    for r in results:
        combos.setdefault(group(r) if group else f"{r.format}-{r.protocol}", []).append(r)
    for combo, items in combos.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"iotests.{combo}",
            tests=str(len(items)),
            failures=str(sum(r.status is Status.FAIL for r in items)),
            errors=str(sum(r.status in _ERRORS for r in items)),
            skipped=str(sum(r.status in (Status.NOT_RUN, Status.KNOWN) for r in items)),
            time=f"{sum(r.duration for r in items):.3f}",
        )
        for r in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"iotests.{combo}",
                name=r.name,
                time=f"{r.duration:.3f}",
            )
            if r.status is Status.FAIL:
                failure = ET.SubElement(case, "failure", message=r.reason or "failed")
                failure.text = r.diff or r.reason or ""
            elif r.status in _ERRORS:
                ET.SubElement(case, "error", message=r.reason or r.status.value)
            elif r.status in (Status.NOT_RUN, Status.KNOWN):
                # A known failure is neither a pass nor a failure: CI shows it as skipped,
                # with the entry's reason and bug link in the message.
                ET.SubElement(case, "skipped", message=r.reason or r.status.value)
            elif r.status is Status.FLAKY:
                out = ET.SubElement(case, "system-out")
                out.text = f"flaky: {r.reason or ''}"
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def json_report(
    results: Sequence[CaseResult],
    started: datetime,
    finished: datetime,
    settings: dict[str, Any],
    environment: dict[str, Any],
) -> str:
    data = {
        "version": JSON_VERSION,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "host": platform.node(),
        "settings": settings,
        "environment": environment,
        "results": [r.serialize() for r in results],
    }
    return json.dumps(data, indent=1) + "\n"


def write_junit(path: Path, results: Sequence[CaseResult], suite_name: str = "iotests") -> None:
    fileio.atomic_write(path, junit_xml(results, suite_name))


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


def load_json(path: Path) -> tuple[dict[str, Any], list[CaseResult]]:
    """Read a JSON report back: (the whole document, its results)."""
    data = json.loads(path.read_text())
    return data, [CaseResult.deserialize(r) for r in data["results"]]
