"""The runner-to-case contract: what the runner exports is what the library reads, named once."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import iotests
from iotests.contract import CaseEnvironment
from iotests.env.binaries import ROLES
from iotests.lib.env import CaseEnv
from iotests.runner.dirs import CaseDirs
from iotests.runner.discovery import Case
from iotests.runner.execution import Suite
from iotests.runner.header import CaseHeader
from iotests.runner.settings import RunSettings

PACKAGE = Path(iotests.__file__).parent
#: Every variable the contract names, and the programs' from the binary roles.
VARIABLES = {f.metadata["variable"] for f in dataclasses.fields(CaseEnvironment) if f.metadata} | {
    r.variable for r in ROLES
}


def _dirs(tmp_path: Path) -> CaseDirs:
    return CaseDirs(tmp_path / "res", tmp_path / "res" / "scratch", tmp_path / "sock")


def _case() -> Case:
    return Case("042", Path("cases/042"), CaseHeader(), Path("expected"))


@pytest.mark.parametrize("valgrind", [False, True])
def test_the_library_reads_what_the_runner_exports(tmp_path: Path, valgrind: bool) -> None:
    dirs = _dirs(tmp_path)
    settings = RunSettings(
        format="qcow2",
        protocol="nbd",
        cachemode="none",
        aiomode="native",
        imgopts="compat=0.10",
        misalign=True,
        valgrind=valgrind,
    )
    probe = tmp_path / "probe.json"
    base = {"QEMU_IMG_PROG": "/b/qemu-img", "QSD_PROG": "/b/qsd", "IOTESTS_PROBE": str(probe)}
    env = CaseEnv.from_environ(Suite().environment(_case(), settings, dirs, base))
    assert env == CaseEnv(
        imgfmt="qcow2",
        imgproto="nbd",
        cachemode="none",
        aiomode="native",
        imgopts="compat=0.10",
        test_dir=dirs.scratch,
        sock_dir=dirs.sock,
        case="042",
        result_dir=dirs.result,
        notrun_file=dirs.notrun_file,
        events_file=dirs.events_file,
        probe_file=probe,
        misalign=True,
        valgrind=valgrind,
        valgrind_dir=dirs.valgrind_dir if valgrind else None,
        stacks_dir=dirs.stacks_dir,
        progs={"qemu-img": "/b/qemu-img", "qsd": "/b/qsd"},
    )


def test_a_round_trip_keeps_every_field(tmp_path: Path) -> None:
    full = CaseEnvironment(
        imgfmt="luks",
        test_dir=tmp_path / "t",
        sock_dir=tmp_path / "s",
        case="x",
        result_dir=tmp_path,
        notrun_file=tmp_path / "n",
        events_file=tmp_path / "e",
        probe_file=tmp_path / "p",
        misalign=True,
        valgrind=True,
        valgrind_dir=tmp_path / "v",
        stacks_dir=tmp_path / "st",
        progs={r.name: f"/b/{r.program}" for r in ROLES},
    )
    assert CaseEnvironment.from_environ(full.to_environ()) == full
    assert set(full.to_environ()) == VARIABLES


def test_outside_the_runner_defaults_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = CaseEnvironment.from_environ({"TEST_DIR": str(tmp_path / "t"), "IOTESTS_VALGRIND": ""})
    assert (env.imgfmt, env.imgproto, env.cachemode, env.aiomode) == (
        "raw",
        "file",
        "writeback",
        "threads",
    )
    assert env.sock_dir == env.test_dir == tmp_path / "t"
    assert not env.valgrind
    assert env.notrun_file is None
    assert CaseEnvironment.from_environ({}).test_dir == tmp_path


def test_false_and_none_are_left_out() -> None:
    exported = CaseEnvironment(test_dir=Path("/t"), sock_dir=Path("/t")).to_environ()
    assert "IOTESTS_VALGRIND" not in exported
    assert "IOTESTS_NOTRUN_FILE" not in exported
    assert exported["IMGOPTS"] == ""


def _variable_uses(path: Path) -> set[str]:
    """Strings *path* uses the way an environment variable's name is used.

    A keyword (``env.update(IMGFMT=...)``), a key (``env["TEST_DIR"]``,
    ``{"IMGFMT": ...}``) or the name looked up (``environ.get("IMGPROTO")``);
    not other strings, such as the placeholders the runner's filters print
    (``TEST_DIR`` in a golden), which are no variables.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            found.add(str(node.slice.value))
        elif isinstance(node, ast.Dict):
            found.update(str(k.value) for k in node.keys if isinstance(k, ast.Constant))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "getenv", "setdefault", "pop")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


@pytest.mark.parametrize(
    "path",
    [PACKAGE / "runner" / "execution.py", *sorted((PACKAGE / "lib").glob("*.py"))],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_neither_side_spells_a_variable_of_the_contract(path: Path) -> None:
    assert _variable_uses(path) & VARIABLES == set()
