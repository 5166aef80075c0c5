"""iotests.build.sources: choosing an adapter, Debian records, the adapters' quirks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from iotests.build.config import load_build_config
from iotests.build.profiles import Profile
from iotests.build.sources import (
    DebianRecord,
    DebianSource,
    ReleaseSource,
    TarballSource,
    TreeSource,
    link_firmware,
    parse_showsrc,
    parse_source,
    path_without,
)
from iotests.errors import UsageError

SHOWSRC = """Package: qemu
Binary: qemu-system, qemu-utils
Version: 1:7.2+dfsg-7+deb12u18
Checksums-Sha256:
 6b6b 6909 qemu_7.2+dfsg-7+deb12u18.dsc
 91ac 23523172 qemu_7.2+dfsg.orig.tar.xz
 28a1 405636 qemu_7.2+dfsg-7+deb12u18.debian.tar.xz
Homepage: http://www.qemu.org/

Package: qemu
Version: 1:9.2.1+ds-1
Checksums-Sha256:
 aaaa 1 qemu_9.2.1+ds.orig.tar.xz
"""


def test_parse_source_dispatch(tmp_path: Path) -> None:
    tarball = tmp_path / "qemu-9.2.0.tar.xz"
    tarball.write_bytes(b"")
    assert isinstance(parse_source("debian"), DebianSource)
    assert isinstance(parse_source("9.2.0"), ReleaseSource)
    assert isinstance(parse_source("9.2.0-rc1"), ReleaseSource)
    assert isinstance(parse_source(str(tarball)), TarballSource)
    assert isinstance(parse_source(str(tmp_path)), TreeSource)
    assert parse_source(str(tmp_path)).spec == str(tmp_path.resolve())


@pytest.mark.parametrize("spec", ["9.2", "latest", "/no/such/thing"])
def test_parse_source_rejects_unknown(spec: str) -> None:
    with pytest.raises(UsageError, match="expected a release version"):
        parse_source(spec)


def test_parse_source_rejects_non_tarball_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="not a tarball"):
        parse_source(str(tmp_path / "notes.txt"))


def test_showsrc_records() -> None:
    records = parse_showsrc(SHOWSRC)
    assert [r.version for r in records] == ["1:7.2+dfsg-7+deb12u18", "1:9.2.1+ds-1"]
    assert records[0].orig == "qemu_7.2+dfsg.orig.tar.xz"
    assert records[0].files["qemu_7.2+dfsg.orig.tar.xz"] == "91ac"
    assert records[0].upstream == "7.2.0"
    assert records[1].upstream == "9.2.1"
    assert DebianRecord("2.0-1", {"x.orig.tar.gz": "a"}).upstream == "2.0.0"


def test_debian_quirks_only_where_needed(tmp_path: Path) -> None:
    config = load_build_config(_empty(tmp_path))
    debian = DebianSource("debian")
    tools, system = config.profile("tools"), config.profile("system")
    assert debian.configure_options(tmp_path, tools) == ["--disable-install-blobs"]
    env = {"PATH": os.environ["PATH"]}
    assert debian.build_env(tools, env, tmp_path / "s") == env
    if shutil.which("bzip2"):
        hidden = debian.build_env(system, env, tmp_path / "s")["PATH"]
        assert shutil.which("bzip2", path=hidden) is None
        assert shutil.which("sh", path=hidden) is not None
    assert ReleaseSource("9.2.0").configure_options(tmp_path, system) == []


def test_tree_source_keeps_configure_away_from_the_tree(tmp_path: Path) -> None:
    (tmp_path / "configure").write_text("case $opt in --with-git-submodules=*) ;; esac\n")
    options = TreeSource(str(tmp_path)).configure_options(tmp_path, _tools(tmp_path))
    assert options == ["--with-git-submodules=ignore"]


def test_path_without_hides_one_program(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        for name in ("bzip2", "tool"):
            (folder / name).write_text(f"#!/bin/sh\necho {folder.name}\n")
            (folder / name).chmod(0o755)
    shadow = path_without(f"{first}:{second}", "bzip2", tmp_path / "shadow")
    assert sorted(p.name for p in shadow.iterdir()) == ["tool"]
    assert (shadow / "tool").resolve() == first / "tool"


def test_link_firmware_fills_gaps_only(tmp_path: Path) -> None:
    share, datadir = tmp_path / "share", tmp_path / "bundle"
    share.mkdir()
    datadir.mkdir()
    (share / "bios-256k.bin").write_bytes(b"bios")
    (share / "keymap").write_bytes(b"distro")
    (datadir / "keymap").write_bytes(b"built")
    assert link_firmware((share, tmp_path / "missing"), datadir) == 1
    assert (datadir / "bios-256k.bin").read_bytes() == b"bios"
    assert (datadir / "keymap").read_bytes() == b"built"


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("build: {}\n")
    return path


def _tools(tmp_path: Path) -> Profile:
    return load_build_config(_empty(tmp_path)).profile("tools")
