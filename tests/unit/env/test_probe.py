"""Probing binaries: versions, formats, accelerators, and requirement checks.

Fake binaries (shell scripts printing what real QEMU prints) make every
answer controllable, including the odd ones out such as qemu-nbd's version
line without the word "version".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.env.binaries import Binaries
from iotests.env.probe import Probe, probe

SCRIPTS = {
    "qemu-img": """case "$1" in
--version) echo "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7)";;
--help) printf 'usage...\\n\\nSupported formats: qcow2 raw luks vdi\\n';;
esac""",
    "qemu-nbd": 'echo "qemu-nbd 7.2.22 (Debian 1:7.2+dfsg-7)"',
    "qemu": """case "$1" in
--version) echo "QEMU emulator version 9.2.0"; echo "Copyright (c) 2003-2024";;
-accel) printf 'Accelerators supported in QEMU binary:\\ntcg\\nkvm\\n';;
-machine) printf 'Supported machines are:\\npc  Standard PC\\nnone  empty machine\\n';;
esac""",
    "qsd": "echo garbage",
}


@pytest.fixture
def probed(tmp_path: Path) -> Probe:
    paths: dict[str, str | None] = {"qemu-io": None}
    for role, body in SCRIPTS.items():
        script = tmp_path / role
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
        paths[role] = str(script)
    return probe(Binaries(paths=paths, origin="test"))


def test_versions(probed: Probe) -> None:
    assert probed.versions == {"qemu-img": "7.2.22", "qemu-nbd": "7.2.22", "qemu": "9.2.0"}
    assert probed.problems == {"qsd": "no version in --version output"}


def test_capabilities(probed: Probe) -> None:
    assert probed.formats == ("luks", "qcow2", "raw", "vdi")
    assert probed.accelerators == ("tcg", "kvm")
    assert probed.machines == ("pc", "none")


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        ("qemu-img", None),
        ("qemu-nbd", None),
        ("qemu-io", "qemu-io binary not found"),
        ("qsd", "qsd does not work: no version in --version output"),
        ("format:vdi", None),
        ("format:vmdk", "format vmdk not supported by qemu-img"),
        ("accel:tcg", None),
        ("machine:none", None),
        ("machine:q35", "machine type q35 not available"),
        ("cmd:sh", None),
        ("cmd:no-such-program-here", "no-such-program-here not found on PATH"),
    ],
)
def test_unmet(probed: Probe, requirement: str, problem: str | None) -> None:
    assert probed.unmet(requirement) == problem


def test_accel_missing_names_binary(probed: Probe) -> None:
    problem = probed.unmet("accel:qtest")
    assert problem is not None
    assert problem.startswith("accelerator qtest not available in ")


def test_round_trip(probed: Probe, tmp_path: Path) -> None:
    path = tmp_path / "probe.json"
    probed.save(path)
    assert Probe.load(path) == probed


def test_valgrind_aware(tmp_path: Path) -> None:
    from iotests.env.probe import valgrind_aware

    aware, plain = tmp_path / "aware", tmp_path / "plain"
    aware.write_bytes(b"\x90" * 100 + bytes.fromhex("48c1c70348c1c70d48c1c73d48c1c733") + b"\xc3")
    plain.write_bytes(b"\x90" * 100)
    assert valgrind_aware(str(aware), "x86_64") is True
    assert valgrind_aware(str(plain), "x86_64") is False
    assert valgrind_aware(str(aware), "riscv64") is None
    assert valgrind_aware(str(tmp_path / "missing"), "x86_64") is None
