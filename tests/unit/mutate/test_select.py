"""Change-based selection: diffs to lines, lines to the cases that must run."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from iotests.errors import UsageError
from iotests.mutate.covmap import CaseCoverage, CoverageMap
from iotests.mutate.select import (
    changed_since,
    narrow,
    parse_diff,
    parse_touching,
    select_cases,
)
from iotests.options import Options

DIFF = """\
diff --git a/block/qcow2.c b/block/qcow2.c
--- a/block/qcow2.c
+++ b/block/qcow2.c
@@ -10 +10 @@ static int f(void)
-    return 1;
+    return 2;
@@ -20,0 +21,3 @@ static int g(void)
+    a();
+    b();
+    c();
@@ -40,2 +43,0 @@ static int h(void)
-    d();
-    e();
diff --git a/old.c b/old.c
deleted file mode 100644
--- a/old.c
+++ /dev/null
@@ -1,2 +0,0 @@
-int x;
-int y;
"""


def test_a_diff_gives_the_new_lines_and_a_deletion_its_following_line() -> None:
    assert parse_diff(DIFF) == {"block/qcow2.c": frozenset({10, 21, 22, 23, 44})}


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (["block/io.c"], {"block/io.c": None}),
        (["block/io.c:5-7,9"], {"block/io.c": frozenset({5, 6, 7, 9})}),
        (["block/io.c:5", "block/io.c:8"], {"block/io.c": frozenset({5, 8})}),
        (["block/io.c", "block/io.c:8"], {"block/io.c": None}),
    ],
)
def test_touching_specs(specs: list[str], expected: dict[str, frozenset[int] | None]) -> None:
    assert parse_touching(specs) == expected


@pytest.mark.parametrize("spec", [":5", "block/io.c:5-", "block/io.c:x"])
def test_bad_touching_specs_are_named(spec: str) -> None:
    with pytest.raises(UsageError, match=f"--touching '{spec}'"):
        parse_touching([spec])


def _map() -> CoverageMap:
    cmap = CoverageMap()
    exe = {"block/qcow2.c": range(1, 100), "block/io.c": range(1, 100)}
    cmap.add("qcow2-file/001", CaseCoverage("pass", 1, {"block/qcow2.c": frozenset({10})}), exe)
    cmap.add("qcow2-file/002", CaseCoverage("pass", 1, {"block/io.c": frozenset({5})}), exe)
    cmap.add("raw-file/003", CaseCoverage("pass", 1, {"block/qcow2.c": frozenset({10})}), exe)
    return cmap


def test_only_cases_executing_a_changed_line_run_plus_unmapped_ones() -> None:
    chosen = select_cases(
        ["001", "002", "003"], "qcow2-file", _map(), {"block/qcow2.c": frozenset({10})}
    )
    # 003 has an entry only for raw: under qcow2 it is unmapped, so it runs.
    assert (chosen.keep, chosen.skipped, chosen.unmapped) == (("001", "003"), ("002",), ("003",))
    assert chosen.summary() == (
        "change-based selection: running 2 case(s), skipped 1 whose coverage misses the "
        "changed lines; 1 with no coverage entry run anyway"
    )


def test_a_whole_file_counts_every_line_a_case_executed() -> None:
    chosen = select_cases(["001", "002"], "qcow2-file", _map(), {"block/io.c": None})
    assert chosen.keep == ("002",)


def test_a_file_outside_the_map_keeps_every_case() -> None:
    chosen = select_cases(["001", "002"], "qcow2-file", _map(), {"block/qcow2.h": frozenset({3})})
    assert chosen.keep == ("001", "002")
    assert "block/qcow2.h is not in the coverage map" in chosen.summary()


@dataclass(frozen=True)
class _Case:
    name: str


def _git(tree: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(tree), *argv], check=True, capture_output=True)


def test_changed_since_asks_git_and_narrow_runs_what_it_touches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "qemu"
    (tree / "block").mkdir(parents=True)
    source = tree / "block" / "qcow2.c"
    source.write_text("".join(f"line {n}\n" for n in range(1, 30)))
    _git(tree, "init", "-q")
    _git(
        tree,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "0",
    )
    _git(tree, "add", ".")
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "1")
    source.write_text(source.read_text().replace("line 10\n", "line ten\n"))
    assert changed_since("HEAD", tree) == {"block/qcow2.c": frozenset({10})}

    map_file = tmp_path / "map.json"
    cmap = _map()
    cmap.meta["source_dir"] = str(tree)
    cmap.write(map_file)
    cases = [_Case("001"), _Case("002")]
    options = Options(changed="HEAD", source_dir=str(tree), coverage_map=str(map_file))
    assert narrow(cases, options, "qcow2-file", tmp_path, tmp_path) == [_Case("001")]
    assert "running 1 case(s), skipped 1" in capsys.readouterr().err


def _two_format_map() -> CoverageMap:
    """001 executes line 10 of qcow2.c only as qcow2, 002 only as raw."""
    cmap = CoverageMap()
    exe = {"block/qcow2.c": range(1, 100), "block/io.c": range(1, 100)}
    for key, path in (
        ("qcow2-file/001", "block/qcow2.c"),
        ("qcow2-file/002", "block/io.c"),
        ("raw-file/001", "block/io.c"),
        ("raw-file/002", "block/qcow2.c"),
    ):
        cmap.add(key, CaseCoverage("pass", 1, {path: frozenset({10})}), exe)
    return cmap


@pytest.mark.parametrize(("combo", "kept"), [("qcow2-file", "001"), ("raw-file", "002")])
def test_the_map_entries_read_are_those_of_the_combination_given(
    tmp_path: Path, combo: str, kept: str
) -> None:
    map_file = tmp_path / "map.json"
    _two_format_map().write(map_file)
    # -f says vmdk, which the map does not hold: only *combo* is read.
    options = Options(format="vmdk", touching=("block/qcow2.c:10",), coverage_map=str(map_file))
    chosen = narrow([_Case("001"), _Case("002")], options, combo, tmp_path, tmp_path)
    assert chosen == [_Case(kept)]


def test_narrow_is_a_no_op_without_its_flags(tmp_path: Path) -> None:
    cases = [_Case("001")]
    assert narrow(cases, Options(format="qcow2"), "qcow2-file", tmp_path, tmp_path) == cases


def test_changed_without_a_tree_or_a_map_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--changed needs --source-dir"):
        narrow([_Case("001")], Options(changed="HEAD"), "raw-file", tmp_path, tmp_path)
    config = tmp_path / "iotests.yaml"
    config.write_text(f"build:\n  cache_dir: {tmp_path / 'cache'}\n")
    options = Options(touching=("block/io.c",), config=str(config))
    with pytest.raises(
        UsageError, match="no qcow2-nbd coverage map for this suite: make one with nox"
    ) as raised:
        narrow([_Case("001")], options, "qcow2-nbd", tmp_path, tmp_path)
    assert str(raised.value).endswith("--per-case -f qcow2")


def test_a_tree_that_is_not_git_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--changed HEAD: git diff in"):
        changed_since("HEAD", tmp_path)
