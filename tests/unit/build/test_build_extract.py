"""iotests.build.extract: members escaping the target are refused, nothing is left behind."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from iotests.build.extract import Refused, TreeModel, safe_extract
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


# --- the toolkit's own rules, independent of the interpreter's tarfile filters ---------


def dir_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def test_release_like_tarball_with_links_extracts(tmp_path: Path) -> None:
    """What real source tarballs hold: links before their targets, chains, hard links, ./ names."""
    archive = make_tarball(
        tmp_path / "qemu.tar.xz",
        [
            dir_member("./qemu/"),
            link_member("./qemu/docs/latest", "v2"),
            dir_member("qemu/docs/v2"),
            file_member("qemu/docs/v2/index"),
            link_member("qemu/index", "docs/latest/index"),
            link_member("qemu/chain", "index"),
            link_member("qemu/roms/up", ".."),
            link_member("qemu/dangling", "build/generated.h"),
            file_member("qemu/configure", 0o4777),
            link_member("qemu/configure.hard", "qemu/configure", tarfile.LNKTYPE),
            dir_member("qemu/docs"),
        ],
    )
    top = safe_extract(archive, tmp_path / "out")
    assert top == tmp_path / "out" / "qemu"
    assert (top / "chain").read_text() == "xxx"
    assert (top / "roms" / "up").resolve() == top.resolve()
    assert os.readlink(top / "dangling") == "build/generated.h"
    assert (top / "configure").stat().st_mode & 0o7777 == 0o755
    assert (top / "configure.hard").stat().st_ino == (top / "configure").stat().st_ino
    assert (top / "docs").is_dir()


def test_short_realpath_attack_is_caught_by_the_symlink_rule(tmp_path: Path) -> None:
    """CVE-2025-4517's shape with short names: refused by structure, not by the length cap."""
    members, path = [], ""
    for step in "abcd":
        members += [
            dir_member(os.path.join(path, "c0")),
            link_member(os.path.join(path, step), "c0"),
        ]
        path = os.path.join(path, "c0")
    members.append(link_member("a/b/c/d/l", "../../../.."))
    archive = make_tarball(tmp_path / "evil.tar.xz", members)
    with pytest.raises(BuildError, match=r"member 'a/b/c/d/l': path goes through the symlink 'a'"):
        safe_extract(archive, tmp_path / "area" / "out")
    assert list((tmp_path / "area").iterdir()) == []


def test_refusal_after_data_was_written_leaves_nothing(tmp_path: Path) -> None:
    members = [file_member(f"qemu/f{i}") for i in range(50)] + [link_member("qemu/x", "/")]
    archive = make_tarball(tmp_path / "late.tar.xz", members)
    with pytest.raises(BuildError, match="'qemu/x': link to an absolute path"):
        safe_extract(archive, tmp_path / "area" / "out")
    assert list((tmp_path / "area").iterdir()) == []


def test_long_member_name_is_shortened_in_the_message(tmp_path: Path) -> None:
    name = "qemu/" + "/".join(["p" * 200] * 6)
    archive = make_tarball(tmp_path / "long.tar.xz", [file_member(name)])
    with pytest.raises(BuildError) as info:
        safe_extract(archive, tmp_path / "out")
    message = str(info.value)
    assert f"({len(name)} characters): path is {len(name)} bytes long (at most 1024" in message
    assert len(message) < 300


def build_model(steps: list[tuple[str, str, str]]) -> TreeModel:
    """Feed *steps* to a model, then judge every symlink against the finished tree."""
    model = TreeModel()
    for kind, name, target in steps:
        if kind == "sym":
            model.add_symlink(name, target)
        elif kind == "hard":
            model.add_hardlink(name, target)
        elif kind == "dir":
            model.add_directory(name)
        else:
            model.add_file(name)
    for key in model.symlinks():
        model.resolve_symlink(key, "/".join(key))
    return model


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        ([("sym", "a", "b"), ("sym", "b", "a")], "'b': symlink loop"),
        ([("sym", "a", "a/x")], "'a': symlink loop"),
        ([("sym", "a", "."), ("sym", "b", "a/..")], "'b': link points outside"),
        ([("sym", "a", "x/../.."), ("dir", "x", "")], "'a': link points outside"),
        ([("sym", "a", "/etc")], "'a': link to an absolute path"),
        ([("sym", "a", "")], "'a': symlink with an empty target"),
        ([("sym", "a", "b"), ("file", "a/f", "")], "'a/f': path goes through the symlink 'a'"),
        ([("file", "f", ""), ("file", "f/g", "")], "'f/g': path goes through the file 'f'"),
        ([("file", "f", ""), ("file", "f", "")], "'f': would replace the file"),
        ([("file", "d/f", ""), ("file", "d", "")], "'d': would replace the directory"),
        ([("sym", "s", "x"), ("dir", "s", "")], "'s': would replace the symlink"),
        ([("file", "f", ""), ("hard", "h", "g")], "'h': hard link to 'g', which is not"),
        ([("sym", "s", "f"), ("hard", "h", "s")], "'h': hard link to 's', which is not"),
        ([("hard", "h", "../f")], "'h': link points outside"),
        ([("hard", "h", "d/../f")], "'h': link target contains '..'"),
        ([("file", "a/../b", "")], "'a/../b': path contains '..'"),
        ([("file", "..", "")], "'..': path leads outside"),
        ([("file", "./", "")], "'./': names the target directory itself"),
        ([("file", "a\0b", "")], "NUL byte in the path"),
        ([("sym", "s", "x" * 1025)], "link target is 1025 bytes long"),
    ],
)
def test_model_refuses(steps: list[tuple[str, str, str]], why: str) -> None:
    with pytest.raises(Refused) as info:
        build_model(steps)
    assert why in f"{info.value.member!r}: {info.value.why}"


def test_model_follows_links_like_the_kernel() -> None:
    model = TreeModel()
    model.add_symlink("top/up", "..")
    model.add_symlink("top/deep/link", "../../top/up/top")
    model.add_directory("top/deep/dir")
    model.add_symlink("here", "top/deep/link/deep/dir/../../up")
    assert model.resolve_symlink(("here",), "here") == ()
    assert model.resolve_symlink(("top", "deep", "link"), "top/deep/link") == ("top",)
    assert model.add_directory("top/deep") == ("top", "deep")
