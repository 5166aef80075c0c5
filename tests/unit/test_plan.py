"""iotests.plan: which binaries a run takes, and how flags, config and defaults settle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iotests.config import RunnerConfig
from iotests.env.binaries import Binaries
from iotests.env.probe import Probe
from iotests.options import Options
from iotests.plan import Machine, Mode, Setup, judge_substitutes, settle
from iotests.runner.settings import RunSettings

SOURCES = {"qemu-img": "build-dir", "qemu-io": "build-dir", "qsd": "PATH", "qemu": "QEMU_PROG"}
PATHS = {
    "qemu-img": "/b/qemu-img",
    "qemu-io": "/b/qemu-io",
    "qsd": "/usr/bin/qemu-storage-daemon",
    "qemu": "/opt/qemu-system-x86_64",
}
BUILD = Binaries(paths=PATHS, origin="build tree /b", build_dir="/b", sources=SOURCES)


def test_substitutes_of_the_same_release_are_used_and_named() -> None:
    versions = {"qemu-img": "7.2.0", "qemu-io": "7.2.0", "qsd": "7.2.22", "qemu": "7.2.22"}
    assert judge_substitutes(BUILD, versions, mix=False) == (
        set(),
        [
            "note: /b has no qemu: using /opt/qemu-system-x86_64 (QEMU_PROG, QEMU 7.2.22)",
            "note: /b has no qsd: using /usr/bin/qemu-storage-daemon (PATH, QEMU 7.2.22)",
        ],
    )


def test_substitutes_of_another_release_are_dropped_with_a_warning() -> None:
    versions = {"qemu-img": "11.1.0", "qemu-io": "11.1.0", "qsd": "7.2.22", "qemu": "11.1.0"}
    dropped, notes = judge_substitutes(BUILD, versions, mix=False)
    assert dropped == {"qsd"}
    assert notes[1].startswith(
        "warning: /b has no qsd; not using /usr/bin/qemu-storage-daemon (PATH) of QEMU 7.2.22"
        " with the build's 11.1 (--mix-versions allows it)"
    )


def test_mix_versions_keeps_them() -> None:
    versions = {"qemu-img": "11.1.0", "qemu-io": "11.1.0", "qsd": "7.2.22"}
    dropped, notes = judge_substitutes(BUILD, versions, mix=True)
    assert dropped == set()
    assert any("using /usr/bin/qemu-storage-daemon (PATH, QEMU 7.2.22)" in n for n in notes)


@pytest.mark.parametrize("tree", [{}, {"qemu-img": "7.2.0", "qemu-io": "8.0.0"}])
def test_no_judgement_without_one_tree_release(tree: dict[str, str]) -> None:
    assert judge_substitutes(BUILD, {**tree, "qsd": "9.0.0"}, mix=False) == (set(), [])


MACHINE = Machine(BUILD, Probe(binaries=dict(PATHS), versions={"qemu-img": "7.2.22"}))


def _settle(options: Options, config: dict[str, object], tmp_path: Path) -> RunSettings:
    values = {"results_dir": str(tmp_path / "results"), **config}
    return settle(Setup(options, Mode(), RunnerConfig(values, "test"), {}), MACHINE)


def test_flags_win_over_the_config_which_wins_over_the_defaults(tmp_path: Path) -> None:
    config = {"format": "qcow2", "jobs": 4, "timeout": 30.0, "cachemode": "none"}
    settings = _settle(Options(jobs=2, protocol="nbd", aiomode="native"), config, tmp_path)
    assert (settings.format, settings.protocol, settings.cachemode, settings.aiomode) == (
        "qcow2",
        "nbd",
        "none",
        "native",
    )
    assert (settings.jobs, settings.timeout) == (2, 30.0)
    assert settings.results_dir == tmp_path / "results"
    assert settings.qemu_version == (7, 2, 22)


def test_a_given_empty_or_false_flag_is_a_value_not_unset(tmp_path: Path) -> None:
    config = {"imgopts": "compat=0.10", "regenerate": True, "results_dir": str(tmp_path)}
    settings = _settle(Options(imgopts="", regenerate=False, results_dir=""), config, tmp_path)
    assert (settings.imgopts, settings.regenerate) == ("", False)
    assert settings.results_dir == Path.cwd()
    unset = _settle(Options(), config, tmp_path)
    assert (unset.imgopts, unset.regenerate, unset.results_dir) == ("compat=0.10", True, tmp_path)


def test_what_nobody_chose_is_the_run_settings_default(tmp_path: Path) -> None:
    settings = _settle(Options(), {}, tmp_path)
    defaults = RunSettings()
    for key in ("format", "protocol", "cachemode", "aiomode", "imgopts", "timeout", "regenerate"):
        assert getattr(settings, key) == getattr(defaults, key), key
    assert settings.jobs == (os.cpu_count() or 1)
    assert settings.bytecode_cache is defaults.bytecode_cache
