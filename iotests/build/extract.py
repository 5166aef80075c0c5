"""Unpacking source tarballs without trusting them, or the interpreter's tarfile filters.

Python's ``data`` extraction filter judged members here until CVE-2025-4517
and its siblings showed that, before the 2025 fixes, it can be fooled (a
symlink chain long enough that ``os.path.realpath`` gives up, then links
through it). So the judging is the toolkit's own and depends on no patch
level: every name and link target is checked lexically against a model of
the tree built from the members seen so far, and the files are written in a
way that never follows a symlink:

- names are relative, contain no ``..`` and no NUL, and are at most
  :data:`MAX_PATH` bytes; members are regular files, directories, symlinks
  or hard links (no devices or fifos);
- no member lies beneath a symlink, and none replaces an earlier member
  (a directory may repeat);
- a hard link names a regular file extracted before it;
- symlinks are created last, after each target has been resolved through
  the model (following the archive's other symlinks, as the kernel would)
  and found to stay inside, with no loop.

A refused member ends the extraction with one line naming it, and nothing is
left behind: the archive is unpacked into a hidden sibling directory that is
renamed into place only when every member was accepted.
"""

from __future__ import annotations

import contextlib
import enum
import lzma
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from iotests.errors import BuildError

#: Longest member name or link target accepted, in bytes: several times any
#: path in a QEMU release, and far enough below PATH_MAX that the target
#: directory's own path cannot push a member over it.
MAX_PATH = 1024
#: Symlinks followed while resolving one target before calling it a loop
#: (the kernel's own limit).
MAX_HOPS = 40
_CHUNK = 1 << 20


def safe_extract(archive: Path, dest: Path) -> Path:
    """Unpack *archive* so that its contents end up in *dest* (which must not exist).

    :returns: the single top-level directory of the archive when it has one
        (``qemu-9.2.0/``), else *dest*.
    :raises BuildError: for a member that is refused (naming it), or a
        damaged archive.
    """
    if dest.exists():
        raise BuildError(f"{dest}: already exists; refusing to extract {archive.name} over it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with tarfile.open(archive) as tar:
            _Extraction(tar, staging).run()
    except Refused as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(
            f"{archive.name}: refusing to extract member {_shown(exc.member)}: {exc.why}"
        ) from None
    except _MemberFailed as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(
            f"{archive.name}: cannot extract member {_shown(exc.member)}: {exc.why}"
        ) from None
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"{archive.name}: cannot extract: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, dest)
    return top_directory(dest)


def top_directory(tree: Path) -> Path:
    """The single directory inside *tree* when there is exactly one entry, else *tree*."""
    entries = list(tree.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return tree


class Refused(Exception):
    """A member the extraction will not write; *why* is shown after its name."""

    def __init__(self, member: str, why: str) -> None:
        super().__init__(f"{member}: {why}")
        self.member = member
        self.why = why


class _MemberFailed(Exception):
    """The filesystem refused to write an accepted member (disk full, name too long)."""

    def __init__(self, member: str, why: str) -> None:
        super().__init__(f"{member}: {why}")
        self.member = member
        self.why = why


class Kind(enum.Enum):
    DIR = "directory"
    FILE = "file"
    SYMLINK = "symlink"


@dataclass(frozen=True)
class Node:
    """What the model knows about one path: its kind, and a symlink's target."""

    kind: Kind
    target: str = ""


Key = tuple[str, ...]


class TreeModel:
    """The tree the archive describes, as far as it has been read; pure, no I/O.

    Kept separate from the writing so that every rule can be table-tested
    and so that no decision ever depends on what the filesystem says.
    """

    def __init__(self) -> None:
        self.nodes: dict[Key, Node] = {}

    def add_directory(self, name: str) -> Key:
        key = self._place(name)
        existing = self.nodes.get(key)
        if existing is not None and existing.kind is not Kind.DIR:
            raise Refused(name, f"would replace the {existing.kind.value} of the same name")
        if key:
            self.nodes[key] = Node(Kind.DIR)
        return key

    def add_file(self, name: str) -> Key:
        key = self._place_new(name)
        self.nodes[key] = Node(Kind.FILE)
        return key

    def add_hardlink(self, name: str, target: str) -> tuple[Key, Key]:
        source = self._link_key(name, target)
        node = self.nodes.get(source)
        if node is None or node.kind is not Kind.FILE:
            raise Refused(
                name, f"hard link to {target!r}, which is not a regular file earlier in the archive"
            )
        key = self._place_new(name)
        self.nodes[key] = Node(Kind.FILE)
        return key, source

    def add_symlink(self, name: str, target: str) -> Key:
        _check_text(name, target, "link target")
        if target.startswith("/"):
            raise Refused(name, "link to an absolute path")
        if not target:
            raise Refused(name, "symlink with an empty target")
        key = self._place_new(name)
        self.nodes[key] = Node(Kind.SYMLINK, target)
        self.resolve_symlink(key, name)
        return key

    def resolve_symlink(self, key: Key, name: str) -> Key:
        """Where the symlink at *key* leads, following the model's other symlinks.

        :raises Refused: when the target leaves the tree at any step, or loops.
        """
        hops = [0]
        return self._resolve(key[:-1], self.nodes[key].target, name, hops)

    def symlinks(self) -> list[Key]:
        return [key for key, node in self.nodes.items() if node.kind is Kind.SYMLINK]

    def _resolve(self, start: Key, target: str, name: str, hops: list[int]) -> Key:
        here = list(start)
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    raise Refused(name, "link points outside the target directory")
                here.pop()
                continue
            here.append(part)
            node = self.nodes.get(tuple(here))
            if node is not None and node.kind is Kind.SYMLINK:
                hops[0] += 1
                if hops[0] > MAX_HOPS:
                    raise Refused(name, "symlink loop")
                here = list(self._resolve(tuple(here[:-1]), node.target, name, hops))
        return tuple(here)

    def _link_key(self, name: str, target: str) -> Key:
        _check_text(name, target, "link target")
        if target.startswith("/"):
            raise Refused(name, "link to an absolute path")
        try:
            return _components(target)
        except _Climbs:
            raise Refused(name, "link points outside the target directory") from None
        except _DotDot:
            raise Refused(name, "link target contains '..'") from None

    def _place_new(self, name: str) -> Key:
        key = self._place(name)
        if not key:
            raise Refused(name, "names the target directory itself")
        existing = self.nodes.get(key)
        if existing is not None:
            raise Refused(name, f"would replace the {existing.kind.value} of the same name")
        return key

    def _place(self, name: str) -> Key:
        """The key for *name*, with its missing parents recorded as directories.

        :raises Refused: for a bad name, or a parent that is not a directory.
        """
        _check_text(name, name, "path")
        if name.startswith("/"):
            raise Refused(name, "absolute path")
        try:
            key = _components(name)
        except _Climbs:
            raise Refused(name, "path leads outside the target directory") from None
        except _DotDot:
            raise Refused(name, "path contains '..'") from None
        for depth in range(1, len(key)):
            parent = self.nodes.get(key[:depth])
            if parent is None:
                self.nodes[key[:depth]] = Node(Kind.DIR)
            elif parent.kind is Kind.SYMLINK:
                raise Refused(name, f"path goes through the symlink {'/'.join(key[:depth])!r}")
            elif parent.kind is not Kind.DIR:
                raise Refused(name, f"path goes through the file {'/'.join(key[:depth])!r}")
        return key


class _Climbs(Exception):
    """A ``..`` climbs above the top."""


class _DotDot(Exception):
    """A ``..`` that stays inside: harmless lexically, but no release tarball has one."""


def _components(path: str) -> Key:
    parts: list[str] = []
    dotdot = False
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _Climbs
            parts.pop()
            dotdot = True
            continue
        parts.append(part)
    if dotdot:
        raise _DotDot
    return tuple(parts)


def _check_text(member: str, text: str, what: str) -> None:
    if "\0" in text:
        raise Refused(member, f"NUL byte in the {what}")
    size = len(os.fsencode(text))
    if size > MAX_PATH:
        raise Refused(member, f"{what} is {size} bytes long (at most {MAX_PATH} accepted)")


class _Extraction:
    """Writes what the model accepted, member by member, never through a symlink.

    Directories and files are created as they come (with ``O_EXCL`` and
    ``O_NOFOLLOW``, inside directories this extraction made); symlinks wait
    until the whole archive has been read, so that their targets are judged
    against the complete tree and nothing is ever written through one.
    """

    def __init__(self, tar: tarfile.TarFile, root: Path) -> None:
        self.tar = tar
        self.root = root
        self.model = TreeModel()
        self.symlink_names: dict[Key, str] = {}

    def run(self) -> None:
        for member in self.tar:
            self._one(member)
        for key in self.model.symlinks():
            name = self.symlink_names[key]
            self.model.resolve_symlink(key, name)
        for key in self.model.symlinks():
            with _writing(self.symlink_names[key]):
                os.symlink(self.model.nodes[key].target, self._path(key))

    def _one(self, member: tarfile.TarInfo) -> None:
        name = member.name
        if member.isdir():
            key = self.model.add_directory(name)
            self._mkdirs(name, key, include_last=True)
        elif member.isreg():
            key = self.model.add_file(name)
            self._mkdirs(name, key, include_last=False)
            with _writing(name):
                self._write(member, key)
        elif member.islnk():
            key, source = self.model.add_hardlink(name, member.linkname)
            self._mkdirs(name, key, include_last=False)
            with _writing(name):
                os.link(self._path(source), self._path(key), follow_symlinks=False)
        elif member.issym():
            key = self.model.add_symlink(name, member.linkname)
            self._mkdirs(name, key, include_last=False)
            self.symlink_names[key] = name
        else:
            raise Refused(name, "device, fifo or other special file")

    def _path(self, key: Key) -> str:
        return os.path.join(self.root, *key)

    def _mkdirs(self, name: str, key: Key, *, include_last: bool) -> None:
        last = len(key) if include_last else len(key) - 1
        for depth in range(1, last + 1):
            path = self._path(key[:depth])
            with _writing(name), contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o755)

    def _write(self, member: tarfile.TarInfo, key: Key) -> None:
        source = self.tar.extractfile(member)
        if source is None:
            raise _MemberFailed(member.name, "no data in the archive")
        mode = 0o755 if member.mode & 0o100 else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self._path(key), flags, mode)
        with source, os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fchmod(fd, mode)
            os.utime(fd, (member.mtime, member.mtime))


@contextlib.contextmanager
def _writing(member: str) -> Iterator[None]:
    """Turn the filesystem's refusal to write *member* into an error naming it."""
    try:
        yield
    except OSError as exc:
        raise _MemberFailed(member, exc.strerror or str(exc)) from exc


def _shown(name: str) -> str:
    """*name* quoted for an error line, shortened when it is absurdly long."""
    if len(name) <= 160:
        return repr(name)
    return f"{name[:80] + '...' + name[-60:]!r} ({len(name)} characters)"
