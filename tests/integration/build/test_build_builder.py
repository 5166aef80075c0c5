"""The builder end to end on a tiny source tree that real configure/ninja runs can build.

The tarball holds a shell ``configure`` that writes a real build.ninja, so
these tests run the builder's whole path (extract, configure, ninja, binary
check, manifest, locks, cleanup) in seconds; test_build_debian.py does the
same with real QEMU.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from iotests import command
from iotests.build.actions import build_qemu, find_build
from iotests.build.cache import Cache
from iotests.errors import BuildError

from .build_fixtures import tarball_bytes

REPO = Path(__file__).resolve().parents[3]
CONFIGURE = b"""#!/bin/sh
echo "configure $*" >> "${FAKE_QEMU_COUNTER:-/dev/null}"
case " $* " in *" --fail "*) echo "ERROR: told to fail"; exit 1;; esac
sleep "${FAKE_QEMU_SLEEP:-0}"
cat > build.ninja <<'NINJA'
rule stamp
  command = mkdir -p $$(dirname $out) && $
    printf '#!/bin/sh\\necho "fake $$(basename $$0) 9.9.9"\\n' > $out && chmod +x $out
build qemu-img: stamp
build storage-daemon/qemu-storage-daemon: stamp
NINJA
"""


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    path = tmp_path / "qemu-9.9.9.tar.xz"
    path.write_bytes(
        tarball_bytes(
            {"qemu-9.9.9/configure": CONFIGURE, "qemu-9.9.9/VERSION": b"9.9.9\n"},
            {"qemu-9.9.9/configure": 0o755},
        )
    )
    return path


@pytest.fixture
def fake_config(config_file: Path, tmp_path: Path) -> Path:
    config_file.write_text(f"""build:
  cache_dir: {tmp_path / "cache"}
  profiles:
    mini:
      configure: [--mini]
      binaries: [qemu-img, storage-daemon/qemu-storage-daemon]
    greedy:
      configure: [--mini]
      binaries: [qemu-img, qemu-system-x86_64]
""")
    return config_file


def test_build_then_no_op(tarball: Path, fake_config: Path, tmp_path: Path) -> None:
    first = build_qemu(
        source=str(tarball), profile="mini", configure_options=["--extra"], check_deps=False
    )
    assert not first.no_op
    manifest = first.manifest
    assert manifest.configure[1:] == ["--mini", "--extra"]
    assert manifest.version == "9.9.9"
    assert manifest.source["kind"] == "tarball"
    assert manifest.binaries == {
        "qemu-img": "qemu-img",
        "qemu-storage-daemon": "storage-daemon/qemu-storage-daemon",
    }
    out = command.run([str(first.entry.tree / "qemu-img")]).stdout
    assert out == "fake qemu-img 9.9.9\n"
    second = build_qemu(
        source=str(tarball), profile="mini", configure_options=["--extra"], check_deps=False
    )
    assert second.no_op
    assert second.seconds < 1.0
    assert second.entry == first.entry
    other = build_qemu(source=str(tarball), profile="mini", check_deps=False)
    assert not other.no_op
    assert other.entry != first.entry


def test_invoke_build_qemu_twice_is_a_no_op(tarball: Path, fake_config: Path) -> None:
    argv = [
        "invoke",
        "build-qemu",
        "--source",
        str(tarball),
        "--profile",
        "mini",
        "--skip-deps-check",
    ]
    command.run(argv, cwd=REPO)
    started = time.monotonic()
    again = command.run(argv, cwd=REPO)
    elapsed = time.monotonic() - started
    assert "already built, nothing to do" in again.output
    assert elapsed < 2.0, f"no-op took {elapsed:.2f}s including interpreter start-up"


def test_failed_configure_leaves_cache_clean(
    tarball: Path, fake_config: Path, tmp_path: Path
) -> None:
    with pytest.raises(BuildError) as info:
        build_qemu(
            source=str(tarball), profile="mini", configure_options=["--fail"], check_deps=False
        )
    first_line = str(info.value).splitlines()[0]
    assert "configure exited with code 1; full log:" in first_line
    assert "ERROR: told to fail" in str(info.value)
    cache = Cache(tmp_path / "cache")
    assert not any(cache.builds.iterdir())
    logs = list((cache.root / "logs").iterdir())
    assert len(logs) == 1
    assert "told to fail" in logs[0].read_text()


def test_missing_binaries_fail_and_leave_cache_clean(
    tarball: Path, fake_config: Path, tmp_path: Path
) -> None:
    with pytest.raises(BuildError, match="binaries are missing: qemu-system-x86_64"):
        build_qemu(source=str(tarball), profile="greedy", check_deps=False)
    assert not any(Cache(tmp_path / "cache").builds.iterdir())


def test_two_builds_of_one_key_take_turns(tarball: Path, fake_config: Path, tmp_path: Path) -> None:
    counter = tmp_path / "configure-runs"
    env = {**os.environ, "FAKE_QEMU_COUNTER": str(counter), "FAKE_QEMU_SLEEP": "1"}
    code = (
        "from iotests.build.actions import build_qemu; "
        f"o = build_qemu(source={str(tarball)!r}, profile='mini', check_deps=False); "
        "print('NOOP' if o.no_op else 'BUILT')"
    )
    procs = [command.spawn([sys.executable, "-c", code], env=env, cwd=REPO) for _ in range(2)]
    outputs = []
    for proc in procs:
        assert proc.wait(60) == 0
        assert proc.stdout is not None
        outputs.append(proc.stdout.read().decode())
        proc.close()
    verdicts = sorted(
        line for out in outputs for line in out.splitlines() if line in ("NOOP", "BUILT")
    )
    assert verdicts == ["BUILT", "NOOP"]
    assert any("waiting for another build" in out for out in outputs)
    assert counter.read_text().count("configure") == 1


def test_source_tree_is_built_out_of_tree_and_left_alone(fake_config: Path, tmp_path: Path) -> None:
    tree = tmp_path / "checkout"
    tree.mkdir()
    (tree / "configure").write_bytes(CONFIGURE)
    (tree / "configure").chmod(0o755)
    (tree / "VERSION").write_text("9.9.50\n")
    before = sorted((p.relative_to(tree), p.stat().st_mtime_ns) for p in tree.rglob("*"))
    first = build_qemu(source=str(tree), profile="mini", check_deps=False)
    assert not first.no_op
    assert first.manifest.version == "9.9.50"
    assert first.manifest.source == {
        "kind": "tree",
        "spec": str(tree.resolve()),
        "identity": {"kind": "tree", "path": str(tree.resolve())},
    }
    # A working tree can change under the same identity: ninja decides what to redo.
    again = build_qemu(source=str(tree), profile="mini", check_deps=False)
    assert not again.no_op
    assert again.entry == first.entry
    after = sorted((p.relative_to(tree), p.stat().st_mtime_ns) for p in tree.rglob("*"))
    assert after == before


def test_build_dir_finds_only_what_was_built(tarball: Path, fake_config: Path) -> None:
    with pytest.raises(BuildError, match=r"no cached mini build of .*: run invoke build-qemu"):
        find_build(source=str(tarball), profile="mini")
    built = build_qemu(source=str(tarball), profile="mini", check_deps=False)
    assert find_build(source=str(tarball), profile="mini") == built.entry.tree
    printed = command.run(
        ["invoke", "build-dir", "--source", str(tarball), "--profile", "mini"], cwd=REPO
    )
    assert printed.stdout.strip() == str(built.entry.tree)
