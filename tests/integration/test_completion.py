"""Shell completion of the real ``iotests`` command, driven the way argcomplete's own tests do.

The shell hook runs the program with ``_ARGCOMPLETE=1``, the command line in
``COMP_LINE`` and the cursor in ``COMP_POINT``; the program writes the
candidates, separated by ``_ARGCOMPLETE_IFS``, to file descriptor 8 and exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def program() -> list[str]:
    """The console script the shell completes (``pip install`` made it), else ``-m iotests``."""
    script = Path(sys.executable).with_name("iotests")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "iotests"]


def complete(line: str, cwd: Path = REPO) -> set[str]:
    """The candidates the program writes to fd 8 for *line*, the cursor at its end."""
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "COMP_TYPE": "9",
    }
    # fd 8 is the answer, fd 9 argcomplete's debug stream; the program's own stdout is not.
    redirect = 'exec "$@" 8>&1 1>/dev/null 9>/dev/null'
    done = subprocess.run(
        ["sh", "-c", redirect, "sh", *program()],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {word.strip() for word in done.stdout.split("\n") if word.strip()}


def test_formats_complete_from_the_runners_list() -> None:
    assert complete("iotests run -f q") == {"qcow2", "qed", "qcow"}
    assert complete("iotests list --format vh") == {"vhdx"}


def test_protocols_subcommands_and_options_complete() -> None:
    assert complete("iotests run -p n") == {"nbd"}
    assert {"run", "report"} <= complete("iotests r")
    assert "--fail-on-not-run" in complete("iotests run --fail")


def test_groups_come_from_the_case_headers(tmp_path: Path) -> None:
    assert "snapshot" in complete("iotests run -g snap")
    cases, expected = tmp_path / "cases", tmp_path / "expected"
    cases.mkdir()
    expected.mkdir()
    (cases / "001").write_text("#!/usr/bin/env python3\n# group: zebra quick\nprint(1)\n")
    line = f"iotests list --cases-dir {cases} --expected-dir {expected} -x z"
    assert complete(line, cwd=tmp_path) == {"zebra"}


def test_register_python_argcomplete_gives_bash_a_hook() -> None:
    register = shutil.which("register-python-argcomplete") or str(
        Path(sys.executable).with_name("register-python-argcomplete")
    )
    if not Path(register).is_file():
        pytest.fail("register-python-argcomplete missing: argcomplete is a dependency")
    hook = subprocess.run([register, "iotests"], capture_output=True, text=True, check=True)
    assert "complete " in hook.stdout
    assert "iotests" in hook.stdout
    if shutil.which("bash"):
        checked = subprocess.run(
            ["bash", "-n"], input=hook.stdout, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr


def test_an_ordinary_run_does_not_load_argcomplete() -> None:
    code = (
        "import sys\n"
        "from iotests import cli\n"
        "cli.completion.answer(cli.build_parser())\n"
        "print('argcomplete' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "_ARGCOMPLETE"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.strip() == "False", out.stderr
