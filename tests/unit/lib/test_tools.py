"""How the case library names and opens images: option strings, json:, luks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iotests.lib.names import (
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


# --- judging: quiet means "don't print", never "don't judge"

ASAN = "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000014\n"
UBSAN = "../block/qcow2.c:7:9: runtime error: signed integer overflow: 2147483647 + 1\n"


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A case environment whose events file is returned (and read by the tests)."""
    from iotests.lib.env import case_env

    path = tmp_path / "events.jsonl"
    monkeypatch.setenv("IOTESTS_EVENTS", str(path))
    monkeypatch.setenv("TEST_DIR", str(tmp_path))
    monkeypatch.delenv("IOTESTS_VALGRIND", raising=False)
    case_env.cache_clear()
    yield path
    case_env.cache_clear()


def recorded(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fake_tool(
    monkeypatch: pytest.MonkeyPatch, returncode: int, output: str, prog: str = "/b/qemu-io"
) -> None:
    from iotests import command
    from iotests.lib.env import case_env

    def fake(argv: list[str], **_: object) -> command.Completed:
        return command.Completed(tuple(argv), returncode, output, "")

    monkeypatch.setattr(command, "runner", fake)
    monkeypatch.setenv("QEMU_IO_PROG", prog)
    case_env.cache_clear()


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (ASAN, "AddressSanitizer: heap-use-after-free on address 0x602000000014"),
        (
            UBSAN,
            "UndefinedBehaviorSanitizer: signed integer overflow: 2147483647 + 1 at ../block/qcow2.c:7:9",
        ),
    ],
)
def test_a_quiet_tool_prints_nothing_and_its_report_is_recorded(
    events: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    output: str,
    reason: str,
) -> None:
    from iotests.lib.tools import qemu_tool

    fake_tool(monkeypatch, 0, "wrote 512/512 bytes at offset 0\n" + output)
    assert qemu_tool("qemu-io", ["-c", "write 0 512"], quiet=True).ok
    assert capsys.readouterr().out == ""
    assert recorded(events) == [
        {"event": "finding", "program": "qemu-io", "reason": reason, "source": "output"}
    ]


def test_clean_output_records_nothing(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iotests.lib.tools import qemu_tool

    fake_tool(monkeypatch, 1, "qemu-io: can't open device x: No such file or directory\n")
    qemu_tool("qemu-io", ["x"], quiet=True)
    assert recorded(events) == []


def test_a_signal_nobody_sent_is_a_crash(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iotests.lib.tools import qemu_tool

    fake_tool(monkeypatch, -11, "", prog="/build/qemu-img")
    qemu_tool("qemu-io", ["x"], quiet=True)
    assert recorded(events) == [{"event": "crash", "program": "qemu-img", "signal": "SIGSEGV"}]


def test_an_expected_signal_excuses_the_death_not_a_report(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iotests.lib.tools import qemu_tool

    fake_tool(monkeypatch, -9, ASAN)
    assert qemu_tool("qemu-io", ["x"], quiet=True, expect_signal=True).returncode == -9
    assert [e["event"] for e in recorded(events)] == ["finding"]


@pytest.mark.parametrize(
    ("returncode", "sent", "crash"),
    [
        (0, (), False),
        (1, (), False),
        (-15, (15,), False),
        (-9, (15, 9), False),
        (-11, (15,), True),
        (-6, (9,), True),
        (-15, (), True),
    ],
)
def test_judge_exit_excuses_only_the_signals_sent(
    events: Path, returncode: int, sent: tuple[int, ...], crash: bool
) -> None:
    from iotests.lib.evidence import judge_exit

    assert judge_exit("qemu-nbd", returncode, sent=sent) is crash
    assert bool(recorded(events)) is crash


def test_outside_the_runner_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from iotests.lib.env import case_env
    from iotests.lib.evidence import judge_exit, judge_output

    monkeypatch.delenv("IOTESTS_EVENTS", raising=False)
    monkeypatch.chdir(tmp_path)
    case_env.cache_clear()
    try:
        assert judge_exit("qemu-nbd", -11)
        assert judge_output("qemu-nbd", ASAN, source="output")
    finally:
        case_env.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_valgrind_logs_are_named_after_the_program(
    events: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from iotests.lib.env import case_env
    from iotests.lib.evidence import wrap

    monkeypatch.setenv("IOTESTS_VALGRIND", "1")
    monkeypatch.setenv("IOTESTS_VALGRIND_DIR", str(tmp_path / "vg"))
    case_env.cache_clear()
    argv = wrap(["/build/qemu-nbd", "-k", "s"])
    assert argv[0] == "valgrind"
    assert f"--log-file={tmp_path}/vg/qemu-nbd.%p.log" in argv
    assert argv[-3:] == ["/build/qemu-nbd", "-k", "s"]
