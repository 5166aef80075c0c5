"""Images under test: create, inspect, check, map, compare, convert."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from iotests.lib.env import case_env
from iotests.lib.output import log
from iotests.lib.tools import qemu_img


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
) -> bool:
    """``qemu-img create`` with the run's IMGOPTS added; prints a format-neutral line.

    Only the options in *keep* are shown from qemu-img's "Formatting" line, so
    one golden serves every format. Returns whether qemu-img succeeded.
    """
    env = case_env()
    fmt = fmt or env.imgfmt
    opts = ",".join(o for o in (env.imgopts if fmt == env.imgfmt else "", options) if o)
    args = ["create", "-f", fmt]
    if opts:
        args += ["-o", opts]
    if backing is not None:
        args += ["-b", backing, "-F", backing_fmt or env.imgfmt]
    args.append(path)
    if size is not None:
        args.append(str(size))
    result = qemu_img(*args, quiet=True)
    if not quiet:
        text = _FORMATTING.sub(lambda m: _neutral_formatting(m, keep), result.output)
        if text:
            log(text.rstrip("\n"))
        if not result.ok:
            log(f"[qemu-img exit code {result.returncode}]")
    return result.ok


def img_info(path: str, *, fmt: str | None = None, backing_chain: bool = False) -> Any:
    """``qemu-img info --output=json`` parsed (a list with *backing_chain*)."""
    args = ["info", "--output=json", "-U"]
    if fmt != "":
        args += ["-f", fmt or case_env().imgfmt]
    if backing_chain:
        args.append("--backing-chain")
    result = qemu_img(*args, path, quiet=True)
    if not result.ok:
        raise RuntimeError(f"qemu-img info failed: {result.output.strip()}")
    return json.loads(result.output)


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
    path: str, *, fmt: str | None = None, repair: str | None = None, quiet: bool = False
) -> CheckResult:
    """Run ``qemu-img check`` and print a format-neutral verdict.

    Prints ``check: clean`` (or the counts) for formats that support checks
    and ``check: clean`` for those that do not either, so one golden serves
    raw and qcow2 alike; the returned result tells the two apart.
    """
    args = ["check", "--output=json", "-f", fmt or case_env().imgfmt]
    if repair:
        args += ["-r", repair]
    result = qemu_img(*args, path, quiet=True)
    unsupported = "does not support checks" in result.output
    if unsupported:
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
    """``qemu-img map --output=json`` parsed."""
    args = ["map", "--output=json"]
    args += ["--image-opts"] if image_opts else ["-f", fmt or case_env().imgfmt]
    result = qemu_img(*args, path, quiet=True)
    if not result.ok:
        raise RuntimeError(f"qemu-img map failed: {result.output.strip()}")
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
    args = ["compare", "-f", fmt_a or env.imgfmt, "-F", fmt_b or env.imgfmt]
    if strict:
        args.append("-s")
    result = qemu_img(*args, a, b, quiet=quiet)
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
) -> bool:
    """``qemu-img convert``; returns whether it succeeded."""
    env = case_env()
    args = ["convert", "-f", src_fmt or env.imgfmt, "-O", dst_fmt or env.imgfmt]
    if options:
        args += ["-o", options]
    result = qemu_img(*args, *extra, src, dst, quiet=quiet)
    return result.ok
