"""Reading the errno out of QEMU's error messages, whatever the release's wording."""

from __future__ import annotations

import pytest

from iotests.lib.image import errno_name


@pytest.mark.parametrize(
    ("message", "name"),
    [
        # 7.2 prints the number and the text, 8.2 and later only the text.
        ("qemu-img: Could not create snapshot 'o': -22 (Invalid argument)", "EINVAL"),
        ("qemu-img: Could not create snapshot 'o': Invalid argument", "EINVAL"),
        ("qemu-img: Could not create snapshot 's': -95 (Operation not supported)", "ENOTSUP"),
        ("qemu-img: Could not create snapshot 's': Operation not supported", "ENOTSUP"),
        # The first line is the error; what follows (an exit-code line) is not.
        ("qemu-io: can't open x: Could not open 'y': No such file\n[exit 1]", None),
        ("qemu-io: can't open x: Could not open 'y': No such file or directory\n", "ENOENT"),
        ("write failed: Operation not permitted", "EPERM"),
        ("qemu-img: Invalid image size specified: '1x'.", None),
        ("", None),
        ("Invalid argument", None),  # no separator: not QEMU's form of an errno
    ],
)
def test_errno_name(message: str, name: str | None) -> None:
    assert errno_name(message) == name
