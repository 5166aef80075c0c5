"""The NBD helpers under the names cases used before the library was layered.

Nothing is defined here: each name is the one in the module that owns it
(servers in :mod:`~iotests.lib.nbdserver` and :mod:`~iotests.lib.exports`,
the guest in :mod:`~iotests.lib.protocol`, backups in
:mod:`~iotests.lib.backup`, addresses in :mod:`~iotests.lib.names`), and
all of them are in ``lib`` itself, which is what new cases use.
``node_io`` is :func:`~iotests.lib.protocol.guest_io`, named after what it
is for rather than the transport it happens to use.
"""

from __future__ import annotations

from iotests.lib.backup import bitmap_extents, copy_extents, log_extents
from iotests.lib.exports import QMPExport, start_nbd_server
from iotests.lib.extents import dirty_extents
from iotests.lib.names import LOOPBACK, Endpoint, free_port, tcp_uri, unix_uri
from iotests.lib.names import nbd_image_opts as image_opts
from iotests.lib.nbdserver import QemuNBD
from iotests.lib.protocol import guest_io as node_io
from iotests.lib.protocol import release_guest as release_io

__all__ = [
    "LOOPBACK",
    "Endpoint",
    "QMPExport",
    "QemuNBD",
    "bitmap_extents",
    "copy_extents",
    "dirty_extents",
    "free_port",
    "image_opts",
    "log_extents",
    "node_io",
    "release_io",
    "start_nbd_server",
    "tcp_uri",
    "unix_uri",
]
