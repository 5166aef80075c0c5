"""Fetching and verifying release tarballs from a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from iotests.build.actions import build_qemu, fetch_qemu
from iotests.build.fetch import NotFoundError
from iotests.errors import BuildError

from .build_fixtures import FileServer, GpgKey, tarball_bytes

# Incompressible, so that the truncated download delivers several chunks before it stops.
TARBALL = tarball_bytes(
    {"qemu-9.9.9/VERSION": b"9.9.9\n", "qemu-9.9.9/data": random.Random(1).randbytes(300_000)}
)
NAME = "qemu-9.9.9.tar.xz"


def configure(path: Path, *, sha: str | None = None, fingerprint: str | None = None) -> None:
    lines = [f"build:\n  cache_dir: {path.parent / 'cache'}\n"]
    if sha:
        lines.append(f'  sha256: {{9.9.9: "{sha}"}}\n')
    if fingerprint:
        lines.append(f"  gpg_fingerprints: [{fingerprint}]\n")
    path.write_text("".join(lines))


def downloads(config_file: Path) -> list[str]:
    folder = config_file.parent / "cache" / "downloads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_good_download_with_pinned_checksum(file_server: FileServer, config_file: Path) -> None:
    file_server.files["/" + NAME] = TARBALL
    configure(config_file, sha=hashlib.sha256(TARBALL).hexdigest())
    path = fetch_qemu("9.9.9", url=file_server.url)
    assert path.read_bytes() == TARBALL
    assert downloads(config_file) == [NAME]
    # Cached and verified: offline works, and no second request is made.
    requests_before = len(file_server.log)
    assert fetch_qemu("9.9.9", url=file_server.url, offline=True) == path
    assert len(file_server.log) == requests_before


def test_checksum_mismatch_leaves_nothing(file_server: FileServer, config_file: Path) -> None:
    file_server.files["/" + NAME] = TARBALL
    configure(config_file, sha="0" * 64)
    with pytest.raises(BuildError) as info:
        fetch_qemu("9.9.9", url=file_server.url)
    assert str(info.value).startswith(f"{NAME}: SHA-256 mismatch: expected {'0' * 64}, got ")
    assert downloads(config_file) == []


def test_truncated_download_resumes_with_range(file_server: FileServer, config_file: Path) -> None:
    file_server.files["/" + NAME] = TARBALL
    file_server.truncate_once.add("/" + NAME)
    configure(config_file, sha=hashlib.sha256(TARBALL).hexdigest())
    path = fetch_qemu("9.9.9", url=file_server.url)
    assert path.read_bytes() == TARBALL
    tarball_requests = [entry for entry in file_server.log if entry[0] == "/" + NAME]
    assert tarball_requests[0] == ("/" + NAME, None, 200)
    _, resumed_from, status = tarball_requests[1]
    assert status == 206
    assert resumed_from is not None
    assert 0 < int(resumed_from.removeprefix("bytes=").rstrip("-")) <= len(TARBALL) // 2
    assert downloads(config_file) == [NAME]


def test_404_is_one_clear_line(file_server: FileServer, config_file: Path) -> None:
    configure(config_file, sha="0" * 64)
    with pytest.raises(NotFoundError) as info:
        fetch_qemu("9.9.9", url=file_server.url)
    assert str(info.value) == f"{file_server.url}{NAME}: not found (HTTP 404)"
    assert downloads(config_file) == []


def test_offline_names_what_is_missing(config_file: Path) -> None:
    with pytest.raises(BuildError, match=f"offline: {NAME} is not in the download cache"):
        fetch_qemu("9.9.9", offline=True)


def test_good_signature_is_enough_without_a_pin(
    file_server: FileServer,
    config_file: Path,
    gpg_key: GpgKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signed = tmp_path / NAME
    signed.write_bytes(TARBALL)
    file_server.files["/" + NAME] = TARBALL
    file_server.files["/" + NAME + ".sig"] = gpg_key.sign(signed).read_bytes()
    configure(config_file, fingerprint=gpg_key.fingerprint)
    monkeypatch.setenv("GNUPGHOME", str(gpg_key.home))
    assert fetch_qemu("9.9.9", url=file_server.url).read_bytes() == TARBALL


def test_signature_that_does_not_verify(
    file_server: FileServer,
    config_file: Path,
    gpg_key: GpgKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tmp_path / "other"
    other.write_bytes(TARBALL + b"tampered")
    file_server.files["/" + NAME] = TARBALL
    file_server.files["/" + NAME + ".sig"] = gpg_key.sign(other).read_bytes()
    configure(config_file, sha=hashlib.sha256(TARBALL).hexdigest(), fingerprint=gpg_key.fingerprint)
    monkeypatch.setenv("GNUPGHOME", str(gpg_key.home))
    with pytest.raises(BuildError) as info:
        fetch_qemu("9.9.9", url=file_server.url)
    assert str(info.value) == f"{NAME}: BAD signature ({NAME}.sig does not match the file)"
    assert downloads(config_file) == []


def test_unverifiable_tarball_is_refused_unless_allowed(
    file_server: FileServer, config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "empty-gnupg"))
    file_server.files["/" + NAME] = TARBALL
    configure(config_file)
    with pytest.raises(BuildError, match=r"cannot be verified: no build\.sha256\.9\.9\.9 in"):
        fetch_qemu("9.9.9", url=file_server.url)
    assert downloads(config_file) == []
    path = fetch_qemu("9.9.9", url=file_server.url, allow_unverified=True)
    assert path.read_bytes() == TARBALL


def test_path_traversal_tarball_is_refused(file_server: FileServer, config_file: Path) -> None:
    evil = tarball_bytes({"qemu-9.9.9/VERSION": b"9.9.9\n", "qemu-9.9.9/../../escaped": b"!"})
    file_server.files["/" + NAME] = evil
    configure(config_file, sha=hashlib.sha256(evil).hexdigest())
    with pytest.raises(BuildError) as info:
        build_qemu(source="9.9.9", url=file_server.url, check_deps=False)
    assert "refusing to extract member 'qemu-9.9.9/../../escaped'" in str(info.value)
    assert "\n" not in str(info.value)
    cache = config_file.parent / "cache"
    assert list((cache / "sources").iterdir()) == []
    assert not (cache / "escaped").exists()
    assert not (cache / "builds").exists()


def test_server_error_is_retried(file_server: FileServer, config_file: Path) -> None:
    file_server.files["/" + NAME] = TARBALL
    file_server.fail_once["/" + NAME] = 503
    configure(config_file, sha=hashlib.sha256(TARBALL).hexdigest())
    assert fetch_qemu("9.9.9", url=file_server.url).read_bytes() == TARBALL
    statuses = [status for path, _, status in file_server.log if path == "/" + NAME]
    assert statuses == [503, 200]
