"""JUnit XML that CI systems read whole: schema-valid, with the run's facts, outputs and statuses."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import junitparser
import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from iotests.report import files, merge
from iotests.report.files import SuiteRun, junit_xml, write_junit
from iotests.runner.results import CaseResult, Status

SCHEMA = Path(__file__).parents[2] / "data" / "junit.xsd"


def validate(text: str) -> etree._Element:
    """Parse *text* as XML 1.0 and validate it against our JUnit schema; the root."""
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    root = etree.fromstring(text.encode("utf-8"))
    schema.assertValid(root)
    return root


def read_back(tmp_path: Path, text: str) -> junitparser.JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_text(text, encoding="utf-8")
    return junitparser.JUnitXml.fromfile(str(path))


def cases_of(xml: junitparser.JUnitXml) -> dict[str, junitparser.TestCase]:
    return {case.name: case for suite in xml for case in suite}


@pytest.fixture
def every_status(tmp_path: Path) -> list[CaseResult]:
    """One result per status, with the files a real run leaves for each."""
    out = tmp_path / "output"
    out.write_text("wrote 4096/4096 bytes at offset 0\n")
    partial = tmp_path / "partial"
    partial.write_text("started the mirror\n")
    hang = tmp_path / "hang.txt"
    hang.write_text("== pid 42 qemu-io: S (sleeping)\n   waiting in futex_wait\n")
    return [
        CaseResult("001", "qcow2", "file", Status.PASS, duration=0.5),
        CaseResult(
            "002",
            "qcow2",
            "file",
            Status.FAIL,
            "output differs from 002.out",
            1.0,
            output_file=str(out),
            diff="-wrote 4096/8192\n+wrote 4096/4096",
        ),
        CaseResult("003", "qcow2", "file", Status.NOT_RUN, "accelerator qtest not available"),
        CaseResult(
            "004",
            "qcow2",
            "file",
            Status.TIMEOUT,
            "timed out after 5s",
            5.0,
            output_file=str(partial),
            hang_file=str(hang),
        ),
        CaseResult("005", "qcow2", "file", Status.ERROR, "results dir full: ENOSPC"),
        CaseResult(
            "006",
            "qcow2",
            "file",
            Status.KNOWN,
            "known failure (known-failures.yaml: racy; bug 1): output differs",
            output_file=str(out),
            diff="-a\n+b",
        ),
        CaseResult(
            "007",
            "qcow2",
            "file",
            Status.FLAKY,
            "passed on attempt 2 after failing: output differs",
            output_file=str(out),
        ),
        CaseResult("008", "qcow2", "file", Status.INTERRUPTED, "interrupted"),
    ]


RUN = SuiteRun(
    started=datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC),
    hostname="ci-runner-7",
    wall_time=3.25,
    properties={"qemu.version": "7.2.22", "iotests.commit": "abc123"},
)


def test_every_status_validates_against_the_schema(every_status: list[CaseResult]) -> None:
    root = validate(junit_xml(every_status, "iotests", run=RUN))
    suite = root.find("testsuite")
    assert suite is not None
    assert dict(suite.attrib) == {
        "name": "iotests.qcow2-file",
        "tests": "8",
        "failures": "1",
        "errors": "3",
        "skipped": "2",
        "time": "3.250",
        "timestamp": "2026-03-01T12:30:45",
        "hostname": "ci-runner-7",
    }


def test_read_back_with_junitparser(tmp_path: Path, every_status: list[CaseResult]) -> None:
    xml = read_back(tmp_path, junit_xml(every_status, "iotests", run=RUN))
    [suite] = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (8, 1, 3, 2)
    assert suite.time == 3.25
    assert suite.hostname == "ci-runner-7"
    props = {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]  # unannotated upstream
    assert props == {
        "qemu.version": "7.2.22",
        "iotests.commit": "abc123",
        "format": "qcow2",
        "protocol": "file",
    }
    cases = cases_of(xml)
    kinds = {name: [type(r).__name__ for r in case.result] for name, case in cases.items()}
    assert kinds == {
        "001": [],
        "002": ["Failure"],
        "003": ["Skipped"],
        "004": ["Error"],
        "005": ["Error"],
        "006": ["Skipped"],
        "007": [],
        "008": ["Error"],
    }
    [failure] = cases["002"].result
    assert failure.message == "output differs from 002.out"
    assert failure.text == "-wrote 4096/8192\n+wrote 4096/4096"
    assert cases["002"].system_out == "wrote 4096/4096 bytes at offset 0\n"
    assert cases["002"].system_err == "-wrote 4096/8192\n+wrote 4096/4096\n"
    [error] = cases["005"].result
    assert (error.type, error.message) == ("error", "results dir full: ENOSPC")
    [known] = cases["006"].result
    assert known.message.startswith("known failure (known-failures.yaml: racy; bug 1)")
    assert cases["006"].system_err == "-a\n+b\n"
    assert cases["007"].is_passed
    assert cases["007"].system_out.startswith(
        "[iotests: flaky: passed on attempt 2 after failing: output differs]\n"
    )
    assert cases["007"].system_out.endswith("wrote 4096/4096 bytes at offset 0\n")


def test_a_timeout_names_its_hang_record(tmp_path: Path, every_status: list[CaseResult]) -> None:
    cases = cases_of(read_back(tmp_path, junit_xml(every_status, "iotests")))
    timeout = cases["004"]
    [error] = timeout.result
    assert error.type == "timeout"
    hang = str(tmp_path / "hang.txt")
    assert error.text.splitlines() == [
        "timed out after 5s",
        f"hang record: {hang}",
        f"partial output: {tmp_path / 'partial'}",
    ]
    assert timeout.system_out == "started the mirror\n"
    assert timeout.system_err == (
        f"[iotests: what the case's processes were doing: {hang}]\n"
        "== pid 42 qemu-io: S (sleeping)\n   waiting in futex_wait\n"
    )


def test_a_missing_output_file_is_said_not_fatal(tmp_path: Path) -> None:
    gone = str(tmp_path / "gone")
    result = CaseResult("002", "raw", "file", Status.FAIL, "differs", output_file=gone, diff="-a")
    [case] = cases_of(read_back(tmp_path, junit_xml([result], "iotests"))).values()
    assert (
        case.system_out
        == f"[iotests: output {gone} could not be read: No such file or directory]\n"
    )


def test_suite_time_is_the_runs_wall_time_not_the_sum(every_status: list[CaseResult]) -> None:
    # Parallel jobs: cases add up to 6.5s, the run took 3.25s.
    root = validate(junit_xml(every_status, "iotests", run=RUN))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("time") == "3.250"
    assert root.get("time") == "3.250"
    root = validate(junit_xml(every_status, "iotests"))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("time") == "6.500"


def test_without_run_facts_nothing_is_guessed(every_status: list[CaseResult]) -> None:
    """A merge of runs from elsewhere gets no timestamp or host of the merging machine."""
    suite = validate(junit_xml(every_status, "iotests")).find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") is None
    assert suite.get("hostname") is None


def test_run_facts_per_group(every_status: list[CaseResult]) -> None:
    raw = [CaseResult("001", "raw", "file", Status.PASS, duration=2.0)]
    runs = {"qcow2-file": RUN, "raw-file": SuiteRun(hostname="other", wall_time=1.5)}
    root = validate(junit_xml([*every_status, *raw], "iotests", run=runs))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["iotests.qcow2-file"].get("hostname") == "ci-runner-7"
    assert suites["iotests.raw-file"].get("hostname") == "other"
    assert suites["iotests.raw-file"].get("time") == "1.500"
    assert root.get("time") == "4.750"


def test_timestamp_is_utc_without_offset() -> None:
    plus_two = datetime(2026, 3, 1, 14, 0, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    result = [CaseResult("001", "raw", "file", Status.PASS)]
    suite = validate(junit_xml(result, "x", run=SuiteRun(started=plus_two))).find("testsuite")
    assert suite is not None
    assert suite.get("timestamp") == "2026-03-01T14:00:00"


def test_properties_from_a_report_document() -> None:
    data = files.report_data(
        [CaseResult("001", "raw", "nbd", Status.PASS)],
        datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 9, 500000, tzinfo=UTC),
        {"format": "raw", "protocol": "nbd", "timeout": 600.0, "valgrind": False, "min_run": None},
        {
            "origin": "cached build /c/b",
            "binaries": {"qemu-img": "/c/b/qemu-img", "qemu": None},
            "versions": {"qemu-img": "9.2.0"},
            "flavour": "asan",
            "qemu_version": "9.2.0",
        },
        selection={"tests": ["001", "002"], "groups": [], "shard": "1/2", "start_from": None},
        toolkit={"version": "0.1.0", "commit": "deadbeef", "dirty": False, "python": "3.11.7"},
    )
    run = files.suite_run(data)
    assert run.wall_time == 9.5
    assert run.started == datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert run.properties == {
        "iotests.version": "0.1.0",
        "iotests.commit": "deadbeef",
        "iotests.dirty": "false",
        "iotests.python": "3.11.7",
        "qemu.version": "9.2.0",
        "flavour": "asan",
        "qemu.origin": "cached build /c/b",
        "qemu.binary.qemu-img": "/c/b/qemu-img",
        "qemu.version.qemu-img": "9.2.0",
        "format": "raw",
        "protocol": "nbd",
        "setting.timeout": "600.0",
        "setting.valgrind": "false",
        "selection.shard": "1/2",
        "selection.tests": "001,002",
    }
    validate(junit_xml([CaseResult("001", "raw", "nbd", Status.PASS)], "iotests", run=run))


def test_an_old_report_gives_what_it_has() -> None:
    run = files.suite_run({"version": 1, "results": [], "host": "h", "started": "garbage"})
    assert run == SuiteRun(hostname="h")


def test_merge_junit_still_works_with_defaults() -> None:
    merged = [
        merge.CaseResult("001", "qcow2", "file", "pass", None, 0.5, None, "a.json"),
        merge.CaseResult(
            "002", "qcow2", "file", "fail", "differs", 1.0, "-a\n+b", "a.json", "asan"
        ),
        merge.CaseResult("003", "raw", "file", "timeout", "timed out", 3.0, None, "b.json"),
    ]
    root = validate(merge.junit(merged))
    names = sorted(s.get("name") for s in root.findall("testsuite"))
    assert names == ["iotests.qcow2", "iotests.qcow2 [asan]", "iotests.raw"]


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_the_file_is_readable_by_other_users(
    tmp_path: Path, every_status: list[CaseResult]
) -> None:
    """CI uploads reports as another user than the one that ran: not mkstemp's 0600."""
    path = tmp_path / "out" / "junit.xml"
    write_junit(path, every_status, run=RUN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]
    validate(path.read_text(encoding="utf-8"))


def test_shards_of_one_suite_combine() -> None:
    """iotests report's case: two shards on two machines, one suite."""
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    first = SuiteRun(start, "a", 10.0, {"qemu.version": "7.2.22", "selection.shard": "1/2"})
    second = SuiteRun(
        start + timedelta(seconds=4),
        "b",
        20.0,
        {"qemu.version": "7.2.22", "selection.shard": "2/2"},
    )
    both = files.combine([first, second])
    assert both == SuiteRun(
        start, "a, b", 24.0, {"qemu.version": "7.2.22", "selection.shard": "1/2, 2/2"}
    )
    assert files.combine([first, SuiteRun(hostname="a")]).wall_time is None
    assert files.combine([]) == SuiteRun()
    result = [CaseResult("001", "raw", "file", Status.PASS, duration=1.0)]
    validate(junit_xml(result, "iotests", run=both))
