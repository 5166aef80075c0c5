"""The case author's contract: one error root, "not run" as an exception, explicit rewriting.

Fake tools (shell scripts named by QEMU_*_PROG) stand in for QEMU, so each
rule is checked on the path a real helper takes, process and all.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iotests import lib
from iotests.lib import errors, qcow2
from iotests.lib.env import case_env


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A case environment in *tmp_path* whose qemu-img, qemu-io and qemu-nbd run ``reply``."""
    reply = tmp_path / "reply"
    reply.write_text("exit 0\n")
    for variable, name in (
        ("QEMU_IMG_PROG", "qemu-img"),
        ("QEMU_IO_PROG", "qemu-io"),
        ("QEMU_NBD_PROG", "qemu-nbd"),
    ):
        script = tmp_path / name
        script.write_text(f'#!/bin/sh\n. "{reply}"\n')
        script.chmod(0o755)
        monkeypatch.setenv(variable, str(script))
    for name in ("IOTESTS_NOTRUN_FILE", "IOTESTS_EVENTS", "IOTESTS_VALGRIND", "IMGOPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.setenv("IMGFMT", "qcow2")
    monkeypatch.setenv("IMGPROTO", "file")
    case_env.cache_clear()
    yield reply
    case_env.cache_clear()


def test_a_failed_query_raises_a_tool_error_with_command_and_tail(fake: Path) -> None:
    lines = "".join(f"echo line{i} >&2\n" for i in range(30))
    fake.write_text(lines + "exit 1\n")
    with pytest.raises(lib.CaseError) as caught:
        lib.img_info("t.img")
    err = caught.value
    assert isinstance(err, lib.ToolError)
    assert err.returncode == 1
    assert err.argv[1:3] == ("info", "--output=json")
    assert err.tail.splitlines() == [f"line{i}" for i in range(10, 30)]
    assert "line9\n" not in str(err)
    assert str(err).endswith("line29")


def test_actions_return_a_result_true_on_success(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.write_text('echo "qemu-img: refused" >&2\nexit 1\n')
    result = lib.convert("a.img", "b.img")
    assert isinstance(result, lib.ToolResult)
    assert not result
    assert capsys.readouterr().out == "qemu-img: refused\n[qemu-img exit code 1]\n"
    with pytest.raises(lib.ToolError):
        result.require()
    fake.write_text("exit 0\n")
    assert lib.convert("a.img", "b.img")
    assert lib.snapshot("a.img", "create", "s")
    assert lib.check(lib.resize("a.img", "1M", quiet=True), "resized")


def test_tool_output_is_rewritten_only_where_asked(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.write_text("echo \"Formatting 't.img', fmt=qcow2 size=1024 cluster_size=65536\"\n")
    direct = lib.qemu_img("create", "-f", "qcow2", "t.img", "1k")
    assert "fmt=qcow2" in direct.output
    assert lib.create("t.img", 1024)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Formatting 't.img', fmt=qcow2 size=1024 cluster_size=65536",
        "Formatting 't.img', fmt=IMGFMT size=1024",
    ]
    assert lib.format_neutral(direct.output).startswith("Formatting 't.img', fmt=IMGFMT")


def test_a_server_that_does_not_start_is_a_server_error(fake: Path) -> None:
    fake.write_text('echo "qemu-nbd: Failed to find bitmap nope" >&2\nexit 1\n')
    server = lib.QemuNBD("t.img", "qcow2", bitmaps=["nope"])
    with pytest.raises(lib.ServerError, match="Failed to find bitmap nope") as caught:
        server.start()
    assert isinstance(caught.value, RuntimeError)  # what cases caught before the tree
    assert "Failed to find bitmap" in caught.value.output


def test_qmp_and_parser_failures_share_the_root(tmp_path: Path) -> None:
    refused = errors.QMPCommandError("blockdev-del", {"error": {"desc": "in use"}})
    assert str(refused) == "blockdev-del: in use"
    assert refused.argv == ("qmp", "blockdev-del")
    assert lib.QMPError is lib.QMPCommandError
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"\0" * 512)
    with pytest.raises(lib.CaseError):
        qcow2.read_header(str(bad))
    with pytest.raises(ValueError, match="bad magic"):
        qcow2.read_header(str(bad))
    for cls in (lib.ToolError, lib.ServerError, lib.QMPCommandError, lib.QMPTimeout):
        assert issubclass(cls, lib.CaseError)


#: A case that is not run from inside a server's block and a handler of every Exception.
NOT_RUN_CASE = """
from iotests import lib
try:
    try:
        lib.notrun("no widget here")
    except Exception:
        print("swallowed")
finally:
    print("cleaned up")
print("went on")
"""


def test_notrun_ends_the_case_the_way_the_runner_reads(tmp_path: Path) -> None:
    script = tmp_path / "case"
    script.write_text(NOT_RUN_CASE)
    reason = tmp_path / "notrun"
    env = {"PATH": "/usr/bin:/bin", "TEST_DIR": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**env, "IOTESTS_NOTRUN_FILE": str(reason)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "cleaned up\n", "")
    assert reason.read_text() == "no widget here\n"
    by_hand = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=False
    )
    assert (by_hand.returncode, by_hand.stderr) == (0, "not run: no widget here\n")


def test_a_missing_binary_is_not_run(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = fake.parent / "notrun"
    monkeypatch.setenv("IOTESTS_NOTRUN_FILE", str(reason))
    monkeypatch.setenv("QSD_PROG", "")
    monkeypatch.setenv("PATH", str(fake.parent / "empty"))
    case_env.cache_clear()
    with pytest.raises(lib.NotRun) as caught:
        lib.QMPServer("qsd")
    assert caught.value.code == 0
    assert reason.read_text() == "qsd binary not found\n"
