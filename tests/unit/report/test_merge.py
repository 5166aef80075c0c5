"""iotests.report.merge: merging run reports, summaries, JUnit, baseline comparison."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from iotests.report.merge import compare, counts, junit, main_report, markdown, merge

DIFF = "--- expected\n+++ actual\n@@ -1 +1 @@\n-ok\n+not ok\n"


def case(
    name: str, status: str, fmt: str = "qcow2", protocol: str = "file", diff: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "format": fmt,
        "protocol": protocol,
        "status": status,
        "reason": "output differs" if status == "fail" else None,
        "duration": 1.5,
        "expected_file": f"expected/{name}.out",
        "diff": diff,
    }


def write_report(path: Path, results: list[dict[str, Any]], fmt: str = "qcow2") -> Path:
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "started": "2026-01-01T00:00:00Z",
                "finished": "2026-01-01T00:01:00Z",
                "environment": {},
                "settings": {"format": fmt, "protocol": "file"},
                "results": results,
            }
        )
    )
    return path


@pytest.fixture
def reports(tmp_path: Path) -> list[Path]:
    return [
        write_report(
            tmp_path / "r1.json",
            [case("001", "pass"), case("002", "fail", diff=DIFF), case("003", "not run")],
        ),
        write_report(
            tmp_path / "r2.json",
            [
                case("001", "pass", "raw"),
                case("004", "timeout", "raw"),
                case("001", "pass", "raw", "nbd"),
            ],
            fmt="raw",
        ),
    ]


def test_counts_per_format_and_protocol(reports: list[Path]) -> None:
    table = counts(merge(reports))
    assert list(table) == ["qcow2", "raw", "raw/nbd"]
    assert table["qcow2"] == {"pass": 1, "fail": 1, "not run": 1}
    assert table["raw"] == {"pass": 1, "timeout": 1}


def test_markdown_has_table_and_failures_with_diffs(reports: list[Path]) -> None:
    text = markdown(merge(reports))
    assert "| qcow2 | 1 | 1 | 0 | 0 | 1 | 0 | 3 |" in text
    assert "| **all** | **3** | **1** | **1** | **0** | **1** | **0** | **6** |" in text
    assert "### 002 (qcow2): fail" in text
    assert "```diff\n" + DIFF.rstrip() + "\n```" in text
    assert "### 004 (raw): timeout" in text


def test_baseline_comparison(tmp_path: Path, reports: list[Path]) -> None:
    old = write_report(
        tmp_path / "old.json",
        [case("001", "fail"), case("002", "fail"), case("004", "pass", "raw")],
    )
    result = compare(merge(reports), merge([old]))
    assert [r.name for r in result.newly_failing] == ["004"]
    assert [r.name for r in result.newly_passing] == ["001"]


def test_junit_is_valid_xml_with_failures_and_skips(reports: list[Path]) -> None:
    root = ET.fromstring(junit(merge(reports)))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"iotests.qcow2", "iotests.raw", "iotests.raw/nbd"}
    qcow2 = suites["iotests.qcow2"]
    assert (qcow2.get("tests"), qcow2.get("failures"), qcow2.get("skipped")) == ("3", "1", "1")
    failure = qcow2.find("testcase[@name='002']/failure")
    assert failure is not None
    assert failure.text == DIFF
    # One JUnit writer for single runs and merged ones: a timeout is an <error>.
    timeout = suites["iotests.raw"].find("testcase[@name='004']/error")
    assert timeout is not None
    assert suites["iotests.raw"].get("errors") == "1"


def test_main_report_writes_everything(
    tmp_path: Path, reports: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main_report(
        [
            *map(str, reports),
            "--html",
            str(out),
            "--junit",
            str(tmp_path / "all.xml"),
            "--markdown",
            str(tmp_path / "r.md"),
        ]
    )
    assert code == 1
    index = (out / "index.html").read_text()
    assert "<th>qcow2</th>" in index
    assert "diffs/" in index
    diffs = list((out / "diffs").iterdir())
    assert len(diffs) == 1
    assert diffs[0].read_text() == DIFF
    assert (tmp_path / "r.md").read_text().startswith("# iotests report")
    ET.parse(tmp_path / "all.xml")
    assert capsys.readouterr().out == ""


def test_main_report_exit_codes_with_baseline(tmp_path: Path) -> None:
    now = write_report(tmp_path / "now.json", [case("001", "fail")])
    old = write_report(tmp_path / "old.json", [case("001", "fail")])
    assert main_report([str(now), "--baseline", str(old), "--markdown", str(tmp_path / "m")]) == 0
    good = write_report(tmp_path / "good.json", [case("001", "pass")])
    assert main_report([str(good), "--markdown", str(tmp_path / "m")]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"version": 2}', "not an iotests run report"),
        ('{"version": 1, "results": [{"name": "x", "status": "bad"}]}', "results[0].status"),
    ],
)
def test_bad_reports_are_one_line_usage_errors(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main_report([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert str(path) in err
    assert err.count("\n") == 1


def test_runs_on_a_sanitizer_build_are_their_own_rows(tmp_path: Path) -> None:
    from iotests.build.manifest import Manifest

    tree = tmp_path / "builds" / "k" / "build"
    tree.mkdir(parents=True)
    Manifest(
        key="k",
        source={"spec": "debian"},
        version="7.2.0",
        profile="asan",
        configure=[],
        compiler="cc",
        ccache=False,
        binaries={"qemu-img": "qemu-img"},
        build_dir=str(tree),
        source_dir="/src",
        started="s",
        finished="f",
        build_seconds=1.0,
    ).write(tree.parent / "manifest.json")
    plain = write_report(tmp_path / "plain.json", [case("001", "pass")])
    asan = write_report(tmp_path / "asan.json", [case("001", "fail")])
    data = json.loads(asan.read_text())
    data["environment"] = {"binaries": {"qemu-img": str(tree / "qemu-img")}}
    asan.write_text(json.dumps(data))
    results = merge([plain, asan])
    assert list(counts(results)) == ["qcow2", "qcow2 [asan]"]
    # The plain run passing does not make the asan failure "known".
    assert [r.column for r in compare(results, merge([plain])).newly_failing] == ["qcow2 [asan]"]
