"""The probe cache: a binary is asked once per identity, and again as soon as its file changes.

Fake binaries (shell scripts) log every question they are asked, so the
tests count real process starts rather than trusting the cache's own word.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from iotests.build.config import CACHE_ENV, CONFIG_ENV
from iotests.env import probe_cache
from iotests.env.binaries import Binaries
from iotests.env.probe import probe
from iotests.env.probe_cache import CACHE_FILE, DISABLE_ENV, cached_probe

ANSWERS = {
    "qemu-img": """case "$1" in
--version) echo "qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7)";;
--help) printf 'usage...\\n\\nSupported formats: qcow2 raw\\n';;
esac""",
    "qemu-io": 'echo "qemu-io version 7.2.22"',
    "qemu": """case "$1" in
--version) echo "QEMU emulator version 7.2.22";;
-accel) printf 'Accelerators supported in QEMU binary:\\ntcg\\n';;
-machine) printf 'Supported machines are:\\npc  Standard PC\\n';;
esac""",
    "qsd": "echo garbage",
}


class Fakes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "asked.log"
        self.paths: dict[str, str | None] = {"qemu-nbd": None}
        for role in ANSWERS:
            self.write(role)

    def write(self, role: str, extra: str = "") -> None:
        script = self.root / role
        script.write_text(f'#!/bin/sh\necho "{role} $*" >> {self.log}\n{ANSWERS[role]}\n{extra}')
        script.chmod(0o755)
        self.paths[role] = str(script)

    @property
    def binaries(self) -> Binaries:
        return Binaries(paths=dict(self.paths), origin="test")

    def asked(self) -> list[str]:
        """The questions asked since the last call."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return lines


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    return Fakes(bindir)


def test_unchanged_binaries_are_asked_once_across_runs(fakes: Fakes, tmp_path: Path) -> None:
    first = cached_probe(fakes.binaries)
    asked = fakes.asked()
    assert sorted(asked) == sorted(
        [
            "qemu --version",
            "qemu -accel help",
            "qemu -machine help",
            "qemu-img --version",
            "qemu-img --help",
            "qemu-io --version",
            "qsd --version",
        ]
    )
    assert first == probe(fakes.binaries)
    fakes.asked()
    second = cached_probe(fakes.binaries)
    # Only the binary with a problem (no version line) is asked again: problems are never kept.
    assert fakes.asked() == ["qsd --version"]
    assert second == first
    assert (tmp_path / "cache" / CACHE_FILE).is_file()


@pytest.mark.parametrize(
    "change",
    ["rewritten", "touched", "replaced by a copy with the same size and times"],
)
def test_a_changed_binary_is_asked_again_and_only_it(fakes: Fakes, change: str) -> None:
    cached_probe(fakes.binaries)
    fakes.asked()
    path = Path(str(fakes.paths["qemu-img"]))
    if change == "rewritten":
        fakes.write("qemu-img", extra="# rebuilt\n")
    elif change == "touched":
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    else:
        copy = path.with_name("copy")
        shutil.copy2(path, copy)
        os.replace(copy, path)
    cached_probe(fakes.binaries)
    assert sorted(fakes.asked()) == ["qemu-img --help", "qemu-img --version", "qsd --version"]
    cached_probe(fakes.binaries)
    assert fakes.asked() == ["qsd --version"]


def test_another_binary_at_another_path_has_its_own_entry(fakes: Fakes) -> None:
    cached_probe(fakes.binaries)
    moved = Path(str(fakes.paths["qemu-io"])).with_name("my-qemu-io")
    shutil.copy2(str(fakes.paths["qemu-io"]), moved)
    fakes.paths["qemu-io"] = str(moved)
    fakes.asked()
    assert cached_probe(fakes.binaries).binaries["qemu-io"] == str(moved)
    assert sorted(fakes.asked()) == ["qemu-io --version", "qsd --version"]


def test_a_torn_or_foreign_cache_file_is_a_miss_and_gets_rewritten(
    fakes: Fakes, tmp_path: Path
) -> None:
    where = tmp_path / "cache" / CACHE_FILE
    for content in ("{not json", json.dumps({"version": "0.0.0/0", "entries": {}}), "[]"):
        where.parent.mkdir(exist_ok=True)
        where.write_text(content)
        assert cached_probe(fakes.binaries) == probe(fakes.binaries)
        assert "qemu-img --version" in fakes.asked()
        assert json.loads(where.read_text())["version"] == probe_cache._version_tag()


def test_stale_entries_are_dropped_when_the_cache_is_written(fakes: Fakes, tmp_path: Path) -> None:
    cached_probe(fakes.binaries)
    Path(str(fakes.paths["qemu"])).unlink()
    fakes.paths["qemu"] = None
    fakes.write("qemu-io", extra="# rebuilt\n")
    cached_probe(fakes.binaries)
    entries = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())["entries"]
    assert sorted(entries) == [
        f"qemu-img {fakes.paths['qemu-img']}",
        f"qemu-io {fakes.paths['qemu-io']}",
    ]


def test_switched_off_it_asks_every_time_and_writes_nothing(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DISABLE_ENV, "0")
    for _ in range(2):
        cached_probe(fakes.binaries)
        assert "qemu-img --version" in fakes.asked()
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_only_costs_the_questions(fakes: Fakes, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    assert cached_probe(fakes.binaries) == probe(fakes.binaries)
    assert blocker.read_text().startswith("a file")


def test_a_broken_build_section_costs_only_the_cache(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CACHE_ENV)
    config = tmp_path / "iotests.yaml"
    config.write_text("build: {colour: red}\n")
    assert cached_probe(fakes.binaries, config) == probe(fakes.binaries)
