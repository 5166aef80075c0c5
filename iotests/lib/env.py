"""The environment the runner hands a case, read once and typed."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from iotests.env.probe import Probe


@dataclass(frozen=True)
class CaseEnv:
    imgfmt: str
    imgproto: str
    test_dir: Path
    sock_dir: Path
    cachemode: str
    aiomode: str
    imgopts: str
    misalign: bool
    valgrind: bool
    valgrind_dir: Path | None
    events_file: Path | None
    notrun_file: Path | None
    progs: dict[str, str]
    probe_file: Path | None

    def prog(self, role: str) -> str:
        """Path of a QEMU binary by role (qemu-img, qemu-io, qemu-nbd, qsd, qemu)."""
        path = self.progs.get(role)
        if not path:
            from iotests.lib.output import notrun

            notrun(f"{role} binary not found")
        return path

    @functools.cached_property
    def probe(self) -> Probe | None:
        if self.probe_file is None or not self.probe_file.is_file():
            return None
        return Probe.load(self.probe_file)


_VARIABLES = {
    "qemu": ("QEMU_PROG", "qemu-system-x86_64"),
    "qemu-img": ("QEMU_IMG_PROG", "qemu-img"),
    "qemu-io": ("QEMU_IO_PROG", "qemu-io"),
    "qemu-nbd": ("QEMU_NBD_PROG", "qemu-nbd"),
    "qsd": ("QSD_PROG", "qemu-storage-daemon"),
}


def _optional_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


@functools.cache
def case_env() -> CaseEnv:
    """The current case's environment; works outside the runner with defaults too."""
    import shutil

    progs = {}
    for role, (variable, program) in _VARIABLES.items():
        found = os.environ.get(variable) or shutil.which(program)
        if found:
            progs[role] = found
    test_dir = Path(os.environ.get("TEST_DIR", os.getcwd()))
    return CaseEnv(
        imgfmt=os.environ.get("IMGFMT", "raw"),
        imgproto=os.environ.get("IMGPROTO", "file"),
        test_dir=test_dir,
        sock_dir=Path(os.environ.get("SOCK_DIR", str(test_dir))),
        cachemode=os.environ.get("CACHEMODE", "writeback"),
        aiomode=os.environ.get("AIOMODE", "threads"),
        imgopts=os.environ.get("IMGOPTS", ""),
        misalign=os.environ.get("IOTESTS_MISALIGN") == "1",
        valgrind=os.environ.get("IOTESTS_VALGRIND") == "1",
        valgrind_dir=_optional_path("IOTESTS_VALGRIND_DIR"),
        events_file=_optional_path("IOTESTS_EVENTS"),
        notrun_file=_optional_path("IOTESTS_NOTRUN_FILE"),
        progs=progs,
        probe_file=_optional_path("IOTESTS_PROBE"),
    )
