"""What a run may have left behind: processes, socket directories, mounts."""

from __future__ import annotations

import os
from pathlib import Path


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes (not zombies) whose argv or environment mention *text*."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X"):
                continue
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in cmdline or needle in environ:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def socket_dirs() -> set[str]:
    """The runner's short socket directories under /tmp."""
    return {p.name for p in Path("/tmp").glob("iot-*")}
