"""Case header parsing: the fields, their defaults, and errors naming file and line."""

from __future__ import annotations

import pytest

from iotests.errors import CaseHeaderError
from iotests.runner.header import CaseHeader, parse_header

FULL = """#!/usr/bin/env python3
# group: rw quick, auto
# formats: raw qcow2
# exclude-formats: luks
# protocols: file nbd
# requires: qemu-io format:qcow2 accel:qtest
# timeout: 90
#
# Writes and reads.
# Second line.
import sys
"""


def test_full_header() -> None:
    h = parse_header(FULL, "cases/001")
    assert h.groups == {"rw", "quick", "auto"}
    assert h.formats == ("raw", "qcow2")
    assert h.exclude_formats == {"luks"}
    assert h.protocols == ("file", "nbd")
    assert h.requires == ("qemu-io", "format:qcow2", "accel:qtest")
    assert h.timeout == 90.0
    assert h.description == "Writes and reads.\nSecond line."


def test_defaults() -> None:
    h = parse_header("#!/bin/sh\n# group: quick\n", "x")
    assert h.formats == ("*",)
    assert h.protocols == ("file",)
    assert h.timeout is None
    assert h.supports_format("vdi")
    assert not h.supports_protocol("nbd")


@pytest.mark.parametrize(
    ("header", "fmt", "supported"),
    [
        (CaseHeader(formats=("*",)), "qcow2", True),
        (CaseHeader(formats=("*",), exclude_formats=frozenset({"luks"})), "luks", False),
        (CaseHeader(formats=("raw",)), "qcow2", False),
        (CaseHeader(formats=("raw", "qcow2")), "qcow2", True),
    ],
)
def test_supports_format(header: CaseHeader, fmt: str, supported: bool) -> None:
    assert header.supports_format(fmt) is supported


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("#!/x\n# group: a\n# colour: blue\n", 3, "unknown header key 'colour'"),
        ("#!/x\n# group: a\n# group: b\n", 3, "given twice"),
        ("#!/x\n# timeout: soon\n", 2, "timeout must be a number"),
        ("#!/x\n# timeout: -5\n", 2, "timeout must be a positive, finite number"),
        ("#!/x\n# requires: qemu-io gpu\n", 2, "unknown requirement 'gpu'"),
        ("#!/x\n# requires: format:\n", 2, "unknown requirement"),
        ("#!/x\n# formats:\n", 2, "formats is empty"),
        ("#!/x\n# timeout: nan\n", 2, "timeout must be a positive, finite number, not 'nan'"),
        ("#!/x\n# timeout: inf\n", 2, "timeout must be a positive, finite number"),
        ("#!/x\n# group: a\n# formats: qcow3\n", 3, "unknown name 'qcow3' (did you mean"),
        ("#!/x\n# exclude-formats: qcwo2\n", 2, "exclude-formats: unknown name 'qcwo2'"),
        ("#!/x\n# protocols: nbdd\n", 2, "unknown name 'nbdd' (did you mean 'nbd'?"),
        ("#!/x\n# exclude-protocols: flie\n", 2, "did you mean 'file'?"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(CaseHeaderError) as info:
        parse_header(text, "cases/042")
    assert info.value.line == line
    assert str(info.value).startswith(f"cases/042:{line}: ")
    assert message in str(info.value)


def test_header_ends_at_first_code_line() -> None:
    text = "#!/x\n# group: a\nimport os\n# colour: not a header any more\n"
    assert parse_header(text, "x").groups == {"a"}


def test_extension_keys_are_kept() -> None:
    h = parse_header("#!/x\n# group: a\n# x-owner: block team\n", "x")
    assert h.extra == {"x-owner": "block team"}
