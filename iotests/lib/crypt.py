"""Encrypted images with chosen passphrases: luks files and qcow2 with LUKS inside.

The image helpers open encrypted images with the one secret every case
shares (:data:`iotests.lib.names.SECRET_ID`). Encryption cases need more:
several passphrases (keyslots, a base and an overlay with different keys),
a wrong one, and the same scenario for both places LUKS lives (a whole
``luks`` file, or ``encrypt.format=luks`` inside qcow2, where every option
takes an ``encrypt.`` prefix). These helpers hide that prefix.
"""

from __future__ import annotations

from iotests.lib.names import SECRET_DATA, SECRET_ID, secret_object

__all__ = [
    "ITER_TIME",
    "SECRET_DATA",
    "SECRET_ID",
    "amend_options",
    "create_options",
    "open_opts",
    "secret_object",
]

#: A short PBKDF time: the default (2 s per keyslot) would dominate every case.
ITER_TIME = 10


def _prefix(fmt: str) -> str:
    return "" if fmt == "luks" else "encrypt."


def create_options(fmt: str, secret_id: str = SECRET_ID, **extra: str | int) -> str:
    """``-o`` options creating an encrypted *fmt* image (luks or qcow2) keyed by *secret_id*.

    *extra* are LUKS options without prefix (``cipher_alg="aes-128"``; an
    underscore stands for the dash QEMU's option names use).
    """
    p = _prefix(fmt)
    opts = [] if fmt == "luks" else ["encrypt.format=luks"]
    opts += [f"{p}key-secret={secret_id}", f"{p}iter-time={ITER_TIME}"]
    opts += [f"{p}{key.replace('_', '-')}={value}" for key, value in extra.items()]
    return ",".join(opts)


def amend_options(fmt: str, **options: str | int) -> str:
    """``-o`` options for a keyslot amend (state, new-secret, old-secret, keyslot, ...)."""
    p = _prefix(fmt)
    return ",".join(f"{p}{key.replace('_', '-')}={value}" for key, value in options.items())


def open_opts(path: str, fmt: str, secret_id: str = SECRET_ID) -> str:
    """The ``--image-opts`` string opening encrypted *path* with *secret_id*."""
    return f"driver={fmt},{_prefix(fmt)}key-secret={secret_id},file.filename={path}"
