"""iotests.upstream.environment: exactly the variables 7.2's testenv.py exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.upstream.environment import CheckOptions, check_environment, default_machine

PROGS = {
    "QEMU_PROG": "/usr/bin/qemu-system-x86_64",
    "QEMU_IMG_PROG": "/usr/bin/qemu-img",
    "QEMU_IO_PROG": "/usr/bin/qemu-io",
    "QEMU_NBD_PROG": "/usr/bin/qemu-nbd",
    "QSD_PROG": "/usr/bin/qemu-storage-daemon",
}


def _env(
    tree: Path,
    fmt: str = "qcow2",
    options: CheckOptions | None = None,
    environ: dict[str, str] | None = None,
    progs: dict[str, str] | None = None,
) -> dict[str, str]:
    return check_environment(
        tree,
        fmt,
        "file",
        options or CheckOptions(),
        PROGS if progs is None else progs,
        environ or {},
        "pc-i440fx-7.2",
        python="/usr/bin/python3",
        malloc_perturb="42",
    )


def test_defaults_for_qcow2(tree: Path) -> None:
    env = _env(tree, environ={"PYTHONPATH": "/extra"})
    python_dir = tree.parents[1] / "python"
    assert env == {
        "PYTHONPATH": f"{tree}:{python_dir}:/extra",
        "SAMPLE_IMG_DIR": str(tree / "sample_images"),
        "PYTHON": "/usr/bin/python3",
        **PROGS,
        "IMGFMT": "qcow2",
        "IMGPROTO": "file",
        "AIOMODE": "threads",
        "CACHEMODE": "writeback",
        "CACHEMODE_IS_DEFAULT": "true",
        "MALLOC_PERTURB_": "42",
        "QEMU_DEFAULT_MACHINE": "pc-i440fx-7.2",
        "IMGFMT_GENERIC": "true",
        "QEMU_OPTIONS": "-nodefaults -display none -accel qtest",
        "QEMU_IO_OPTIONS_NO_FMT": "--cache writeback --aio threads",
        "QEMU_IO_OPTIONS": "--cache writeback --aio threads -f qcow2",
        "IMGOPTSSYNTAX": "false",
    }


def test_luks_gets_secret_syntax_and_fast_iterations(tree: Path) -> None:
    env = _env(tree, "luks", CheckOptions(imgopts="cipher-alg=aes-256"))
    assert env["IMGOPTSSYNTAX"] == "true"
    assert env["IMGKEYSECRET"] == "123456"
    assert env["IMGOPTS"] == "cipher-alg=aes-256,iter-time=10"
    assert env["QEMU_IO_OPTIONS"] == "--cache writeback --aio threads"


@pytest.mark.parametrize(
    ("imgopts", "expected"),
    [
        (None, "zeroed_grain=on"),
        ("subformat=x", "subformat=x,zeroed_grain=on"),
        ("zeroed_grain=off", "zeroed_grain=off"),
    ],
)
def test_vmdk_zeroed_grain(tree: Path, imgopts: str | None, expected: str) -> None:
    assert _env(tree, "vmdk", CheckOptions(imgopts=imgopts))["IMGOPTS"] == expected


def test_explicit_options(tree: Path) -> None:
    opts = CheckOptions(
        cachemode="none", aiomode="native", misalign=True, valgrind=True, gdb=True, print_qemu=True
    )
    env = _env(tree, "dmg", opts, environ={"QEMU_NBD_OPTIONS": "--x", "SAMPLE_IMG_DIR": "/s"})
    assert env["CACHEMODE"] == "none"
    assert env["CACHEMODE_IS_DEFAULT"] == "false"
    assert env["QEMU_IO_OPTIONS"] == "--cache none --aio native --misalign -f dmg"
    assert env["IMGFMT_GENERIC"] == "false"
    assert env["VALGRIND_QEMU"] == env["PRINT_QEMU"] == "y"
    assert env["GDB_OPTIONS"] == "localhost:12345"
    assert env["QEMU_NBD_OPTIONS"] == "--x"
    assert env["SAMPLE_IMG_DIR"] == "/s"


def test_machine_options_for_arm(tree: Path) -> None:
    env = _env(tree, progs={**PROGS, "QEMU_PROG": "/b/qemu-system-aarch64"})
    assert env["QEMU_OPTIONS"].endswith(" -machine virt")


MACHINE_HELP = """Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
"""


def test_default_machine_prefers_the_alias() -> None:
    assert default_machine(MACHINE_HELP) == "pc"
    assert default_machine("none   empty (default)\n") == "none"
    assert default_machine("no default here\n") == ""
