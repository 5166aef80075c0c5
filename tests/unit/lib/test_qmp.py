"""The pure parts of iotests.lib.qmp: command lines, specs, filtering."""

from __future__ import annotations

import json

from iotests.lib import errors, qmp


def test_qsd_argv_connects_monitor_to_socket() -> None:
    argv = qmp.server_argv("qsd", "/bin/qsd", "/s/q.qmp", ["--blockdev", "x"])
    assert argv == [
        "/bin/qsd",
        "--chardev",
        "socket,id=qmp0,path=/s/q.qmp",
        "--monitor",
        "chardev=qmp0",
        "--blockdev",
        "x",
    ]


def test_emulator_argv_has_no_machine_devices_and_uses_tcg() -> None:
    argv = qmp.server_argv("qemu", "/bin/qemu", "/s/q.qmp", [])
    assert argv[argv.index("-machine") + 1] == "none"
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert "-nodefaults" in argv
    assert argv[argv.index("-mon") + 1] == "chardev=qmp0,mode=control"


def test_drop_keys_at_any_depth() -> None:
    value = {"a": 1, "offset": 5, "b": [{"offset": 1, "c": 2}], "d": {"offset": 0}}
    assert qmp.drop_keys(value, ["offset"]) == {"a": 1, "b": [{"c": 2}], "d": {}}


def test_blockdev_spec_names_file_node() -> None:
    spec = qmp.blockdev("n0", "/t/a.img", "qcow2", read_only=True)
    assert spec == {
        "driver": "qcow2",
        "node-name": "n0",
        "read-only": True,
        "file": {"driver": "file", "filename": "/t/a.img", "node-name": "n0-file"},
    }
    flag, text = qmp.blockdev_arg(spec)
    assert flag == "--blockdev"
    assert json.loads(text) == spec


def test_qmp_error_message_uses_desc() -> None:
    err = errors.QMPCommandError(
        "blockdev-del", {"error": {"class": "GenericError", "desc": "in use"}}
    )
    assert str(err) == "blockdev-del: in use"
