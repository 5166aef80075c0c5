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

from iotests.lib import crypt, qcow2
from iotests.lib.chain import backing_chain, log_map, map_extents, snapshot
from iotests.lib.env import CaseEnv, case_env
from iotests.lib.filebytes import peek, peek_int, poke, poke_int
from iotests.lib.image import (
    CheckResult,
    allocated_ranges,
    amend,
    bench,
    bitmap,
    bitmaps,
    check_image,
    commit,
    compare,
    convert,
    create,
    dd,
    disk_usage,
    file_size,
    img_info,
    img_map,
    measure,
    merge_ranges,
    rebase,
    resize,
    snapshot_names,
    test_image,
    virtual_size,
)
from iotests.lib.jobs import Job, log_completion, run_job
from iotests.lib.nbd import QemuNBD, QMPExport, dirty_extents, free_port
from iotests.lib.nbd import image_opts as nbd_image_opts
from iotests.lib.output import check, log, log_json, notrun, section
from iotests.lib.patterns import Region, parse_size, verify, write
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
from iotests.lib.tools import (
    SECRET_ID,
    QemuIoSession,
    QemuToolError,
    ToolResult,
    image_opts,
    json_filename,
    node_options,
    open_args,
    opts_string,
    qemu_img,
    qemu_io,
    qemu_io_session,
    qemu_tool,
    secret_object,
)

__all__ = [
    "SECRET_ID",
    "CaseEnv",
    "CheckResult",
    "Job",
    "QMPError",
    "QMPExport",
    "QMPServer",
    "QMPTimeout",
    "QemuIoSession",
    "QemuNBD",
    "QemuToolError",
    "Region",
    "ToolResult",
    "allocated_ranges",
    "amend",
    "backing_chain",
    "bench",
    "bitmap",
    "bitmaps",
    "blockdev",
    "blockdev_arg",
    "case_env",
    "check",
    "check_image",
    "commit",
    "compare",
    "convert",
    "create",
    "crypt",
    "dd",
    "dirty_extents",
    "disk_usage",
    "drop_keys",
    "file_size",
    "free_port",
    "image_opts",
    "img_info",
    "img_map",
    "json_filename",
    "log",
    "log_bitmaps",
    "log_completion",
    "log_json",
    "log_map",
    "map_extents",
    "measure",
    "merge_ranges",
    "nbd_image_opts",
    "node_options",
    "notrun",
    "open_args",
    "opts_string",
    "parse_size",
    "peek",
    "peek_int",
    "poke",
    "poke_int",
    "qcow2",
    "qemu_img",
    "qemu_io",
    "qemu_io_session",
    "qemu_tool",
    "qsd",
    "rebase",
    "resize",
    "run_job",
    "secret_object",
    "section",
    "snapshot",
    "snapshot_names",
    "test_image",
    "verify",
    "virtual_size",
    "write",
]
