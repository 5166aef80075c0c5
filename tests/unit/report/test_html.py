"""iotests.report.html: what the release report shows, and that it shows it safely."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html  # type: ignore[import-untyped]  # lxml ships no type hints

from iotests.report import html
from iotests.report.merge import CaseResult, Comparison, RunInfo, compare

SVG = "{http://www.w3.org/2000/svg}"


def result(
    name: str,
    status: str,
    fmt: str = "qcow2",
    protocol: str = "file",
    flavour: str = "",
    duration: float = 1.0,
    **extra: str,
) -> CaseResult:
    return CaseResult(
        name=name,
        format=fmt,
        protocol=protocol,
        status=status,
        reason=extra.pop("reason", f"{status} because"),
        duration=duration,
        diff=extra.pop("diff", None),
        origin="r.json",
        flavour=flavour,
        **extra,
    )


def run(path: str, **facts: object) -> RunInfo:
    defaults: dict[str, object] = {
        "started": None,
        "finished": None,
        "host": None,
        "qemu_version": None,
        "flavour": "",
        "toolkit": None,
    }
    return RunInfo(path=Path(path), **{**defaults, **facts})  # type: ignore[arg-type]


MIXED = [
    result("010", "fail", "raw"),
    result("002", "pass"),
    result("002", "pass", "raw"),
    result("003", "flaky", "raw", "nbd"),
    result("001", "known", flavour="asan"),
    result("001", "pass"),
    result("020", "timeout"),
    result("005", "not run", "raw", reason="format raw not supported by this case"),
    result("2", "pass", "raw"),
]


def test_matrix_puts_failing_rows_first_regressions_before_them_then_flaky_and_known() -> None:
    grid = html.matrix(MIXED, newly_failing=[6])
    assert grid.columns == (
        ("qcow2", "file", ""),
        ("qcow2", "file", "asan"),
        ("raw", "file", ""),
        ("raw", "nbd", ""),
    )
    assert [(row.name, row.rank, row.regressed) for row in grid.rows] == [
        ("020", 0, True),  # newly failing: before the other failures
        ("010", 0, False),
        ("001", 1, False),  # known in one column, pass in another
        ("003", 1, False),
        ("002", 2, False),
        ("2", 2, False),  # before 005: by number, not by text
        ("005", 2, False),
    ]
    cells = {row.name: row.cells for row in grid.rows}
    assert cells["001"] == ((5,), (4,), (), ())
    assert cells["002"] == ((1,), (), (2,), ())


def test_a_cell_with_several_results_shows_the_worst_and_links_its_entry() -> None:
    both = [result("001", "pass"), result("001", "timeout"), result("001", "pass")]
    page = lxml_html.fromstring(html.matrix_html(both, html.matrix(both), regressions=set()))
    (cell,) = page.xpath("//td")
    assert cell.get("data-status") == "timeout"
    assert cell.xpath(".//a/@href") == ["#r1"]
    assert cell.text_content() == "timeout +2"


def _segments(svg: str) -> dict[str, dict[str, tuple[int, float]]]:
    """Per bar, per status: (data-count, width) of the drawn segment."""
    root = ET.fromstring(svg)
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for bar in root.iter(f"{SVG}g"):
        found[bar.get("data-column", "")] = {
            rect.get("data-status", ""): (
                int(rect.get("data-count", "")),
                float(rect.get("width", "")),
            )
            for rect in bar.iter(f"{SVG}rect")
        }
    return found


def test_status_bars_count_each_status_per_column_and_draw_to_one_scale() -> None:
    results = [result(f"{i:03d}", "pass") for i in range(6)]
    results += [result("100", "fail"), result("101", "timeout"), result("102", "not run")]
    results += [result(f"{i:03d}", "pass", "raw") for i in range(2)] + [result("7", "flaky", "raw")]
    bars = html.status_bars(results)
    assert [(b.label, b.counts, b.total) for b in bars] == [
        ("qcow2", (("fail", 1), ("timeout", 1), ("pass", 6), ("not run", 1)), 9),
        ("raw", (("flaky", 1), ("pass", 2)), 3),
    ]
    drawn = _segments(html.bars_svg(bars))
    assert {column: {s: c for s, (c, _) in segs.items()} for column, segs in drawn.items()} == {
        "qcow2": {"fail": 1, "timeout": 1, "pass": 6, "not run": 1},
        "raw": {"flaky": 1, "pass": 2},
    }
    unit = drawn["qcow2"]["fail"][1]
    for segs in drawn.values():
        for count, width in segs.values():
            assert width / count == pytest.approx(unit, abs=0.1), "one scale for every bar"


def test_no_results_no_charts() -> None:
    assert html.bars_svg([]) == ""
    assert html.slowest_svg([], []) == ""


def test_the_slowest_chart_ranks_cases_that_ran_by_duration() -> None:
    results = [
        result("001", "pass", duration=2.0),
        result("002", "timeout", duration=30.0),
        result("003", "not run", duration=0.0),
        result("004", "fail", duration=5.5),
        result("005", "pass", "raw", duration=5.5),
    ]
    assert html.slowest(results) == [1, 3, 4, 0]
    assert html.slowest(results, count=2) == [1, 3]
    root = ET.fromstring(html.slowest_svg(results, html.slowest(results)))
    shown = [(g.get("data-case"), g.get("data-seconds")) for g in root.iter(f"{SVG}g")]
    assert shown == [("002", "30.000"), ("004", "5.500"), ("005", "5.500"), ("001", "2.000")]
    widths = [float(g.find(f"{SVG}rect").get("width", "")) for g in root.iter(f"{SVG}g")]  # type: ignore[union-attr]
    assert widths[0] / widths[3] == pytest.approx(15, rel=0.01)
    fill = root.find(f"{SVG}g/{SVG}rect")
    assert fill is not None
    assert fill.get("fill") == html.COLOURS["timeout"]


def test_cases_not_run_are_grouped_by_reason_largest_group_first() -> None:
    results = [
        result("003", "not run", reason="needs qemu-nbd"),
        result("010", "not run", reason="format raw not supported by this case"),
        result("002", "not run", reason="format raw not supported by this case"),
        result("004", "not run", reason=None),  # type: ignore[arg-type]
        result("001", "pass"),
    ]
    groups = [(reason, [r.name for r in items]) for reason, items in html.not_run_groups(results)]
    assert groups == [
        ("format raw not supported by this case", ["002", "010"]),
        ("needs qemu-nbd", ["003"]),
        ("no reason given", ["004"]),
    ]


def test_the_header_says_what_was_tested_as_the_reports_recorded_it() -> None:
    runs = [
        run(
            "/ci/qcow2.json",
            started=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            finished=datetime(2026, 3, 1, 9, 20, tzinfo=UTC),
            host="runner-1",
            qemu_version="9.2.0",
            flavour="asan",
            toolkit="0.1.0 (0123456789ab)",
        ),
        run(
            "/ci/raw.json",
            started=datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
            finished=datetime(2026, 3, 1, 9, 40, tzinfo=UTC),
            host="runner-2",
            qemu_version="9.2.0",
        ),
    ]
    assert html.header_facts(runs) == [
        ("QEMU", "9.2.0"),
        ("Date", "2026-03-01 09:00 to 09:40 UTC"),
        ("Hosts", "runner-1, runner-2"),
        ("Flavours", "asan, none (binaries the toolkit did not build)"),
        ("Toolkit", "0.1.0 (0123456789ab)"),
        ("Run reports (2)", "qcow2.json, raw.json"),
    ]


def test_the_verdict_counts_failures_and_with_a_baseline_the_new_ones() -> None:
    comparison = Comparison(newly_failing=[MIXED[6]], newly_passing=[])
    assert html.verdict(MIXED, comparison) == [
        ("failing", 2),
        ("flaky", 1),
        ("known", 1),
        ("pass", 4),
        ("not run", 1),
        ("newly failing", 1),
    ]
    assert ("interrupted", 1) in html.verdict([result("1", "interrupted")], None)


def test_a_diff_is_marked_line_by_line_for_colour() -> None:
    marked = html.diff_html("--- a\n+++ b\n@@ -1 +1 @@\n same\n-<old>\n+new\n")
    assert marked.splitlines() == [
        '<span class="file">--- a</span>',
        '<span class="file">+++ b</span>',
        '<span class="hunk">@@ -1 +1 @@</span>',
        " same",
        '<span class="del">-&lt;old&gt;</span>',
        '<span class="add">+new</span>',
    ]


HANG_RECORD = {
    "reason": "timed out after 3s",
    "processes": [
        {
            "pid": 41,
            "name": "python",
            "state": "S (sleeping)",
            "threads": [{"tid": 41, "wchan": "do_wait"}],
            "monitors": [],
            "python_stack": 'Current thread 0x1 (most recent call first):\n  File "/p/cases/004", '
            'line 20 in <module>\n  File "/lib/x.py", line 3 in f',
        },
        {
            "pid": 42,
            "name": "qemu-storage-da",
            "state": "S (sleeping)",
            "threads": [{"tid": 42, "wchan": "poll_schedule_timeout"}],
            "monitors": [
                {"socket": "/s/nbd.sock", "answers": {}, "error": "not a QMP monitor"},
                {
                    "socket": "/s/spare.qmp",
                    "answers": {
                        "query-jobs": [
                            {
                                "id": "stuck",
                                "type": "backup",
                                "status": "running",
                                "current-progress": 1048576,
                                "total-progress": 67108864,
                            }
                        ]
                    },
                },
            ],
        },
        {"pid": 43, "name": "sleep"},
    ],
}


def test_a_hang_record_is_summed_up_one_line_per_process() -> None:
    assert html.hang_summary(HANG_RECORD) == [
        "python (pid 41): S (sleeping), waiting in do_wait; at 004 line 20",
        "qemu-storage-da (pid 42): S (sleeping), waiting in poll_schedule_timeout; "
        "job stuck: backup running, 1048576 of 67108864 bytes",
        "sleep (pid 43): state unknown",
    ]
    many = {"processes": [{"pid": n, "name": "p", "state": "S"} for n in range(11)]}
    assert html.hang_summary(many, limit=8)[-1] == "and 3 more processes"
    assert html.hang_summary({"processes": "garbage"}) == []
    assert html.hang_summary([]) == []


@pytest.fixture
def evidence(tmp_path: Path) -> dict[str, Path]:
    """A timed-out case's files as the runner leaves them, and a failure's output."""
    case_dir = tmp_path / "results" / "raw-file" / "004"
    case_dir.mkdir(parents=True)
    (case_dir / "output").write_text("backup started\n\x1b[1mwaiting\n")
    (case_dir / "hang.txt").write_text("Hang record: timed out after 3s\n== pid 41 python\n")
    (case_dir / "hang.json").write_text(json.dumps(HANG_RECORD))
    failed = tmp_path / "results" / "raw-file" / "002"
    failed.mkdir()
    (failed / "output").write_text("bad\n")
    return {"case_dir": case_dir, "failed": failed}


def test_the_page_links_and_folds_each_entry_s_files(
    tmp_path: Path, evidence: dict[str, Path]
) -> None:
    case_dir = evidence["case_dir"]
    results = [
        result("001", "pass"),
        result(
            "002",
            "fail",
            diff="--- e\n+++ a\n-good\n+bad\n",
            output_file=str(evidence["failed"] / "output"),
        ),
        result(
            "004",
            "timeout",
            "raw",
            output_file=str(case_dir / "output"),
            hang_file=str(case_dir / "hang.txt"),
        ),
        result("006", "flaky", output_file="/elsewhere/006.attempt-1/output"),
    ]
    out = tmp_path / "out"
    index = html.write_html(results, out, runs=[run("/ci/r.json", qemu_version="7.2.22")])
    page = lxml_html.fromstring(index.read_text())
    hang = page.get_element_by_id("r2")
    (link,) = hang.xpath(".//a[@class='hang']/@href")
    assert (out / link).read_text() == (case_dir / "hang.txt").read_text()
    assert hang.xpath(".//ul[@class='hang-summary']/li/text()")[1].endswith(
        "job stuck: backup running, 1048576 of 67108864 bytes"
    )
    assert hang.xpath(".//details[@class='output']/summary/text()") == ["partial output (2 lines)"]
    assert hang.xpath(".//details[@class='output']/pre/text()") == [
        "backup started\n\\x1b[1mwaiting\n"
    ]
    (output_link,) = hang.xpath(".//a[@class='output']/@href")
    assert (out / output_link).read_bytes() == (case_dir / "output").read_bytes()
    failure = page.get_element_by_id("r1")
    (diff_link,) = failure.xpath(".//a[@class='diff']/@href")
    assert (out / diff_link).read_text() == "--- e\n+++ a\n-good\n+bad\n"
    assert failure.xpath(".//pre[@class='diff']/span[@class='add']/text()") == ["+bad"]
    flaky = page.get_element_by_id("r3")
    assert "output of the failed attempt: /elsewhere/006.attempt-1/output is not readable here" in (
        flaky.text_content()
    )
    assert page.xpath("/html/head/title/text()") == ["iotests report: QEMU 7.2.22"]
    assert page.xpath("//tbody/tr/@data-case") == ["002", "004", "006", "001"]
    assert f"[diff]({diff_link})" in (out / "report.md").read_text()


def test_everything_a_case_controls_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    results = [
        result(evil, "fail", fmt='qcow2"><b', reason=evil, diff=f"-{evil}\n+\x00\udcff\n"),
        result("n", "not run", reason=f"needs {evil}"),
    ]
    runs = [run(f"/r/{evil}.json", host=evil, qemu_version=evil, flavour=evil, toolkit=evil)]
    index = html.write_html(results, tmp_path / "out", runs=runs)
    text = index.read_text()
    assert "<script" not in text
    assert 'qcow2"><b' not in text
    assert "qcow2&quot;&gt;&lt;b" in text
    assert "\x00" not in text
    page = lxml_html.fromstring(text)
    assert page.xpath("//tbody/tr/@data-case") == [evil, "n"]
    assert "+\\x00\\xff" in page.xpath("//pre[@class='diff']")[0].text_content()
    csp = page.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"]
    (diff_file,) = (tmp_path / "out" / "diffs").iterdir()
    assert diff_file.read_bytes().endswith(b"+\x00\xff\n"), "the raw file keeps the bytes"


def test_newly_failing_on_the_page_is_only_what_passed_in_the_baseline(tmp_path: Path) -> None:
    baseline = [result("001", "pass"), result("002", "not run"), result("003", "fail")]
    now = [
        result("001", "fail"),  # passed there: a regression
        result("002", "fail"),  # not run there
        result("003", "timeout"),  # failed there too
        result("004", "error"),  # a new case
        result("005", "pass"),
    ]
    index = html.write_html(now, tmp_path / "out", compare(now, baseline))
    page = lxml_html.fromstring(index.read_text())
    (section,) = page.xpath("//section[@id='baseline']")
    assert section.xpath(".//h3/text()") == [
        "Newly failing (passed in the baseline): 1",
        "Newly passing (failed in the baseline): 0",
    ]
    assert section.xpath(".//a/@href") == ["#r0"]
    assert page.xpath("//tbody/tr/@data-case")[0] == "001", "the regression leads the matrix"
    assert page.xpath("//td//a[contains(., '(new)')]/@href") == ["#r0"]
    assert page.xpath("//p[@class='verdict']")[0].text_content().startswith("4 failing")
    assert "1 newly failing" in page.xpath("//p[@class='verdict']")[0].text_content()
