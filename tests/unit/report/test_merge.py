"""iotests.report.merge: merging run reports, summaries, JUnit, baseline comparison."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iotests.report.merge import (
    RunInfo,
    compare,
    counts,
    junit,
    load_reports,
    main_report,
    markdown,
    merge,
    natural_key,
    run_span,
)

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
    assert "| qcow2 | 1 | 1 | 0 | 1 | 0 | 0 | 0 | 0 | 3 |" in text
    assert (
        "| **all** | **3** | **1** | **1** | **1** | **0** | **0** | **0** | **0** | **6** |"
        in text
    )
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
    assert '<tr class="rank0" data-case="002">' in index
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
        ('{"version": 2, "results": []}', "run report version 2"),
        ('{"version": 1, "results": {}}', "results: expected a list"),
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


def _asan_manifest(tmp_path: Path) -> Path:
    """A build tree whose manifest, on this machine, says ``asan``: the qemu-img path in it."""
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
    return tree / "qemu-img"


def test_runs_on_a_sanitizer_build_are_their_own_rows(tmp_path: Path) -> None:
    image_tool = _asan_manifest(tmp_path)
    plain = write_report(tmp_path / "plain.json", [case("001", "pass")])
    asan = write_report(tmp_path / "asan.json", [case("001", "fail")])
    data = json.loads(asan.read_text())
    data["environment"] = {"binaries": {"qemu-img": str(image_tool)}}
    asan.write_text(json.dumps(data))
    results = merge([plain, asan])
    assert list(counts(results)) == ["qcow2", "qcow2 [asan]"]
    # The plain run passing says nothing about the asan build: not a regression there...
    assert compare(results, merge([plain])).newly_failing == []
    # ...while the asan build having passed before makes it one.
    asan_before = tmp_path / "asan-before.json"
    asan_before.write_text(asan.read_text().replace('"fail"', '"pass"'))
    regressed = compare(results, merge([plain, asan_before])).newly_failing
    assert [r.column for r in regressed] == ["qcow2 [asan]"]


def test_newly_failing_counts_only_cases_that_passed_in_the_baseline(tmp_path: Path) -> None:
    old = write_report(
        tmp_path / "old.json",
        [case("001", "pass"), case("002", "not run"), case("003", "fail"), case("005", "fail")],
    )
    now = write_report(
        tmp_path / "now.json",
        [
            case("001", "fail"),  # passed there: a regression
            case("002", "fail"),  # not run there: nothing to compare with
            case("003", "timeout"),  # failed there too
            case("004", "error"),  # not in the baseline at all (a new case)
            case("005", "pass"),
        ],
    )
    result = compare(merge([now]), merge([old]))
    assert [r.name for r in result.newly_failing] == ["001"]
    assert [r.name for r in result.newly_passing] == ["005"]
    md = tmp_path / "m.md"
    assert main_report([str(now), "--baseline", str(old), "--markdown", str(md)]) == 1
    assert "Newly failing: 1\n- 001 (qcow2): fail\n" in md.read_text()
    # Without the one regression, failures the baseline never saw pass do not block.
    old.write_text(old.read_text().replace('"pass"', '"fail"', 1))
    assert main_report([str(now), "--baseline", str(old), "--markdown", str(md)]) == 0
    assert "Newly failing: 0\n" in md.read_text()
    assert "### 004 (qcow2): error" in md.read_text(), "still listed among the failures"


def runner_files(results_dir: Path) -> list[Path]:
    """JSON files the runner writes next to reports, shaped as it writes them."""
    combo = results_dir / "qcow2-file"
    (combo / "001").mkdir(parents=True)
    timings = results_dir / "timings.json"
    timings.write_text(json.dumps({"qcow2-file": {"001": {"cpu": 0.5, "wall": 0.6}}}))
    probe = combo / "probe.json"
    probe.write_text(json.dumps({"accelerators": ["tcg"], "formats": ["qcow2"], "versions": {}}))
    result = combo / "001" / "result.json"
    result.write_text(json.dumps(case("001", "pass")))
    empty_list = results_dir / "list.json"
    empty_list.write_text("[]")
    return [timings, probe, result, empty_list]


def test_other_json_among_the_reports_is_skipped_with_one_warning_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results_dir = tmp_path / "results"
    others = runner_files(results_dir)
    report = write_report(results_dir / "qcow2.json", [case("001", "pass"), case("002", "fail")])
    md = tmp_path / "m.md"
    # As `iotests report results/*.json` (and deeper globs) would pass them, report in between.
    code = main_report(
        [*map(str, others[:2]), str(report), *map(str, others[2:]), "--markdown", str(md)]
    )
    assert code == 1, "the report's failure still counts"
    assert "| qcow2 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 2 |" in md.read_text()
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == [
        f'iotests report: warning: {path}: not a run report (no "version" and "results"), skipped'
        for path in others
    ]


def test_no_run_report_at_all_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    others = runner_files(tmp_path / "results")
    assert main_report([str(others[0]), str(others[1])]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[:2] == [
        f'iotests report: warning: {path}: not a run report (no "version" and "results"), skipped'
        for path in others[:2]
    ]
    assert err[2] == (
        "iotests report: error: no run report among the files given "
        "(iotests run --json FILE writes one)"
    )


def test_a_missing_baseline_is_a_note_and_every_failure_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = write_report(tmp_path / "now.json", [case("001", "fail")])
    md = tmp_path / "m.md"
    for missing in (tmp_path / "baseline", tmp_path / "empty", tmp_path / "old.json"):
        if missing.name == "empty":
            missing.mkdir()
        assert main_report([str(now), "--baseline", str(missing), "--markdown", str(md)]) == 1
        assert capsys.readouterr().err == (
            f"iotests report: note: no run report at --baseline {missing}: every failure counts\n"
        )
        assert "Against the baseline" not in md.read_text()


def test_a_baseline_directory_is_every_run_report_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    write_report(baseline / "qcow2-1of2.json", [case("001", "pass")])
    write_report(baseline / "qcow2-2of2.json", [case("002", "pass")])
    (baseline / "timings.json").write_text("{}")
    now = write_report(tmp_path / "now.json", [case("001", "pass"), case("002", "fail")])
    md = tmp_path / "m.md"
    assert main_report([str(now), "--baseline", str(baseline), "--markdown", str(md)]) == 1
    assert "Newly failing: 1\n- 002 (qcow2): fail\n" in md.read_text()
    assert capsys.readouterr().err == (
        f"iotests report: warning: {baseline / 'timings.json'}: not a run report "
        '(no "version" and "results"), skipped\n'
    )


def test_a_baseline_file_that_is_not_a_run_report_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = write_report(tmp_path / "now.json", [case("001", "pass")])
    timings = runner_files(tmp_path / "results")[0]
    assert main_report([str(now), "--baseline", str(timings)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f'iotests report: error: {timings}: not an iotests run report (no "version" and "results")\n'
    )


@pytest.mark.parametrize(("recorded", "expected"), [("gcov", "gcov"), ("", ""), (None, "")])
def test_the_flavour_the_report_recorded_wins_over_the_merging_machine(
    tmp_path: Path, recorded: str | None, expected: str
) -> None:
    """Merged elsewhere, the recorded qemu-img path may name another build (or none): the run's word counts."""
    report = write_report(tmp_path / "r.json", [case("001", "pass")])
    data = json.loads(report.read_text())
    data["environment"] = {
        "binaries": {"qemu-img": str(_asan_manifest(tmp_path))},
        "flavour": recorded,
    }
    report.write_text(json.dumps(data))
    assert [r.flavour for r in merge([report])] == [expected]
    del data["environment"]["flavour"]  # a report written before the flavour was recorded
    report.write_text(json.dumps(data))
    assert [r.flavour for r in merge([report])] == ["asan"]


def test_each_report_says_when_where_and_on_what_it_ran(tmp_path: Path) -> None:
    report = write_report(tmp_path / "r.json", [case("001", "timeout")])
    data = json.loads(report.read_text())
    data.update(
        host="ci-7",
        wall_time=75.5,
        environment={"qemu_version": "9.2.0", "flavour": "asan"},
        toolkit={"version": "0.1.0", "commit": "0123456789abcdef0123", "dirty": False},
    )
    data["results"][0].update(output_file="/r/004/output", hang_file="/r/004/hang.txt")
    report.write_text(json.dumps(data))
    loaded = load_reports([report])
    (run,) = loaded.runs
    assert (run.path, run.host, run.qemu_version, run.flavour) == (report, "ci-7", "9.2.0", "asan")
    assert run.toolkit == "0.1.0 (0123456789ab)"
    assert run.started == datetime(2026, 1, 1, tzinfo=UTC)
    assert run.finished == datetime(2026, 1, 1, 0, 1, 15, 500000, tzinfo=UTC)
    assert run_span(loaded.runs) == "2026-01-01 00:00 to 00:01 UTC"
    (result,) = loaded.results
    assert (result.output_file, result.hang_file) == ("/r/004/output", "/r/004/hang.txt")


def test_a_report_that_does_not_say_when_it_ran(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"version": 1, "results": [case("001", "pass")]}))
    (run,) = load_reports([report]).runs
    assert (run.started, run.finished, run.host, run.qemu_version, run.toolkit) == (None,) * 5
    assert run_span([run]) == "unknown"


def test_runs_over_several_days_name_both_dates(tmp_path: Path) -> None:
    first = write_report(tmp_path / "a.json", [case("001", "pass")])
    second = tmp_path / "b.json"
    second.write_text(first.read_text().replace("2026-01-01T00:01", "2026-01-03T09:30"))
    assert (
        run_span(load_reports([first, second]).runs) == "2026-01-01 00:00 to 2026-01-03 09:30 UTC"
    )


def test_case_names_sort_as_numbers_where_they_are_numbers() -> None:
    names = ["10", "2", "backup-10", "backup-9", "001", "a"]
    assert sorted(names, key=natural_key) == ["001", "2", "10", "a", "backup-9", "backup-10"]


def test_a_run_within_one_minute_has_one_time() -> None:
    start = datetime(2026, 1, 1, 9, 30, 5, tzinfo=UTC)
    run = RunInfo(Path("r.json"), start, start.replace(second=55), None, None, "", None)
    assert run_span([run]) == "2026-01-01 09:30 UTC"
    assert run_span([replace(run, finished=None)]) == "2026-01-01 09:30 UTC"
