"""iotests.build.sources: ``debian:SUITE`` through a private apt index, with a fake apt.

The fake stands in for apt-get and apt-cache only; ``dpkg
--compare-versions`` and everything else still runs for real, and the
wheels come from a real PEP 691 index on loopback (pip is never run: the
toolkit's interpreter may have none). Each test checks what apt was asked,
and that no argument points apt at the host's own sources, lists or caches.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """apt-get and apt-cache as a mirror listing *records* would answer them."""

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
        assert "pip" not in argv[1:3], f"pip was run: {argv}"
        if tool not in ("apt-get", "apt-cache"):
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
        raise AssertionError(f"unexpected command {argv}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Index:
    """A PEP 691 simple index on loopback: project -> {wheel file name: bytes}."""

    url: str
    projects: dict[str, dict[str, bytes]]
    #: sha256 the index lists for a file, when it should lie about one.
    lies: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def index() -> Iterator[Index]:
    state = Index("", {})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(self.path)
            parts = [p for p in self.path.split("/") if p]
            body, kind = b"", "application/octet-stream"
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in state.projects:
                files = [
                    {
                        "filename": name,
                        "url": f"/files/{parts[1]}/{name}",
                        "hashes": {"sha256": state.lies.get(name, _sha256(data))},
                    }
                    for name, data in state.projects[parts[1]].items()
                ]
                body, kind = (
                    json.dumps({"files": files}).encode(),
                    "application/vnd.pypi.simple.v1+json",
                )
            elif len(parts) == 3 and parts[0] == "files":
                body = state.projects.get(parts[1], {}).get(parts[2], b"")
            if not body:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    state.projects = {
        "meson": {
            "meson-1.9.0.tar.gz": b"sdist",
            "meson-1.9.0-py3-none-any.whl": b"meson wheel",
            "meson-1.8.0-py3-none-any.whl": b"older",
        },
        "pycotap": {"pycotap-1.3.1-py3-none-any.whl": b"pycotap wheel"},
    }
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def config(tmp_path: Path, index: Index) -> BuildConfig:
    path = tmp_path / "iotests.yaml"
    path.write_text(
        f"build:\n  cache_dir: {tmp_path / 'cache'}\n"
        "  debian_mirror: http://mirror.invalid/debian/\n"
        f"  python_index: {index.url}/\n"
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
    tmp_path: Path, config: BuildConfig, fake_apt: Callable[..., FakeApt], index: Index
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
    wheels = {p.name: p.read_bytes() for p in (prepared.tree / "python" / "wheels").iterdir()}
    assert wheels == {
        "meson-1.9.0-py3-none-any.whl": b"meson wheel",
        "pycotap-1.3.1-py3-none-any.whl": b"pycotap wheel",
    }

    # Again, in a fresh cache of sources only: the downloads (tarball, wheels) are reused.
    fake.calls.clear()
    index.requests.clear()
    shutil.rmtree(config.cache_dir / "sources")
    parse_source("debian:sid", config).prepare(ctx)
    assert [c for c in fake.calls if "source" in c] == []
    assert index.requests == []


@pytest.mark.usefixtures("dtc")
@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("lie", r"pycotap-1.3.1-py3-none-any.whl: SHA-256 [0-9a-f]{64} is not the index's 0{64}"),
        ("no-wheel", r"the package index has no pure-Python wheel of pycotap 1.3.1"),
        ("no-project", r"/simple/pycotap/: the package index has no project pycotap \(HTTP 404\)"),
    ],
)
def test_a_bad_wheel_index_is_one_line_and_leaves_no_wheel(
    config: BuildConfig, fake_apt: Callable[..., FakeApt], index: Index, fault: str, problem: str
) -> None:
    fake_apt({"1:10.2.2+ds-1": _orig_tarball("10.2.2")})
    if fault == "lie":
        index.lies["pycotap-1.3.1-py3-none-any.whl"] = "0" * 64
    elif fault == "no-wheel":
        index.projects["pycotap"] = {"pycotap-1.3.1.tar.gz": b"sdist only"}
    else:
        del index.projects["pycotap"]
    ctx = Context(cache=Cache(config.cache_dir), config=config, console=Console(file=io.StringIO()))
    with pytest.raises(
        BuildError, match=r"could not fetch the wheels configure needs: .*" + problem
    ) as err:
        parse_source("debian:sid", config).prepare(ctx)
    assert "\n" not in str(err.value)
    folder = config.cache_dir / "downloads" / "wheels"
    assert not list(folder.glob("pycotap*")), "a wheel that was not proven stayed in the cache"


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
