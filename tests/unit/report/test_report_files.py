"""JUnit XML, JSON and TAP reports parse back to what was reported."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from iotests.report.files import junit_xml, load_json, write_json
from iotests.report.tap import TapReporter
from iotests.runner.results import CaseResult, Status, Tally

RESULTS = [
    CaseResult("001", "qcow2", "file", Status.PASS, duration=0.5),
    CaseResult("002", "qcow2", "file", Status.FAIL, "output differs", 1.0, diff="-a\n+b"),
    CaseResult("003", "qcow2", "file", Status.NOT_RUN, "accelerator qtest not available"),
    CaseResult("004", "qcow2", "file", Status.TIMEOUT, "timed out after 5s", 5.0),
]


def test_junit_round_trip() -> None:
    root = ET.fromstring(junit_xml(RESULTS, "iotests"))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "iotests.qcow2-file"
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == (
        "4",
        "1",
        "1",
        "1",
    )
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["001", "002", "003", "004"]
    assert len(list(cases["001"])) == 0
    failure = cases["002"].find("failure")
    assert failure is not None
    assert failure.get("message") == "output differs"
    assert failure.text == "-a\n+b"
    skipped = cases["003"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "accelerator qtest not available"
    assert cases["004"].find("error") is not None


def test_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(
        path, RESULTS, datetime.now(UTC), {"format": "qcow2"}, {"versions": {"qemu-img": "7.2.0"}}
    )
    data, results = load_json(path)
    assert data["version"] == 1
    assert data["settings"] == {"format": "qcow2"}
    assert results == RESULTS
    assert json.loads(path.read_text())["results"][1]["status"] == "fail"


def test_tap() -> None:
    out = io.StringIO()
    tap = TapReporter(out)
    tap.start([], None)  # type: ignore[arg-type]  # TAP needs only the count here
    for r in RESULTS:
        tap.case_finished(r)
    tap.finish(RESULTS, 1.0)
    lines = out.getvalue().splitlines()
    assert lines[0] == "TAP version 13"
    assert lines[1] == "1..0"
    assert "ok 1 - 001 qcow2-file" in lines
    assert "not ok 2 - 002 qcow2-file" in lines
    assert "ok 3 - 003 qcow2-file # SKIP accelerator qtest not available" in lines
    assert "not ok 4 - 004 qcow2-file" in lines
    assert lines[-1] == "# 1 passed, 2 failed, 1 skipped"


def test_tally_line() -> None:
    assert Tally.of(RESULTS).line() == "1 passed, 2 failed, 1 skipped"
