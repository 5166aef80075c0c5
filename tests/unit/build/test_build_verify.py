"""iotests.build.verify.judge: gpg's status lines, as recorded from gpg 2.2, to one verdict."""

from __future__ import annotations

import pytest

from iotests.build.verify import judge
from iotests.errors import BuildError

RELEASE = "F1E7A5B8F7BD4B52427A96CD40A9314C50F5A4F0"
OTHER = "0123456789ABCDEF0123456789ABCDEF01234567"


def validsig(fpr: str) -> str:
    return f"[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG {fpr[-16:]} r\n[GNUPG:] VALIDSIG {fpr} 2026-12-01 1796163045 0 4 0 22 8 00 {fpr}\n"


GARBAGE_STDERR = (
    "gpg: no valid OpenPGP data found.\n"
    "gpg: the signature could not be verified.\n"
    "Please remember that the signature file (.sig or .asc)\n"
    "should be the first file given on the command line.\n"
)


@pytest.mark.parametrize(
    ("status", "code", "stderr", "message"),
    [
        (
            f"[GNUPG:] NEWSIG\n[GNUPG:] BADSIG {RELEASE[-16:]} r\n",
            1,
            "",
            "q.tar.xz: BAD signature (q.tar.xz.sig does not match the file)",
        ),
        (
            validsig(OTHER),
            0,
            "",
            f"q.tar.xz: good signature by key {OTHER}, which is not a configured release key",
        ),
        (
            f"[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG {OTHER[-16:]} 22 8 00 1796163045 9 {OTHER}\n"
            f"[GNUPG:] NO_PUBKEY {OTHER[-16:]}\n",
            2,
            "gpg: Can't check signature: No public key\n",
            f"q.tar.xz: signed by key {OTHER}, which is not in the gpg keyring and not a "
            "configured release key",
        ),
        (
            f"[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG {OTHER[-16:]} 99 8 00 1796163045 4 -\n",
            2,
            "",
            f"q.tar.xz: signature by key {OTHER[-16:]} cannot be checked (gpg error 4)",
        ),
        (
            "[GNUPG:] NODATA 1\n[GNUPG:] NODATA 2\n",
            2,
            GARBAGE_STDERR,
            "q.tar.xz: signature q.tar.xz.sig is not a valid OpenPGP signature",
        ),
        (
            "[GNUPG:] UNEXPECTED 0\n[GNUPG:] FAILURE verify 38\n",
            2,
            "gpg: verify signatures failed: Unexpected error\n",
            "q.tar.xz: signature q.tar.xz.sig is not a valid OpenPGP signature",
        ),
        (
            "[GNUPG:] NEWSIG\n[GNUPG:] FAILURE verify 38\n",
            2,
            "gpg: signature packet without keyid\ngpg: verify signatures failed\n",
            "q.tar.xz: signature q.tar.xz.sig does not verify: signature packet without keyid",
        ),
    ],
)
def test_refusals_are_one_distinct_line(status: str, code: int, stderr: str, message: str) -> None:
    with pytest.raises(BuildError) as info:
        judge(status, code, stderr, {RELEASE}, shown="q.tar.xz", sig="q.tar.xz.sig")
    assert str(info.value) == message


def test_good_signature_by_a_release_key() -> None:
    result = judge(validsig(RELEASE), 0, "", {RELEASE}, shown="q", sig="q.sig")
    assert result.verified
    assert result.detail == f"good signature by {RELEASE}"
