"""One real run's reports, as CI reads them: JUnit (schema, properties, outputs), JSON, GitHub."""

from __future__ import annotations

import json
import platform
import re
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import junitparser
import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints
from support.cases import WRITE_READ, WRITE_READ_GOLDEN
from support.project import Project, make_project, needs_qemu

import iotests
from iotests import command
from iotests.exitcodes import ExitCode

pytestmark = [pytest.mark.qemu, needs_qemu]

SCHEMA = Path(__file__).parents[1] / "data" / "junit.xsd"

# The golden expects 8 KiB written; the case prints a terminal escape, as a
# coloured tool would, which XML 1.0 cannot carry as it is.
FAILING = WRITE_READ + 'print("\\x1b[1mdone\\x1b[0m")\n'
FAILING_GOLDEN = WRITE_READ_GOLDEN.replace("wrote 4096/4096", "wrote 8192/8192") + "done\n"
HANGING = """
import time
from iotests import lib
img = lib.test_image()
lib.create(img, "1M")
print("waiting for a job that never ends", flush=True)
time.sleep(600)
"""


@dataclass
class Run:
    project: Project
    junit: Path
    report: Path
    summary: Path
    stdout: str
    returncode: int
    before: datetime
    after: datetime
    elapsed: float

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.report.read_text())
        return data


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Four cases on real QEMU, -j2: one passes, one fails, one is not run, one times out."""
    project = make_project(tmp_path_factory.mktemp("reports"))
    project.case("001", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    project.case("002", "# group: quick", FAILING, FAILING_GOLDEN)
    project.case("003", "# group: quick\n# formats: qcow2", WRITE_READ, WRITE_READ_GOLDEN)
    project.case("004", "# group: quick\n# timeout: 3", HANGING, "never compared\n")
    project.case("005", "# group: quick slow", WRITE_READ, WRITE_READ_GOLDEN)
    out = project.root / "out"
    summary = project.root / "step-summary.md"
    before = datetime.now(UTC)
    start = time.monotonic()
    result = project.run(
        *("run", "-f", "raw", "-j2", "-g", "quick", "-x", "slow", "--timeout", "120"),
        *("--github", "--junit", str(out / "j.xml"), "--json", str(out / "r.json")),
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(project.root)},
    )
    elapsed = time.monotonic() - start
    return Run(
        project,
        out / "j.xml",
        out / "r.json",
        summary,
        result.stdout,
        result.returncode,
        before,
        datetime.now(UTC),
        elapsed,
    )


def qemu_img_version() -> str:
    out = command.run([str(command.which("qemu-img")), "--version"]).stdout
    match = re.search(r"version (\d+\.\d+\.\d+)", out)
    assert match is not None
    return match[1]


def toolkit_commit() -> str | None:
    root = Path(iotests.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_the_run_fails(run: Run) -> None:
    assert run.returncode == ExitCode.FAILED, run.stdout


def test_junit_validates_and_reads_back(run: Run) -> None:
    root = etree.parse(str(run.junit)).getroot()
    etree.XMLSchema(etree.parse(str(SCHEMA))).assertValid(root)
    [suite] = list(junitparser.JUnitXml.fromfile(str(run.junit)))
    assert suite.name == "iotests.raw-file"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (4, 1, 1, 1)
    cases = {c.name: c for c in suite}
    assert sorted(cases) == ["001", "002", "003", "004"]
    assert cases["001"].is_passed
    assert [type(r).__name__ for r in cases["002"].result] == ["Failure"]
    assert [type(r).__name__ for r in cases["003"].result] == ["Skipped"]
    assert [type(r).__name__ for r in cases["004"].result] == ["Error"]
    assert stat.S_IMODE(run.junit.stat().st_mode) & 0o044 == 0o044, "CI's upload user reads it"


def test_junit_suite_carries_the_runs_facts(run: Run) -> None:
    suite = etree.parse(str(run.junit)).getroot().find("testsuite")
    assert suite.get("hostname") == platform.node()
    stamp = datetime.fromisoformat(suite.get("timestamp")).replace(tzinfo=UTC)
    assert run.before.replace(microsecond=0) <= stamp <= run.after
    wall = float(suite.get("time"))
    durations = [float(c.get("time")) for c in suite.iter("testcase")]
    assert max(durations) <= wall <= run.elapsed
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["qemu.version"] == qemu_img_version()
    assert props["qemu.binary.qemu-img"] == str(Path(str(command.which("qemu-img"))).resolve())
    assert props["format"] == "raw"
    assert props["protocol"] == "file"
    assert props["flavour"] == ""  # the distribution's QEMU: no toolkit build profile
    assert props["iotests.version"] == iotests.__version__
    assert props.get("iotests.commit") == toolkit_commit()
    assert props["setting.timeout"] == "120.0"
    assert props["selection.groups"] == "quick"
    assert props["selection.exclude_groups"] == "slow"


def test_junit_cases_carry_their_outputs(run: Run) -> None:
    cases = {c.name: c for c in next(iter(junitparser.JUnitXml.fromfile(str(run.junit))))}
    failed = cases["002"]
    [failure] = failed.result
    assert failure.message == "output differs from 002.out"
    assert "-wrote 8192/8192 bytes at offset 0" in failure.text
    assert "+\\x1b[1mdone\\x1b[0m" in failure.text
    assert "wrote 4096/4096 bytes at offset 0" in failed.system_out
    assert failed.system_out.endswith("\\x1b[1mdone\\x1b[0m\n")
    assert failed.system_err.startswith("--- ")
    assert "+wrote 4096/4096 bytes at offset 0" in failed.system_err

    [skipped] = cases["003"].result
    assert skipped.message == "format raw not supported by this case"

    hung = cases["004"]
    [error] = hung.result
    assert (error.type, error.message) == ("timeout", "timed out after 3s")
    hang = run.project.results / "raw-file" / "004" / "hang.txt"
    assert f"hang record: {hang}" in error.text.splitlines()
    assert hung.system_out.endswith("waiting for a job that never ends\n")
    assert f"what the case's processes were doing: {hang}" in hung.system_err
    assert hang.read_text().splitlines()[0] in hung.system_err


def test_json_can_reproduce_the_run(run: Run) -> None:
    data = run.json()
    assert data["version"] == 1
    assert data["selection"] == {
        "tests": [],
        "groups": ["quick"],
        "exclude_groups": ["slow"],
        "shard": None,
        "start_from": None,
        "upstream": None,
    }
    settings = data["settings"]
    assert {k: settings[k] for k in ("format", "timeout", "jobs", "reruns", "regenerate")} == {
        "format": "raw",
        "timeout": 120.0,
        "jobs": 2,
        "reruns": 0,
        "regenerate": False,
    }
    assert {"cachemode", "aiomode", "imgopts", "valgrind", "misalign"} <= set(settings)
    env = data["environment"]
    assert env["flavour"] == ""
    assert env["qemu_version"] == qemu_img_version()
    assert data["toolkit"]["version"] == iotests.__version__
    assert data["toolkit"]["commit"] == toolkit_commit()
    assert {r["name"]: r["status"] for r in data["results"]} == {
        "001": "pass",
        "002": "fail",
        "003": "not run",
        "004": "timeout",
    }


def test_github_annotations(run: Run) -> None:
    commands = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 2, run.stdout
    fail, timeout = commands
    assert fail.startswith("::error file=cases/002,title=002 (raw-file)%3A fail::")
    assert "output differs from 002.out%0A" in fail
    assert "%0A-wrote 8192/8192 bytes at offset 0%0A" in fail
    hang = run.project.results / "raw-file" / "004" / "hang.txt"
    assert timeout == (
        "::error file=cases/004,title=004 (raw-file)%3A timeout::"
        f"timed out after 3s%0Ahang record: {hang}"
    )


def test_github_step_summary(run: Run) -> None:
    text = run.summary.read_text()
    assert text.startswith("### iotests raw-file: 2 failed\n")
    assert (
        "| pass | 1 |\n| fail | 1 |\n| timeout | 1 |\n| not run | 1 |\n| **all** | **4** |" in text
    )
    assert "- **002** (raw-file) fail: output differs from 002.out\n" in text
    assert "<details><summary>diff</summary>" in text
    assert "-wrote 8192/8192 bytes at offset 0\n+wrote 4096/4096 bytes at offset 0\n" in text
    assert "- **004** (raw-file) timeout: timed out after 3s\n" in text
    assert "#### Not run\n\n- format raw not supported by this case (1): 003\n" in text
