"""The settings of one run, after flags, environment and config were merged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = ("raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "vhdx", "luks", "parallels", "qcow")
PROTOCOLS = ("file", "nbd", "fuse")
CACHEMODES = ("writeback", "writethrough", "none", "directsync", "unsafe")
AIOMODES = ("threads", "native", "io_uring")


@dataclass(frozen=True)
class RunSettings:
    format: str = "raw"
    protocol: str = "file"
    cachemode: str = "writeback"
    aiomode: str = "threads"
    imgopts: str = ""
    misalign: bool = False
    valgrind: bool = False
    timeout: float = 600.0
    jobs: int = 1
    verbose: bool = False
    regenerate: bool = False
    results_dir: Path = Path("results")
    #: Keep cases' Python bytecode in :attr:`pycache_dir` (else write none).
    bytecode_cache: bool = True
    #: The QEMU under test (major, minor, micro), for version variants of goldens.
    qemu_version: tuple[int, int, int] | None = None

    @property
    def pycache_dir(self) -> Path:
        """Where cases' Python processes keep compiled modules (PYTHONPYCACHEPREFIX)."""
        return self.results_dir / "pycache"

    @property
    def combo(self) -> str:
        """Key of this format/protocol pair in result folders and timings."""
        return f"{self.format}-{self.protocol}"
