"""The console's closing summary: not-run reasons, failures and what to type next."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from iotests.options import Options
from iotests.report.console import ConsoleReporter, Rerun
from iotests.runner.discovery import Case
from iotests.runner.header import CaseHeader
from iotests.runner.results import CaseResult, Status
from iotests.runner.settings import RunSettings
from iotests.upstream.environment import CheckOptions
from iotests.upstream.suite import UpstreamSuite

QCOW2 = RunSettings(format="qcow2")
DIFF = "--- /expected/001.out\n+++ /results/001/output\n@@ -1 +1 @@\n-old\n+new"


def _result(name: str, status: Status, reason: str | None = None, **extra: Any) -> CaseResult:
    return CaseResult(name, "qcow2", "file", status, reason, **extra)


def _run(
    results: list[CaseResult],
    settings: RunSettings = QCOW2,
    rerun: Rerun | None = None,
    elapsed: float = 2.0,
) -> list[str]:
    """Feed *results* through a reporter on a recording console and return what it printed."""
    console = Console(file=io.StringIO(), width=120, record=True)
    reporter = ConsoleReporter(console, rerun=rerun or Rerun.of(settings), environ={})
    reporter.start(
        [Case(r.name, Path("/cases") / r.name, CaseHeader(), Path("/expected")) for r in results],
        settings,
    )
    for r in results:
        reporter.case_finished(r)
    reporter.finish(results, elapsed)
    return console.export_text().splitlines()


def _not_run_selection() -> list[CaseResult]:
    qsd = [_result(f"{n:03}", Status.NOT_RUN, "qemu-storage-daemon not found") for n in (1, 2, 3)]
    fmt = [
        _result(f"{n:03}", Status.NOT_RUN, "format qcow2 not supported by this case")
        for n in range(4, 16)
    ]
    return [*qsd, *fmt, _result("016", Status.PASS, duration=1.0)]


def test_not_run_cases_are_counted_by_reason_at_the_end_not_listed() -> None:
    results = _not_run_selection()
    lines = _run(results)
    names = {r.name for r in results}
    per_case = [line.split()[:2] for line in lines if line and line.split()[0] in names]
    assert per_case == [["016", "pass"]]
    assert lines[-3:] == [
        "15 not run: format qcow2 not supported by this case (12), "
        "qemu-storage-daemon not found (3)",
        "Ran 1 of 16 cases in 2.0s",
        "iotests: 1 passed, 0 failed, 15 skipped",
    ]


def test_verbose_keeps_a_line_per_not_run_case() -> None:
    lines = _run(_not_run_selection(), RunSettings(format="qcow2", verbose=True))
    per_case = [line.split(maxsplit=3) for line in lines if line[:3].isdigit()]
    assert len(per_case) == 16
    assert per_case[0] == ["001", "not", "run", "qemu-storage-daemon not found"]
    assert any(line.startswith("15 not run: format qcow2 not supported") for line in lines)


def test_closing_lines_keep_their_shape() -> None:
    results = [_result(f"00{n}", Status.PASS, duration=float(n), cpu=0.5) for n in range(1, 5)]
    results.append(_result("005", Status.FAIL, "case exited with code 1", duration=0.1))
    lines = _run(results, elapsed=4.0)
    assert lines[-3:] == [
        "Ran 5 of 5 cases in 4.0s; the cases used 2.0 CPU-s (0.5 CPUs busy on average)",
        "Slowest: 004 4.0s, 003 3.0s, 002 2.0s",
        "iotests: 4 passed, 1 failed, 0 skipped",
    ]


def test_a_failure_says_how_to_rerun_it_and_an_output_change_how_to_accept_it() -> None:
    results = [
        _result("001", Status.FAIL, "output differs from 001.out", diff=DIFF),
        _result("002", Status.PASS),
        _result("004", Status.FAIL, "qemu-img killed by signal SIGSEGV", output_file="/r/out"),
        _result("005", Status.FAIL, "no expected output (/expected/005.out)", output_file="/r/o"),
    ]
    lines = _run(results)
    at = lines.index("Failures: 001 004 005")
    assert [line.split(maxsplit=2) for line in lines[at + 1 : at + 4]] == [
        ["001", "fail", "output differs from 001.out"],
        ["004", "fail", "qemu-img killed by signal SIGSEGV"],
        ["005", "fail", "no expected output (/expected/005.out)"],
    ]
    assert lines[at + 4 : at + 8] == [
        "Re-run:",
        "  iotests run -f qcow2 001 004 005",
        "Accept the new output, then read the goldens' diff before committing:",
        "  iotests run -f qcow2 --regenerate 001 005",
    ]
    # A crash is not a change of output: nothing to accept.
    assert "004" not in lines[at + 7]


TRACEBACK_DIFF = """--- /expected/003.out
+++ /results/003/output
@@ -1,2 +1,3 @@
-Formatting 'TEST_DIR/t.img', fmt=IMGFMT size=4194304
-check: clean
+Traceback (most recent call last):
+  File "/cases/003", line 17, in <module>
+NameError: name 'img' is not defined"""


@pytest.mark.parametrize(
    ("diff", "crash"),
    [
        pytest.param(TRACEBACK_DIFF, "Traceback (most recent call last):", id="traceback"),
        pytest.param(
            "+++ b\n-ok\n+./common.rc: line 3: 77 Segmentation fault (core dumped)",
            "./common.rc: line 3: 77 Segmentation fault (core dumped)",
            id="signal",
        ),
        pytest.param(
            "+++ b\n+==12==ERROR: AddressSanitizer: heap-use-after-free",
            "==12==ERROR: AddressSanitizer: heap-use-after-free",
            id="sanitizer",
        ),
        pytest.param("--- a\n+++ b\n-wrote 4096/8192\n+wrote 4096/4096", None, id="no-crash"),
    ],
)
def test_an_output_that_shows_a_crash_is_not_offered_for_acceptance(
    diff: str, crash: str | None
) -> None:
    lines = _run([_result("003", Status.FAIL, "output differs from 003.out", diff=diff)])
    summary = next(line for line in lines if line.startswith("  003 fail"))
    assert "  iotests run -f qcow2 003" in lines
    if crash is None:
        assert summary.split(maxsplit=2)[2] == "output differs from 003.out"
        assert "  iotests run -f qcow2 --regenerate 003" in lines
    else:
        assert summary.endswith(f"; the new output shows a crash: {crash}")
        assert not any("--regenerate" in line for line in lines)


def test_only_crashes_offer_no_accept_command() -> None:
    lines = _run([_result("004", Status.FAIL, "case exited with code 1")])
    assert "  iotests run -f qcow2 004" in lines
    assert not any("--regenerate" in line for line in lines)


@pytest.mark.parametrize(
    ("settings", "options", "again", "accept"),
    [
        pytest.param(
            RunSettings(format="raw", protocol="nbd"),
            None,
            "iotests run -f raw -p nbd 001",
            "iotests run -f raw -p nbd --regenerate 001",
            id="protocol",
        ),
        pytest.param(
            RunSettings(
                format="qcow2",
                cachemode="none",
                aiomode="native",
                imgopts="compat=0.10",
                valgrind=True,
                misalign=True,
                timeout=30,
            ),
            Options(build_dir="../qemu/build", cases_dir="my cases"),
            "iotests run -f qcow2 -c none -i native -o compat=0.10 --valgrind --misalign "
            "--timeout 30 --build-dir ../qemu/build --cases-dir 'my cases' 001",
            "iotests run -f qcow2 -c none -i native -o compat=0.10 --valgrind --misalign "
            "--timeout 30 --build-dir ../qemu/build --cases-dir 'my cases' --regenerate 001",
            id="options-and-paths",
        ),
        pytest.param(
            QCOW2,
            Options(
                config="ci.yaml",
                build_dir="b",
                cases_dir="c",
                expected_dir="e",
                results_dir="r",
                format="raw",
            ),
            "iotests run -f qcow2 --config ci.yaml --build-dir b --cases-dir c "
            "--expected-dir e --results-dir r 001",
            "iotests run -f qcow2 --config ci.yaml --build-dir b --cases-dir c "
            "--expected-dir e --results-dir r --regenerate 001",
            id="every-path-as-given-the-format-as-settled",
        ),
    ],
)
def test_rerun_repeats_what_changes_how_cases_run(
    settings: RunSettings, options: Options | None, again: str, accept: str
) -> None:
    rerun = Rerun.of(settings, options)
    assert rerun.again_line(["001"]) == again
    assert rerun.accept_line(["001"]) == accept


TREE = Path("/src/qemu/tests/qemu-iotests")


@pytest.mark.parametrize(
    ("settings", "given", "again", "accept"),
    [
        pytest.param(
            QCOW2,
            None,
            "iotests check -qcow2 001 004",
            f"iotests run --upstream {TREE} -f qcow2 --regenerate 001 004",
            id="inside-the-tree",
        ),
        pytest.param(
            RunSettings(format="raw", protocol="nbd", cachemode="none"),
            "../qemu",
            "iotests check -raw -nbd -c none --upstream ../qemu 001 004",
            "iotests run --upstream ../qemu -f raw -p nbd -c none --regenerate 001 004",
            id="upstream-given",
        ),
    ],
)
def test_upstream_tests_are_rerun_with_check(
    settings: RunSettings, given: str | None, again: str, accept: str
) -> None:
    suite = UpstreamSuite(TREE, CheckOptions(), {})
    rerun = Rerun.of(settings, Options(upstream=given), suite)
    assert rerun.again_line(["001", "004"]) == again
    assert rerun.accept_line(["001", "004"]) == accept


def test_upstream_failure_in_the_summary() -> None:
    suite = UpstreamSuite(TREE, CheckOptions(), {})
    results = [
        _result("001", Status.FAIL, "output differs from 001.out", diff=DIFF),
        _result("004", Status.FAIL, "output differs from 004.out", diff=DIFF),
    ]
    lines = _run(results, rerun=Rerun.of(QCOW2, Options(), suite))
    assert "  iotests check -qcow2 001 004" in lines


def test_a_timeout_points_at_its_partial_output(tmp_path: Path) -> None:
    kept = tmp_path / "output"
    kept.write_text("".join(f"step {n}\n" for n in range(1, 8)))
    timeout = _result(
        "007", Status.TIMEOUT, "timed out after 3s", duration=3.0, output_file=str(kept)
    )
    lines = _run([timeout])
    assert lines[1].split()[:2] == ["007", "timeout"]
    assert lines[2] == f"  partial output kept in {kept}; its last lines:"
    assert lines[3:8] == [f"  | step {n}" for n in range(3, 8)]
    assert f"  007 timeout  timed out after 3s; partial output in {kept}" in lines
    assert "  iotests run -f qcow2 007" in lines
    assert not any("--regenerate" in line for line in lines)


def test_a_timeout_whose_output_is_gone_still_names_the_path(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    lines = _run([_result("007", Status.TIMEOUT, "timed out after 3s", output_file=str(gone))])
    assert lines[2:4] == [f"  partial output kept in {gone}; its last lines:", "  | (nothing)"]


def test_a_runner_error_is_shown_like_a_failure() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=120)
    reporter = ConsoleReporter(console, rerun=Rerun.of(QCOW2), environ={})
    error = _result("020", Status.ERROR, "cannot write /r/020: Operation not permitted (EPERM)")
    reporter.case_finished(error)
    reporter.case_finished(_result("021", Status.FAIL, "case exited with code 1"))
    reporter.finish([error, _result("021", Status.FAIL, "case exited with code 1")], 1.0)
    raw = out.getvalue()
    bold_red = "\x1b[1;31m"
    assert f"{bold_red}error" in raw
    assert f"{bold_red}fail" in raw
    assert f"{bold_red}Failures:" in raw
    assert "iotests run -f qcow2 020" in raw
    assert raw.rstrip().endswith(f"{bold_red}iotests: 0 passed, 2 failed, 0 skipped\x1b[0m")
