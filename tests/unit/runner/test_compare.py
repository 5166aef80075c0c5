"""Diffs ignore trailing whitespace; crash markers are found in any output."""

from __future__ import annotations

import pytest

from iotests.runner.compare import crash_reasons, unified_diff


def test_equal_modulo_trailing_whitespace() -> None:
    assert unified_diff("a\nb\n", "a  \nb\n\n", "exp", "act") is None


def test_diff_names_files() -> None:
    diff = unified_diff("a\nb\n", "a\nc\n", "expected/001.out", "results/001/output")
    assert diff is not None
    assert diff.splitlines()[:2] == ["--- expected/001.out", "+++ results/001/output"]
    assert "-b" in diff.splitlines()
    assert "+c" in diff.splitlines()


def test_empty_vs_something() -> None:
    assert unified_diff("", "x\n", "e", "a") is not None


ASAN = """=================================================================
==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000015
READ of size 1 at 0x602000000015 thread T0
"""
UBSAN = "../block/qcow2.c:123:5: runtime error: signed integer overflow: 2147483647 + 1\n"
ASSERT = "qemu-img: ../block/io.c:2529: bdrv_co_block_status: Assertion `*pnum' failed.\n"
#: With log_exe_name=1 (which the runner sets) ASan names the program in each line.
ASAN_NAMED = """==qemu-io==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000014
READ of size 4 at 0x602000000014 thread T0
SUMMARY: AddressSanitizer: heap-use-after-free bug.c:12 in main
==qemu-io==4242==ABORTING
"""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (ASAN, "AddressSanitizer: heap-buffer-overflow on address 0x602000000015"),
        (
            UBSAN,
            "UndefinedBehaviorSanitizer: signed integer overflow: 2147483647 + 1 at ../block/qcow2.c:123:5",
        ),
        (ASSERT, "assertion failed in qemu-img: ../block/io.c:2529: bdrv_co_block_status: *pnum"),
        (ASAN_NAMED, "AddressSanitizer: heap-use-after-free on address 0x602000000014"),
        (
            "==qemu-storage-daemon==77==ERROR: LeakSanitizer: detected memory leaks\n",
            "LeakSanitizer: detected memory leaks",
        ),
    ],
)
def test_crash_reasons(text: str, reason: str) -> None:
    assert crash_reasons("before\n" + text + "after\n") == [reason]


def test_no_crash_in_normal_output() -> None:
    assert crash_reasons("wrote 512/512 bytes at offset 0\nread failed: Input/output error\n") == []


VALGRIND_QUIET = """==123== Invalid read of size 4
==123==    at 0x10916D: main (bad.c:3)
==123==  Address 0x4a8b044 is 4 bytes inside a block of size 16 free'd
"""


@pytest.mark.parametrize(
    ("log", "problem"),
    [
        ("", None),
        ("==1== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)\n", None),
        ("==1== ERROR SUMMARY: 3 errors from 2 contexts (suppressed: 0 from 0)\n", "3 errors"),
        (VALGRIND_QUIET, "1 errors, first: Invalid read of size 4"),
    ],
)
def test_valgrind_problem(log: str, problem: str | None) -> None:
    from iotests.runner.evidence import valgrind_problem

    assert valgrind_problem(log) == problem
