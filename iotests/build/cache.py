"""The build cache: where downloads, sources and builds live, and how builds are keyed.

Layout below the configured ``cache_dir`` (default ``~/.cache/iotests``)::

    downloads/            release tarballs and signatures, verified ones only
    downloads/debian/     Debian source packages (apt-get source)
    sources/<id>/         extracted source trees, shared by every profile
    builds/<key>/build/   a QEMU build tree (what the runner's --build-dir takes)
    builds/<key>/manifest.json   written last: its presence means "complete"
    builds/<key>/build.log
    locks/<key>.lock      one lock per key: two builds of one key take turns

A key is ``<source label>-<profile>-<digest>``, the digest covering the
source identity, the profile definition and any extra configure options:
same inputs, same key, nothing to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotests.build.manifest import Manifest
from iotests.errors import BuildError

#: Profiles the runner takes a cached build from, before any other profile.
PREFERRED_PROFILES = ("system", "tools")


def build_key(label: str, profile: str, inputs: Mapping[str, Any]) -> str:
    """The cache key for a build of *profile* from a source called *label* with *inputs*."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9.+_-]+", "_", label).strip("_") or "source"
    return f"{safe}-{profile}-{digest}"


@dataclass(frozen=True)
class BuildEntry:
    """Paths of one keyed build in the cache."""

    key: str
    root: Path

    @property
    def tree(self) -> Path:
        return self.root / "build"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def log(self) -> Path:
        return self.root / "build.log"

    def manifest(self) -> Manifest | None:
        """The manifest of a complete build whose binaries are all still there, else None."""
        if not self.manifest_path.is_file():
            return None
        try:
            manifest = Manifest.read(self.manifest_path)
        except BuildError:
            return None
        if not all((self.tree / rel).is_file() for rel in manifest.binaries.values()):
            return None
        return manifest


@dataclass(frozen=True)
class Cache:
    """The cache directory and the operations on it."""

    root: Path

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def entry(self, key: str) -> BuildEntry:
        return BuildEntry(key, self.builds / key)

    @contextlib.contextmanager
    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the exclusive lock *name* (a build key or a source id) for the block.

        *on_wait* is called once if another process holds it, before blocking.
        """
        self.locks.mkdir(parents=True, exist_ok=True)
        path = self.locks / f"{name}.lock"
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if on_wait is not None:
                    on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def complete(self) -> list[tuple[BuildEntry, Manifest]]:
        """Every complete build, newest first."""
        found: list[tuple[BuildEntry, Manifest]] = []
        if not self.builds.is_dir():
            return found
        for root in self.builds.iterdir():
            entry = BuildEntry(root.name, root)
            manifest = entry.manifest()
            if manifest is not None:
                found.append((entry, manifest))
        found.sort(key=lambda pair: pair[1].finished, reverse=True)
        return found

    def remove(self, keys: Sequence[str] = ()) -> list[str]:
        """Delete the builds named by *keys* (all builds when empty); return what was removed.

        Each removal holds that key's lock, so a build in progress is not cut
        from under its compiler.

        :raises BuildError: when a named key is not in the cache.
        """
        if not self.builds.is_dir():
            existing: list[str] = []
        else:
            existing = sorted(p.name for p in self.builds.iterdir() if p.is_dir())
        unknown = [k for k in keys if k not in existing]
        if unknown:
            raise BuildError(f"no cached build with key {unknown[0]!r} (see: invoke builds)")
        removed: list[str] = []
        for key in keys or existing:
            with self.lock(key):
                shutil.rmtree(self.builds / key, ignore_errors=True)
            (self.locks / f"{key}.lock").unlink(missing_ok=True)
            removed.append(key)
        return removed


def pick_build(builds: Sequence[tuple[BuildEntry, Manifest]], source_spec: str) -> Path | None:
    """The build tree to use for *source_spec*: the newest system or tools build, else the newest.

    A system build holds the same tools plus an emulator with qtest, so the
    run gets one coherent set instead of a cached qemu-img beside PATH's
    emulator. The newest wins: after a source tree was rebuilt in the tools
    profile only, its older system build would test stale code.
    """
    matching = [(e, m) for e, m in builds if m.source.get("spec") == source_spec]
    for entry, manifest in matching:  # newest first
        if manifest.profile in PREFERRED_PROFILES:
            return entry.tree
    return matching[0][0].tree if matching else None


def default_build_dir(config_file: str | os.PathLike[str] | None = None) -> Path | None:
    """The toolkit's cached build tree for the configured default source, or None.

    Takes the newest ``system`` or ``tools`` build of that source, else the
    newest complete build of it (see :func:`pick_build`). Reads only the
    config and the manifests: it is fast and never fetches or builds anything.

    :raises ConfigError: when the config file is invalid.
    """
    from iotests.build.config import load_build_config
    from iotests.build.sources import normalise_spec

    config = load_build_config(config_file)
    return pick_build(Cache(config.cache_dir).complete(), normalise_spec(config.default_source))
