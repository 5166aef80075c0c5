"""Change-based selection through the real CLI: the map entries read are the run's format's."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.project import Project, needs_qemu

from iotests.exitcodes import ExitCode
from iotests.mutate.covmap import CaseCoverage, CoverageMap

pytestmark = [pytest.mark.qemu, needs_qemu]

#: Which QEMU file each case executed in each format: line 10 of qcow2.c
#: runs in 001 only as qcow2 and in 002 only as raw.
EXECUTED = {
    "qcow2-file/001": "block/qcow2.c",
    "qcow2-file/002": "block/io.c",
    "raw-file/001": "block/io.c",
    "raw-file/002": "block/qcow2.c",
}


def _project(project: Project) -> Path:
    for name in ("001", "002"):
        project.case(name, "# group: quick", f'print("case {name}")\n', f"case {name}\n")
    cmap = CoverageMap()
    built = {"block/qcow2.c": range(1, 50), "block/io.c": range(1, 50)}
    for key, path in EXECUTED.items():
        cmap.add(key, CaseCoverage("pass", 0.1, {path: frozenset({10})}), built)
    map_file = project.root / "map.json"
    cmap.write(map_file)
    return map_file


def _ran(project: Project, combo: str) -> list[str]:
    return sorted(p.parent.name for p in (project.results / combo).glob("*/result.json"))


@pytest.mark.parametrize(
    ("flags", "env", "fmt", "kept"),
    [
        pytest.param((), {"IOTESTS_FORMAT": "qcow2"}, "qcow2", "001", id="IOTESTS_FORMAT"),
        pytest.param(("-f", "raw"), {"IOTESTS_FORMAT": "qcow2"}, "raw", "002", id="-f-wins"),
        pytest.param((), {}, "raw", "002", id="the-default-format"),
    ],
)
def test_touching_narrows_by_the_format_the_run_settled_on(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    env: dict[str, str],
    fmt: str,
    kept: str,
) -> None:
    for variable in ("IOTESTS_FORMAT", "IOTESTS_PROTOCOL"):
        monkeypatch.delenv(variable, raising=False)
    map_file = _project(project)
    result = project.run(
        "run", *flags, "--touching", "block/qcow2.c:10", "--coverage-map", str(map_file), env=env
    )
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert "change-based selection: running 1 case(s), skipped 1 " in result.stderr
    assert f"iotests: 1 cases, format {fmt}, protocol file" in result.stdout
    assert _ran(project, f"{fmt}-file") == [kept]
