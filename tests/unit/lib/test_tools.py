"""How the case library names and opens images: option strings, json:, luks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iotests.lib.tools import (
    SECRET_ID,
    create_options,
    image_opts,
    json_filename,
    needs_secret,
    node_options,
    open_args,
    opts_string,
)


def test_opts_string_flattens_and_doubles_commas() -> None:
    opts = {"driver": "raw", "file": {"driver": "file", "filename": "/a,b"}, "read-only": True}
    assert opts_string(opts) == "driver=raw,file.driver=file,file.filename=/a,,b,read-only=on"


def test_opts_string_booleans_off() -> None:
    assert opts_string({"x": False}) == "x=off"


def test_json_filename_round_trips() -> None:
    spec = {"driver": "qcow2", "file": {"driver": "file", "filename": "/t:x.img"}}
    name = json_filename(spec)
    assert name.startswith("json:{")
    assert json.loads(name[5:]) == spec


def test_plain_formats_open_with_f() -> None:
    assert open_args("/t.img", "qcow2") == ["-f", "qcow2", "/t.img"]


def test_luks_opens_with_secret_and_image_opts() -> None:
    args = open_args("/t.img", "luks")
    assert args[0] == "--object"
    assert args[1].startswith(f"secret,id={SECRET_ID},")
    assert args[2:] == [
        "--image-opts",
        f"driver=luks,key-secret={SECRET_ID},file.driver=file,file.filename=/t.img",
    ]


def test_node_options_add_the_secret_only_for_encrypted_formats() -> None:
    assert "key-secret" not in node_options("/t", "raw")
    assert node_options("/t", "luks")["key-secret"] == SECRET_ID
    assert image_opts("/t", "raw") == "driver=raw,file.driver=file,file.filename=/t"


def test_needs_secret() -> None:
    assert needs_secret("luks")
    assert needs_secret("qcow2", "encrypt.format=luks,encrypt.key-secret=sec0")
    assert not needs_secret("qcow2", "cluster_size=4k")


def test_create_options_keep_sizes_exact_and_luks_fast() -> None:
    assert create_options("vpc") == "force_size=on"
    assert "iter-time=10" in create_options("luks")
    assert create_options("qcow2") == ""


def test_empty_format_lets_the_filename_speak() -> None:
    args = open_args('json:{"driver":"raw"}', "")
    assert args[0] == "--object"
    assert args[2:] == ['json:{"driver":"raw"}']


def test_missing_module_notices_are_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from iotests import command
    from iotests.lib.env import case_env
    from iotests.lib.tools import qemu_img

    notice = (
        "qemu: module block-block-dmg-bz2 not found, "
        "do you want to install qemu-block-extra package?\n"
    )

    def fake(argv: list[str], **_: object) -> command.Completed:
        return command.Completed(tuple(argv), 0, notice + '{"virtual-size": 1}\n', "")

    monkeypatch.setattr(command, "runner", fake)
    monkeypatch.setenv("QEMU_IMG_PROG", "/bin/qemu-img")
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    case_env.cache_clear()
    try:
        assert qemu_img("info", quiet=True).output == '{"virtual-size": 1}\n'
    finally:
        case_env.cache_clear()
