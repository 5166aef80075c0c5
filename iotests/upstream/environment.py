"""The variables upstream's ``check`` exports to every test (QEMU 7.2's ``testenv.py``).

Computed once per run as a plain mapping by :func:`check_environment`
(pure), then completed per test with its own TEST_DIR and SOCK_DIR. Values
follow testenv.py exactly, defaults included (``-accel qtest`` in
QEMU_OPTIONS, ``iter-time=10`` for luks, ``zeroed_grain=on`` for vmdk), so
that a test sees what it would see under ``./check``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from iotests import command
from iotests.errors import CommandError

#: Formats for which upstream sets IMGFMT_GENERIC=false (read-only sample images).
NON_GENERIC_FORMATS = ("bochs", "cloop", "dmg")
#: Extra ``-machine`` for emulators whose default machine is unusable in tests.
_MACHINE_MAP = (
    ("arm", "virt"),
    ("aarch64", "virt"),
    ("avr", "mega2560"),
    ("m68k", "virt"),
    ("riscv32", "virt"),
    ("riscv64", "virt"),
    ("rx", "gdbsim-r5f562n8"),
    ("tricore", "tricore_testboard"),
)


@dataclass(frozen=True)
class CheckOptions:
    """What ``check``'s options set, beyond what :class:`RunSettings` already holds."""

    #: None when no cache mode was given: upstream exports CACHEMODE_IS_DEFAULT then.
    cachemode: str | None = None
    aiomode: str = "threads"
    imgopts: str | None = None
    misalign: bool = False
    debug: bool = False
    valgrind: bool = False
    gdb: bool = False
    print_qemu: bool = False


def default_machine(machine_help: str) -> str:
    """The default machine from ``qemu -machine help``, resolved to its alias (pure)."""
    lines = machine_help.split("\n")
    default = next((m for m in lines if m.endswith(" (default)")), None)
    if default is None:
        return ""
    name = default.split(" ", 1)[0]
    alias = next((m for m in lines if m.endswith(f" (alias of {name})")), None)
    return alias.split(" ", 1)[0] if alias is not None else name


def query_default_machine(qemu_prog: str | None) -> str:
    """Ask the emulator for its default machine; empty when there is no emulator."""
    if not qemu_prog:
        return ""
    try:
        return default_machine(command.run([qemu_prog, "-machine", "help"], timeout=30).stdout)
    except CommandError:
        return ""


def check_environment(
    tree: Path,
    fmt: str,
    proto: str,
    options: CheckOptions,
    progs: Mapping[str, str],
    environ: Mapping[str, str],
    machine: str,
    *,
    python: str = sys.executable,
    malloc_perturb: str | None = None,
) -> dict[str, str]:
    """Everything ``check`` exports except TEST_DIR and SOCK_DIR (pure but for the random).

    *progs* holds the ``*_PROG`` variables of the binaries found; *environ*
    supplies what upstream reads from its own environment (PYTHONPATH,
    QEMU_IMG_OPTIONS, QEMU_NBD_OPTIONS, SAMPLE_IMG_DIR, MALLOC_PERTURB_,
    GDB_OPTIONS).
    """
    python_dir = (tree / ".." / ".." / "python").resolve()
    env: dict[str, str] = {
        "PYTHONPATH": ":".join(
            p for p in (str(tree), str(python_dir), environ.get("PYTHONPATH")) if p
        ),
        "SAMPLE_IMG_DIR": environ.get("SAMPLE_IMG_DIR", str(tree / "sample_images")),
        "PYTHON": python,
        **{k: v for k, v in progs.items() if v},
        "IMGFMT": fmt,
        "IMGPROTO": proto,
        "AIOMODE": options.aiomode,
        "CACHEMODE": options.cachemode or "writeback",
        "CACHEMODE_IS_DEFAULT": "true" if options.cachemode is None else "false",
        "MALLOC_PERTURB_": malloc_perturb
        or environ.get("MALLOC_PERTURB_")
        or str(random.randrange(1, 255)),
        "QEMU_DEFAULT_MACHINE": machine,
        "IMGFMT_GENERIC": "false" if fmt in NON_GENERIC_FORMATS else "true",
    }
    env["QEMU_OPTIONS"] = _qemu_options(progs.get("QEMU_PROG", ""))
    for variable in ("QEMU_IMG_OPTIONS", "QEMU_NBD_OPTIONS"):
        if variable in environ:
            env[variable] = environ[variable]
    env.update(_format_variables(fmt, options, env["CACHEMODE"]))
    if options.valgrind:
        env["VALGRIND_QEMU"] = "y"
    if options.print_qemu:
        env["PRINT_QEMU"] = "y"
    if options.gdb:
        env["GDB_OPTIONS"] = environ.get("GDB_OPTIONS") or "localhost:12345"
    return env


def _qemu_options(qemu_prog: str) -> str:
    """QEMU_OPTIONS: no default devices, no display, qtest; a usable machine where needed."""
    qemu_options = "-nodefaults -display none -accel qtest"
    for suffix, machine_name in _MACHINE_MAP:
        if qemu_prog.endswith(f"qemu-system-{suffix}"):
            qemu_options += f" -machine {machine_name}"
    return qemu_options


def _format_variables(fmt: str, options: CheckOptions, cachemode: str) -> dict[str, str]:
    """The qemu-io options and image options of *fmt*, derived as testenv.py does (pure)."""
    env: dict[str, str] = {}
    io_options = f"--cache {cachemode} --aio {options.aiomode}"
    if options.misalign:
        io_options += " --misalign"
    env["QEMU_IO_OPTIONS_NO_FMT"] = io_options
    imgopts = options.imgopts or None
    if fmt == "luks":
        env["IMGOPTSSYNTAX"] = "true"
        env["IMGKEYSECRET"] = "123456"
        imgopts = _with_default(imgopts, "iter-time", "10")
    else:
        env["IMGOPTSSYNTAX"] = "false"
        io_options += f" -f {fmt}"
    if fmt == "vmdk":
        imgopts = _with_default(imgopts, "zeroed_grain", "on")
    env["QEMU_IO_OPTIONS"] = io_options
    if imgopts is not None:
        env["IMGOPTS"] = imgopts
    return env


def _with_default(imgopts: str | None, key: str, value: str) -> str:
    if not imgopts:
        return f"{key}={value}"
    return imgopts if f"{key}=" in imgopts else f"{imgopts},{key}={value}"
