"""The case library: what a test case imports to drive QEMU and report what it saw.

A case is a small script::

    from iotests import lib

    img = lib.test_image()
    lib.create(img, "64M")
    lib.qemu_io(img, "write -P 0xa5 0 64k", "read -P 0xa5 0 64k")
    lib.check_image(img)

Everything a helper runs goes through :mod:`iotests.command` and is judged
(a crash or a sanitizer report fails the case however quiet the helper
was); everything it prints is stable across runs and hosts. Output is
rewritten only where a helper says so: :func:`create` prints the format
under test as ``fmt=IMGFMT``; anywhere else a case asks, with
:func:`format_neutral`.

One rule for what a helper gives back:

- **queries** (:func:`img_info`, :func:`img_map`, :func:`measure`,
  :func:`virtual_size`, :func:`backing_chain`, ...) return parsed data, and
  raise :class:`ToolError` when the tool fails: there is nothing to return;
- **checks** (:func:`check`, :func:`check_image`, :func:`compare`,
  :func:`verify`) print their verdict and return it (a bool or a
  :class:`CheckResult`); a failed check is output, never an exception;
- **actions** (:func:`create`, :func:`convert`, :func:`resize`,
  :func:`commit`, :func:`snapshot`, :func:`qemu_img`, :func:`qemu_io`,
  :func:`guest_io`, ...) print what QEMU said and ``[tool exit code N]``,
  and return a :class:`ToolResult`, true when the tool succeeded: a
  refusal the case expects is part of its golden. Where the case cannot go
  on, ``.require()`` raises :class:`ToolError`; :func:`write`, a setup
  step, always does.

Whatever a helper raises is a :class:`CaseError` (see
:mod:`iotests.lib.errors`); :func:`notrun` raises :class:`NotRun`, which
ends the case as "not run" and cannot be caught by ``except Exception``.

Layers, top to bottom; a module imports only from layers below its own
(``tests/unit/lib/test_layers.py`` reads this drawing and holds the code to it)::

    10  nbd                           the NBD helpers' old names
     9  chain backup                  backing chains, snapshots; backups over NBD
     8  image jobs patterns damage    qemu-img tools, block jobs, byte patterns, damage
     7  protocol                      how a case's I/O reaches the image: file, NBD, a node
     6  exports                       NBD exports of a QMP server's nodes
     5  nbdserver qmp                 qemu-nbd; qemu-storage-daemon and QEMU over QMP
     4  process                       one managed-process life: spawn, signal, reap, judge
     3  tools                         running a tool: qemu_tool, qemu-img, qemu-io, sessions
     2  output evidence qcow2         printing; what a process leaves for the runner; qcow2
     1  env crypt filebytes           the runner's contract and notrun; LUKS; reading bytes
     0  errors names extents craft    pure: no process, no environment

Outside the package the library imports only :mod:`iotests.command`,
:mod:`iotests.contract` (the environment the runner promises),
:mod:`iotests.env` (binary roles, the probe) and
:mod:`iotests.runner.compare` (the runner's crash detector, so a helper
judges output exactly as the runner does).
"""

from iotests.lib import craft, crypt, qcow2
from iotests.lib import evidence as _evidence
from iotests.lib.backup import bitmap_extents, copy_extents, log_extents
from iotests.lib.chain import backing_chain, log_map, map_extents, snapshot
from iotests.lib.damage import poke, poke_field, poke_int
from iotests.lib.env import CaseEnv, case_env, notrun
from iotests.lib.errors import (
    CaseError,
    ImageFormatError,
    NotRun,
    QMPCommandError,
    QMPTimeout,
    ServerError,
    ToolError,
)
from iotests.lib.exports import QMPExport, start_nbd_server
from iotests.lib.extents import dirty_extents, merge_ranges
from iotests.lib.filebytes import peek, peek_int
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
    rebase,
    resize,
    snapshot_names,
    test_image,
    virtual_size,
)
from iotests.lib.jobs import Job, log_completion, run_job
from iotests.lib.names import (
    SECRET_ID,
    free_port,
    image_opts,
    json_filename,
    nbd_image_opts,
    node_options,
    open_args,
    opts_string,
    secret_object,
)
from iotests.lib.nbdserver import QemuNBD
from iotests.lib.output import check, format_neutral, log, log_json, section
from iotests.lib.patterns import Region, parse_size, verify, write
from iotests.lib.protocol import guest_io, qemu_io, release_guest
from iotests.lib.qmp import QMPServer, blockdev, blockdev_arg, drop_keys, log_bitmaps, qsd
from iotests.lib.tools import QemuIoSession, ToolResult, qemu_img, qemu_io_session, qemu_tool

# A case that hangs can say where: its Python stacks go into the runner's hang record.
_evidence.answer_stack_requests()

#: Old names, kept for the cases written before the error tree existed.
QemuToolError = ToolError
QMPError = QMPCommandError

__all__ = [
    "SECRET_ID",
    "CaseEnv",
    "CaseError",
    "CheckResult",
    "ImageFormatError",
    "Job",
    "NotRun",
    "QMPCommandError",
    "QMPError",
    "QMPExport",
    "QMPServer",
    "QMPTimeout",
    "QemuIoSession",
    "QemuNBD",
    "QemuToolError",
    "Region",
    "ServerError",
    "ToolError",
    "ToolResult",
    "allocated_ranges",
    "amend",
    "backing_chain",
    "bench",
    "bitmap",
    "bitmap_extents",
    "bitmaps",
    "blockdev",
    "blockdev_arg",
    "case_env",
    "check",
    "check_image",
    "commit",
    "compare",
    "convert",
    "copy_extents",
    "craft",
    "create",
    "crypt",
    "dd",
    "dirty_extents",
    "disk_usage",
    "drop_keys",
    "file_size",
    "format_neutral",
    "free_port",
    "guest_io",
    "image_opts",
    "img_info",
    "img_map",
    "json_filename",
    "log",
    "log_bitmaps",
    "log_completion",
    "log_extents",
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
    "poke_field",
    "poke_int",
    "qcow2",
    "qemu_img",
    "qemu_io",
    "qemu_io_session",
    "qemu_tool",
    "qsd",
    "rebase",
    "release_guest",
    "resize",
    "run_job",
    "secret_object",
    "section",
    "snapshot",
    "snapshot_names",
    "start_nbd_server",
    "test_image",
    "verify",
    "virtual_size",
    "write",
]
