"""``check_image`` tells "this format has no checks" by qemu-img's exit code, not its words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iotests.lib import image
from iotests.lib.env import case_env


@pytest.fixture
def fake_qemu_img(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A qemu-img whose ``check`` answers what the test writes into ``reply``."""
    reply = tmp_path / "reply"
    script = tmp_path / "qemu-img"
    script.write_text(f'#!/bin/sh\n. "{reply}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("QEMU_IMG_PROG", str(script))
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.setenv("IMGFMT", "raw")
    case_env.cache_clear()
    yield reply
    case_env.cache_clear()


def test_exit_code_63_is_unsupported_whatever_the_message(fake_qemu_img: Path) -> None:
    fake_qemu_img.write_text('echo "qemu-img: checks are not a thing for raw" >&2\nexit 63\n')
    res = image.check_image("t.img", quiet=True)
    assert not res.supported
    assert res.returncode == 63


def test_a_real_check_is_parsed_from_json(fake_qemu_img: Path) -> None:
    fake_qemu_img.write_text(
        'echo \'{"check-errors": 0, "leaks": 2, "corruptions": 0, "filename": "t.img"}\'\nexit 3\n'
    )
    res = image.check_image("t.img", quiet=True)
    assert res.supported
    assert (res.leaks, res.corruptions, res.returncode) == (2, 0, 3)
