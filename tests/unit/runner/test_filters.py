"""Output filters: table-driven, each a pure function."""

from __future__ import annotations

import pytest

from iotests.runner import filters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "64 KiB, 1 ops; 00.00 sec (28.531 MiB/sec and 456.4993 ops/sec)",
            "64 KiB, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
        ),
        (
            "512 bytes, 3 ops; 0:00:01.25 sec (409 bytes/sec and 2.3988 ops/sec)",
            "512 bytes, 3 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
        ),
        (
            "0 bytes, 1 ops; 00.00 sec (0 bytes/sec and 107376.7851 ops/sec)",
            "0 bytes, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
        ),
        (
            "24 MiB, 1 ops; 0:00:02.98 (8.047 MiB/sec and 0.3353 ops/sec)",
            "24 MiB, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
        ),
        ("wrote 512/512 bytes at offset 0", "wrote 512/512 bytes at offset 0"),
    ],
)
def test_qemu_io_rates(text: str, expected: str) -> None:
    assert filters.qemu_io_rates(text) == expected


def test_qmp_timestamps() -> None:
    text = '{"event": "JOB", "timestamp": {"seconds": 1732590000, "microseconds": 12345}}'
    assert filters.qmp_timestamps(text) == (
        '{"event": "JOB", "timestamp": {"seconds": "SECS", "microseconds": "USECS"}}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)", "qemu-img version X.Y.Z"),
        ("QEMU emulator version 9.2.0 (v9.2.0-dirty)", "QEMU emulator version X.Y.Z"),
        ("qemu-io version 8.0.50", "qemu-io version X.Y.Z"),
        ("version 7 of the format", "version 7 of the format"),
    ],
)
def test_versions(text: str, expected: str) -> None:
    assert filters.versions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "1  snap1  0 B 2026-11-26 02:40:11 00:00:00.000",
            "1  snap1  0 B yyyy-mm-dd hh:mm:ss 0000:00:00.000",
        ),
        ("at 2026-11-26T02:40:11.123456 done", "at yyyy-mm-dd hh:mm:ss done"),
    ],
)
def test_timestamps(text: str, expected: str) -> None:
    assert filters.timestamps(text) == expected


def test_paths_replace_whole_prefixes_longest_first() -> None:
    f = filters.paths([("/tmp/a", "TEST_DIR"), ("/tmp/a/sock", "SOCK_DIR")])
    assert f("/tmp/a/t.img /tmp/a/sock/nbd /tmp/ab/x") == "TEST_DIR/t.img SOCK_DIR/nbd /tmp/ab/x"


def test_paths_ignores_empty() -> None:
    assert filters.paths([("", "X")])("abc") == "abc"


def test_standard_chain() -> None:
    f = filters.standard_filters([("/scratch/1", "TEST_DIR")])
    text = "read 1/1 bytes at offset 0   \n1 bytes, 1 ops; 00.00 sec (1 KiB/sec and 1.0 ops/sec)\n/scratch/1/t.img"
    assert f(text) == (
        "read 1/1 bytes at offset 0\n1 bytes, 1 ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)\nTEST_DIR/t.img"
    )


def test_version_without_the_word() -> None:
    assert filters.versions("qemu-nbd 7.2.22 (Debian 1:7.2+dfsg-7)") == "qemu-nbd version X.Y.Z"


def test_standard_chain_drops_sanitizer_noise_only() -> None:
    warning = (
        "==42==WARNING: ASan doesn't fully support makecontext/swapcontext functions"
        " and may produce false positives in some cases!"
    )
    f = filters.standard_filters([])
    assert f(f"{warning}\nwrote 1/1 bytes at offset 0") == "wrote 1/1 bytes at offset 0"
    report = "==42==ERROR: AddressSanitizer: heap-use-after-free on address 0x1"
    assert f(report) == report
