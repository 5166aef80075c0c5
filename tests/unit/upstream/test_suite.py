"""iotests.upstream.suite: environment, reference, notrun and filters for upstream tests."""

from __future__ import annotations

from pathlib import Path

from iotests.env.probe import Probe
from iotests.runner.dirs import CaseDirs
from iotests.runner.results import CaseResult, Status
from iotests.runner.settings import RunSettings
from iotests.upstream import discovery
from iotests.upstream.environment import CheckOptions
from iotests.upstream.suite import UpstreamSuite


def _suite(tree: Path, **env: str) -> UpstreamSuite:
    check_env = {"PYTHONPATH": f"{tree}:/py", "IMGFMT": "qcow2", "CACHEMODE": "writeback", **env}
    return UpstreamSuite(tree, CheckOptions(), check_env)


def _dirs(tmp_path: Path) -> CaseDirs:
    dirs = CaseDirs(tmp_path / "res", tmp_path / "res" / "scratch", tmp_path / "sock")
    dirs.scratch.mkdir(parents=True)
    return dirs


def _case(tree: Path, name: str) -> discovery.UpstreamCase:
    return {c.name: c for c in discovery.discover(tree)}[name]


def test_environment_is_check_environment_plus_per_test_dirs(tree: Path, tmp_path: Path) -> None:
    suite = _suite(tree)
    dirs = _dirs(tmp_path)
    base = {"PATH": "/bin", "PYTHONPATH": "/ours", "IOTESTS_TOKEN": "t", "IMGFMT": "raw"}
    env = suite.environment(_case(tree, "001"), RunSettings(format="qcow2"), dirs, base)
    assert env["PYTHONPATH"] == f"{tree}:/py"
    assert env["IMGFMT"] == "qcow2"
    assert env["PATH"] == "/bin"
    assert env["IOTESTS_TOKEN"] == "t"
    assert env["TEST_DIR"] == str(dirs.scratch)
    assert env["SOCK_DIR"] == str(dirs.sock)
    assert "PYTHONUNBUFFERED" not in env


def test_output_is_not_filtered(tree: Path) -> None:
    text = "/tmp/x 2024-01-01 10:00:00 qemu-img version 7.2.0  \n"
    assert _suite(tree).filters([("/tmp/x", "TEST_DIR")])(text) == text


def test_reference_lookup_uses_format_and_machine(tree: Path) -> None:
    suite = _suite(tree, QEMU_DEFAULT_MACHINE="pc")
    settings = RunSettings(format="qcow2")
    assert suite.expected_file(_case(tree, "001"), settings) == tree / "001.out.qcow2"
    assert suite.expected_file(_case(tree, "002"), settings) == tree / "002.out"
    named = _case(tree, "reopen-file")
    assert suite.expected_file(named, settings) == tree / "tests" / "reopen-file.out"


def test_missing_reference_is_not_run_before_starting(tree: Path) -> None:
    suite = _suite(tree)
    probe = Probe(binaries={})
    settings = RunSettings(format="raw")
    assert suite.not_run(_case(tree, "002"), settings, probe) is None
    reason = suite.not_run(_case(tree, "004"), settings, probe)
    assert reason == f"No qualified output (expected {tree / '004.out'})"
    assert suite.regenerate_target(_case(tree, "004"), settings) == tree / "004.out"


def test_notrun_and_casenotrun_files(tree: Path, tmp_path: Path) -> None:
    suite = _suite(tree)
    dirs = _dirs(tmp_path)
    case = _case(tree, "001")
    assert suite.notrun_reason(case, dirs) is None
    (dirs.scratch / "001.casenotrun").write_text("    [case not run] no zstd\n")
    (dirs.scratch / "001.notrun").write_text("not suitable for this image format: raw\n")
    assert suite.notrun_reason(case, dirs) == "not suitable for this image format: raw"
    assert (dirs.result / "casenotrun").read_text() == "    [case not run] no zstd\n"
    results = [
        CaseResult("002", "raw", "file", Status.PASS),
        CaseResult("001", "raw", "file", Status.PASS),
    ]
    assert suite.casenotrun_lines(results) == ["001:\n    [case not run] no zstd"]


def test_qtest_hint_only_for_failures_with_an_emulator_lacking_qtest(tree: Path) -> None:
    suite = _suite(tree, QEMU_OPTIONS="-nodefaults -display none -accel qtest")
    failed = [CaseResult("040", "qcow2", "file", Status.FAIL, "output mismatch")]
    passed = [CaseResult("001", "qcow2", "file", Status.PASS)]
    no_qtest = Probe({"qemu": "/usr/bin/qemu-system-x86_64"}, accelerators=("kvm", "tcg"))
    hint = suite.qtest_hint(failed + passed, no_qtest)
    assert hint is not None
    assert hint.startswith("note: 1 failed; /usr/bin/qemu-system-x86_64 has no qtest")
    assert suite.qtest_hint(passed, no_qtest) is None
    with_qtest = Probe({"qemu": "/q"}, accelerators=("qtest", "tcg"))
    assert suite.qtest_hint(failed, with_qtest) is None
    assert suite.qtest_hint(failed, Probe({"qemu": None})) is None
    assert _suite(tree).qtest_hint(failed, no_qtest) is None  # QEMU_OPTIONS without qtest
