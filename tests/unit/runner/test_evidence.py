"""iotests.runner.evidence: every process's sanitizer logs land where the verdict looks.

The runner's own log_path (nox -s asan) is replaced by the case's result
directory and the logs are copied back there afterwards; the library's
events name the program; nothing is reported twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iotests.runner.dirs import CaseDirs
from iotests.runner.evidence import (
    DESTINATIONS_FILE,
    crash_evidence,
    named,
    sanitizer_environment,
)
from iotests.runner.process import Outcome

ASAN = (
    "==qemu-io==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000014\n"
    "SUMMARY: AddressSanitizer: heap-use-after-free bug.c:12 in main\n"
)
NOISE = (
    "==qemu-io==4242==WARNING: ASan doesn't fully support makecontext/swapcontext functions"
    " and may produce false positives in some cases!\n"
)


def options(value: str) -> dict[str, str]:
    return dict(option.partition("=")[::2] for option in value.split(":"))


@pytest.fixture
def dirs(tmp_path: Path) -> CaseDirs:
    result = tmp_path / "results" / "raw-file" / "900"
    (result / "scratch").mkdir(parents=True)
    return CaseDirs(result, result / "scratch", tmp_path / "sock")


def outcome(output: str = "", returncode: int = 0) -> Outcome:
    return Outcome(returncode, output, 0.1, False, False, [])


def test_every_sanitizer_logs_into_the_result_dir_even_when_the_runner_set_nothing(
    dirs: CaseDirs,
) -> None:
    env = sanitizer_environment({}, dirs.result)
    assert set(env) == {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"}
    # ASan reads log_path from LSAN_OPTIONS too: both name the same files.
    assert options(env["ASAN_OPTIONS"])["log_path"] == str(dirs.result / "asan")
    assert options(env["LSAN_OPTIONS"])["log_path"] == str(dirs.result / "asan")
    assert options(env["UBSAN_OPTIONS"])["log_path"] == str(dirs.result / "ubsan")
    assert all(options(v)["log_exe_name"] == "1" for v in env.values())
    assert not (dirs.result / DESTINATIONS_FILE).exists()


def test_the_runners_log_path_is_replaced_and_remembered(dirs: CaseDirs, tmp_path: Path) -> None:
    environ = {
        "ASAN_OPTIONS": f"halt_on_error=1:detect_leaks=1:log_path={tmp_path}/logs/asan",
        "UBSAN_OPTIONS": "print_stacktrace=1,log_path=stderr",
    }
    env = sanitizer_environment(environ, dirs.result)
    asan = options(env["ASAN_OPTIONS"])
    assert asan == {
        "halt_on_error": "1",
        "detect_leaks": "1",
        "log_path": str(dirs.result / "asan"),
        "log_exe_name": "1",
    }
    assert options(env["UBSAN_OPTIONS"])["print_stacktrace"] == "1"
    assert options(env["UBSAN_OPTIONS"])["log_path"] == str(dirs.result / "ubsan")
    # stderr is no place to copy a file to.
    destinations = json.loads((dirs.result / DESTINATIONS_FILE).read_text())
    assert destinations == {"asan": f"{tmp_path}/logs/asan"}


def test_quoted_options_stay_whole(dirs: CaseDirs) -> None:
    env = sanitizer_environment({"ASAN_OPTIONS": "suppressions='/a b:c.supp'"}, dirs.result)
    assert env["ASAN_OPTIONS"].startswith("suppressions='/a b:c.supp':log_path=")


def test_a_report_in_a_log_names_the_program_and_reaches_the_runners_log_path(
    dirs: CaseDirs, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    sanitizer_environment({"ASAN_OPTIONS": f"log_path={logs}/asan"}, dirs.result)
    (dirs.result / "asan.qemu-io.4242").write_text(NOISE + ASAN)
    (dirs.result / "asan.qemu-img.4243").write_text(NOISE)
    reasons = crash_evidence(outcome(), dirs)
    assert reasons == ["qemu-io: AddressSanitizer: heap-use-after-free on address 0x602000000014"]
    assert sorted(p.name for p in logs.iterdir()) == ["asan.qemu-img.4243", "asan.qemu-io.4242"]
    assert (logs / "asan.qemu-io.4242").read_text() == NOISE + ASAN


def test_a_copy_never_overwrites_another_cases_log(dirs: CaseDirs, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "asan.qemu-io.4242").write_text("another case's report\n")
    sanitizer_environment({"ASAN_OPTIONS": f"log_path={logs}/asan"}, dirs.result)
    (dirs.result / "asan.qemu-io.4242").write_text(ASAN)
    crash_evidence(outcome(), dirs)
    assert (logs / "asan.qemu-io.4242").read_text() == "another case's report\n"
    assert (logs / "asan.qemu-io.4242.raw-file.900").read_text() == ASAN


def test_an_unwritable_log_path_costs_the_copy_not_the_verdict(
    dirs: CaseDirs, tmp_path: Path
) -> None:
    sanitizer_environment({"ASAN_OPTIONS": f"log_path={tmp_path}/missing/asan"}, dirs.result)
    (dirs.result / "asan.qemu-io.4242").write_text(ASAN)
    assert crash_evidence(outcome(), dirs) == [
        "qemu-io: AddressSanitizer: heap-use-after-free on address 0x602000000014"
    ]


def write_events(dirs: CaseDirs, *events: dict[str, str]) -> None:
    dirs.events_file.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_library_events_become_reasons(dirs: CaseDirs) -> None:
    write_events(
        dirs,
        {"event": "crash", "program": "qemu-nbd", "signal": "SIGSEGV"},
        {
            "event": "finding",
            "program": "qemu-storage-daemon",
            "reason": "AddressSanitizer: heap-use-after-free on address 0x1",
            "source": "qsd0.log",
        },
    )
    dirs.events_file.write_text(dirs.events_file.read_text() + "not json\n[1]\n")
    assert crash_evidence(outcome(), dirs) == [
        "qemu-nbd killed by signal SIGSEGV",
        "qemu-storage-daemon: AddressSanitizer: heap-use-after-free on address 0x1 (in qsd0.log)",
    ]


def test_a_report_both_printed_and_judged_is_one_reason(dirs: CaseDirs) -> None:
    printed = "==77==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n"
    bare = "AddressSanitizer: heap-use-after-free on address 0x1"
    write_events(
        dirs, {"event": "finding", "program": "qemu-io", "reason": bare, "source": "output"}
    )
    # Printed twice, judged once: the second print is still evidence of its own.
    assert crash_evidence(outcome(printed + printed), dirs) == [bare, f"qemu-io: {bare}"]


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("AddressSanitizer: x", "qemu-nbd: AddressSanitizer: x"),
        ("assertion failed in qemu-nbd: a.c:1: f: x", "assertion failed in qemu-nbd: a.c:1: f: x"),
        ("crash: qemu-nbd", "crash: qemu-nbd"),
        (
            "UndefinedBehaviorSanitizer: y at qemu-nbd.c:3:4",
            "qemu-nbd: UndefinedBehaviorSanitizer: y at qemu-nbd.c:3:4",
        ),
    ],
)
def test_named_says_the_program_once(reason: str, shown: str) -> None:
    assert named("qemu-nbd", reason) == shown
