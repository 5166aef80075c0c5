"""iotests.build.cache: keys, locks, picking the build the runner uses."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from iotests.build.cache import Cache, build_key, default_build_dir, pick_build
from iotests.build.config import CACHE_ENV, CONFIG_ENV
from iotests.build.manifest import Manifest
from iotests.errors import BuildError


def test_key_is_stable_and_covers_inputs() -> None:
    a = build_key("debian-7.2+dfsg-7", "tools", {"x": 1, "y": [1]})
    assert a == build_key("debian-7.2+dfsg-7", "tools", {"y": [1], "x": 1})
    assert a.startswith("debian-7.2+dfsg-7-tools-")
    assert a != build_key("debian-7.2+dfsg-7", "tools", {"x": 2, "y": [1]})
    assert build_key("a b/c:d", "p", {}).startswith("a_b_c_d-p-")


def fake_build(cache: Cache, key: str, spec: str, profile: str, finished: str) -> Path:
    entry = cache.entry(key)
    entry.tree.mkdir(parents=True)
    (entry.tree / "qemu-img").write_text("#!/bin/sh\n")
    Manifest(
        key=key,
        source={"kind": "debian", "spec": spec, "identity": {}},
        version="7.2.0",
        profile=profile,
        configure=[],
        compiler="cc",
        ccache=False,
        binaries={"qemu-img": "qemu-img"},
        build_dir=str(entry.tree),
        source_dir="/src",
        started=finished,
        finished=finished,
        build_seconds=1.0,
    ).write(entry.manifest_path)
    return entry.tree


def test_pick_takes_the_newest_system_or_tools_build_of_the_source(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    tools = fake_build(cache, "k-tools", "debian", "tools", "2026-01-01T00:00:00")
    fake_build(cache, "k-asan", "debian", "asan", "2026-01-03T00:00:00")
    fake_build(cache, "k-other", "9.2.0", "system", "2026-01-05T00:00:00")
    assert pick_build(cache.complete(), "debian") == tools  # over a newer asan build
    system = fake_build(cache, "k-system", "debian", "system", "2026-01-02T00:00:00")
    assert pick_build(cache.complete(), "debian") == system
    # A tools build made later (a changed checkout): the system build is stale.
    newer = fake_build(cache, "k-tools-2", "debian", "tools", "2026-01-04T00:00:00")
    assert pick_build(cache.complete(), "debian") == newer
    for tree in (tools, system, newer):
        (tree / "qemu-img").unlink()  # builds whose binaries vanished do not count
    assert pick_build(cache.complete(), "debian") == cache.entry("k-asan").tree
    assert pick_build(cache.complete(), "8.0.0") is None


def test_incomplete_build_without_manifest_is_ignored(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    (cache.entry("half").tree).mkdir(parents=True)
    assert cache.complete() == []


def test_default_build_dir_reads_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"build: {{default_source: debian, cache_dir: {tmp_path / 'cache'}}}\n")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert default_build_dir() is None
    tree = fake_build(Cache(tmp_path / "cache"), "k", "debian", "tools", "2026-01-01")
    started = time.monotonic()
    assert default_build_dir() == tree
    assert time.monotonic() - started < 1.0


def test_lock_makes_a_second_holder_wait(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    events: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with cache.lock("k"):
            events.append("first in")
            inside.set()
            release.wait(5)
            events.append("first out")

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)

    def waiting() -> None:
        events.append("waiting")
        release.set()

    with cache.lock("k", on_wait=waiting):
        events.append("second in")
    thread.join()
    assert events == ["first in", "waiting", "first out", "second in"]


def test_remove_by_key_and_all(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    fake_build(cache, "a", "debian", "tools", "1")
    fake_build(cache, "b", "debian", "asan", "2")
    with pytest.raises(BuildError, match="no cached build with key 'zzz'"):
        cache.remove(["zzz"])
    assert cache.remove(["a"]) == ["a"]
    assert cache.remove() == ["b"]
    assert cache.complete() == []
