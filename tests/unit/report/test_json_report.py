"""A JSON report holds what reproduces its run; version 1 readers still read it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

import iotests
from iotests import cli
from iotests.config import RunnerConfig
from iotests.env.binaries import Binaries
from iotests.env.probe import Probe
from iotests.plan import Machine, Mode, Plan, Setup
from iotests.report import files, merge
from iotests.runner.results import CaseResult, Status
from iotests.runner.settings import RunSettings

CONFIG = RunnerConfig({}, "defaults")
SCHEMA = Path(__file__).parents[2] / "data" / "junit.xsd"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root)}
    done = subprocess.run(
        ["git", "-C", str(root), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def toolkit_build(tmp_path: Path, profile: str) -> Binaries:
    """Binaries of a toolkit build whose manifest names *profile*."""
    build = tmp_path / "cache" / "key" / "build"
    build.mkdir(parents=True)
    (build.parent / "manifest.json").write_text(json.dumps({"profile": profile}))
    return Binaries(
        paths={"qemu-img": str(build / "qemu-img"), "qemu-io": str(build / "qemu-io")},
        origin=f"build tree {build}",
        build_dir=str(build),
        sources={"qemu-img": "build-dir", "qemu-io": "build-dir"},
    )


def plan_of(tmp_path: Path, argv: list[str], settings: RunSettings) -> Plan:
    """The plan of *argv*'s run on a toolkit build, with *settings* as settled."""
    setup = Setup(cli.options_of(cli.build_parser().parse_args(argv)), Mode(), CONFIG, {})
    found = toolkit_build(tmp_path, "asan")
    probe = Probe(
        binaries=dict(found.paths),
        versions={"qemu-img": "9.2.0", "qemu-io": "9.2.0"},
        formats=("raw", "qcow2"),
    )
    machine = Machine(found, probe)
    return Plan(setup, machine, (), settings, Mode().prepare(setup, machine, settings))


RESULTS = [
    CaseResult("001", "qcow2", "file", Status.PASS, duration=0.5),
    CaseResult("002", "qcow2", "file", Status.FAIL, "output differs", 1.0, diff="-a\n+b\udcff"),
]


@pytest.fixture
def written(tmp_path: Path) -> tuple[dict[str, object], etree._Element, datetime]:
    """What one run's reports say, written by the CLI's own report step."""
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    argv = ["run", "-f", "qcow2", "-g", "quick,auto", "-g", "rw", "-x", "slow", "--shard", "1/2"]
    argv += ["--start-from", "002", "001", "002", "003", "--rerun-failures", "2", "-c", "none"]
    argv += ["-i", "native", "-o", "compat=0.10", "--misalign", "--timeout", "90", "-j", "3"]
    argv += ["--junit", str(junit), "--json", str(report), "--flaky-fails", "--min-run", "1"]
    settings = RunSettings(
        format="qcow2",
        cachemode="none",
        aiomode="native",
        imgopts="compat=0.10",
        misalign=True,
        timeout=90.0,
        jobs=3,
        results_dir=tmp_path / "results",
    )
    started = datetime.now(UTC) - timedelta(seconds=2)
    assert cli._write_reports(plan_of(tmp_path, argv, settings), RESULTS, started)
    xml = etree.parse(str(junit)).getroot()
    etree.XMLSchema(etree.parse(str(SCHEMA))).assertValid(xml)
    return json.loads(report.read_text()), xml, started


def test_the_selection_is_recorded(written: tuple[dict[str, object], object, datetime]) -> None:
    data = written[0]
    assert data["selection"] == {
        "tests": ["001", "002", "003"],
        "groups": ["quick", "auto", "rw"],
        "exclude_groups": ["slow"],
        "shard": "1/2",
        "start_from": "002",
        "upstream": None,
    }


def test_every_setting_is_recorded(
    written: tuple[dict[str, object], object, datetime], tmp_path: Path
) -> None:
    assert written[0]["settings"] == {
        "format": "qcow2",
        "protocol": "file",
        "cachemode": "none",
        "aiomode": "native",
        "imgopts": "compat=0.10",
        "timeout": 90.0,
        "jobs": 3,
        "reruns": 2,
        "regenerate": False,
        "valgrind": False,
        "misalign": True,
        "known": [],
        "flaky_fails": True,
        "fail_on_not_run": False,
        "min_run": 1,
        "results_dir": str(tmp_path / "results"),
    }


def test_flavour_and_qemu_version_are_in_the_report(
    written: tuple[dict[str, object], object, datetime], tmp_path: Path
) -> None:
    """Recorded where the build is, so a merge on another machine need not find it."""
    env = written[0]["environment"]
    assert isinstance(env, dict)
    assert env["flavour"] == "asan"
    assert env["qemu_version"] == "9.2.0"
    assert env["build_dir"] == str(tmp_path / "cache" / "key" / "build")
    assert env["versions"] == {"qemu-img": "9.2.0", "qemu-io": "9.2.0"}


@needs_git
def test_the_toolkit_version_and_commit(
    written: tuple[dict[str, object], object, datetime],
) -> None:
    toolkit = written[0]["toolkit"]
    root = Path(iotests.__file__).resolve().parent.parent
    expected = git(root, "rev-parse", "HEAD") if (root / ".git").exists() else None
    assert isinstance(toolkit, dict)
    assert toolkit["version"] == iotests.__version__
    assert toolkit["commit"] == expected


def test_junit_says_what_json_says(
    written: tuple[dict[str, object], etree._Element, datetime],
) -> None:
    data, xml, started = written
    suite = xml.find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["flavour"] == "asan"
    assert props["qemu.version"] == "9.2.0"
    assert props["selection.shard"] == "1/2"
    assert props["setting.reruns"] == "2"
    assert props["format"] == "qcow2"
    assert props.get("iotests.commit") == data["toolkit"]["commit"]  # type: ignore[index]
    assert suite.get("hostname") == data["host"]
    assert suite.get("timestamp") == started.replace(microsecond=0, tzinfo=None).isoformat()
    assert float(suite.get("time")) == pytest.approx(data["wall_time"], abs=0.001)
    assert float(suite.get("time")) >= 2.0


def test_version_1_readers_still_read_it(tmp_path: Path) -> None:
    """Additive fields only: merge (which knows none of them) and load_json read the report."""
    path = tmp_path / "r.json"
    data = files.report_data(
        RESULTS,
        datetime.now(UTC),
        datetime.now(UTC),
        {"format": "qcow2", "protocol": "file"},
        {"origin": "PATH", "flavour": "", "qemu_version": "7.2.22"},
        selection={"tests": []},
        toolkit=files.toolkit_revision(),
    )
    old_umask = os.umask(0o022)
    try:
        files.write_document(path, data)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644, "CI's upload user must read it"
    doc, results = files.load_json(path)
    assert doc["version"] == files.JSON_VERSION == 1
    assert {"started", "finished", "host", "settings", "environment", "results"} <= set(doc)
    assert results == RESULTS
    merged = merge.load_report(path)
    assert [(r.name, r.status, r.diff) for r in merged] == [
        ("001", "pass", None),
        ("002", "fail", "-a\n+b\udcff"),
    ]


@needs_git
def test_a_checkout_of_its_own_gives_its_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "f").write_text("one\n")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "one")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert files.checkout_revision(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "f").write_text("two\n")
    assert files.checkout_revision(tmp_path) == {"commit": head, "dirty": True}
    (tmp_path / "untracked").write_text("")
    git(tmp_path, "checkout", "-q", "f")
    assert files.checkout_revision(tmp_path) == {"commit": head, "dirty": False}


@needs_git
def test_a_package_inside_another_repository_has_no_commit(tmp_path: Path) -> None:
    """A venv's site-packages inside a project: the project's commit is not the toolkit's."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "project")
    site = tmp_path / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    assert files.checkout_revision(site) == {"commit": None, "dirty": None}
    (site / ".git").mkdir()  # a stray, empty .git: not a checkout either
    assert files.checkout_revision(site) == {"commit": None, "dirty": None}


def test_no_checkout_no_commit(tmp_path: Path) -> None:
    assert files.checkout_revision(tmp_path) == {"commit": None, "dirty": None}


@needs_git
def test_a_checkout_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert files.checkout_revision(tmp_path) == {"commit": None, "dirty": None}


def test_a_plain_build_has_no_flavour(tmp_path: Path) -> None:
    found = Binaries(paths={"qemu-img": "/usr/bin/qemu-img"}, origin="PATH")
    summary = Machine(found, Probe(binaries=dict(found.paths))).summary()
    assert (summary["flavour"], summary["qemu_version"], summary["build_dir"]) == ("", None, None)
