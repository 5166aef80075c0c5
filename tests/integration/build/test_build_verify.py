"""iotests.build.verify against real gpg with throwaway keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iotests import command
from iotests.build.verify import check_sha256, sha256_of, verify_signature
from iotests.errors import BuildError

from .build_fixtures import GpgKey, make_gpg_key


@pytest.fixture
def signed(tmp_path: Path, gpg_key: GpgKey) -> tuple[Path, Path]:
    data = tmp_path / "qemu-9.9.9.tar.xz"
    data.write_bytes(b"release contents\n")
    return data, gpg_key.sign(data)


def env_for(key: GpgKey) -> dict[str, str]:
    return {**os.environ, "GNUPGHOME": str(key.home)}


def test_good_signature(signed: tuple[Path, Path], gpg_key: GpgKey) -> None:
    data, sig = signed
    result = verify_signature(data, sig, [gpg_key.fingerprint], env=env_for(gpg_key))
    assert result.verified
    assert gpg_key.fingerprint in result.detail


def test_release_key_not_in_keyring_is_unverified_not_an_error(
    signed: tuple[Path, Path], gpg_key: GpgKey
) -> None:
    data, sig = signed
    result = verify_signature(data, sig, ["A" * 40], env=env_for(gpg_key))
    assert not result.verified
    assert "no release key" in result.detail


def test_good_signature_by_another_key_is_refused(
    tmp_path: Path, signed: tuple[Path, Path], gpg_key: GpgKey
) -> None:
    data, _ = signed
    stranger = make_gpg_key(tmp_path / "stranger", "stranger")
    by_stranger = stranger.sign(data)
    # The configured release key is present, but the file was signed by another one.
    exported = tmp_path / "release.asc"
    command.run(
        ["gpg", "--batch", "--export", "-o", str(exported), gpg_key.fingerprint],
        env=env_for(gpg_key),
    )
    command.run(["gpg", "--batch", "--import", str(exported)], env=env_for(stranger))
    with pytest.raises(BuildError, match="not a configured release key"):
        verify_signature(data, by_stranger, [gpg_key.fingerprint], env=env_for(stranger))


def test_tampered_file(signed: tuple[Path, Path], gpg_key: GpgKey) -> None:
    data, sig = signed
    data.write_bytes(b"release contents, changed\n")
    with pytest.raises(BuildError, match=r"qemu-9\.9\.9\.tar\.xz: BAD signature"):
        verify_signature(data, sig, [gpg_key.fingerprint], env=env_for(gpg_key))


def test_gpg_missing_is_unverified(signed: tuple[Path, Path], tmp_path: Path) -> None:
    data, sig = signed
    result = verify_signature(data, sig, ["A" * 40], env={"PATH": str(tmp_path)})
    assert not result.verified
    assert result.detail == "gpg is not installed"


def test_sha256(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_of(path) == digest
    check_sha256(path, digest.upper(), "f")
    with pytest.raises(BuildError, match="f: SHA-256 mismatch"):
        check_sha256(path, "0" * 64, "f")
