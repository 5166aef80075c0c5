"""Unpacking source tarballs without trusting them.

A member with an absolute path, a ``..`` that climbs out, or a link pointing
outside the target is refused with one line naming it (Python's ``data``
extraction filter does the judging, made stricter for absolute names), and
nothing is left behind: the archive is unpacked into a hidden sibling
directory that is renamed into place only when every member was accepted.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import zlib
from pathlib import Path

from iotests.errors import BuildError


def safe_extract(archive: Path, dest: Path) -> Path:
    """Unpack *archive* so that its contents end up in *dest* (which must not exist).

    :returns: the single top-level directory of the archive when it has one
        (``qemu-9.2.0/``), else *dest*.
    :raises BuildError: for a member escaping *dest*, or a damaged archive.
    """
    if dest.exists():
        raise BuildError(f"{dest}: already exists; refusing to extract {archive.name} over it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter=_refuse_or_clean)
    except tarfile.FilterError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        member = exc.tarinfo.name
        raise BuildError(
            f"{archive.name}: refusing to extract member {member!r}: {_why(exc)}"
        ) from exc
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"{archive.name}: cannot extract: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, dest)
    return top_directory(dest)


def _refuse_or_clean(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """Python's ``data`` filter, except that absolute names are refused, not made relative.

    A tarball with absolute member names was not made by ``make dist``; it is
    safer to stop than to guess what its author meant.
    """
    if member.name.startswith("/"):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest)


def top_directory(tree: Path) -> Path:
    """The single directory inside *tree* when there is exactly one entry, else *tree*."""
    entries = list(tree.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return tree


def _why(exc: tarfile.FilterError) -> str:
    if isinstance(exc, tarfile.AbsolutePathError):
        return "absolute path"
    if isinstance(exc, tarfile.OutsideDestinationError):
        return "path leads outside the target directory"
    if isinstance(exc, tarfile.AbsoluteLinkError):
        return "link to an absolute path"
    if isinstance(exc, tarfile.LinkOutsideDestinationError):
        return "link points outside the target directory"
    if isinstance(exc, tarfile.SpecialFileError):
        return "device or other special file"
    return str(exc)
