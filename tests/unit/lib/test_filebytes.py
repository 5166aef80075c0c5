"""Byte poking: writes land exactly where asked, never truncate or extend."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.lib.damage import poke, poke_int
from iotests.lib.filebytes import peek, peek_int


def test_poke_overwrites_in_place(tmp_path: Path) -> None:
    f = tmp_path / "img"
    f.write_bytes(bytes(16))
    poke(str(f), 4, b"\x01\x02", quiet=True)
    assert f.read_bytes() == bytes(4) + b"\x01\x02" + bytes(10)
    assert peek(str(f), 3, 4) == b"\x00\x01\x02\x00"


def test_poke_prints_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "img"
    f.write_bytes(bytes(8))
    poke(str(f), 2, b"\xab")
    assert capsys.readouterr().out == "poke: 1 bytes at offset 0x2: ab\n"


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_integers_are_big_endian(tmp_path: Path, width: int) -> None:
    f = tmp_path / "img"
    f.write_bytes(bytes(16))
    poke_int(str(f), 8, 0x5A, width, quiet=True)
    assert f.read_bytes()[8 : 8 + width] == (0x5A).to_bytes(width, "big")
    assert peek_int(str(f), 8, width) == 0x5A
    assert len(f.read_bytes()) == 16


def test_bad_width_and_short_read(tmp_path: Path) -> None:
    f = tmp_path / "img"
    f.write_bytes(bytes(4))
    with pytest.raises(ValueError, match="width"):
        poke_int(str(f), 0, 1, 3, quiet=True)
    with pytest.raises(ValueError, match="only 2 of 4 bytes"):
        peek_int(str(f), 2, 4)
