"""Reports: scores, survivors as diffs, and the mutation-testing-elements schema's demands."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("tree_sitter_c", reason="the mutants extra is not installed")

from iotests.mutate.campaign import MutantResult, Status
from iotests.mutate.engine import generate
from iotests.mutate.report import html_page, markdown, scores, survivor_diff, to_elements

SOURCE = b"int f(int a)\n{\n    if (a < 2) {\n        g(a);\n    }\n    return a + 1;\n}\n"
#: The statuses the schema (packages/report-schema, version 2) allows.
SCHEMA_STATUSES = {
    "Killed",
    "Survived",
    "NoCoverage",
    "CompileError",
    "RuntimeError",
    "Timeout",
    "Ignored",
    "Pending",
}


def _results() -> list[MutantResult]:
    m = {(x.original, x.replacement): x for x in generate("f.c", SOURCE)}
    return [
        MutantResult(
            m["<", "<="], Status.KILLED, ("qcow2-file/001",), ("qcow2-file/001",), 1, 1.0, 2.0
        ),
        MutantResult(m["g(a);", ";"], Status.NO_COVERAGE),
        MutantResult(
            m["+", "-"], Status.SURVIVED, ("qcow2-file/001", "qcow2-file/002"), (), 2, 1.0, 3.0
        ),
        MutantResult(m["1", "2"], Status.TIMEOUT, ("qcow2-file/002",), ("qcow2-file/002",), 1),
        MutantResult(m["1", "0"], Status.COMPILE_ERROR, reason="error: boom"),
    ]


def test_scores_count_detected_over_compiled_mutants() -> None:
    [whole] = scores(_results(), "file")
    assert (whole.detected, whole.survived, whole.no_coverage, whole.not_compiled) == (2, 1, 1, 1)
    assert whole.percent == 50.0
    assert round(whole.covered_percent, 1) == 66.7
    assert [s.name for s in scores(_results(), "function")] == ["f.c:f"]


def test_a_survivor_is_shown_as_a_diff_of_exactly_its_edit() -> None:
    diff = survivor_diff(_results()[2], SOURCE)
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["-    return a + 1;", "+    return a - 1;"]


def test_the_elements_report_has_what_the_schema_requires() -> None:
    data = json.loads(json.dumps(to_elements(_results(), {"f.c": SOURCE}, project_root="/q")))
    assert {"schemaVersion", "thresholds", "files"} <= data.keys()
    assert data["schemaVersion"] == "2"
    assert 0 <= data["thresholds"]["low"] <= data["thresholds"]["high"] <= 100
    entry = data["files"]["f.c"]
    assert {"language", "source", "mutants"} <= entry.keys()
    assert entry["source"] == SOURCE.decode()
    for mutant in entry["mutants"]:
        assert {"id", "mutatorName", "location", "status"} <= mutant.keys()
        assert mutant["status"] in SCHEMA_STATUSES
        for end in ("start", "end"):
            assert mutant["location"][end]["line"] >= 1
            assert mutant["location"][end]["column"] >= 1
    ids = [m["id"] for m in entry["mutants"]]
    assert len(ids) == len(set(ids))
    tests = {t["id"] for t in data["testFiles"][""]["tests"]}
    assert tests == {"qcow2-file/001", "qcow2-file/002"}
    killed = next(m for m in entry["mutants"] if m["status"] == "Killed")
    assert killed["killedBy"] == ["qcow2-file/001"]
    assert killed["duration"] == 3000
    # Location: start inclusive, end exclusive, on the mutated text.
    line = SOURCE.decode().splitlines()[killed["location"]["start"]["line"] - 1]
    start, end = killed["location"]["start"]["column"], killed["location"]["end"]["column"]
    assert line[start - 1 : end - 1] == "<"


def test_markdown_and_html_list_every_survivor_with_its_cases() -> None:
    text = markdown(_results(), {"f.c": SOURCE}, "f.c")
    assert "**Score 50.0%** (2 detected of 4; 66.7% of the 3 covered)" in text
    assert "1 did not compile (not counted)" in text
    assert "## Survivors (1)" in text
    assert "Covered by 2 case(s), all passed: qcow2-file/001, qcow2-file/002" in text
    assert "+    return a - 1;" in text
    page = html_page(_results(), {"f.c": SOURCE}, "f.c <&>")
    assert "f.c &lt;&amp;&gt;" in page
    assert "<script" not in page
    assert '<span class="add">+    return a - 1;</span>' in page
