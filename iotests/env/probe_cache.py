"""Probe answers kept across runs, so an unchanged binary is asked once, not once per run.

A developer runs one case many times a day against the same binaries; asking
each of them for its version, formats, accelerators and machines costs more
than some cases. The answers of each binary are kept in ``probe-cache.json``
in the toolkit's cache directory (``build.cache_dir``: ``$IOTESTS_CACHE_DIR``,
the config file, else ``$XDG_CACHE_HOME/iotests``), keyed by role and path,
and used only while the file still has the identity it had when asked: same
size, modification and change times, inode and device, probed by the same
toolkit version and cache schema. A rebuilt, replaced or re-linked binary
therefore gets asked again. Answers that name a problem (a binary that did not
start or printed no version) are never kept: the next run asks again.

``IOTESTS_PROBE_CACHE=0`` turns the cache off. A cache that cannot be read or
written is a cache miss, never an error: it only saves time.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from iotests import __version__, fileio
from iotests.env.binaries import Binaries
from iotests.env.probe import Answers, Probe, ask, assemble
from iotests.errors import IotestsError

CACHE_FILE = "probe-cache.json"
#: Set to 0 to ask every binary in every run.
DISABLE_ENV = "IOTESTS_PROBE_CACHE"
#: Bumped when the meaning of a kept answer changes, which invalidates every entry.
SCHEMA = 1


@dataclass(frozen=True)
class Identity:
    """What makes a binary file the same file as when it was asked."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: str) -> Identity | None:
        """The identity of the file *path* leads to (symlinks followed); None if it is gone."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _version_tag() -> str:
    return f"{__version__}/{SCHEMA}"


def cache_path(
    config_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Where the probe cache lives, or None when it is off or the config cannot say."""
    env = os.environ if environ is None else environ
    if env.get(DISABLE_ENV, "1").strip() in ("0", "no", "false", "off"):
        return None
    from iotests.build.config import load_build_config

    try:
        return load_build_config(config_file, env).cache_dir / CACHE_FILE
    except IotestsError:
        # A broken build: section is reported by the build tasks that need it;
        # the run only loses the cache.
        return None


def _entry_key(role: str, path: str) -> str:
    return f"{role} {path}"


def _read(path: Path) -> dict[str, Any]:
    """The cache's entries, or none when the file is missing, torn or of another version."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != _version_tag():
        return {}
    entries = document.get("entries")
    return entries if isinstance(entries, dict) else {}


def _valid(entry: Any, identity: Identity) -> Answers | None:
    if not isinstance(entry, dict) or entry.get("identity") != asdict(identity):
        return None
    answers = entry.get("answers")
    if not isinstance(answers, dict):
        return None
    try:
        return Answers.deserialize(answers)
    except (TypeError, ValueError):
        return None


def _still_current(entry: Any) -> bool:
    """Whether a kept entry's file is still there, unchanged: stale entries are dropped."""
    if not isinstance(entry, dict) or not isinstance(entry.get("identity"), dict):
        return False
    path = entry["identity"].get("path")
    current = Identity.of(path) if isinstance(path, str) else None
    return current is not None and asdict(current) == entry["identity"]


def _store(path: Path, fresh: Mapping[str, dict[str, Any]]) -> None:
    """Add *fresh* entries to the cache under its lock, keeping other runs' current entries."""
    with contextlib.suppress(OSError), fileio.locked(path.with_name(path.name + ".lock")):
        entries = {k: e for k, e in _read(path).items() if _still_current(e)}
        entries.update(fresh)
        document = {"version": _version_tag(), "entries": entries}
        fileio.atomic_write(path, json.dumps(document, indent=1, sort_keys=True))


def cached_probe(
    binaries: Binaries,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Probe:
    """The probe of *binaries*, asking only those whose answers are not kept for their file.

    Same result as :func:`iotests.env.probe.probe`; *config_file* and
    *environ* choose the cache directory as the build tasks do.
    """
    where = cache_path(config_file, environ)
    kept = _read(where) if where is not None else {}
    answers: dict[str, Answers] = {}
    fresh: dict[str, dict[str, Any]] = {}
    for role in binaries.found():
        path = binaries.paths[role]
        assert path is not None
        key = _entry_key(role, path)
        identity = Identity.of(path)
        known = _valid(kept.get(key), identity) if identity is not None else None
        if known is not None:
            answers[role] = known
            continue
        answers[role] = ask(role, path)
        # The file may have changed while it was asked: keep the answers only if not.
        if identity is not None and answers[role].problem is None and identity == Identity.of(path):
            fresh[key] = {"identity": asdict(identity), "answers": answers[role].serialize()}
    if where is not None and fresh:
        _store(where, fresh)
    return assemble(binaries, answers)
