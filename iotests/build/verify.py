"""Checking that a downloaded tarball is the one its publisher released.

Two independent checks: a SHA-256 pinned in the config, and the detached
OpenPGP signature (``.sig``) checked with gpg against the release key
fingerprints in the config. The signature check is only as available as gpg
and the key are; :func:`verify_signature` says why when it could not run,
and raises when a signature is there and is wrong.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from iotests import command
from iotests.errors import BuildError

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file at *path*."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, name: str) -> None:
    """:raises BuildError: when *path* does not hash to *expected* (*name* is shown)."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise BuildError(f"{name}: SHA-256 mismatch: expected {expected.lower()}, got {actual}")


@dataclass(frozen=True)
class SignatureResult:
    """Whether the signature was checked and good; *detail* says by whom, or why not."""

    verified: bool
    detail: str


def _gpg(args: Sequence[str], env: Mapping[str, str] | None) -> command.Completed:
    return command.run(
        ["gpg", "--batch", "--no-tty", *args], env=env, check=False, merge_stderr=False
    )


def verify_signature(
    path: Path,
    signature: Path,
    fingerprints: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
) -> SignatureResult:
    """Check *signature* over *path*, accepting only keys in *fingerprints*.

    Returns an unverified result (with the reason) when gpg is not installed
    or none of the release keys is in the keyring, because then nothing can
    be said either way.

    :param env: environment for gpg (``GNUPGHOME`` picks the keyring).
    :param name: what to call *path* in errors (a download is checked as ``NAME.part``).
    :raises BuildError: when the signature is bad, or good but made by a key
        that is not one of *fingerprints*.
    """
    environ = dict(os.environ if env is None else env)
    shown = name or path.name
    if command.which("gpg", path=environ.get("PATH")) is None:
        return SignatureResult(False, "gpg is not installed")
    wanted = {f.upper() for f in fingerprints}
    if not wanted:
        return SignatureResult(False, "no release key fingerprint is configured")
    listed = _gpg(["--with-colons", "--list-keys", *sorted(wanted)], environ)
    have = {line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:")}
    if not have & wanted:
        return SignatureResult(
            False, f"no release key ({', '.join(sorted(wanted))}) in the gpg keyring"
        )
    result = _gpg(["--status-fd", "1", "--verify", str(signature), str(path)], environ)
    return judge(
        result.stdout, result.returncode, result.stderr, wanted, shown=shown, sig=signature.name
    )


def judge(
    status_text: str,
    returncode: int,
    stderr: str,
    wanted: set[str],
    *,
    shown: str,
    sig: str,
) -> SignatureResult:
    """What gpg's ``--status-fd`` lines say about a signature, as a result or one-line error.

    The status lines, not gpg's prose on stderr, decide: the prose spans
    several lines, changes between versions and, for a file that is no
    signature at all, ends with advice about argument order.

    :raises BuildError: bad, made by a key not in *wanted*, or no signature.
    """
    status: dict[str, list[str]] = {}
    for line in status_text.splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[0] == "[GNUPG:]":
            status.setdefault(fields[1], fields[2:])
    if "VALIDSIG" in status:
        fields = status["VALIDSIG"]
        signer = {fields[0], fields[-1]} & wanted
        if signer and returncode == 0:
            return SignatureResult(True, f"good signature by {sorted(signer)[0]}")
        raise BuildError(
            f"{shown}: good signature by key {fields[-1]}, which is not a configured release key"
        )
    if "BADSIG" in status:
        raise BuildError(f"{shown}: BAD signature ({sig} does not match the file)")
    if "ERRSIG" in status:
        fields = status["ERRSIG"]
        key = fields[6] if len(fields) > 6 and fields[6] != "-" else fields[0]
        if "NO_PUBKEY" in status:
            raise BuildError(
                f"{shown}: signed by key {key}, which is not in the gpg keyring "
                "and not a configured release key"
            )
        code = fields[5] if len(fields) > 5 else "?"
        raise BuildError(f"{shown}: signature by key {key} cannot be checked (gpg error {code})")
    if {"NODATA", "UNEXPECTED"} & status.keys() or "NEWSIG" not in status:
        # No signature packet in it at all: garbage, truncated, or some other file.
        raise BuildError(f"{shown}: signature {sig} is not a valid OpenPGP signature")
    said = [line.removeprefix("gpg: ") for line in stderr.splitlines() if line.startswith("gpg: ")]
    reason = said[0] if said else f"gpg exit code {returncode}"
    raise BuildError(f"{shown}: signature {sig} does not verify: {reason}")
