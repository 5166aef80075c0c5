"""Backing chains and internal snapshots: walk them, see which layer holds what.

Snapshot and backing-chain cases repeat the same moves: list a chain, look at
which layer holds each guest range, take and apply internal snapshots
(commit, rebase and amend wrappers live in :mod:`iotests.lib.image`).
What QEMU prints is passed through, so a golden records what the user would
see, plus ``[qemu-img exit code N]`` when a step is refused.
"""

from __future__ import annotations

import re
from typing import Any

from iotests.lib.env import case_env
from iotests.lib.extents import Extent, merge_extents
from iotests.lib.image import errno_name, img_info, img_map
from iotests.lib.names import image_opts
from iotests.lib.output import log
from iotests.lib.tools import ToolResult, qemu_img


def backing_chain(path: str, *, fmt: str | None = None) -> list[dict[str, Any]]:
    """``qemu-img info --backing-chain`` parsed: the image first, its base last."""
    chain: list[dict[str, Any]] = img_info(path, fmt=fmt, backing_chain=True)
    return chain


def snapshot(
    path: str, op: str, name: str = "", *, fmt: str | None = None, quiet: bool = False
) -> ToolResult:
    """``qemu-img snapshot`` with *op* one of create, apply, delete (an action).

    ``qemu-img snapshot`` has no ``-f``; the format is given through
    ``--image-opts`` so that it is never probed from the file's contents.
    """
    flags = {"create": "-c", "apply": "-a", "delete": "-d"}
    opts = image_opts(path, fmt or case_env().imgfmt)
    return qemu_img("snapshot", "--image-opts", flags[op], name, opts, quiet=quiet)


#: A row of ``qemu-img snapshot -l``: ID, tag (may hold spaces), VM state size ("0 B", "2 GiB").
_LISTED = re.compile(r"^(?P<id>\S+)\s+(?P<tag>.*?)\s+[\d.]+ [KMGTPE]?i?B\s")


def listed_snapshots(listing: str) -> list[tuple[str, str]]:
    """``(id, tag)`` of each row of a ``qemu-img snapshot -l`` listing, in order.

    The table is for people and its layout moved (9.1 renamed "VM SIZE" to
    "VM_SIZE" and narrowed the ID column), so only what every version shows
    is taken: the rows after the header, each an ID, a tag, a VM state size.
    Cases that need the snapshots' details read :func:`snapshot_info`.
    """
    rows: list[tuple[str, str]] = []
    header_seen = False
    for line in listing.splitlines():
        if not header_seen:
            header_seen = line.split()[:2] == ["ID", "TAG"]
            continue
        if match := _LISTED.match(line):
            rows.append((match["id"], match["tag"]))
    return rows


def snapshot_info(path: str, *, fmt: str | None = None) -> list[dict[str, Any]]:
    """The internal snapshots as ``qemu-img info --output=json`` reports them (id, name, ...)."""
    found: list[dict[str, Any]] = img_info(path, fmt=fmt).get("snapshots", [])
    return found


def refused_snapshot(path: str, op: str, name: str = "", *, fmt: str | None = None) -> bool:
    """A ``qemu-img snapshot`` the case expects to be refused; returns whether it was (a check).

    Prints ``snapshot create 'NAME': refused, EINVAL``: that it failed and
    with which errno, not QEMU's sentence around it, which changed in 8.2
    (commit "qemu-img: omit errno value in error message"). A failure
    without an errno prints QEMU's message instead, and a success says so,
    so either shows up as a diff.
    """
    result = qemu_img(
        "snapshot",
        "--image-opts",
        {"create": "-c", "apply": "-a", "delete": "-d"}[op],
        name,
        image_opts(path, fmt or case_env().imgfmt),
        quiet=True,
    )
    what = f"snapshot {op} '{name}'"
    if result.ok:
        log(f"{what}: succeeded")
    elif (code := errno_name(result.output)) is not None:
        log(f"{what}: refused, {code}")
    else:
        log(f"{what}: refused: {result.output.strip()}")
    return not result.ok


def map_extents(path: str, *, fmt: str | None = None) -> list[Extent]:
    """``qemu-img map`` as ``(start, length, data, zero, depth)``, host offsets left out.

    Host offsets depend on allocation order; what a user relies on is which
    guest ranges hold data and in which layer of the chain, which this keeps.
    Adjacent extents that agree are merged, so the result does not depend on
    how QEMU happened to split its answer.
    """
    return merge_extents(img_map(path, fmt=fmt))


def log_map(path: str, *, fmt: str | None = None) -> list[Extent]:
    """Print :func:`map_extents` one extent a line and return it."""
    extents = map_extents(path, fmt=fmt)
    for start, length, data, zero, depth in extents:
        log(f"map: {start:#x}+{length:#x} data={data} zero={zero} depth={depth}")
    return extents
