"""One managed-process life for every server: qemu-nbd, qemu-storage-daemon and QEMU.

The behaviour (a crash judged, a report recorded, a signal excused only if
sent) is proven against real servers in tests/integration/test_servers.py;
this holds the structure that makes it one behaviour: neither server
re-implements a step of the life it inherits.
"""

from __future__ import annotations

import pytest

from iotests.lib.nbdserver import QemuNBD
from iotests.lib.process import ManagedProcess
from iotests.lib.qmp import QMPServer

LIFE = ("_spawn", "_signal", "_reap", "_judge", "judge_if_exited", "output", "is_running", "pid")


@pytest.mark.parametrize("server", [QemuNBD, QMPServer])
def test_each_server_inherits_the_whole_life(server: type[ManagedProcess]) -> None:
    assert issubclass(server, ManagedProcess)
    assert [step for step in LIFE if step in vars(server)] == []
    assert "_close" in vars(server)
