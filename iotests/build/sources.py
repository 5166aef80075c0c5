"""Where QEMU source comes from: one adapter per kind of source.

``--source`` takes a release version (``9.2.0``: fetched and verified), a
local tarball, a local source tree (built out of tree, never modified),
``debian`` (the source package of the host's own apt sources via ``apt-get
source``) or ``debian:SUITE`` (that suite's, e.g. ``debian:sid``, through a
private apt index that leaves the host's apt untouched). Each
adapter knows its own identity (for the cache key, computed without network
so that a cached build is found in well under a second) and its own quirks;
nothing outside this module special-cases a kind of source.
"""

from __future__ import annotations

import abc
import functools
import os
import pwd
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from iotests import command
from iotests.build import fetch, verify, wheels
from iotests.build.cache import Cache
from iotests.build.config import BuildConfig
from iotests.build.extract import safe_extract, top_directory
from iotests.build.profiles import Profile, parse_version
from iotests.errors import BuildError, CommandError, UsageError

_RELEASE_RE = re.compile(r"\d+\.\d+\.\d+(?:-rc\d+)?")
#: ``debian:SUITE[=VERSION]``: a suite or codename as the archive names it (sid,
#: trixie-backports), optionally one Debian version of its qemu source package.
_SUITE_RE = re.compile(r"debian:([a-z][a-z0-9.-]*)(?:=((?:\d+:)?\d[A-Za-z0-9.+~-]*))?")
_TARBALL_SUFFIXES = (".tar.xz", ".tar.bz2", ".tar.gz", ".tgz", ".tar")


def normalise_spec(spec: str) -> str:
    """*spec* as recorded in manifests: paths made absolute, other specs unchanged."""
    if spec == "debian" or _SUITE_RE.fullmatch(spec) or _RELEASE_RE.fullmatch(spec):
        return spec
    return str(Path(spec).expanduser().resolve())


@dataclass(frozen=True)
class Prepared:
    """A source tree ready to configure, and the upstream version it holds."""

    tree: Path
    version: str


@dataclass(frozen=True)
class Context:
    """What preparing a source may use."""

    cache: Cache
    config: BuildConfig
    console: Console
    offline: bool = False
    allow_unverified: bool = False
    show_progress: bool = True


class Source(abc.ABC):
    """One kind of source; subclasses add their quirks by overriding the hooks."""

    kind: str = ""
    #: True when the source can change under the same identity (a working
    #: tree): it is then rebuilt incrementally each time instead of skipped.
    incremental: bool = False

    def __init__(self, spec: str) -> None:
        self.spec = normalise_spec(spec)

    @abc.abstractmethod
    def identity(self) -> dict[str, str]:
        """What makes this source this source; cheap and without network access."""

    @abc.abstractmethod
    def label(self) -> str:
        """A short human name used at the start of cache keys."""

    @abc.abstractmethod
    def prepare(self, ctx: Context) -> Prepared:
        """Fetch, verify and extract as needed; return the tree to configure."""

    def configure_options(self, tree: Path, profile: Profile) -> list[str]:
        """Options this source needs on top of the profile's."""
        return []

    def build_env(self, profile: Profile, env: Mapping[str, str], scratch: Path) -> dict[str, str]:
        """The environment configure and ninja run in (*scratch* is a private directory)."""
        return dict(env)

    def after_build(  # noqa: B027 - an optional hook: most sources need no finishing
        self, profile: Profile, build_tree: Path, options: list[str]
    ) -> None:
        """Finishing touches to a successful build tree."""

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "spec": self.spec, "identity": self.identity()}


def parse_source(spec: str, config: BuildConfig | None = None) -> Source:
    """The adapter for a ``--source`` value.

    *config* is the run's build config: ``debian:SUITE`` keeps its apt index
    in that config's cache and reads it from its mirror (without one, the
    config found the usual way is read when the index is first needed).

    :raises UsageError: when *spec* is neither a version, ``debian``,
        ``debian:SUITE``, nor an existing tarball or directory.
    """
    if spec == "debian":
        return DebianSource(spec)
    if _SUITE_RE.fullmatch(spec):
        return DebianSuiteSource(spec, config)
    if spec.startswith("debian:"):
        raise UsageError(
            f"--source {spec}: expected debian:SUITE or debian:SUITE=VERSION, with a Debian "
            "suite such as sid and a version such as 1:10.2.2+ds-1"
        )
    if _RELEASE_RE.fullmatch(spec):
        return ReleaseSource(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return TreeSource(spec)
    if path.is_file():
        if not path.name.endswith(_TARBALL_SUFFIXES):
            raise UsageError(
                f"--source {spec}: not a tarball (expected one of {', '.join(_TARBALL_SUFFIXES)})"
            )
        return TarballSource(spec)
    raise UsageError(
        f"--source {spec}: expected a release version such as 9.2.0, 'debian', "
        "'debian:SUITE', a tarball or a source directory"
    )


def _version_file(tree: Path) -> str:
    try:
        return (tree / "VERSION").read_text(encoding="utf-8").strip()
    except OSError:
        raise BuildError(f"{tree}: no VERSION file; is this a QEMU source tree?") from None


def _extract_once(ctx: Context, archive: Path, source_id: str) -> Path:
    """Extract *archive* under sources/ once; later calls reuse the tree."""
    dest = ctx.cache.sources / source_id
    with ctx.cache.lock(f"source-{source_id}"):
        if dest.is_dir():
            return top_directory(dest)
        ctx.console.print(f"extracting {archive.name}")
        return safe_extract(archive, dest)


def _file_id(label: str, digest: str) -> str:
    return f"{label}-{digest[:12]}"


class ReleaseSource(Source):
    """A QEMU release fetched from the download site (or a mirror) and verified."""

    kind = "release"

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.version = spec

    @property
    def filename(self) -> str:
        return f"qemu-{self.version}.tar.xz"

    def identity(self) -> dict[str, str]:
        return {"kind": self.kind, "version": self.version}

    def label(self) -> str:
        return f"qemu-{self.version}"

    def fetch(self, ctx: Context) -> Path:
        """Download (or find cached) and verify the release tarball; return its path.

        :raises BuildError: not found, not verifiable, or failing verification.
        """
        url = ctx.config.download_url + self.filename
        dest = ctx.cache.downloads / self.filename
        sig = ctx.cache.downloads / (self.filename + ".sig")
        if not dest.exists():
            try:
                fetch.download(
                    url + ".sig", sig, offline=ctx.offline, console=ctx.console, show_progress=False
                )
            except fetch.NotFoundError:
                ctx.console.print(f"no signature published at {url}.sig")
            except BuildError:
                if not ctx.offline:
                    raise
        check = functools.partial(self._verify, ctx=ctx, sig=sig)
        return fetch.download(
            url,
            dest,
            verify=check,
            offline=ctx.offline,
            console=ctx.console,
            show_progress=ctx.show_progress,
        )

    def _verify(self, path: Path, *, ctx: Context, sig: Path) -> bool:
        """Check *path* against the pin and the signature; True when either proved it.

        :raises BuildError: a check failed, or nothing could be checked and
            unverified tarballs are not allowed.
        """
        pinned = ctx.config.sha256.get(self.version)
        if pinned:
            verify.check_sha256(path, pinned, self.filename)
            ctx.console.print(f"{self.filename}: SHA-256 matches the pinned value")
        if sig.is_file():
            try:
                result = verify.verify_signature(
                    path, sig, ctx.config.gpg_fingerprints, name=self.filename
                )
            except BuildError:
                sig.unlink()  # a wrong signature must not fail the next, fixed, attempt too
                raise
        else:
            result = verify.SignatureResult(False, "no .sig file")
        ctx.console.print(
            f"{self.filename}: signature "
            f"{'verified' if result.verified else 'not checked'}: {result.detail}"
        )
        if not pinned and not result.verified and not ctx.allow_unverified:
            raise BuildError(
                f"{self.filename}: cannot be verified: no build.sha256.{self.version} in "
                f"{ctx.config.source} and {result.detail}; pin a checksum, import the release "
                "key, or pass --allow-unverified"
            )
        return bool(pinned) or result.verified

    def prepare(self, ctx: Context) -> Prepared:
        archive = self.fetch(ctx)
        tree = _extract_once(ctx, archive, _file_id(self.label(), verify.sha256_of(archive)))
        return Prepared(tree, self.version)


class TarballSource(Source):
    """A local tarball, identified by its contents (renaming it does not rebuild)."""

    kind = "tarball"

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.path = Path(self.spec)

    @functools.cached_property
    def digest(self) -> str:
        return verify.sha256_of(self.path)

    def identity(self) -> dict[str, str]:
        return {"kind": self.kind, "sha256": self.digest}

    def label(self) -> str:
        name = self.path.name
        for suffix in _TARBALL_SUFFIXES:
            name = name.removesuffix(suffix)
        return name

    def prepare(self, ctx: Context) -> Prepared:
        match = re.fullmatch(r"qemu-(.+)\.tar\.xz", self.path.name)
        pinned = ctx.config.sha256.get(match.group(1)) if match else None
        if pinned:
            verify.check_sha256(self.path, pinned, self.path.name)
        tree = _extract_once(ctx, self.path, _file_id(self.label(), self.digest))
        return Prepared(tree, _version_file(tree))


class TreeSource(Source):
    """A developer's checkout: configured from outside, built out of tree, never written to."""

    kind = "tree"
    incremental = True

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.path = Path(self.spec)

    def identity(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.spec}

    def label(self) -> str:
        return f"tree-{self.path.name}"

    def prepare(self, ctx: Context) -> Prepared:
        if not (self.path / "configure").is_file():
            raise BuildError(f"{self.path}: no configure script; is this a QEMU source tree?")
        return Prepared(self.path, _version_file(self.path))

    def configure_options(self, tree: Path, profile: Profile) -> list[str]:
        # Keep configure from updating git submodules or downloading meson
        # subprojects into the developer's tree.
        script = (tree / "configure").read_text(encoding="utf-8", errors="replace")
        options = []
        if "--with-git-submodules" in script:
            options.append("--with-git-submodules=ignore")
        if "--disable-download" in script:
            options.append("--disable-download")
        return options


@dataclass(frozen=True)
class DebianRecord:
    """One source package record from ``apt-cache showsrc``."""

    version: str
    files: dict[str, str]  # file name -> sha256

    @property
    def upstream(self) -> str:
        """The upstream version: ``1:7.2+dfsg-7+deb12u18`` gives ``7.2.0``."""
        bare = self.version.split(":", 1)[-1].rsplit("-", 1)[0]
        return ".".join(str(part) for part in parse_version(bare))

    @property
    def orig(self) -> str:
        for name in self.files:
            if ".orig.tar." in name:
                return name
        raise BuildError(f"Debian source package qemu {self.version} has no .orig tarball")


def parse_showsrc(text: str) -> list[DebianRecord]:
    """The records of ``apt-cache showsrc`` output (pure; table-tested)."""
    records: list[DebianRecord] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        version = ""
        files: dict[str, str] = {}
        in_sums = False
        for line in block.splitlines():
            if line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
            if line.startswith("Checksums-Sha256:"):
                in_sums = True
                continue
            if in_sums and line.startswith(" "):
                digest, _size, name = line.split()
                files[name] = digest
            else:
                in_sums = False
        if version and files:
            records.append(DebianRecord(version, files))
    return records


class DebianSource(Source):
    """Debian's ``qemu`` source package, built from its .orig tarball alone.

    Debian strips firmware blobs from the tarball, which needs three quirks,
    kept here: ``--disable-install-blobs``; for system emulators, configure
    must not find bzip2 (else meson tries to unpack the missing EDK2
    firmware); and the emulator's BIOS files come from Debian's seabios,
    qemu-system-data and ipxe-qemu packages, linked into the build tree.
    From QEMU 10 on (``+ds`` tarballs) Debian also strips python/wheels,
    where configure finds the meson it needs (see :func:`restore_wheels`),
    and pc-bios/dtb's blobs, which configure then wants dtc to make.
    """

    kind = "debian"
    PACKAGE = "qemu"
    FIRMWARE_DIRS = (
        Path("/usr/share/qemu"),
        Path("/usr/share/seabios"),
        Path("/usr/lib/ipxe/qemu"),
    )

    def apt(self, tool: str, *args: str) -> list[str]:
        """The command line of apt tool *tool* reading this source's package index."""
        return [tool, *args]

    def no_package(self) -> str:
        """What to do when the index has no qemu source package."""
        return (
            "no Debian source package for qemu: add a deb-src entry (e.g. 'deb-src "
            "http://deb.debian.org/debian bookworm main') and run apt-get update, "
            "or name a suite: --source debian:SUITE"
        )

    def records(self) -> list[DebianRecord]:
        """Every qemu source package the index lists (at least one).

        :raises BuildError: without apt, or when the index lists none.
        """
        try:
            out = command.run(
                self.apt("apt-cache", "showsrc", "--only-source", self.PACKAGE),
                merge_stderr=False,
                check=False,
            )
        except CommandError as exc:
            raise BuildError(f"--source {self.spec} needs apt: {exc}") from exc
        records = parse_showsrc(out.stdout)
        if not records:
            raise BuildError(self.no_package())
        return records

    def choose(self, records: list[DebianRecord]) -> DebianRecord:
        """The record to build: the newest, as ``apt-get source`` itself would take."""
        return max(records, key=functools.cmp_to_key(_compare_debian_versions))

    @functools.cached_property
    def record(self) -> DebianRecord:
        return self.choose(self.records())

    def identity(self) -> dict[str, str]:
        record = self.record
        return {
            "kind": self.kind,
            "version": record.version,
            "orig_sha256": record.files[record.orig],
        }

    def label(self) -> str:
        return f"debian-{self.record.version.split(':', 1)[-1]}"

    def prepare(self, ctx: Context) -> Prepared:
        record = self.record
        folder = ctx.cache.downloads / "debian"
        orig = folder / record.orig
        expected = record.files[record.orig]
        if not orig.is_file():
            if ctx.offline:
                raise BuildError(f"offline: {record.orig} is not in the download cache ({folder})")
            self._download(ctx, folder, record)
        verify.check_sha256(orig, expected, record.orig)
        source_id = _file_id(self.label(), expected)
        tree = _extract_once(ctx, orig, source_id)
        with ctx.cache.lock(f"wheels-{source_id}"):
            restore_wheels(ctx, tree)
        if missing_device_trees(tree) and not command.which("dtc"):
            raise BuildError(
                f"Debian's qemu {record.version} has no prebuilt device trees and configure "
                "needs dtc to make them: install device-tree-compiler"
            )
        return Prepared(tree, record.upstream)

    def _download(self, ctx: Context, folder: Path, record: DebianRecord) -> None:
        staging = folder / f".download-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            ctx.console.print(f"apt-get source --download-only {self.PACKAGE}={record.version}")
            command.run(
                self.apt(
                    "apt-get", "source", "--download-only", "-q", f"{self.PACKAGE}={record.version}"
                ),
                cwd=staging,
            )
            for name, digest in record.files.items():
                verify.check_sha256(staging / name, digest, name)
            for name in record.files:
                os.replace(staging / name, folder / name)
        except CommandError as exc:
            raise BuildError(f"apt-get source failed: {exc}{self.download_hint()}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def download_hint(self) -> str:
        """Added to a failed download's message: how the index may be put right."""
        return ""

    def configure_options(self, tree: Path, profile: Profile) -> list[str]:
        return ["--disable-install-blobs"]

    def build_env(self, profile: Profile, env: Mapping[str, str], scratch: Path) -> dict[str, str]:
        result = dict(env)
        if profile.has_system_emulator and command.which("bzip2", path=env.get("PATH")):
            result["PATH"] = str(path_without(env.get("PATH", ""), "bzip2", scratch / "bin"))
        return result

    def after_build(self, profile: Profile, build_tree: Path, options: list[str]) -> None:
        if not profile.has_system_emulator:
            return
        prefix = "/usr/local"
        for option in options:
            if option.startswith("--prefix="):
                prefix = option.split("=", 1)[1]
        link_firmware(
            self.FIRMWARE_DIRS, build_tree / "qemu-bundle" / prefix.lstrip("/") / "share" / "qemu"
        )


class DebianSuiteSource(DebianSource):
    """The ``qemu`` source package of one Debian suite (``debian:sid``), whatever the host runs.

    The host's apt is left exactly as it was: the suite's deb-src index lives
    in a private apt directory below the build cache (``apt/<suite>/``), and
    every apt call names it with ``-o Dir::...`` options, so no sources list,
    index or package cache of the host changes, and the host can never
    install a binary from that suite. The index is fetched on first use
    (ignoring Valid-Until: a mirror frozen in time still verifies by its
    signature, and the tarball by the index's SHA-256) and then kept, so the
    build key, which holds the package version, stays put and a warm cache
    finds its build without the network. Deleting ``apt/<suite>/`` follows
    the suite to its newest upload. ``debian:SUITE=VERSION`` takes that
    version instead of the newest, for an index listing several (a partial
    mirror may serve the files of only some).
    """

    kind = "debian-suite"
    KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

    def __init__(self, spec: str, config: BuildConfig | None = None) -> None:
        super().__init__(spec)
        match = _SUITE_RE.fullmatch(self.spec)
        if match is None:
            raise UsageError(f"--source {spec}: expected debian:SUITE")
        self.suite = match.group(1)
        self.pinned = match.group(2)
        self._config = config

    @functools.cached_property
    def config(self) -> BuildConfig:
        if self._config is not None:
            return self._config
        from iotests.build.config import load_build_config

        return load_build_config()

    @property
    def apt_dir(self) -> Path:
        return self.config.cache_dir / "apt" / self.suite

    def sources_line(self) -> str:
        """The one deb-src entry the private index is made from."""
        signed = f" [signed-by={self.KEYRING}]" if self.KEYRING.is_file() else ""
        return f"deb-src{signed} {self.config.debian_mirror} {self.suite} main\n"

    def apt(self, tool: str, *args: str) -> list[str]:
        root = self.apt_dir
        return [
            tool,
            "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
            "-o", f"Dir::Etc::SourceParts={root / 'sources.list.d'}",
            "-o", f"Dir::State::Lists={root / 'lists'}",
            "-o", f"Dir::Cache={root / 'cache'}",
            "-o", "Acquire::Check-Valid-Until=false",
            # apt run by root hands downloads to _apt, which cannot enter a
            # private cache below root's home: download as ourselves.
            "-o", f"APT::Sandbox::User={pwd.getpwuid(os.getuid()).pw_name}",
            *args,
        ]  # fmt: skip

    def ensure_index(self) -> None:
        """Fetch the suite's source index into the private directory unless it is there.

        A marker written after a successful ``apt-get update`` names the
        entry it was made from: a half-fetched index, or one from another
        mirror, is fetched anew.

        :raises BuildError: when apt cannot fetch it (naming the entry).
        """
        root = self.apt_dir
        marker = root / "index.ok"
        line = self.sources_line()
        if _read(marker) == line:
            return
        with Cache(self.config.cache_dir).lock(f"apt-{self.suite}"):
            if _read(marker) == line:
                return
            marker.unlink(missing_ok=True)
            for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            (root / "sources.list").write_text(line, encoding="utf-8")
            try:
                command.run(self.apt("apt-get", "update", "-q"), timeout=600)
            except CommandError as exc:
                raise BuildError(
                    f"--source {self.spec}: could not fetch the index of '{line.strip()}': {exc}"
                ) from exc
            marker.write_text(line, encoding="utf-8")

    def records(self) -> list[DebianRecord]:
        self.ensure_index()
        return super().records()

    def choose(self, records: list[DebianRecord]) -> DebianRecord:
        if self.pinned is None:
            return super().choose(records)
        return pick_version(records, self.pinned, self.spec)

    def no_package(self) -> str:
        return f"Debian {self.suite} has no qemu source package (index: {self.apt_dir})"

    def download_hint(self) -> str:
        return (
            f" (the {self.suite} index in {self.apt_dir} may be older than the mirror: "
            "delete that directory to fetch it anew)"
        )

    def identity(self) -> dict[str, str]:
        return {**super().identity(), "suite": self.suite}

    def label(self) -> str:
        return f"debian-{self.suite}-{self.record.version.split(':', 1)[-1]}"


def wanted_wheels(tree: Path) -> list[str]:
    """The ``name==version`` of each wheel configure installs offline that *tree* lacks.

    pythondeps.toml (QEMU 8.1 on) names, per group, the version configure
    installs from python/wheels without ever asking PyPI; only the ``meson``
    group is needed to configure (the others are asked for online or not
    at all). A tree without that file (7.2) needs nothing.
    """
    try:
        deps = tomllib.loads((tree / "pythondeps.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"{tree / 'pythondeps.toml'}: unreadable: {exc}") from exc
    wheels = tree / "python" / "wheels"
    wanted = []
    for name, spec in deps.get("meson", {}).items():
        installed = spec.get("installed") if isinstance(spec, dict) else None
        if not installed:
            continue
        stem = f"{name.replace('-', '_')}-{installed}-"
        if not any(p.name.startswith(stem) for p in wheels.glob("*.whl")):
            wanted.append(f"{name}=={installed}")
    return wanted


def missing_device_trees(tree: Path) -> list[str]:
    """The device tree blobs *tree*'s pc-bios/dtb has sources for but no prebuilt file."""
    folder = tree / "pc-bios" / "dtb"
    return sorted(p.stem for p in folder.glob("*.dts") if not p.with_suffix(".dtb").exists())


def restore_wheels(ctx: Context, tree: Path) -> None:
    """Put back the wheels configure needs that Debian stripped from *tree*.

    Fetched once from the package index (``build.python_index``) into
    downloads/wheels/, without pip (see :mod:`iotests.build.wheels`), and
    copied into the toolkit's own extracted tree, which is never a user's:
    configure then installs them offline, as from a release tarball.

    :raises BuildError: offline without them cached, or when a fetch fails.
    """
    wanted = wanted_wheels(tree)
    if not wanted:
        return
    folder = ctx.cache.downloads / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    (tree / "python" / "wheels").mkdir(parents=True, exist_ok=True)
    for requirement in wanted:
        name, version = requirement.split("==")
        if not list(folder.glob(f"{wheels.wheel_stem(name, version)}*.whl")):
            ctx.console.print(f"fetching wheel {requirement} (stripped from Debian's tarball)")
        try:
            found = wheels.fetch_wheel(
                name, version, folder, index_url=ctx.config.python_index, offline=ctx.offline,
                console=ctx.console, show_progress=ctx.show_progress,
            )  # fmt: skip
        except BuildError as exc:
            raise BuildError(f"could not fetch the wheels configure needs: {exc}") from exc
        target = tree / "python" / "wheels" / found.name
        shutil.copyfile(found, target.with_name(target.name + ".part"))
        os.replace(target.with_name(target.name + ".part"), target)


def pick_version(records: list[DebianRecord], version: str, spec: str) -> DebianRecord:
    """The record of Debian *version* (its epoch may be left out) among *records*.

    :raises BuildError: naming the versions the index does list.
    """
    for record in records:
        if version in (record.version, record.version.split(":", 1)[-1]):
            return record
    listed = ", ".join(r.version for r in records) or "none"
    raise BuildError(f"--source {spec}: the index lists no qemu {version} (it lists: {listed})")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _compare_debian_versions(a: DebianRecord, b: DebianRecord) -> int:
    if a.version == b.version:
        return 0
    lower = command.run(["dpkg", "--compare-versions", a.version, "lt", b.version], check=False)
    return -1 if lower.returncode == 0 else 1


def path_without(path: str, program: str, shadow: Path) -> Path:
    """A directory of links to every program on *path* except *program*, first match wins."""
    shutil.rmtree(shadow, ignore_errors=True)
    shadow.mkdir(parents=True)
    for folder in path.split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            target = shadow / entry.name
            if entry.name != program and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return shadow


def link_firmware(sources: tuple[Path, ...], datadir: Path) -> int:
    """Link firmware files from *sources* into *datadir* where missing; return how many."""
    datadir.mkdir(parents=True, exist_ok=True)
    linked = 0
    for folder in sources:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            target = datadir / entry.name
            if entry.is_file() and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.resolve())
                linked += 1
    return linked
