"""iotests.build.deps: distribution detection and the missing-package check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from iotests.build import deps
from iotests.build.config import load_build_config
from iotests.errors import BuildError


@pytest.mark.parametrize(
    ("text", "manager"),
    [
        ('ID=debian\nVERSION_ID="12"\n', "apt"),
        ("ID=ubuntu\nID_LIKE=debian\n", "apt"),
        ("ID=fedora\n", "dnf"),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "dnf"),
        ("ID=arch\n", None),
    ],
)
def test_package_manager(tmp_path: Path, text: str, manager: str | None) -> None:
    (tmp_path / "os-release").write_text(text)
    assert deps.package_manager(tmp_path / "os-release") == manager


def test_package_manager_without_os_release(tmp_path: Path) -> None:
    assert deps.package_manager(tmp_path / "missing") is None


def test_packages_per_profile(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("build: {}\n")
    system = load_build_config(tmp_path / "c.yaml").profile("system")
    apt = deps.packages(deps.needs_of(system), "apt")
    assert "libglib2.0-dev" in apt
    assert "libfdt-dev" in apt
    assert "libslirp-dev" in apt
    dnf = deps.packages(deps.needs_of(system), "dnf")
    assert "glib2-devel" in dnf
    assert "libfdt-devel" in dnf


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a dpkg-based system")
def test_missing_asks_dpkg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(deps.NEEDS, "fdt", deps.Need(apt=("dpkg", "no-such-package-xyz"), dnf=()))
    assert deps.missing(["fdt"], "apt") == ["no-such-package-xyz"]


def test_check_fails_in_one_line_naming_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "c.yaml").write_text("build: {}\n")
    gcov = load_build_config(tmp_path / "c.yaml").profile("gcov")
    monkeypatch.setitem(
        deps.NEEDS, "gcov", deps.Need(apt=("gcovr",), dnf=("gcovr",), programs=("no-such-gcovr",))
    )
    monkeypatch.setitem(deps.NEEDS, "base", deps.Need(apt=(), dnf=()))
    with pytest.raises(BuildError) as info:
        deps.check(gcov)
    message = str(info.value)
    assert "\n" not in message
    assert "missing build dependencies for profile 'gcov'" in message
    assert "invoke deps --profile gcov --install" in message
