"""The case library against real QEMU: pattern checks, sessions, luks, crafted images."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from iotests import lib
from iotests.lib.craft import DMG_RAW, DMG_ZEROES, cloop_image, dmg_image
from iotests.lib.env import case_env

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-img") is None or shutil.which("qemu-io") is None,
        reason="qemu-img and qemu-io not on PATH",
    ),
]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A case environment whose TEST_DIR is *tmp_path* (format qcow2 unless changed)."""
    for name in ("IOTESTS_NOTRUN_FILE", "IOTESTS_EVENTS", "IMGOPTS", "IOTESTS_VALGRIND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.setenv("IMGFMT", "qcow2")
    case_env.cache_clear()
    yield tmp_path
    case_env.cache_clear()


def test_verify_fails_on_one_wrong_byte(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = lib.test_image()
    assert lib.create(img, "1M", fmt="raw", quiet=True)
    lib.write(img, (0x11, 0, "64k"), fmt="raw")
    assert lib.verify(img, (0x11, 0, "64k"), fmt="raw")
    with open(img, "r+b") as f:
        f.seek(40000)
        f.write(b"\x12")
    assert not lib.verify(img, (0x11, 0, "64k"), fmt="raw", what="data")
    out = capsys.readouterr().out
    assert "FAIL: data" in out
    assert "Pattern verification failed" in out


def test_session_holds_the_image_locked(scratch: Path) -> None:
    img = lib.test_image()
    lib.create(img, "1M", quiet=True)
    with lib.qemu_io_session(img) as session:
        assert "wrote 512/512" in session.cmd("write -P 0x33 0 512")
        second = lib.qemu_io(img, "read 0 512", quiet=True)
        assert not second.ok
        assert "lock" in second.output
    assert lib.verify(img, (0x33, 0, 512))


def test_session_reports_an_image_it_cannot_open(scratch: Path) -> None:
    with (
        pytest.raises(lib.QemuToolError, match="can't open"),
        lib.qemu_io_session(str(scratch / "missing.img")),
    ):
        pass


def test_luks_images_open_through_every_helper(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMGFMT", "luks")
    case_env.cache_clear()
    img, copy = lib.test_image(), lib.test_image("copy")
    if not lib.create(img, "1M", quiet=True):
        pytest.skip("this qemu-img cannot create luks images")
    lib.write(img, (0x44, 0, "4k"))
    assert lib.convert(img, copy, dst_fmt="raw", quiet=True)
    assert lib.compare(img, copy, fmt_b="raw", quiet=True)
    assert lib.verify(copy, (0x44, 0, "4k"), fmt="raw")
    assert not lib.check_image(img, quiet=True).supported


def test_crafted_cloop_and_dmg_images_open(scratch: Path) -> None:
    cloop = scratch / "c.img"
    cloop.write_bytes(cloop_image(b"\x5a" * 4096, 2048))
    assert lib.verify(str(cloop), (0x5A, 0, 4096), fmt="cloop", extra=("-r",))
    dmg = scratch / "d.img"
    dmg.write_bytes(dmg_image([(DMG_RAW, b"\x6b" * 1024), (DMG_ZEROES, 2)]))
    assert lib.virtual_size(str(dmg), fmt="dmg") == 2048
    assert lib.verify(str(dmg), (0x6B, 0, 1024), (0, 1024, 1024), fmt="dmg", extra=("-r",))


def test_check_image_opens_luks_inside_qcow2_with_the_secret(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = lib.test_image()
    assert lib.create(img, "4M", options=lib.crypt.create_options("qcow2"), quiet=True)
    capsys.readouterr()
    without = lib.check_image(img)
    assert not without.clean or without.returncode != 0
    assert "check: clean" not in capsys.readouterr().out
    result = lib.check_image(img, encrypted=True)
    assert result.supported
    assert result.clean
    assert result.returncode == 0
    assert capsys.readouterr().out == "check: clean\n"
