"""A bug anywhere in a run exits 5 with one line and where the traceback went."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from support.project import Project, needs_qemu

from iotests import cli, command
from iotests.exitcodes import ExitCode

#: Runs ``iotests run`` with one step of the plan broken, as a bug would break it.
BROKEN_STEP = """
import sys
from iotests import cli, plan

def settle(setup, machine):
    raise KeyError("a bug in a step")

plan.settle = settle
cli.main(sys.argv[1:])
"""


@pytest.mark.qemu
@needs_qemu
def test_a_bug_in_a_plan_step_exits_5_with_the_traceback_kept(project: Project) -> None:
    project.case("001", "# group: quick", "print('hello')\n", "hello\n")
    argv = project.argv("run")
    env = {**os.environ, "IOTESTS_NO_CACHED_BUILD": "1"}
    env.pop("IOTESTS_CONFIG", None)
    done = command.run(
        [sys.executable, "-c", BROKEN_STEP, *argv[3:]],
        env=env,
        cwd=project.root,
        check=False,
        merge_stderr=False,
    )
    assert done.returncode == ExitCode.INTERNAL_ERROR
    first, second = done.stderr.splitlines()
    assert first == "iotests: internal error: KeyError: 'a bug in a step'"
    assert second.startswith("iotests: the traceback is in ")
    assert second.endswith("; please report it")
    path = Path(second.removeprefix("iotests: the traceback is in ").split(";")[0])
    try:
        text = path.read_text()
    finally:
        path.unlink()
    assert "in build\n" in text
    assert text.endswith("KeyError: 'a bug in a step'\n")
    assert not (project.results / "raw-file" / "001").exists()


def test_the_traceback_is_printed_when_no_file_can_hold_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(argv: object) -> ExitCode:
        raise RuntimeError("a bug")

    def no_room(**kwargs: object) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "dispatch", broken)
    monkeypatch.setattr(tempfile, "mkstemp", no_room)
    with pytest.raises(SystemExit) as info:
        cli.main(["list"])
    assert info.value.code == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "iotests: internal error: RuntimeError: a bug"
    assert err[1] == "Traceback (most recent call last):"
    assert err[-2] == "RuntimeError: a bug"
    assert err[-1] == "iotests: the traceback is in the lines above; please report it"
