"""Per-case coverage and mutants on a real cached gcov build of QEMU (slow: real suite runs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_c", reason="the mutants extra is not installed")

from iotests.build.actions import find_build
from iotests.build.manifest import Manifest
from iotests.errors import BuildError
from iotests.mutate import campaign, percase
from iotests.mutate.engine import generate

pytestmark = [pytest.mark.slow, pytest.mark.qemu]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def gcov_tree() -> Path:
    try:
        return find_build(profile="gcov")
    except BuildError as exc:
        pytest.skip(f"no cached gcov build: {exc}")


def test_each_case_counts_its_own_lines(gcov_tree: Path, tmp_path: Path) -> None:
    """Two cases run in parallel; each map entry holds only what that case executed."""
    source = Path(Manifest.read(gcov_tree.parent / "manifest.json").source_dir)
    cmap, result = percase.build_map(
        gcov_tree, source, ["-f", "qcow2", "-j", "2", "001", "006"], tmp_path, project=REPO
    )
    assert result.status == {"001": "pass", "006": "pass"}
    one, six = cmap.cases["qcow2-file/001"], cmap.cases["qcow2-file/006"]
    assert one.files["block/qcow2-cluster.c"] <= cmap.executable["block/qcow2-cluster.c"]
    # Both write qcow2 images, but not the same amount of qcow2 code.
    assert one.files["block/qcow2-cluster.c"] != six.files["block/qcow2-cluster.c"]
    assert all(not path.startswith("/") for path in cmap.executable)
    assert not (tmp_path / "gcda").exists()  # the counters are gone once read


def test_a_campaign_kills_a_real_mutant_and_leaves_the_copy_intact(
    gcov_tree: Path, tmp_path: Path
) -> None:
    """A mutant of qcow2-cluster.c is killed by a covering case; the copy is restored."""
    manifest = Manifest.read(gcov_tree.parent / "manifest.json")
    source = Path(manifest.source_dir)
    cmap, _ = percase.build_map(
        gcov_tree, source, ["-f", "qcow2", "-j", "2", "001"], tmp_path / "map", project=REPO
    )
    rel = "block/qcow2-cluster.c"
    original = (source / rel).read_bytes()
    covered = cmap.covered(rel)
    mutant = next(
        m
        for m in generate(rel, original)
        if m.operator == "negate-condition" and m.line in covered and m.function == "l2_load"
    )
    workspace = campaign.Workspace(tmp_path / "ws", source, tuple(manifest.configure))
    workspace.prepare(lambda line: None)
    runner = campaign.SuiteRunner(workspace.tree, tmp_path / "run", REPO)
    [result] = campaign.run(
        [mutant], cmap, workspace, campaign.ResultStore(tmp_path / "r.jsonl"), runner
    )
    assert result.status == campaign.Status.KILLED
    assert result.killed_by == ("qcow2-file/001",)
    copy = (workspace.source / rel).read_bytes()
    assert hashlib.sha256(copy).digest() == hashlib.sha256(original).digest()
    assert (source / rel).read_bytes() == original
