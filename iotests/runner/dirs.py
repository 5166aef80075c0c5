"""Where one case's files live: its result directory, scratch and socket directories.

Socket directories sit under ``/tmp`` (a socket's path must fit in 108
bytes) and are named ``iot-<run id>-<random>``, so that a later run can tell
whose they are and remove those of runs that died.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOCKET_PREFIX = "iot-"
_SOCKET_NAME = re.compile(r"iot-([0-9a-f]{12})-[0-9a-f]{8}\Z")


@dataclass(frozen=True)
class CaseDirs:
    result: Path
    scratch: Path
    sock: Path

    @property
    def notrun_file(self) -> Path:
        return self.result / "notrun"

    @property
    def events_file(self) -> Path:
        return self.result / "events.jsonl"

    @property
    def valgrind_dir(self) -> Path:
        return self.result / "valgrind"

    @property
    def stacks_dir(self) -> Path:
        """Where the case's Python processes answer a hang record (gone after the case)."""
        return self.result / "stacks"


def socket_base() -> Path:
    return Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())


def socket_path(run_id: str) -> Path:
    """A fresh socket directory name for run *run_id*; :func:`socket_dir` makes it."""
    return socket_base() / f"{SOCKET_PREFIX}{run_id}-{secrets.token_hex(4)}"


def run_of_socket_dir(path: Path) -> str | None:
    """The run that made socket directory *path*, or None for a name not ours (pure)."""
    match = _SOCKET_NAME.match(path.name)
    return match.group(1) if match else None


def socket_dirs() -> list[Path]:
    """Socket directories of any run, this one included."""
    base = socket_base()
    try:
        return [p for p in base.iterdir() if run_of_socket_dir(p) is not None]
    except OSError:
        return []


@contextlib.contextmanager
def socket_dir(path: Path) -> Iterator[Path]:
    """*path* as a private directory for the block, gone afterwards whatever happens."""
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
