"""Which binaries a run takes when a build tree lacks some: same release only, and said."""

from __future__ import annotations

import argparse

import pytest

from iotests.cli import Context, _judge_substitutes
from iotests.config import RunnerConfig
from iotests.env.binaries import Binaries
from iotests.env.probe import Probe


def _context(versions: dict[str, str], *, mix: bool = False) -> Context:
    sources = {"qemu-img": "build-dir", "qemu-io": "build-dir", "qsd": "PATH", "qemu": "QEMU_PROG"}
    paths = {
        "qemu-img": "/b/qemu-img",
        "qemu-io": "/b/qemu-io",
        "qsd": "/usr/bin/qemu-storage-daemon",
        "qemu": "/opt/qemu-system-x86_64",
    }
    found = Binaries(paths=paths, origin="build tree /b", build_dir="/b", sources=sources)
    ctx = Context(argparse.Namespace(mix_versions=mix), RunnerConfig({}, "defaults"), {})
    ctx.binaries = found
    ctx.probe = Probe(binaries=dict(paths), versions=versions)
    return ctx


def test_substitutes_of_the_same_release_are_used_and_named() -> None:
    ctx = _context({"qemu-img": "7.2.0", "qemu-io": "7.2.0", "qsd": "7.2.22", "qemu": "7.2.22"})
    assert _judge_substitutes(ctx) == set()
    assert ctx.notes == [
        "note: /b has no qemu: using /opt/qemu-system-x86_64 (QEMU_PROG, QEMU 7.2.22)",
        "note: /b has no qsd: using /usr/bin/qemu-storage-daemon (PATH, QEMU 7.2.22)",
    ]


def test_substitutes_of_another_release_are_dropped_with_a_warning() -> None:
    ctx = _context({"qemu-img": "11.1.0", "qemu-io": "11.1.0", "qsd": "7.2.22", "qemu": "11.1.0"})
    assert _judge_substitutes(ctx) == {"qsd"}
    assert ctx.notes[1].startswith(
        "warning: /b has no qsd; not using /usr/bin/qemu-storage-daemon (PATH) of QEMU 7.2.22"
        " with the build's 11.1 (--mix-versions allows it)"
    )


def test_mix_versions_keeps_them() -> None:
    ctx = _context({"qemu-img": "11.1.0", "qemu-io": "11.1.0", "qsd": "7.2.22"}, mix=True)
    assert _judge_substitutes(ctx) == set()
    assert any("using /usr/bin/qemu-storage-daemon (PATH, QEMU 7.2.22)" in n for n in ctx.notes)


@pytest.mark.parametrize("tree", [{}, {"qemu-img": "7.2.0", "qemu-io": "8.0.0"}])
def test_no_judgement_without_one_tree_release(tree: dict[str, str]) -> None:
    ctx = _context({**tree, "qsd": "9.0.0"})
    assert _judge_substitutes(ctx) == set()
    assert ctx.notes == []
