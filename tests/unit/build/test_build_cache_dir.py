"""The build cache directory follows XDG unless configured; without XDG it stays ~/.cache/iotests."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.build.config import CACHE_ENV, CONFIG_ENV, default_cache_dir, load_build_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own, no config file and no cache variables: only the defaults speak."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    for name in ("XDG_CACHE_HOME", CACHE_ENV, CONFIG_ENV):
        monkeypatch.delenv(name, raising=False)
    return home


def test_without_xdg_cache_home_it_is_dot_cache_iotests(home: Path) -> None:
    assert default_cache_dir() == home / ".cache" / "iotests"
    assert load_build_config().cache_dir == home / ".cache" / "iotests"


def test_xdg_cache_home_moves_it(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_build_config().cache_dir == tmp_path / "xdg" / "iotests"


def test_a_relative_xdg_cache_home_is_ignored_as_the_spec_says(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert load_build_config().cache_dir == home / ".cache" / "iotests"


def test_config_file_and_variable_still_win_over_xdg(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = tmp_path / "iotests.yaml"
    config.write_text("build:\n  cache_dir: ~/builds\n")
    assert load_build_config(config).cache_dir == home / "builds"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert load_build_config(config).cache_dir == tmp_path / "env"
