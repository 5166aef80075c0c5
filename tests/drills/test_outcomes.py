"""Drills on verdicts people act on: known failures, flaky cases, expired entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.project import Project, make_project, needs_qemu

from iotests.exitcodes import ExitCode

pytestmark = needs_qemu

#: Fails on its first run in a project, passes after: a flake with a counter file.
FLAKY = (
    "import os, pathlib\n"
    "counter = pathlib.Path(os.environ['TEST_DIR'], '../../../../flaky-count')\n"
    "n = int(counter.read_text()) if counter.exists() else 0\n"
    "counter.write_text(str(n + 1))\n"
    "print('ok' if n else 'not yet')\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "p").mkdir()
    return make_project(tmp_path / "p")


def _statuses(report: Path) -> dict[str, tuple[str, str | None]]:
    data = json.loads(report.read_text())
    return {r["name"]: (r["status"], r["reason"]) for r in data["results"]}


def _known(project: Project, *entries: tuple[str, str]) -> Path:
    path = project.root / "known-failures.yaml"
    path.write_text(
        "".join(
            f"- case: '{case}'\n  reason: broken on purpose\n"
            f"  bug: https://example.invalid/{case}\n  expires: {expires}\n"
            for case, expires in entries
        )
    )
    return path


def test_a_known_failure_does_not_fail_the_run(project: Project) -> None:
    """A listed failure is 'known' and the run passes; a listed pass is flagged"""
    project.case("001", "# group: quick", "print('bad')\n", "good\n")
    project.case("002", "# group: quick", "print('good')\n", "good\n")
    listed = _known(project, ("001", "2099-01-01"), ("002", "2099-01-01"))
    done = project.run("run", "-f", "raw", "--json", "r.json", "--junit", "r.xml")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    statuses = _statuses(project.root / "r.json")
    assert statuses["001"][0] == "known"
    assert statuses["001"][1] is not None
    assert statuses["001"][1].startswith(f"known failure ({listed}:1: broken on purpose;")
    assert statuses["002"] == (
        "pass",
        f"listed as a known failure but passed: fixed? remove it from {listed}:2",
    )
    assert (
        f"warning: 002: listed as a known failure but passed: fixed? remove it from {listed}:2"
        in done.stdout
    )
    assert "<skipped" in (project.root / "r.xml").read_text()


def test_an_expired_known_failure_fails_the_run(project: Project) -> None:
    """An expired known-failure entry fails the run, naming it"""
    project.case("001", "# group: quick", "print('bad')\n", "good\n")
    listed = _known(project, ("001", "2020-01-01"))
    done = project.run("run", "-f", "raw", "--json", "r.json")
    assert done.returncode == ExitCode.FAILED
    assert _statuses(project.root / "r.json")["001"][0] == "fail"
    assert (
        f"iotests: error: {listed}:1: the known failure of 001 expired on 2020-01-01" in done.stderr
    )


def test_a_flaky_case_is_flaky_not_passed(project: Project) -> None:
    """A case failing once then passing alone is 'flaky', its first failure kept"""
    project.case("001", "# group: quick", FLAKY, "ok\n")
    project.case("002", "# group: quick", "print('ok')\n", "ok\n")
    done = project.run("run", "-f", "raw", "--rerun-failures", "2", "--json", "r.json")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    status, reason = _statuses(project.root / "r.json")["001"]
    assert status == "flaky"
    assert reason == "passed on attempt 2 after failing: output differs from 001.out"
    kept = project.results / "raw-file" / "001.attempt-1"
    assert (kept / "output").read_text() == "not yet\n"
    assert (project.root / "flaky-count").read_text() == "2"


def test_flaky_fails_makes_a_flake_fail_the_run(project: Project) -> None:
    """--flaky-fails: a flaky case fails the run"""
    project.case("001", "# group: quick", FLAKY, "ok\n")
    done = project.run("run", "-f", "raw", "--rerun-failures", "1", "--flaky-fails")
    assert done.returncode == ExitCode.FAILED


def test_a_case_failing_every_attempt_stays_failed(project: Project) -> None:
    """A case failing on every re-run stays 'fail', saying how often"""
    project.case("001", "# group: quick", "print('bad')\n", "good\n")
    done = project.run("run", "-f", "raw", "--rerun-failures", "2", "--json", "r.json")
    assert done.returncode == ExitCode.FAILED
    assert _statuses(project.root / "r.json")["001"] == (
        "fail",
        "output differs from 001.out (failed 3 attempts in a row)",
    )
