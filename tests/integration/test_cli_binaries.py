"""A build tree that lacks binaries: substitutes of its release are named, others left out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support.project import Project, needs_qemu

from iotests.exitcodes import ExitCode

pytestmark = needs_qemu


def _tree(root: Path, version: str | None) -> Path:
    """A "build tree" with qemu-img and qemu-io, claiming *version* if given."""
    tree = root / "build"
    tree.mkdir()
    for tool in ("qemu-img", "qemu-io"):
        real = shutil.which(tool)
        assert real is not None
        script = tree / tool
        claim = (
            f'[ "$1" = --version ] && {{ echo "{tool} version {version}"; exit 0; }}\n'
            if version
            else ""
        )
        script.write_text(f'#!/bin/sh\n{claim}exec {real} "$@"\n')
        script.chmod(0o755)
    return tree


def test_substitutes_of_the_trees_release_are_named(project: Project) -> None:
    project.case("001", "# group: quick\n# requires: qemu-img", "print('ok')\n", "ok\n")
    tree = _tree(project.root, None)
    done = project.run("run", "-f", "raw", "--build-dir", str(tree))
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert f"note: {tree} has no qemu-nbd: using " in done.stdout


def test_substitutes_of_another_release_are_left_out(project: Project) -> None:
    project.case("001", "# group: quick\n# requires: qemu-nbd", "print('ok')\n", "ok\n")
    project.case("002", "# group: quick\n# requires: qemu-img", "print('ok')\n", "ok\n")
    tree = _tree(project.root, "11.1.0")
    done = project.run("run", "-f", "raw", "--build-dir", str(tree), "--json", "r.json")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert f"warning: {tree} has no qemu-nbd; not using " in done.stdout
    assert "with the build's 11.1 (--mix-versions allows it)" in done.stdout
    results = {r["name"]: r for r in json.loads((project.root / "r.json").read_text())["results"]}
    assert results["001"]["status"] == "not run"
    assert "qemu-nbd" in results["001"]["reason"]
    assert results["002"]["status"] == "pass"
    mixed = project.run("run", "-f", "raw", "--build-dir", str(tree), "--mix-versions")
    assert mixed.returncode == ExitCode.OK
    assert "2 passed" in mixed.stdout
