"""iotests.build.config: the build: section is validated where it enters."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.build.config import CACHE_ENV, CONFIG_ENV, load_build_config
from iotests.errors import ConfigError

SHA = "a" * 64
FPR = "0123456789ABCDEF0123456789ABCDEF01234567"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "iotests.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_defaults_have_the_four_profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = load_build_config()
    assert set(config.profiles) >= {"tools", "system", "asan", "gcov"}
    assert config.download_url == "https://download.qemu.org/"
    assert config.source.endswith("(packaged)")
    assert "qemu-system-x86_64" in config.profile("system").binaries
    assert not config.profile("tools").has_system_emulator


def test_file_overrides_and_adds_profiles(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
runner: {{timeout: 5}}
build:
  default_source: 9.2.0
  download_url: http://127.0.0.1:9/mirror
  sha256: {{9.2.0: {SHA.upper()}}}
  gpg_fingerprint: "{FPR[:20]} {FPR[20:]}"
  cache_dir: {tmp_path}/cache
  profiles:
    mini: {{configure: [--x], binaries: [qemu-img]}}
""",
    )
    config = load_build_config(path)
    assert config.default_source == "9.2.0"
    assert config.download_url == "http://127.0.0.1:9/mirror/"
    assert config.sha256 == {"9.2.0": SHA}
    assert config.gpg_fingerprints == (FPR,)
    assert config.cache_dir == tmp_path / "cache"
    assert {"mini", "tools", "asan"} <= set(config.profiles)


def test_environment_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "build: {default_source: debian}\n")
    assert load_build_config(env={CONFIG_ENV: str(path)}).source == str(path)


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ("build: {sha256: {9.2.0: nothex}}", "build.sha256.9.2.0", "64 hex digits"),
        ("build: {gpg_fingerprints: [ABC]}", "build.gpg_fingerprints", "40 hex digits"),
        ("build: {download_url: ftp://x}", "build.download_url", "http"),
        ("build: {colour: red}", "build.colour", "unknown key"),
        ("build: {profiles: {p: {binaries: []}}}", "build.profiles.p.binaries", "at least one"),
        (
            "build: {profiles: {p: {binaries: [a], configure: x}}}",
            "build.profiles.p.configure",
            "list of strings",
        ),
        (
            "build: {profiles: {p: {binaries: [a], needs: [gpu]}}}",
            "build.profiles.p.needs",
            "unknown dependency 'gpu'",
        ),
        (
            "build: {profiles: {p: {binaries: [a], versioned: [{configure: [x]}]}}}",
            "build.profiles.p.versioned[0]",
            "since",
        ),
        (
            "build: {profiles: {p: {binaries: [a], versioned: [{since: x, configure: [y]}]}}}",
            "build.profiles.p.versioned[0].since",
            "version",
        ),
        ("build: [1, 2]", "build", "mapping"),
        ("build: {default_source: ''}", "build.default_source", "non-empty"),
        ("build: {a: [}", "line 1", "not valid YAML"),
    ],
)
def test_bad_values_name_file_key_and_expectation(
    tmp_path: Path, body: str, key: str, problem: str
) -> None:
    path = write(tmp_path, body + "\n")
    with pytest.raises(ConfigError) as info:
        load_build_config(path)
    assert info.value.source == str(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert "\n" not in str(info.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_build_config(tmp_path / "nope.yaml")


def test_unknown_profile_lists_known_ones(tmp_path: Path) -> None:
    config = load_build_config(write(tmp_path, "build: {}\n"))
    with pytest.raises(ConfigError, match=r"no such profile \(known: asan, gcov, system, tools"):
        config.profile("tsan")


def test_cache_dir_from_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path, f"build: {{cache_dir: {tmp_path / 'file'}}}\n")
    env = {CONFIG_ENV: str(path), CACHE_ENV: str(tmp_path / "env")}
    assert load_build_config(env=env).cache_dir == tmp_path / "env"
