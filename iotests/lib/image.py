"""Images under test: create, inspect, check, map, compare, convert and the other qemu-img tools.

Every helper opens images through :func:`iotests.lib.names.open_args`, so a
case written for ``-f qcow2`` also works for encrypted (luks) images, and
creates them through :func:`create`, which adds the options that keep sizes
exact (vpc) and creation fast (luks).

The helpers follow the library's one rule (see :mod:`iotests.lib`):
queries (:func:`img_info`, :func:`img_map`, :func:`measure`, ...) return
parsed data and raise :class:`~iotests.lib.errors.ToolError` when qemu-img
fails; checks (:func:`check_image`, :func:`compare`) return their verdict;
actions (:func:`create`, :func:`convert`, :func:`resize`, ...) return the
:class:`~iotests.lib.tools.ToolResult`, true on success, having printed what
QEMU said, so an expected refusal is part of the golden.
"""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iotests.lib import crypt
from iotests.lib.env import case_env
from iotests.lib.extents import merge_ranges
from iotests.lib.names import create_options, image_opts, needs_secret, open_args, secret_object
from iotests.lib.output import format_neutral, log
from iotests.lib.tools import ToolResult, qemu_img, require_crypto


def errno_name(message: str) -> str | None:
    """The errno (``"EINVAL"``) whose text ends the first line of a QEMU error, or None.

    QEMU words the same failure differently across releases (7.2 prints
    ``... -22 (Invalid argument)``, 8.2 and later ``...: Invalid argument``)
    and errno numbers differ between architectures; the errno's name is the
    fact a case relies on.
    """
    lines = message.strip().splitlines()
    line = lines[0] if lines else ""
    for code, name in errno.errorcode.items():
        text = os.strerror(code)
        if line.endswith((f": {text}", f"({text})")):
            return name
    return None


def test_image(name: str = "t") -> str:
    """Path of an image in the case's scratch directory (``TEST_DIR/t.img``)."""
    return str(case_env().test_dir / f"{name}.img")


_FORMATTING = re.compile(r"^Formatting '(?P<path>[^']*)', fmt=(?P<fmt>\S+)(?P<opts>.*)$", re.M)
_KEPT_OPTIONS = ("size", "backing_file", "backing_fmt", "encrypt.format", "cluster_size")


def _neutral_formatting(line: re.Match[str], keep: tuple[str, ...]) -> str:
    opts = re.findall(r"(\S+?)=('[^']*'|\S+)", line.group("opts"))
    kept = " ".join(f"{k}={v}" for k, v in opts if k in keep)
    return f"Formatting '{line.group('path')}', fmt={line.group('fmt')}" + (
        f" {kept}" if kept else ""
    )


def create(
    path: str,
    size: str | int | None,
    *,
    fmt: str | None = None,
    options: str = "",
    backing: str | None = None,
    backing_fmt: str | None = None,
    quiet: bool = False,
    keep: tuple[str, ...] = ("size", "backing_file", "backing_fmt"),
) -> ToolResult:
    """``qemu-img create`` with the run's IMGOPTS added; prints a format-neutral line.

    Options from :func:`~iotests.lib.names.create_options` come first (the
    luks secret, vpc's ``force_size``) unless *options* sets them. Only the
    options in *keep* are shown from qemu-img's "Formatting" line, and the
    format under test is shown as ``fmt=IMGFMT``
    (:func:`~iotests.lib.output.format_neutral`), so one golden serves
    every format.

    :raises NotRun: for an encrypted image when QEMU has no crypto backend.
    """
    env = case_env()
    fmt = fmt or env.imgfmt
    implied = create_options(fmt)
    if implied and implied.split("=", 1)[0] in options:
        implied = ""
    opts = ",".join(o for o in (implied, env.imgopts if fmt == env.imgfmt else "", options) if o)
    args = ["create", "-f", fmt]
    if needs_secret(fmt, opts):
        args += secret_object()
    if opts:
        args += ["-o", opts]
    if backing is not None:
        args += ["-b", backing, "-F", backing_fmt or env.imgfmt]
    args.append(path)
    if size is not None:
        args.append(str(size))
    result = qemu_img(*args, quiet=True)
    if needs_secret(fmt, opts):
        require_crypto(result)
    if not quiet:
        shown = format_neutral(result.output)
        text = _FORMATTING.sub(lambda m: _neutral_formatting(m, keep), shown)
        if text:
            log(text.rstrip("\n"))
        if not result.ok:
            log(f"[qemu-img exit code {result.returncode}]")
    return result


def img_info(path: str, *, fmt: str | None = None, backing_chain: bool = False) -> Any:
    """``qemu-img info --output=json`` parsed (a list with *backing_chain*).

    :raises ToolError: when qemu-img fails.
    """
    args = ["info", "--output=json", "-U"]
    if fmt != "":
        args += ["-f", fmt or case_env().imgfmt]
    if backing_chain:
        args.append("--backing-chain")
    result = qemu_img(*args, path, quiet=True).require()
    return json.loads(result.output)


#: ``qemu-img check``'s exit code for "checks are not supported by the image
#: format" (qemu-img(1)): the same in every release, unlike the message.
CHECK_UNSUPPORTED = 63


@dataclass(frozen=True)
class CheckResult:
    """``qemu-img check --output=json`` parsed; ``supported`` False for formats without check."""

    returncode: int
    supported: bool
    corruptions: int = 0
    leaks: int = 0
    check_errors: int = 0
    corruptions_fixed: int = 0
    leaks_fixed: int = 0
    image_end_offset: int | None = None
    raw: Any = None

    @property
    def clean(self) -> bool:
        return self.supported and self.corruptions == self.leaks == self.check_errors == 0


def check_image(
    path: str,
    *,
    fmt: str | None = None,
    repair: str | None = None,
    quiet: bool = False,
    encrypted: bool = False,
) -> CheckResult:
    """Run ``qemu-img check`` and print a format-neutral verdict.

    Prints ``check: clean`` (or the counts) for formats that support checks
    and ``check: clean`` for those that do not either, so one golden serves
    raw and qcow2 alike; the returned result tells the two apart.
    *encrypted* opens the image with the helpers' secret, for LUKS inside
    qcow2 (``encrypt.key-secret``); luks files get it anyway.
    """
    fmt = fmt or case_env().imgfmt
    args = ["check", "--output=json"]
    if repair:
        args += ["-r", repair]
    if encrypted:
        target = [*secret_object(), "--image-opts", crypt.open_opts(path, fmt)]
    else:
        target = open_args(path, fmt)
    result = qemu_img(*args, *target, quiet=True)
    if result.returncode == CHECK_UNSUPPORTED:
        res = CheckResult(result.returncode, supported=False)
        if not quiet:
            log("check: clean")
        return res
    try:
        start = result.output.index("{")
        data = json.loads(result.output[start:])
    except ValueError:
        log(result.output.rstrip())
        log(f"[qemu-img check exit code {result.returncode}]")
        return CheckResult(result.returncode, supported=True, check_errors=1)
    res = CheckResult(
        returncode=result.returncode,
        supported=True,
        corruptions=int(data.get("corruptions", 0)),
        leaks=int(data.get("leaks", 0)),
        check_errors=int(data.get("check-errors", 0)),
        corruptions_fixed=int(data.get("corruptions-fixed", 0)),
        leaks_fixed=int(data.get("leaks-fixed", 0)),
        image_end_offset=data.get("image-end-offset"),
        raw=data,
    )
    if not quiet:
        if res.clean and res.returncode == 0:
            log("check: clean")
        else:
            log(
                f"check: {res.corruptions} corruptions, {res.leaks} leaks, "
                f"{res.check_errors} check errors, {res.corruptions_fixed} corruptions fixed, "
                f"{res.leaks_fixed} leaks fixed (exit code {res.returncode})"
            )
    return res


def img_map(path: str, *, fmt: str | None = None, image_opts: bool = False) -> list[dict[str, Any]]:
    """``qemu-img map --output=json`` parsed.

    :raises ToolError: when qemu-img fails.
    """
    if image_opts:
        target = [*secret_object(), "--image-opts", path]
    else:
        target = open_args(path, fmt or case_env().imgfmt)
    result = qemu_img("map", "--output=json", *target, quiet=True).require()
    data: list[dict[str, Any]] = json.loads(result.output)
    return data


def compare(
    a: str,
    b: str,
    *,
    fmt_a: str | None = None,
    fmt_b: str | None = None,
    strict: bool = False,
    quiet: bool = False,
) -> bool:
    """``qemu-img compare``; prints its verdict and returns whether contents are identical."""
    env = case_env()
    fmt_a, fmt_b = fmt_a or env.imgfmt, fmt_b or env.imgfmt
    args = ["compare"]
    if strict:
        args.append("-s")
    if needs_secret(fmt_a) or needs_secret(fmt_b):
        args += [*secret_object(), "--image-opts", image_opts(a, fmt_a), image_opts(b, fmt_b)]
    else:
        args += ["-f", fmt_a, "-F", fmt_b, a, b]
    result = qemu_img(*args, quiet=quiet)
    return result.returncode == 0


def convert(
    src: str,
    dst: str,
    *,
    src_fmt: str | None = None,
    dst_fmt: str | None = None,
    options: str = "",
    extra: tuple[str, ...] = (),
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img convert``; prints what qemu-img said unless *quiet*.

    An encrypted source is opened with the helpers' secret; an encrypted
    target is created with it (see :func:`~iotests.lib.names.create_options`).
    """
    env = case_env()
    src_fmt, dst_fmt = src_fmt or env.imgfmt, dst_fmt or env.imgfmt
    implied = create_options(dst_fmt) if "-n" not in extra else ""
    if implied and implied.split("=", 1)[0] in options:
        implied = ""
    opts = ",".join(o for o in (implied, options) if o)
    args = ["convert", "-O", dst_fmt]
    if opts:
        args += ["-o", opts]
    if needs_secret(src_fmt) or needs_secret(dst_fmt, opts):
        args += secret_object()
    source = [image_opts(src, src_fmt)] if needs_secret(src_fmt) else [src]
    args += ["--image-opts"] if needs_secret(src_fmt) else ["-f", src_fmt]
    if "-n" in extra and needs_secret(dst_fmt):
        args += ["--target-image-opts", *extra, *source, image_opts(dst, dst_fmt)]
    else:
        args += [*extra, *source, dst]
    result = qemu_img(*args, quiet=True)
    if needs_secret(dst_fmt, opts):
        require_crypto(result)
    if not quiet:
        if result.output:
            log(result.output.rstrip("\n"))
        if not result.ok:
            log(f"[qemu-img exit code {result.returncode}]")
    return result


def _tool(
    sub: str,
    path: str,
    fmt: str | None,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
    *,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img SUB BEFORE... <open the image> AFTER...``."""
    return qemu_img(sub, *before, *open_args(path, fmt or case_env().imgfmt), *after, quiet=quiet)


def resize(
    path: str,
    size: str | int,
    *,
    fmt: str | None = None,
    shrink: bool = False,
    preallocation: str | None = None,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img resize``; *size* may be relative (``+1M``, ``-1M``)."""
    before: tuple[str, ...] = ("--shrink",) if shrink else ()
    if preallocation:
        before += (f"--preallocation={preallocation}",)
    return _tool("resize", path, fmt, before, (str(size),), quiet=quiet)


def measure(
    path: str | None = None,
    *,
    fmt: str | None = None,
    out_fmt: str | None = None,
    options: str = "",
    size: str | int | None = None,
    snapshot: str | None = None,
) -> dict[str, int]:
    """``qemu-img measure --output=json`` parsed: required and fully-allocated bytes.

    Measures *path* (of *fmt*) converted to *out_fmt*, or a new image of
    *size* when no path is given.

    :raises ToolError: when qemu-img fails.
    """
    env = case_env()
    out_fmt = out_fmt or env.imgfmt
    args = ["measure", "--output=json", "-O", out_fmt]
    if options:
        args += ["-o", options]
    if needs_secret(out_fmt, options):
        args += secret_object()
    if snapshot is not None:
        args += ["-l", f"snapshot.name={snapshot}"]
    if path is None:
        args += ["--size", str(size)]
    else:
        args += open_args(path, fmt or env.imgfmt)
    result = qemu_img(*args, quiet=True).require()
    data: dict[str, int] = json.loads(result.output)
    return data


def dd(
    src: str,
    dst: str,
    *,
    src_fmt: str | None = None,
    dst_fmt: str | None = None,
    bs: str | int | None = None,
    count: int | None = None,
    skip: int | None = None,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img dd if=SRC of=DST``; DST is created by qemu-img."""
    env = case_env()
    args = ["dd", "-f", src_fmt or env.imgfmt, "-O", dst_fmt or env.imgfmt]
    for key, value in (("bs", bs), ("count", count), ("skip", skip)):
        if value is not None:
            args.append(f"{key}={value}")
    return qemu_img(*args, f"if={src}", f"of={dst}", quiet=quiet)


def bench(
    path: str,
    *,
    fmt: str | None = None,
    count: int = 16,
    depth: int = 4,
    size: str = "4k",
    offset: str | None = None,
    step: str | None = None,
    write: bool = False,
    pattern: int | None = None,
    flush_interval: int | None = None,
) -> ToolResult:
    """``qemu-img bench`` with a small request count (the timing line is dropped).

    Returns the result whose output keeps only the lines that do not vary
    between runs (the parameters line); a failure keeps everything.
    """
    before = ["-c", str(count), "-d", str(depth), "-s", size, "-t", case_env().cachemode]
    if offset is not None:
        before += ["-o", offset]
    if step is not None:
        before += ["-S", step]
    if write:
        before.append("-w")
    if pattern is not None:
        before.append(f"--pattern={pattern}")
    if flush_interval is not None:
        before.append(f"--flush-interval={flush_interval}")
    result = _tool("bench", path, fmt, tuple(before), quiet=True)
    if result.ok:
        kept = [line for line in result.output.splitlines() if not line.startswith("Run completed")]
        result = ToolResult(result.argv, result.returncode, "\n".join(kept) + "\n")
    log(result.output.rstrip("\n"))
    if not result.ok:
        log(f"[qemu-img exit code {result.returncode}]")
    return result


def amend(path: str, options: str, *, fmt: str | None = None, quiet: bool = False) -> ToolResult:
    """``qemu-img amend -o OPTIONS``."""
    return _tool("amend", path, fmt, ("-o", options), quiet=quiet)


def snapshot_names(path: str, *, fmt: str | None = None) -> list[str]:
    """Names of the internal snapshots ``qemu-img info`` lists, in order."""
    info = img_info(path, fmt=fmt)
    return [str(s["name"]) for s in info.get("snapshots", [])]


def rebase(
    path: str,
    backing: str,
    *,
    fmt: str | None = None,
    backing_fmt: str | None = None,
    unsafe: bool = False,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img rebase -b BACKING`` (``-u`` with *unsafe*); ``""`` removes the backing file."""
    before: tuple[str, ...] = ("-u",) if unsafe else ()
    before += ("-b", backing)
    if backing:
        before += ("-F", backing_fmt or case_env().imgfmt)
    return _tool("rebase", path, fmt, before, quiet=quiet)


def commit(
    path: str,
    *,
    fmt: str | None = None,
    base: str | None = None,
    drop: bool = False,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img commit`` into the backing file (or *base*); *drop* empties nothing (``-d``)."""
    before: tuple[str, ...] = ("-d",) if drop else ()
    if base is not None:
        before += ("-b", base)
    return _tool("commit", path, fmt, before, quiet=quiet)


def bitmap(
    path: str,
    name: str,
    *actions: str,
    fmt: str | None = None,
    granularity: str | None = None,
    quiet: bool = False,
) -> ToolResult:
    """``qemu-img bitmap ACTIONS... PATH NAME``; actions like ``--add``, ``--merge``, ``src``."""
    before = tuple(actions)
    if granularity is not None:
        before += ("-g", granularity)
    return _tool("bitmap", path, fmt, before, (name,), quiet=quiet)


def bitmaps(path: str, *, fmt: str | None = None) -> list[dict[str, Any]]:
    """The persistent dirty bitmaps ``qemu-img info`` reports for a qcow2 image."""
    info = img_info(path, fmt=fmt)
    data = info.get("format-specific", {}).get("data", {})
    found: list[dict[str, Any]] = data.get("bitmaps", [])
    return found


def virtual_size(path: str, *, fmt: str | None = None) -> int:
    """The image's virtual size in bytes, from ``qemu-img info``."""
    return int(img_info(path, fmt=fmt)["virtual-size"])


def allocated_ranges(
    path: str, *, fmt: str | None = None, data_only: bool = True
) -> list[tuple[int, int]]:
    """Merged ``(start, length)`` ranges that ``qemu-img map`` reports as data.

    With *data_only* False, ranges that are allocated as zeroes (present,
    not data) count too.
    """
    return merge_ranges(
        (int(ext["start"]), int(ext["length"]))
        for ext in img_map(path, fmt=fmt)
        if ext.get("depth", 0) == 0
        and (ext["data"] or (not data_only and ext.get("present", False)))
    )


def file_size(path: str) -> int:
    """The host file's length in bytes (not its allocation)."""
    return Path(path).stat().st_size


def disk_usage(path: str) -> int:
    """Bytes the host file occupies on disk (holes excluded)."""
    return Path(path).stat().st_blocks * 512
