"""The pattern helpers' pure parts: sizes, qemu-io command lines, summaries."""

from __future__ import annotations

import pytest

from iotests.lib.patterns import describe, io_commands, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (4096, 4096),
        ("512", 512),
        ("64k", 65536),
        ("64K", 65536),
        ("1M", 1 << 20),
        ("1MiB", 1 << 20),
        ("2g", 2 << 30),
        ("1T", 1 << 40),
        (" 8 M ", 8 << 20),
    ],
)
def test_parse_size_accepts_qemu_sizes(text: int | str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "1.5M", "-1", "k", "12q", -5])
def test_parse_size_rejects_the_rest(bad: int | str) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


def test_io_commands_spell_out_offsets_in_bytes() -> None:
    assert io_commands("write", [(0x11, 0, "64k"), (0xA, "1M", 512)]) == [
        "write -P 0x11 0 65536",
        "write -P 0x0a 1048576 512",
    ]


def test_io_commands_pass_flags_before_the_pattern() -> None:
    assert io_commands("write", [(1, 0, 512)], "-q") == ["write -q -P 0x01 0 512"]


def test_describe_is_one_exact_line() -> None:
    assert describe([(0x11, 0, "64k"), (0x22, "64k", 512)]) == "0x11@0+65536, 0x22@65536+512"
