"""iotests.build.sources: ``debian:SUITE`` through a private apt index, with a fake apt.

The fake stands in for apt-get and apt-cache (and pip) only; ``dpkg
--compare-versions`` and everything else still runs for real. Each test
checks what apt was asked, and that no argument points apt at the host's
own sources, lists or caches.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from rich.console import Console

from iotests import command
from iotests.build.cache import Cache
from iotests.build.config import BuildConfig, load_build_config
from iotests.build.sources import (
    Context,
    DebianSuiteSource,
    missing_device_trees,
    normalise_spec,
    parse_source,
    wanted_wheels,
)
from iotests.errors import BuildError, UsageError

real_runner = command.runner

PYTHONDEPS = """
[meson]
meson = { accepted = ">=1.5.0", installed = "1.9.0", canary = "meson" }
pycotap = { accepted = ">=1.1.0", installed = "1.3.1" }

[docs]
sphinx = { accepted = ">=3.4.3", installed = "6.2.1", canary = "sphinx-build" }
"""


def _orig_tarball(version: str) -> bytes:
    """A tiny stand-in for Debian's stripped .orig tarball of QEMU *version*."""
    files = {
        f"qemu-{version}/VERSION": f"{version}\n",
        f"qemu-{version}/configure": "#!/bin/sh\n",
        f"qemu-{version}/pythondeps.toml": PYTHONDEPS,
        f"qemu-{version}/pc-bios/dtb/bamboo.dts": "/dts-v1/;\n",
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(raw.getvalue())


@dataclass
class FakeApt:
    """apt-get, apt-cache and pip as a mirror listing *records* would answer them."""

    #: Debian version -> .orig tarball bytes; None: listed but not on the mirror.
    uploads: dict[str, bytes | None]
    calls: list[tuple[str, ...]] = field(default_factory=list)
    update_fails: bool = False

    def showsrc(self) -> str:
        blocks = []
        for version, data in self.uploads.items():
            upstream = version.split(":")[-1].rsplit("-", 1)[0]
            digest = _sha256(data or b"gone")
            blocks.append(
                f"Package: qemu\nVersion: {version}\nChecksums-Sha256:\n"
                f" {digest} {len(data or b'')} qemu_{upstream}.orig.tar.xz\n"
            )
        return "\n".join(blocks)

    def __call__(self, argv: list[str], **kwargs: object) -> command.Completed:
        tool = Path(argv[0]).name
        if tool not in ("apt-get", "apt-cache") and argv[1:3] != ["-m", "pip"]:
            return real_runner(argv, **kwargs)
        self.calls.append(tuple(argv))
        verb = [a for a in argv[1:] if not a.startswith("-") and "::" not in a]
        if verb[:1] == ["update"]:
            if self.update_fails:
                return command.Completed(tuple(argv), 100, "", "E: 404  Not Found\n")
            return command.Completed(tuple(argv), 0, "Reading package lists...\n", "")
        if verb[:1] == ["showsrc"]:
            return command.Completed(tuple(argv), 0, self.showsrc(), "")
        if verb[:1] == ["source"]:
            version = argv[-1].split("=", 1)[1]
            data = self.uploads[version]
            if data is None:
                return command.Completed(tuple(argv), 100, "E: Failed to fetch ... 404\n", "")
            upstream = version.split(":")[-1].rsplit("-", 1)[0]
            cwd = Path(str(kwargs["cwd"]))
            (cwd / f"qemu_{upstream}.orig.tar.xz").write_bytes(data)
            return command.Completed(tuple(argv), 0, "", "")
        if argv[1:4] == ["-m", "pip", "download"]:
            folder = Path(argv[argv.index("-d") + 1])
            for requirement in argv[argv.index("-d") + 2 :]:
                name, version = requirement.split("==")
                (folder / f"{name}-{version}-py3-none-any.whl").write_bytes(b"wheel")
            return command.Completed(tuple(argv), 0, "", "")
        raise AssertionError(f"unexpected command {argv}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def config(tmp_path: Path) -> BuildConfig:
    path = tmp_path / "iotests.yaml"
    path.write_text(
        f"build:\n  cache_dir: {tmp_path / 'cache'}\n"
        "  debian_mirror: http://mirror.invalid/debian/\n"
    )
    return load_build_config(path)


@pytest.fixture
def fake_apt(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeApt]:
    def install(uploads: dict[str, bytes | None], *, update_fails: bool = False) -> FakeApt:
        fake = FakeApt(uploads, update_fails=update_fails)
        monkeypatch.setattr(command, "runner", fake)
        return fake

    return install


@pytest.fixture
def dtc(monkeypatch: pytest.MonkeyPatch) -> None:
    """dtc on PATH, whether or not this machine has device-tree-compiler."""
    which = command.which
    monkeypatch.setattr(
        command,
        "which",
        lambda name, path=None: "/usr/bin/dtc" if name == "dtc" else which(name, path),
    )


def _apt_calls(fake: FakeApt) -> list[tuple[str, ...]]:
    return [c for c in fake.calls if Path(c[0]).name in ("apt-get", "apt-cache")]


def test_spelling() -> None:
    source = parse_source("debian:sid")
    assert isinstance(source, DebianSuiteSource)
    assert (source.suite, source.pinned) == ("sid", None)
    pinned = parse_source("debian:trixie-backports=1:11.1.3+ds-2~bpo13+1")
    assert isinstance(pinned, DebianSuiteSource)
    assert (pinned.suite, pinned.pinned) == ("trixie-backports", "1:11.1.3+ds-2~bpo13+1")
    assert normalise_spec("debian:sid") == "debian:sid"


@pytest.mark.parametrize("spec", ["debian:", "debian:Sid", "debian:sid=", "debian:sid=latest"])
def test_bad_spelling_is_one_line(spec: str) -> None:
    with pytest.raises(UsageError, match=r"expected debian:SUITE or debian:SUITE=VERSION"):
        parse_source(spec)


def test_index_is_private_and_fetched_once(
    config: BuildConfig, fake_apt: Callable[..., FakeApt]
) -> None:
    fake = fake_apt({"1:10.2.2+ds-1": b"a", "1:11.1.3+ds-1": b"b"})
    source = parse_source("debian:sid", config)
    assert source.identity()["version"] == "1:11.1.3+ds-1"
    assert source.label() == "debian-sid-11.1.3+ds-1"
    apt_dir = config.cache_dir / "apt" / "sid"
    sources_list = (apt_dir / "sources.list").read_text()
    assert sources_list.startswith("deb-src")
    assert sources_list.rstrip().endswith("http://mirror.invalid/debian sid main")
    assert len(sources_list.splitlines()) == 1

    calls = _apt_calls(fake)
    assert [c[0] for c in calls] == ["apt-get", "apt-cache"]
    for call in calls:
        options = dict(call[i + 1].split("=", 1) for i, arg in enumerate(call) if arg == "-o")
        for key in ("Dir::Etc::SourceList", "Dir::Etc::SourceParts", "Dir::State::Lists"):
            assert Path(options[key]).is_relative_to(apt_dir), key
        assert Path(options["Dir::Cache"]).is_relative_to(apt_dir)
        assert options["Acquire::Check-Valid-Until"] == "false"
        assert not any("/etc/apt" in arg or "/var/lib/apt" in arg for arg in call)

    # A second source object (a later run) reuses the index: no update.
    fake.calls.clear()
    assert parse_source("debian:sid", config).identity() == source.identity()
    assert [c[0] for c in _apt_calls(fake)] == ["apt-cache"]


def test_a_new_mirror_fetches_the_index_again(
    tmp_path: Path, config: BuildConfig, fake_apt: Callable[..., FakeApt]
) -> None:
    fake = fake_apt({"1:10.2.2+ds-1": b"a"})
    parse_source("debian:sid", config).identity()
    moved = replace(config, debian_mirror="http://other.invalid/debian")
    fake.calls.clear()
    parse_source("debian:sid", moved).identity()
    assert [c[0] for c in _apt_calls(fake)] == ["apt-get", "apt-cache"]
    assert "other.invalid" in (config.cache_dir / "apt" / "sid" / "sources.list").read_text()


def test_failed_update_leaves_no_index_behind(
    config: BuildConfig, fake_apt: Callable[..., FakeApt]
) -> None:
    fake = fake_apt({"1:10.2.2+ds-1": b"a"}, update_fails=True)
    with pytest.raises(BuildError, match=r"could not fetch the index of 'deb-src.* sid main'"):
        parse_source("debian:sid", config).identity()
    assert not (config.cache_dir / "apt" / "sid" / "index.ok").exists()
    fake.update_fails = False
    fake.calls.clear()
    parse_source("debian:sid", config).identity()
    assert [c[0] for c in _apt_calls(fake)] == ["apt-get", "apt-cache"]


def test_pinned_version(config: BuildConfig, fake_apt: Callable[..., FakeApt]) -> None:
    fake_apt({"1:10.2.2+ds-1": b"a", "1:11.1.3+ds-1": b"b"})
    assert parse_source("debian:sid=10.2.2+ds-1", config).identity()["version"] == "1:10.2.2+ds-1"
    with pytest.raises(BuildError, match=r"lists no qemu 9.9\+ds-1 \(it lists: 1:10.2.2"):
        parse_source("debian:sid=9.9+ds-1", config).identity()


@pytest.mark.usefixtures("dtc")
def test_prepare_downloads_verifies_and_restores_wheels(
    tmp_path: Path, config: BuildConfig, fake_apt: Callable[..., FakeApt]
) -> None:
    fake = fake_apt({"1:10.2.2+ds-1": _orig_tarball("10.2.2")})
    source = parse_source("debian:sid", config)
    ctx = Context(cache=Cache(config.cache_dir), config=config, console=Console(file=io.StringIO()))
    prepared = source.prepare(ctx)
    assert prepared.version == "10.2.2"
    download = [c for c in _apt_calls(fake) if "source" in c]
    assert download
    assert download[0][-1] == "qemu=1:10.2.2+ds-1"
    assert "Dir::State::Lists=" + str(config.cache_dir / "apt" / "sid" / "lists") in download[0]
    wheels = sorted(p.name for p in (prepared.tree / "python" / "wheels").iterdir())
    assert wheels == ["meson-1.9.0-py3-none-any.whl", "pycotap-1.3.1-py3-none-any.whl"]

    # Again, in a fresh cache of sources only: the downloads (tarball, wheels) are reused.
    fake.calls.clear()
    shutil.rmtree(config.cache_dir / "sources")
    parse_source("debian:sid", config).prepare(ctx)
    assert [c for c in fake.calls if "source" in c or "pip" in c] == []


def test_vanished_upload_says_how_to_refresh(
    config: BuildConfig, fake_apt: Callable[..., FakeApt]
) -> None:
    fake_apt({"1:11.1.3+ds-1": None})
    ctx = Context(cache=Cache(config.cache_dir), config=config, console=Console(file=io.StringIO()))
    with pytest.raises(BuildError, match=r"may be older than the mirror: delete that directory"):
        parse_source("debian:sid", config).prepare(ctx)


def test_no_dtc_for_stripped_device_trees_is_one_line(
    config: BuildConfig, fake_apt: Callable[..., FakeApt], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_apt({"1:10.2.2+ds-1": _orig_tarball("10.2.2")})
    ctx = Context(cache=Cache(config.cache_dir), config=config, console=Console(file=io.StringIO()))
    monkeypatch.setattr(command, "which", lambda name, path=None: None)
    with pytest.raises(BuildError, match="needs dtc to make them: install device-tree-compiler"):
        parse_source("debian:sid", config).prepare(ctx)


def test_wanted_wheels_and_device_trees(tmp_path: Path) -> None:
    assert wanted_wheels(tmp_path) == []  # 7.2: no pythondeps.toml
    (tmp_path / "pythondeps.toml").write_text(PYTHONDEPS)
    assert wanted_wheels(tmp_path) == ["meson==1.9.0", "pycotap==1.3.1"]
    (tmp_path / "python" / "wheels").mkdir(parents=True)
    (tmp_path / "python" / "wheels" / "meson-1.9.0-py3-none-any.whl").write_bytes(b"")
    assert wanted_wheels(tmp_path) == ["pycotap==1.3.1"]
    dtb = tmp_path / "pc-bios" / "dtb"
    dtb.mkdir(parents=True)
    (dtb / "a.dts").write_text("")
    (dtb / "b.dts").write_text("")
    (dtb / "b.dtb").write_bytes(b"")
    assert missing_device_trees(tmp_path) == ["a"]
