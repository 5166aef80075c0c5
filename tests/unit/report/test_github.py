"""GitHub Actions output: workflow commands GitHub parses back exactly, a summary within its limits."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pytest

from iotests.report import github
from iotests.runner.discovery import Case
from iotests.runner.header import CaseHeader
from iotests.runner.results import CaseResult, Status

COMMAND = re.compile(r"^::(?P<kind>\w+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def unescape(text: str) -> str:
    """What GitHub's runner does to a command's data and property values."""
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command line as the runner reads it: kind, properties, message."""
    match = COMMAND.match(line)
    assert match is not None, line
    props = {}
    for item in (match["props"] or "").split(","):
        if item:
            key, _, value = item.partition("=")
            props[key] = unescape(value)
    return match["kind"], props, unescape(match["message"])


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("50% done", "50%25 done", "50%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("x: y, z", "x: y, z", "x%3A y%2C z"),
        ("%0A literally", "%250A literally", "%250A literally"),
    ],
)
def test_escaping(text: str, data: str, prop: str) -> None:
    assert github.escape_data(text) == data
    assert github.escape_property(text) == prop
    assert unescape(data) == text
    assert unescape(prop) == text


def case(root: Path, name: str) -> Case:
    path = root / "cases" / name
    return Case(name, path, CaseHeader(), root / "expected")


def failing(name: str, diff: str | None = "-a\n+b", status: Status = Status.FAIL) -> CaseResult:
    return CaseResult(name, "qcow2", "file", status, f"output differs from {name}.out", diff=diff)


def test_an_annotation_points_at_the_case_and_reads_back(tmp_path: Path) -> None:
    tricky = failing("002", diff="-50% done, ok: yes\r\n+50% done, ok: no")
    [line] = github.workflow_commands(
        [tricky], github.case_files([case(tmp_path, "002")], tmp_path)
    )
    assert "\n" not in line
    kind, props, message = parse(line)
    assert kind == "error"
    assert props == {"file": "cases/002", "title": "002 (qcow2-file): fail"}
    assert message == "output differs from 002.out\n-50% done, ok: yes\n+50% done, ok: no"


def test_a_case_outside_the_workspace_gets_no_file(tmp_path: Path) -> None:
    outside = case(tmp_path / "elsewhere", "002")
    workspace = tmp_path / "repo"
    workspace.mkdir()
    [line] = github.workflow_commands([failing("002")], github.case_files([outside], workspace))
    assert "file" not in parse(line)[1]


def test_at_most_ten_errors_the_last_naming_the_rest(tmp_path: Path) -> None:
    results = [failing(f"{n:03d}") for n in range(1, 14)]
    lines = github.workflow_commands(results, github.case_files([], tmp_path))
    assert len(lines) == 10
    parsed = [parse(line) for line in lines]
    assert all(kind == "error" for kind, _, _ in parsed)
    assert [p["title"] for _, p, _ in parsed[:9]] == [
        f"{n:03d} (qcow2-file): fail" for n in range(1, 10)
    ]
    kind, props, message = parsed[9]
    assert kind == "error"
    assert props == {"title": "4 more failing cases"}
    assert message.startswith("and 4 more: 010 (fail), 011 (fail), 012 (fail), 013 (fail)")


def test_exactly_ten_are_ten_annotations(tmp_path: Path) -> None:
    lines = github.workflow_commands([failing(f"{n:03d}") for n in range(10)])
    assert len(lines) == 10
    assert not any("more" in parse(line)[1]["title"] for line in lines)


def test_which_statuses_annotate() -> None:
    results = [
        CaseResult("001", "raw", "file", Status.PASS),
        failing("002"),
        CaseResult("003", "raw", "file", Status.NOT_RUN, "no qtest"),
        CaseResult(
            "004", "raw", "file", Status.TIMEOUT, "timed out after 5s", hang_file="/r/hang.txt"
        ),
        CaseResult("005", "raw", "file", Status.ERROR, "disk full"),
        CaseResult("006", "raw", "file", Status.KNOWN, "known failure"),
        CaseResult("007", "raw", "file", Status.FLAKY, "passed on attempt 2"),
        CaseResult("008", "raw", "file", Status.INTERRUPTED, "interrupted"),
    ]
    parsed = [parse(line) for line in github.workflow_commands(results)]
    assert [(kind, props["title"]) for kind, props, _ in parsed] == [
        ("error", "002 (qcow2-file): fail"),
        ("error", "004 (raw-file): timeout"),
        ("error", "005 (raw-file): error"),
        ("warning", "007 (raw-file): flaky"),
    ]
    assert parsed[1][2] == "timed out after 5s\nhang record: /r/hang.txt"


def test_a_long_diff_is_cut_in_the_annotation() -> None:
    diff = "\n".join(f"+line {n}" for n in range(100))
    [line] = github.workflow_commands([failing("002", diff=diff)])
    message = parse(line)[2].splitlines()
    assert message[1:21] == [f"+line {n}" for n in range(20)]
    assert message[21] == "... 80 more diff lines in the step summary"


def test_the_summary() -> None:
    results = [
        CaseResult("001", "qcow2", "file", Status.PASS),
        failing("002", diff="-a\n+b ```x``` \x1b[0m"),
        CaseResult("003", "qcow2", "file", Status.NOT_RUN, "accelerator qtest not available"),
        CaseResult("005", "qcow2", "file", Status.NOT_RUN, "accelerator qtest not available"),
        CaseResult("006", "qcow2", "file", Status.NOT_RUN, "format qcow2 not supported"),
        CaseResult(
            "007", "qcow2", "file", Status.TIMEOUT, "timed out after 5s", hang_file="/r/h_1.txt"
        ),
    ]
    text = github.summary(results)
    assert text.startswith("### iotests qcow2-file: 2 failed\n")
    assert (
        "| pass | 1 |\n| fail | 1 |\n| timeout | 1 |\n| not run | 3 |\n| **all** | **6** |" in text
    )
    assert "- **002** (qcow2-file) fail: output differs from 002.out\n" in text
    # The diff's own ``` cannot close the block; the escape character is spelled out.
    assert "<details><summary>diff</summary>\n\n````diff\n-a\n+b ```x``` \\x1b[0m\n````\n" in text
    assert (
        "- **007** (qcow2-file) timeout: timed out after 5s\n  hang record: `/r/h_1.txt`\n" in text
    )
    not_run = text[text.index("#### Not run") :]
    assert not_run == (
        "#### Not run\n\n"
        "- accelerator qtest not available (2): 003, 005\n"
        "- format qcow2 not supported (1): 006\n\n"
    )
    assert text.index("#### Failures") < text.index("#### Not run")


def test_markdown_in_reasons_is_shown_as_text() -> None:
    result = CaseResult("001", "raw", "file", Status.FAIL, "*bold* <b>x</b> a|b [l](u)\nnext")
    text = github.summary([result])
    assert "\\*bold\\* &lt;b&gt;x&lt;/b&gt; a\\|b \\[l\\](u) next" in text


def test_the_summary_stays_within_its_budget() -> None:
    """Forty 100 KiB diffs: cut to GitHub's 1 MiB, each cut said, the left-out failures named."""
    big = "".join(f"+line {n:06d} of a very long diff\n" for n in range(3000))
    results = [failing(f"{n:03d}", diff=big) for n in range(40)]
    results.append(CaseResult("900", "qcow2", "file", Status.NOT_RUN, "no qtest"))
    text = github.summary(results)
    assert len(text.encode()) <= github.SUMMARY_LIMIT
    assert len(text.encode()) > github.SUMMARY_LIMIT - 80 * 1024, "the room is used"
    assert "more lines cut: the JUnit report has the whole diff" in text
    shown = re.findall(r"^- \*\*(\d+)\*\*", text, re.M)
    assert 5 < len(shown) < 40
    left = [f"{n:03d}" for n in range(len(shown), 40)]
    assert f"{len(left)} more failures not shown" in text
    assert ", ".join(left) in text
    assert "- no qtest (1): 900" in text


@pytest.mark.parametrize("budget", [0, 100, 2000, 50_000])
def test_any_budget_is_kept(budget: int) -> None:
    results = [failing(f"{n:03d}", diff="+x\n" * 5000) for n in range(30)]
    results += [CaseResult(f"n{n}", "raw", "file", Status.NOT_RUN, f"why {n}") for n in range(500)]
    assert len(github.summary(results, budget).encode()) <= budget


def args(github_flag: bool) -> argparse.Namespace:
    return argparse.Namespace(github=github_flag)


def test_publish_appends_within_what_is_left(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    earlier = "# from an earlier command of this step\n" + "x" * (github.SUMMARY_LIMIT - 20_000)
    target.write_text(earlier)
    results = [failing(f"{n:03d}", diff="+y\n" * 3000) for n in range(5)]
    out = io.StringIO()
    environ = {"GITHUB_STEP_SUMMARY": str(target), "GITHUB_WORKSPACE": str(tmp_path)}
    cases = [case(tmp_path, r.name) for r in results]
    assert github.publish(args(True), results, cases, environ, stream=out)
    text = target.read_text()
    assert text.startswith(earlier)
    assert len(text.encode()) <= github.SUMMARY_LIMIT
    assert "### iotests qcow2-file: 5 failed" in text
    lines = out.getvalue().splitlines()
    assert [parse(line)[1]["file"] for line in lines] == [f"cases/{n:03d}" for n in range(5)]


def test_publish_without_the_flag_does_nothing(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    out = io.StringIO()
    assert github.publish(
        args(False), [failing("002")], [], {"GITHUB_STEP_SUMMARY": str(target)}, out
    )
    assert out.getvalue() == ""
    assert not target.exists()


def test_publish_without_a_summary_file_still_annotates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert github.publish(args(True), [failing("002")], [], {}, out)
    assert parse(out.getvalue().strip())[0] == "error"
    assert "GITHUB_STEP_SUMMARY is not set" in capsys.readouterr().err


def test_an_unwritable_summary_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such" / "dir" / "summary.md")}
    assert not github.publish(args(True), [failing("002")], [], environ, io.StringIO())
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("iotests: error: --github: ")
    assert "No such file or directory" in err
