"""iotests.runner.sanitizers: real reports are found; known noise goes; reports never do.

The reports in tests/data/sanitizers/ were captured from sanitizer-bug.c built with
``gcc -g -fsanitize=address,undefined``; one test rebuilds and reruns it here
so the detector is checked against whatever this machine's gcc prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iotests import command
from iotests.runner.sanitizers import (
    Kind,
    find_reports,
    reports_in_logs,
    sanitizer_env,
    strip_noise,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "sanitizers"
NOISE = (
    "==4242==WARNING: ASan doesn't fully support makecontext/swapcontext functions and may "
    "produce false positives in some cases!"
)


def test_asan_and_ubsan_reports_from_a_real_run() -> None:
    reports = find_reports((DATA / "asan-ubsan-report.txt").read_text())
    assert [r.kind for r in reports] == [Kind.UBSAN, Kind.ASAN]
    assert "signed integer overflow" in reports[0].summary
    assert "bug.c:6:9" in reports[0].summary
    assert reports[1].summary.startswith("AddressSanitizer: heap-use-after-free")
    assert "SUMMARY: AddressSanitizer: heap-use-after-free" in reports[1].text
    assert reports[1].text.rstrip().endswith("ABORTING")


def test_leak_report_from_a_real_run() -> None:
    reports = find_reports((DATA / "lsan-report.txt").read_text())
    assert [r.kind for r in reports] == [Kind.UBSAN, Kind.LSAN]
    assert "85 byte(s) leaked" in reports[1].text


def test_clean_output_has_no_reports() -> None:
    assert find_reports("wrote 65536/65536 bytes at offset 0\nNo errors were found\n") == []


def test_noise_is_stripped_but_not_reported() -> None:
    text = f"before\n{NOISE}\nafter\n"
    assert find_reports(text) == []
    assert strip_noise(text) == "before\nafter\n"


def test_noise_filter_never_hides_a_report() -> None:
    real = (DATA / "asan-ubsan-report.txt").read_text()
    noisy = f"{NOISE}\n{real}"
    stripped = strip_noise(noisy)
    assert NOISE not in stripped
    assert [r.summary for r in find_reports(stripped)] == [r.summary for r in find_reports(real)]
    assert real.strip() in stripped


def test_reports_in_log_files(tmp_path: Path) -> None:
    (tmp_path / "asan.123").write_text((DATA / "lsan-report.txt").read_text())
    (tmp_path / "ubsan.124").write_text(NOISE + "\n")
    found = reports_in_logs(tmp_path.iterdir())
    assert [(p.name, r.kind) for p, r in found] == [
        ("asan.123", Kind.UBSAN),
        ("asan.123", Kind.LSAN),
    ]


def test_sanitizer_env_halts_and_logs(tmp_path: Path) -> None:
    env = sanitizer_env(tmp_path)
    assert "halt_on_error=1" in env["ASAN_OPTIONS"]
    assert f"log_path={tmp_path}/asan" in env["ASAN_OPTIONS"]
    assert "halt_on_error=1" in env["UBSAN_OPTIONS"]


def test_live_report_from_a_freshly_compiled_program(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    binary = tmp_path / "bug"
    built = command.run(
        [
            "gcc",
            "-g",
            "-fsanitize=address,undefined",
            "-o",
            str(binary),
            str(DATA / "sanitizer-bug.c"),
        ],
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(f"gcc cannot build with sanitizers here: {built.output.strip()[:200]}")
    env = {"PATH": "/usr/bin:/bin", **sanitizer_env(tmp_path)}
    result = command.run([str(binary)], env=env, check=False)
    assert result.returncode != 0
    # In a combined ASan+UBSan runtime UBSan keeps writing to stderr whatever
    # log_path says (measured with gcc 12), so look in both places.
    found = find_reports(result.output) + [r for _, r in reports_in_logs(tmp_path.glob("*san.*"))]
    # UBSan halts at the first error with halt_on_error=1: the overflow.
    assert [r.kind for r in found] == [Kind.UBSAN]
    assert "signed integer overflow" in found[0].summary
