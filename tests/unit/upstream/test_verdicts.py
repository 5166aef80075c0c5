"""iotests.upstream.verdicts: reading both runners' reports and comparing them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from iotests.report import files
from iotests.runner.results import CaseResult, Status
from iotests.upstream import verdicts

TAP = """\
# QEMU          -- "/usr/bin/qemu-system-x86_64" -nodefaults
1..4
# running qcow2 001
ok qcow2 001
# running qcow2 002
not ok qcow2 002
ok qcow2 reopen-file # SKIP
#    [case not run] something
ok qcow2 004
"""

CONSOLE = """\
QEMU          -- "/usr/bin/qemu-system-x86_64" -nodefaults
001                  pass       [10:00:00] [10:00:01]   1.0s
002                  fail       [10:00:01] [10:00:02]   1.0s (last: 1.0s)  output mismatch
reopen-file          not run    [10:00:02] [10:00:02]   ...                  not suitable
001                  ...        [10:00:00]              ...
Failures: 002
"""


def test_parse_tap() -> None:
    assert verdicts.parse_check_output(TAP) == {
        "001": "pass",
        "002": "fail",
        "reopen-file": "not run",
        "004": "pass",
    }


def test_parse_console_ignores_progress_lines() -> None:
    assert verdicts.parse_check_output(CONSOLE) == {
        "001": "pass",
        "002": "fail",
        "reopen-file": "not run",
    }


def test_our_json_report(tmp_path: Path) -> None:
    results = [
        CaseResult("001", "qcow2", "file", Status.PASS),
        CaseResult("002", "qcow2", "file", Status.TIMEOUT),
        CaseResult("003", "qcow2", "file", Status.NOT_RUN, "no"),
    ]
    report = tmp_path / "r.json"
    files.write_json(report, results, datetime.now(UTC), {}, {})
    assert verdicts.read_json_report(report) == {"001": "pass", "002": "fail", "003": "not run"}


def test_differences_and_tally() -> None:
    upstream = {"001": "pass", "002": "fail", "003": "not run"}
    ours = {"001": "pass", "002": "pass", "004": "fail"}
    assert verdicts.differences(upstream, ours) == [
        verdicts.Difference("002", "fail", "pass"),
        verdicts.Difference("003", "not run", None),
        verdicts.Difference("004", None, "fail"),
    ]
    assert verdicts.tally(upstream) == {"pass": 1, "fail": 1, "not run": 1}


def test_known_qemu_flake_is_recognised() -> None:
    evidence = "qemu-img: /tmp/t.luks: Unable to get accurate CPU usage\n"
    assert verdicts.flake_in(evidence) == "Unable to get accurate CPU usage"
    assert verdicts.flake_in("output differs from 188.out") is None
