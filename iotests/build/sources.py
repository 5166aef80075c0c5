"""Where QEMU source comes from: one adapter per kind of source.

``--source`` takes a release version (``9.2.0``: fetched and verified), a
local tarball, a local source tree (built out of tree, never modified), or
``debian`` (the distribution's source package via ``apt-get source``). Each
adapter knows its own identity (for the cache key, computed without network
so that a cached build is found in well under a second) and its own quirks;
nothing outside this module special-cases a kind of source.
"""

from __future__ import annotations

import abc
import functools
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from iotests import command
from iotests.build import fetch, verify
from iotests.build.cache import Cache
from iotests.build.config import BuildConfig
from iotests.build.extract import safe_extract, top_directory
from iotests.build.profiles import Profile, parse_version
from iotests.errors import BuildError, CommandError, UsageError

_RELEASE_RE = re.compile(r"\d+\.\d+\.\d+(?:-rc\d+)?")
_TARBALL_SUFFIXES = (".tar.xz", ".tar.bz2", ".tar.gz", ".tgz", ".tar")


def normalise_spec(spec: str) -> str:
    """*spec* as recorded in manifests: paths made absolute, other specs unchanged."""
    if spec == "debian" or _RELEASE_RE.fullmatch(spec):
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


def parse_source(spec: str) -> Source:
    """The adapter for a ``--source`` value.

    :raises UsageError: when *spec* is neither a version, ``debian``, nor an
        existing tarball or directory.
    """
    if spec == "debian":
        return DebianSource(spec)
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
        "a tarball or a source directory"
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
    """

    kind = "debian"
    PACKAGE = "qemu"
    FIRMWARE_DIRS = (
        Path("/usr/share/qemu"),
        Path("/usr/share/seabios"),
        Path("/usr/lib/ipxe/qemu"),
    )

    @functools.cached_property
    def record(self) -> DebianRecord:
        try:
            out = command.run(
                ["apt-cache", "showsrc", "--only-source", self.PACKAGE],
                merge_stderr=False,
                check=False,
            )
        except CommandError as exc:
            raise BuildError(f"--source debian needs apt: {exc}") from exc
        records = parse_showsrc(out.stdout)
        if not records:
            raise BuildError(
                "no Debian source package for qemu: add a deb-src entry (e.g. 'deb-src "
                "http://deb.debian.org/debian bookworm main') and run apt-get update"
            )
        return max(records, key=functools.cmp_to_key(_compare_debian_versions))

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
        tree = _extract_once(ctx, orig, _file_id(self.label(), expected))
        return Prepared(tree, record.upstream)

    def _download(self, ctx: Context, folder: Path, record: DebianRecord) -> None:
        staging = folder / f".download-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            ctx.console.print(f"apt-get source --download-only {self.PACKAGE}={record.version}")
            command.run(
                ["apt-get", "source", "--download-only", "-q", f"{self.PACKAGE}={record.version}"],
                cwd=staging,
            )
            for name, digest in record.files.items():
                verify.check_sha256(staging / name, digest, name)
            for name in record.files:
                os.replace(staging / name, folder / name)
        except CommandError as exc:
            raise BuildError(f"apt-get source failed: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

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
