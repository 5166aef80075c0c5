"""The real nox on the real noxfile: the session matrix, tags, refusals, the edit loop."""

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


ALL_SESSIONS = [
    *FORMATS,
    "nbd",
    "formats",
    "tests",
    "drills",
    "lint",
    "bench",
    "upstream",
    "upstream-verdicts",
    "asan",
    "coverage",
    "mutants",
    "release",
]


def listing(*args: str, envdir: Path) -> list[dict[str, object]]:
    result = nox("-l", "--json", *args, envdir=envdir)
    assert result.returncode == 0, result.output
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


def test_json_listing_shows_every_session_without_a_filter(tmp_path: Path) -> None:
    listed = listing(envdir=tmp_path / "envs")
    assert sorted(str(s["session"]) for s in listed) == sorted(ALL_SESSIONS)
    assert all(s["tags"] and s["description"] for s in listed)


def test_plain_listing_keeps_qcow2_the_default(tmp_path: Path) -> None:
    result = nox("-l", envdir=tmp_path / "envs")
    assert result.returncode == 0, result.output
    marked = {
        line.split()[1]: line[0] for line in result.stdout.splitlines() if line[:2] in ("* ", "- ")
    }
    assert sorted(marked) == sorted(ALL_SESSIONS)
    assert [name for name, mark in marked.items() if mark == "*"] == ["qcow2"]


@pytest.mark.parametrize(
    ("tag", "sessions"),
    [
        ("format", FORMATS),
        ("protocol", ["nbd"]),
        ("flavour", ["asan", "coverage"]),
        ("tests", ["tests", "drills"]),
        ("lint", ["lint"]),
        ("release", ["release"]),
        ("upstream", ["upstream", "upstream-verdicts"]),
    ],
)
def test_tags_select_sessions_for_ci(tmp_path: Path, tag: str, sessions: list[str]) -> None:
    assert [s["session"] for s in listing("-t", tag, envdir=tmp_path / "envs")] == sessions


@pytest.fixture(scope="module")
def shared_envdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nox-envs")


@pytest.mark.parametrize(
    ("session", "posargs", "word", "option"),
    [
        ("qcow2", ["-f", "raw"], "-f", "--format"),
        ("qcow2", ["002", "--format=raw"], "--format=raw", "--format"),
        ("qcow2", ["--form", "raw"], "--form", "--format"),
        ("qcow2", ["-vfraw", "002"], "-vfraw", "--format"),
        ("nbd", ["-p", "file"], "-p", "--protocol"),
        ("nbd", ["-j1", "-fqcow2"], "-fqcow2", "--format"),
        ("formats", ["-f", "raw"], "-f", "--format"),
        ("asan", ["--build-dir", "/usr/bin"], "--build-dir", "--build-dir"),
        ("coverage", ["--junit", "x.xml"], "--junit", "--junit"),
        ("coverage", ["debian", "--per-case", "--build-dir", "b"], "--build-dir", "--build-dir"),
        ("mutants", ["--build-dir=b", "--files", "x.c"], "--build-dir=b", "--build-dir"),
        ("release", ["9.2.0", "-g", "quick"], "-g", "--group"),
        ("release", ["debian", "--results-dir", "r"], "--results-dir", "--results-dir"),
    ],
)
def test_options_a_session_sets_are_refused_in_one_line(
    shared_envdir: Path, session: str, posargs: list[str], word: str, option: str
) -> None:
    # --install-only: should the refusal ever break, nothing is built or run all the same.
    result = nox("-s", session, "--install-only", "--", *posargs, envdir=shared_envdir)
    assert result.returncode == 1, result.output
    [line] = [line for line in result.output.splitlines() if "aborted" in line]
    assert f"'{word}': session {session} sets {option} " in line
    # Refused before anything was installed, built or run.
    assert "install" not in result.output
    assert "nox > iotests" not in result.output
    assert "nox > invoke" not in result.output


def test_options_after_a_double_dash_are_test_names_not_refused(tmp_path: Path) -> None:
    result = nox("-s", "qcow2", "--install-only", "--", "--", "-f", envdir=tmp_path / "envs")
    assert "aborted" not in result.output
    assert result.returncode == 0, result.output


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


@pytest.mark.qemu
@needs_qemu
def test_edit_loop_reuses_the_environment_and_skips_the_install(tmp_path: Path) -> None:
    envdir = tmp_path / "envs"

    def one_case() -> command.Completed:
        result = nox(
            "-s", "qcow2", "--", "002", "-j1", "--results-dir", str(tmp_path / "r"), envdir=envdir
        )
        assert result.returncode == 0, result.output
        assert "002      pass" in result.stdout
        return result

    first = one_case()
    assert "pip install -e ." in first.output
    second = one_case()
    assert "Reusing existing virtual environment" in second.output
    assert "pip install" not in second.output
    assert ".: installed editable already, pyproject.toml unchanged" in second.output
    # Metadata recorded from another pyproject.toml (dependencies changed): reinstall.
    stamp = envdir / "qcow2" / "iotests-install.json"
    recorded = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**recorded, "pyproject": "0" * 64}))
    third = one_case()
    assert "pip install -e ." in third.output
    assert json.loads(stamp.read_text()) == recorded


def test_the_noxfiles_view_of_the_runners_options_matches_the_runner() -> None:
    """The refusal reads options the way the runner's parser does; a renamed flag fails here."""
    import argparse
    import importlib.util

    from iotests.cli import build_parser

    spec = importlib.util.spec_from_file_location("noxfile_under_test", REPO / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    run = sub.choices["run"]
    switches = {
        s for a in run._actions if a.nargs == 0 for s in a.option_strings if not s.startswith("--")
    }
    assert switches == set(noxfile.RUN_SWITCHES)
    spellings = {s for a in run._actions for s in a.option_strings}
    for names in noxfile.RUN_OPTIONS.values():
        assert set(names) <= spellings
