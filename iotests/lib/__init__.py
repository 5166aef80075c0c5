"""The case library: what a test case imports to drive QEMU and report what it saw.

A case is a small script::

    from iotests import lib

    img = lib.test_image()
    lib.create(img, "64M")
    lib.qemu_io(img, "write -P 0xa5 0 64k", "read -P 0xa5 0 64k")
    lib.check_image(img)

Everything a helper runs goes through :mod:`iotests.command`; everything it
prints is stable across runs, hosts and (where the behaviour is the same)
formats, so one golden file serves them all.
"""

from iotests.lib import qcow2
from iotests.lib.chain import backing_chain, create_chain, log_map, map_extents, snapshot
from iotests.lib.env import CaseEnv, case_env
from iotests.lib.image import (
    CheckResult,
    amend,
    check_image,
    commit,
    compare,
    convert,
    create,
    file_size,
    img_info,
    img_map,
    rebase,
    snapshot_names,
    test_image,
)
from iotests.lib.jobs import Job, log_completion, run_job
from iotests.lib.nbd import QemuNBD, QMPExport, dirty_extents, free_port
from iotests.lib.nbd import image_opts as nbd_image_opts
from iotests.lib.output import check, log, log_json, notrun, section
from iotests.lib.poke import peek, peek_int, poke, poke_int
from iotests.lib.qmp import (
    QMPError,
    QMPServer,
    QMPTimeout,
    blockdev,
    blockdev_arg,
    drop_keys,
    log_bitmaps,
    qsd,
)
from iotests.lib.tools import ToolResult, qemu_img, qemu_io, qemu_tool

__all__ = [
    "CaseEnv",
    "CheckResult",
    "Job",
    "QMPError",
    "QMPExport",
    "QMPServer",
    "QMPTimeout",
    "QemuNBD",
    "ToolResult",
    "amend",
    "backing_chain",
    "blockdev",
    "blockdev_arg",
    "case_env",
    "check",
    "check_image",
    "commit",
    "compare",
    "convert",
    "create",
    "create_chain",
    "dirty_extents",
    "drop_keys",
    "file_size",
    "free_port",
    "img_info",
    "img_map",
    "log",
    "log_bitmaps",
    "log_completion",
    "log_json",
    "log_map",
    "map_extents",
    "nbd_image_opts",
    "notrun",
    "peek",
    "peek_int",
    "poke",
    "poke_int",
    "qcow2",
    "qemu_img",
    "qemu_io",
    "qemu_tool",
    "qsd",
    "rebase",
    "run_job",
    "section",
    "snapshot",
    "snapshot_names",
    "test_image",
]
