"""The packaged build profiles (defaults.yaml): what every build of them must be able to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.build.config import load_build_config
from iotests.build.profiles import parse_version

#: Versions whose meson.build enables a crypto backend only for system emulators.
VERSIONS = ("7.2.0", "10.0.13", "10.2.2", "11.1.3")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_profile_has_a_crypto_backend(tmp_path: Path, version: str) -> None:
    """Without gnutls (or gcrypt/nettle) qemu-img can make neither luks nor AES-qcow2 images."""
    path = tmp_path / "iotests.yaml"
    path.write_text("build: {}\n")
    for profile in load_build_config(path).profiles.values():
        options = profile.configure_options(parse_version(version))
        if profile.has_system_emulator:
            continue  # configure's auto detection covers these
        assert {"--enable-gnutls", "--enable-gcrypt", "--enable-nettle"} & set(options), (
            f"profile {profile.name} ({version}): {options}"
        )
