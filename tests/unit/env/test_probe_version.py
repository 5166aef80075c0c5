"""The QEMU version under test as numbers, for goldens and requirements that know versions."""

from __future__ import annotations

import pytest

from iotests.env.probe import Probe, parse_version


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("7.2.22", (7, 2, 22)),
        ("10.0.13", (10, 0, 13)),
        ("10.0", (10, 0, 0)),
        ("10.1.50", (10, 1, 50)),
        ("", None),
        ("10", None),
        ("v10.0.0", None),
        ("10.0.0-rc1", None),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == version


def test_versions_order_as_qemu_releases_do() -> None:
    ordered = ["7.2.22", "8.2.0", "9.2.4", "10.0.0", "10.0.13", "10.0.50", "10.1.0", "11.0.0"]
    parsed = [parse_version(v) for v in ordered]
    assert parsed == sorted(parsed, key=lambda v: v or (0, 0, 0))


def test_qemu_version_is_qemu_imgs_else_another_tools() -> None:
    versions = {"qemu-img": "10.0.13", "qemu-nbd": "7.2.22", "qemu": "9.2.0"}
    assert Probe(binaries={}, versions=versions).qemu_version == (10, 0, 13)
    assert Probe(binaries={}, versions={"qemu-nbd": "7.2.22"}).qemu_version == (7, 2, 22)
    assert Probe(binaries={}).qemu_version is None


def test_qemu_version_survives_the_round_trip_to_cases() -> None:
    probe = Probe(binaries={}, versions={"qemu-img": "10.0.13"})
    assert Probe.deserialize(probe.serialize()).qemu_version == (10, 0, 13)
