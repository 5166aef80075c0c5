"""iotests.build.profiles: versions and version-dependent configure options."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.build.config import load_build_config
from iotests.build.profiles import parse_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7.2.0", (7, 2, 0)),
        ("7.2+dfsg", (7, 2, 0)),
        ("9.2", (9, 2, 0)),
        ("10.0.0-rc1", (10, 0, 0)),
        ("8", (8, 0, 0)),
        (" 9.1.2\n", (9, 1, 2)),
    ],
)
def test_parse_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected


def test_parse_version_rejects_words() -> None:
    with pytest.raises(ValueError, match="not a version"):
        parse_version("debian")


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ("7.2.0", ["--enable-sanitizers"], ["--enable-asan", "--enable-ubsan"]),
        ("9.1.3", ["--enable-sanitizers"], ["--enable-asan"]),
        ("9.2.0", ["--enable-asan", "--enable-ubsan"], ["--enable-sanitizers"]),
        ("10.1.0", ["--enable-asan", "--enable-ubsan"], ["--enable-sanitizers"]),
    ],
)
def test_asan_options_follow_the_version(
    tmp_path: Path, version: str, present: list[str], absent: list[str]
) -> None:
    (tmp_path / "c.yaml").write_text("build: {}\n")
    asan = load_build_config(tmp_path / "c.yaml").profile("asan")
    options = asan.configure_options(parse_version(version))
    assert all(o in options for o in present)
    assert not any(o in options for o in absent)
    assert "--enable-tools" in options


def test_gcov_profile_enables_gcov(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("build: {}\n")
    gcov = load_build_config(tmp_path / "c.yaml").profile("gcov")
    assert "--enable-gcov" in gcov.configure_options((7, 2, 0))
