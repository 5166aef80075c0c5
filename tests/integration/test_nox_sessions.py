"""The real nox on the real noxfile: the session matrix, and one format session end to end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from support.project import needs_qemu

from iotests import command

REPO = Path(__file__).resolve().parents[2]
FORMATS = ["raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "vhdx", "luks", "parallels", "qcow"]


def nox(*args: str, envdir: Path) -> command.Completed:
    env = dict(os.environ, IOTESTS_NO_CACHED_BUILD="1")
    return command.run(
        [
            sys.executable,
            "-m",
            "nox",
            "-f",
            str(REPO / "noxfile.py"),
            "--envdir",
            str(envdir),
            *args,
        ],
        cwd=REPO,
        env=env,
        check=False,
        timeout=600,
    )


def test_session_list_for_ci(tmp_path: Path) -> None:
    result = nox("-l", "--json", "-k", "not __none__", envdir=tmp_path / "envs")
    assert result.returncode == 0, result.output
    names = [s["session"] for s in json.loads(result.stdout)]
    for expected in [
        *FORMATS,
        "nbd",
        "formats",
        "tests",
        "lint",
        "bench",
        "asan",
        "coverage",
        "release",
    ]:
        assert expected in names
    assert "upstream" in names


@pytest.mark.qemu
@needs_qemu
def test_format_session_passes_arguments_to_the_runner(tmp_path: Path) -> None:
    results = tmp_path / "results"
    result = nox(
        "-s",
        "qcow2",
        "--",
        "001",
        "-j1",
        "--results-dir",
        str(results),
        "--json",
        str(tmp_path / "r.json"),
        envdir=tmp_path / "envs",
    )
    assert result.returncode == 0, result.output
    assert "binaries: PATH" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert [(r["name"], r["format"], r["status"]) for r in report["results"]] == [
        ("001", "qcow2", "pass")
    ]
    assert (results / "timings.json").is_file()
