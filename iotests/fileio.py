"""Files shared between runs: written atomically, updated under a lock.

Several runs may share one results directory (two formats at once, or a
shard of each): a reader must never see a torn file, and two writers must
not lose each other's updates. Every shared file goes through here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace *path* with *text* in one step; on any error the old file stays and no temp is left.

    The file gets *mode* (not mkstemp's 0600): reports are read by CI users
    other than the one that wrote them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, read without changing it.

    os.umask can only be read by setting it: for that instant every other
    thread of the runner would create its files with no umask at all.
    Linux reports it in /proc/self/status; elsewhere assume the usual 022.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on *path* (created if missing) for the block: waits for others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Busy(Exception):
    """Another process holds the lock; ``holder`` is what it wrote into the lock file."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def exclusive(path: Path, holder: str) -> Iterator[None]:
    """Hold *path* exclusively without waiting, with *holder* written into it for others to read.

    :raises Busy: another process holds it now.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(path, encoding="utf-8", errors="replace") as f:
                raise Busy(path, f.read().strip()) from None
        os.ftruncate(fd, 0)
        os.write(fd, holder.encode() + b"\n")
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
