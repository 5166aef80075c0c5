"""LUKS option strings: the same scenario for a luks file and LUKS inside qcow2."""

from __future__ import annotations

from iotests.lib import crypt


def test_create_options_luks_and_qcow2() -> None:
    assert crypt.create_options("luks", "k") == f"key-secret=k,iter-time={crypt.ITER_TIME}"
    assert crypt.create_options("qcow2", "k", cipher_alg="aes-128") == (
        f"encrypt.format=luks,encrypt.key-secret=k,encrypt.iter-time={crypt.ITER_TIME},"
        "encrypt.cipher-alg=aes-128"
    )


def test_amend_options_prefix_and_dashes() -> None:
    assert crypt.amend_options("luks", state="active", new_secret="s1", keyslot=3) == (
        "state=active,new-secret=s1,keyslot=3"
    )
    assert crypt.amend_options("qcow2", old_secret="s0") == "encrypt.old-secret=s0"


def test_open_opts() -> None:
    assert crypt.open_opts("/i", "luks", "k") == "driver=luks,key-secret=k,file.filename=/i"
    assert crypt.open_opts("/i", "qcow2") == (
        f"driver=qcow2,encrypt.key-secret={crypt.SECRET_ID},file.filename=/i"
    )
