"""iotests.build.extract: members escaping the target are refused, nothing is left behind."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from iotests.build.extract import safe_extract
from iotests.errors import BuildError


def make_tarball(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:xz") as tar:
        for member in members:
            data = b"x" * member.size if member.isfile() else None
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 3
    info.mode = mode
    return info


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_good_tarball(tmp_path: Path) -> None:
    archive = make_tarball(
        tmp_path / "qemu-9.9.9.tar.xz",
        [
            file_member("qemu-9.9.9/VERSION"),
            file_member("qemu-9.9.9/configure", 0o755),
            link_member("qemu-9.9.9/link", "VERSION"),
        ],
    )
    top = safe_extract(archive, tmp_path / "out")
    assert top == tmp_path / "out" / "qemu-9.9.9"
    assert (top / "configure").stat().st_mode & 0o100
    assert (top / "link").read_text() == "xxx"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (file_member("../evil"), "leads outside the target directory"),
        (file_member("qemu/../../evil"), "leads outside the target directory"),
        (file_member("/etc/evil"), "absolute path"),
        (link_member("qemu/link", "../../outside"), "link points outside"),
        (link_member("qemu/abs", "/etc/passwd"), "link"),
        (link_member("qemu/hard", "../../x", tarfile.LNKTYPE), "outside"),
    ],
)
def test_escaping_members_are_refused_and_nothing_remains(
    tmp_path: Path, member: tarfile.TarInfo, why: str
) -> None:
    archive = make_tarball(tmp_path / "bad.tar.xz", [file_member("qemu/ok"), member])
    target = tmp_path / "area" / "out"
    with pytest.raises(BuildError) as info:
        safe_extract(archive, target)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"bad.tar.xz: refusing to extract member {member.name!r}")
    assert why in message
    assert list((tmp_path / "area").iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_damaged_archive(tmp_path: Path) -> None:
    archive = tmp_path / "broken.tar.xz"
    archive.write_bytes(b"\xfd7zXZ\x00garbage")
    with pytest.raises(BuildError, match=r"broken\.tar\.xz: cannot extract"):
        safe_extract(archive, tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["broken.tar.xz"]


def test_refuses_to_extract_over_existing(tmp_path: Path) -> None:
    archive = make_tarball(tmp_path / "a.tar.xz", [file_member("a")])
    (tmp_path / "out").mkdir()
    with pytest.raises(BuildError, match="already exists"):
        safe_extract(archive, tmp_path / "out")
