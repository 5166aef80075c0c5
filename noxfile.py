"""nox sessions: one per image format and protocol, plus tests, lint and bench.

Thin by design: every session installs the package and calls the ``iotests``
runner (or pytest); the logic lives in the package. Arguments after ``--``
go to the runner, e.g. ``nox -s qcow2 -- -g quick 001-010``. ``nox`` alone
runs qcow2; ``nox -l --json`` lists every session; ``nox -t format`` (or
protocol, flavour, tests, lint, release, ...) selects by tag.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import nox

REPO = Path(__file__).resolve().parent

nox.options.default_venv_backend = "uv|venv"
nox.options.error_on_missing_interpreters = True
# The developer loop (`nox -s qcow2 -- 002`, many times a day) reuses the session's
# environment; `_install` then skips reinstalling an unchanged editable package.
# `nox -N` (or --reuse-venv=no) makes a fresh one.
nox.options.reuse_venv = "yes"


def _only_json_listing(argv: Sequence[str]) -> bool:
    """Whether this nox call is ``nox -l --json`` (or ``--list --json``).

    nox's JSON listing shows only the selected sessions, and a default
    selection would make it show that one session alone; CI asks for the
    JSON listing to see them all, so the default is left out for it. The
    plain ``nox -l`` keeps the default, marked with ``*`` among the rest.
    """
    ours = list(argv[: argv.index("--")] if "--" in argv else argv)
    return "--json" in ours


if not _only_json_listing(sys.argv[1:]):
    nox.options.sessions = ["qcow2"]

FORMATS = ("raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "vhdx", "luks", "parallels", "qcow")
PROTOCOLS = ("nbd",)


#: The file whose content decides what an editable install puts in the venv (the
#: dependencies, extras and the console script); the code itself is live.
_METADATA = REPO / "pyproject.toml"
_STAMP = "iotests-install.json"


def _install_stamp(extras: Sequence[str]) -> dict[str, object]:
    digest = hashlib.sha256(_METADATA.read_bytes()).hexdigest()
    return {"pyproject": digest, "extras": sorted(extras), "source": REPO.as_uri()}


def _editable_here(venv: Path) -> bool:
    """Whether *venv* holds this checkout's package installed editable, and its command."""
    for record in venv.glob("lib/python*/site-packages/qemu_iotests_toolkit-*.dist-info"):
        try:
            origin = json.loads((record / "direct_url.json").read_text())
        except (OSError, ValueError):
            continue
        if (
            origin.get("url") == REPO.as_uri()
            and origin.get("dir_info", {}).get("editable")
            and (venv / "bin" / "iotests").is_file()
        ):
            return True
    return False


def _install(session: nox.Session, *extras: str) -> None:
    """Install the package editable, unless the reused venv has it from unchanged metadata.

    An editable install runs this checkout's code, so only pyproject.toml
    (dependencies, extras, entry points) can make a reinstall matter; the
    install itself costs about two seconds, most of a one-case run.
    """
    spec = f".[{','.join(extras)}]" if extras else "."
    location = getattr(session.virtualenv, "location", None)
    venv = Path(location) if isinstance(location, str) else None
    stamp = _install_stamp(extras)
    if venv is not None and _editable_here(venv):
        try:
            if json.loads((venv / _STAMP).read_text()) == stamp:
                session.log(f"{spec}: installed editable already, pyproject.toml unchanged")
                return
        except (OSError, ValueError):
            pass
    session.install("-e", spec)
    if venv is not None and venv.is_dir():
        (venv / _STAMP).write_text(json.dumps(stamp))


#: Options of ``iotests run`` that take no value, so that a short one may be
#: followed by another in the same word (``-vf raw`` is ``-v -f raw``).
RUN_SWITCHES = ("-h", "-n", "-v")


def _sets_option(posargs: Iterable[str], spellings: Sequence[str]) -> str | None:
    """The word of *posargs* that gives one of *spellings*, the way argparse reads it.

    Long options match whole (``--format``, ``--format=raw``) or abbreviated
    (``--form``); short ones alone, glued to their value (``-fraw``) or after
    switches (``-vf``). Words after ``--`` are test names, never options.
    """
    longs = [s for s in spellings if s.startswith("--")]
    shorts = {s for s in spellings if not s.startswith("--")}
    for word in posargs:
        if word == "--":
            return None
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if len(name) > 2 and any(long.startswith(name) for long in longs):
                return word
        elif word.startswith("-") and len(word) > 1:
            for letter in word[1:]:
                if f"-{letter}" in shorts:
                    return word
                if f"-{letter}" not in RUN_SWITCHES:
                    break
    return None


#: The runner's options a session may own, by name, with each option's spellings.
RUN_OPTIONS = {
    "format": ("-f", "--format"),
    "protocol": ("-p", "--protocol"),
    "group": ("-g", "--group"),
    "build-dir": ("--build-dir",),
    "results-dir": ("--results-dir",),
    "json": ("--json",),
    "junit": ("--junit",),
}


def _refuse_fixed(
    session: nox.Session, owned: dict[str, str], posargs: Sequence[str] | None = None
) -> None:
    """Stop, in one line, when the arguments after ``--`` set an option the session sets.

    argparse would let the later one win silently: ``nox -s qcow2 -- -f raw``
    would run raw in a session called qcow2, and its reports would say so
    nowhere but in their contents.
    """
    for option, value in owned.items():
        word = _sets_option(session.posargs if posargs is None else posargs, RUN_OPTIONS[option])
        if word is not None:
            session.error(
                f"{word!r}: session {session.name} sets --{option} ({value}) itself;"
                f" pick another session or run `iotests run` directly"
            )


def _run_suite(session: nox.Session, *args: str) -> None:
    session.run("iotests", "run", *args, *session.posargs, external=False)


def _format_session(fmt: str) -> None:
    @nox.session(name=fmt, tags=["format"])
    def run_format(session: nox.Session) -> None:
        _refuse_fixed(session, {"format": fmt})
        _install(session)
        _run_suite(session, "-f", fmt)

    run_format.__doc__ = f"Run the suite for the {fmt} format."


for _fmt in FORMATS:
    _format_session(_fmt)


@nox.session(name="nbd", tags=["protocol"])
def nbd(session: nox.Session) -> None:
    """Run the suite with images served over NBD by qemu-nbd (raw format)."""
    _refuse_fixed(session, {"format": "raw", "protocol": "nbd"})
    _install(session)
    _run_suite(session, "-f", "raw", "-p", "nbd")


@nox.session(tags=["matrix"])
def formats(session: nox.Session) -> None:
    """Run the suite for every format in turn; fails if any format failed."""
    _refuse_fixed(session, {"format": "each in turn"})
    _install(session)
    failed = []
    for fmt in FORMATS:
        try:
            session.run("iotests", "run", "-f", fmt, *session.posargs)
        except nox.command.CommandFailed:
            failed.append(fmt)
    if failed:
        session.error("failures in: " + ", ".join(failed))


@nox.session(tags=["tests"])
def tests(session: nox.Session) -> None:
    """The toolkit's own tests (pytest): unit and integration with real QEMU."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(tags=["tests", "drills"])
def drills(session: nox.Session) -> None:
    """Fault drills (tests/drills): signals, crashes, crafted tarballs, full disks, two runs."""
    _install(session, "test")
    session.run("pytest", "tests/drills", *session.posargs)


@nox.session(tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict, over the cases too (scripts without .py, so named one by one)."""
    import glob

    _install(session, "lint", "test")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("mypy", "--scripts-are-modules", *sorted(glob.glob("cases/*")))


@nox.session(tags=["bench"])
def bench(session: nox.Session) -> None:
    """Print the runner's figures: per-case overhead, one case warm against upstream's check,
    -j1/-j2 wall times (-- --rounds N --upstream-tree DIR --skip-suite)."""
    _install(session)
    session.run("python", "benchmarks/runner.py", *session.posargs)


# --- upstream: QEMU's own tests/qemu-iotests through our runner (issue 6) ---------------------


@nox.session(tags=["upstream"])
def upstream(session: nox.Session) -> None:
    """Run a QEMU tree's own iotests with check's options: -- QEMU_SRC [-qcow2 -g quick ...].

    QEMU_SRC is a source tree or its tests/qemu-iotests (scripts/fetch-upstream-tree
    prints one for Debian's 7.2). A cached build of that tree supplies the
    binaries when there is one and no QEMU_*_PROG variable is set.
    """
    if not session.posargs or session.posargs[0].startswith("-"):
        session.error("usage: nox -s upstream -- QEMU_SRC [check options, e.g. -qcow2 -g quick]")
    _install(session)
    source, *options = session.posargs
    session.run("iotests", "check", "--upstream", source, *options)


@nox.session(name="upstream-verdicts", tags=["upstream"])
def upstream_verdicts(session: nox.Session) -> None:
    """CI gate: -- TREE [--format qcow2 --group quick -j 2]: our verdicts must equal check's.

    Runs the selection with the tree's own ./check and with ours on the same
    binaries, prints both wall times and fails on any verdict difference.
    With Debian's emulator (no qtest) many upstream tests fail under both
    runners, so "nox -s upstream" alone cannot be a pass/fail gate there.
    """
    if not session.posargs or session.posargs[0].startswith("-"):
        session.error(
            "usage: nox -s upstream-verdicts -- TREE [--format F --group G -j N]"
            " [--build-profile P]"
        )
    args = list(session.posargs)
    if "--build-profile" in args and (word := _sets_option(args, RUN_OPTIONS["build-dir"])):
        session.error(f"{word!r}: --build-profile chooses the binaries; give one of the two")
    _install(session, "tasks")
    if "--build-profile" in args:
        # Binaries of the toolkit's build (default source: Debian's 7.2) instead of
        # PATH: the system profile has the qtest accelerator Debian's emulator lacks,
        # so upstream's VM tests run (and must agree) instead of failing under both.
        at = args.index("--build-profile")
        if at + 1 >= len(args):
            session.error("--build-profile needs a profile name (e.g. system)")
        profile = args[at + 1]
        del args[at : at + 2]
        args += ["--build-dir", _build(session, profile)]
    session.run("python", "benchmarks/upstream.py", *args)


# --- end upstream -------------------------------------------------------------------------------


# --- build flavours: asan, coverage, release (issue 4) -------------------------------------------
# Builds go through the invoke tasks in tasks.py (cached: a second run builds nothing); the
# suite runs through the same runner as every other session, pointed at the build tree.

BUILD_RESULTS = "results"
#: What a build flavour's session passes to every run: its build tree and report files.
_REPORTED_BUILD = {
    "build-dir": "its own build",
    "results-dir": BUILD_RESULTS,
    "json": "per run",
    "junit": "per run",
}


def _build(session: nox.Session, profile: str, source: str | None = None) -> str:
    """Build *profile* (a no-op when cached) and return its build tree."""
    chosen = ["--profile", profile, *(["--source", source] if source else [])]
    session.run("invoke", "build-qemu", *chosen)
    printed = session.run("invoke", "build-dir", *chosen, silent=True)
    return str(printed).strip().splitlines()[-1]


def _sanitizer_env(log_dir: str) -> dict[str, str]:
    # Halt at the first error; ASan/LSan reports also go to files in log_dir (UBSan in a
    # combined runtime keeps to stderr, where the runner sees it in the case's output).
    return {
        "ASAN_OPTIONS": f"halt_on_error=1:abort_on_error=0:detect_leaks=1:log_path={log_dir}/asan",
        "UBSAN_OPTIONS": f"halt_on_error=1:print_stacktrace=1:log_path={log_dir}/ubsan",
    }


def _suite(
    session: nox.Session, name: str, out: str, *args: str, env: dict[str, str] | None = None
) -> bool:
    """Run the runner once with JSON and JUnit reports under *out*; True when it passed."""
    try:
        session.run(
            "iotests",
            "run",
            *args,
            "--results-dir",
            f"{out}/{name}",
            "--json",
            f"{out}/{name}.json",
            "--junit",
            f"{out}/junit-{name}.xml",
            env=env,
        )
    except nox.command.CommandFailed:
        return False
    return True


def _fresh_dir(path: str) -> str:
    """Empty *path* and return it absolute: cases run elsewhere, and log_path must hold."""
    import shutil
    from pathlib import Path

    shutil.rmtree(path, ignore_errors=True)
    Path(path).mkdir(parents=True)
    return str(Path(path).resolve())


@nox.session(tags=["flavour"])
def asan(session: nox.Session) -> None:
    """Build the ASan+UBSan profile if needed; run qcow2 and raw on it; any report fails."""
    _refuse_fixed(session, {"format": "qcow2, raw", **_REPORTED_BUILD})
    _install(session, "tasks")
    tree = _build(session, "asan")
    out = _fresh_dir(f"{BUILD_RESULTS}/asan")
    logs = _fresh_dir(f"{out}/sanitizer-logs")
    env = _sanitizer_env(logs)
    failed = [
        fmt
        for fmt in ("qcow2", "raw")
        if not _suite(session, fmt, out, "-f", fmt, "--build-dir", tree, *session.posargs, env=env)
    ]
    session.run("invoke", "sanitizer-scan", logs)
    if failed:
        session.error(f"failures on the asan build in: {', '.join(failed)} (see {out})")


@nox.session(tags=["flavour"])
def coverage(session: nox.Session) -> None:
    """Build the gcov profile, reset its counters, run the suite, report with gcovr.

    -- [SOURCE] [--per-case] [runner selection]. SOURCE is what build-qemu
    takes (debian, X.Y.Z, a tarball or a tree). With --per-case: which lines
    each case executed (default: -f qcow2 -g auto), kept in the build cache
    for mutants and `iotests run --changed`; report in results/coverage-per-case.
    """
    source, args = _split_source(session.posargs)
    if "--per-case" in args:
        _refuse_fixed(session, {"build-dir": "its own build"}, args)
        _install(session, "tasks")
        tree = _build(session, "gcov", source)
        rest = [a for a in args if a != "--per-case"]
        session.run("python", "-m", "iotests.mutate", "coverage", "--build-dir", tree, *rest)
        return
    _refuse_fixed(session, {"format": "qcow2, raw", **_REPORTED_BUILD}, args)
    _install(session, "tasks")
    session.install("gcovr")
    tree = _build(session, "gcov", source)
    out = _fresh_dir(f"{BUILD_RESULTS}/coverage")
    session.run("invoke", "coverage", "--build-dir", tree, "--reset")
    failed = [
        fmt
        for fmt in ("qcow2", "raw")
        if not _suite(session, fmt, out, "-f", fmt, "--build-dir", tree, *args)
    ]
    session.run("invoke", "coverage", "--build-dir", tree, "--out", f"{out}/html")
    if failed:
        session.error(f"suite failures on the gcov build in: {', '.join(failed)}")


def _split_source(posargs: Sequence[str]) -> tuple[str | None, list[str]]:
    """SOURCE is the first argument when it names a build source, not a case or an option."""
    import re
    from pathlib import Path

    if posargs:
        first = posargs[0]
        if (
            first == "debian"
            or first.startswith("debian:")
            or re.fullmatch(r"\d+\.\d+(\.\d+)?(-rc\d+)?", first)
            or (not first.startswith("-") and Path(first).exists())
        ):
            return first, list(posargs[1:])
    return None, list(posargs)


@nox.session(tags=["mutants"])
def mutants(session: nox.Session) -> None:
    """Mutation testing of QEMU sources on the gcov build's per-case coverage.

    -- [SOURCE] --files 'block/qcow2*.c,qemu-img.c' [--diff REV] [--sample N --seed S]
    [runner selection]. Works on a copy of the source in the build cache;
    reports (mutation-testing-elements JSON, Markdown, HTML) in results/mutants.
    """
    source, args = _split_source(session.posargs)
    _refuse_fixed(session, {"build-dir": "its own build"}, args)
    _install(session, "tasks", "mutants")
    tree = _build(session, "gcov", source)
    session.run("python", "-m", "iotests.mutate", "mutants", "--build-dir", tree, *args)


def _supported_formats(session: nox.Session, tree: str) -> list[str]:
    """The FORMATS this build's qemu-img lists as supported."""
    text = str(session.run(f"{tree}/qemu-img", "--help", silent=True, external=True))
    listed = set()
    for line in text.splitlines():
        if line.startswith("Supported formats:"):
            listed.update(line.split(":", 1)[1].split())
    return [fmt for fmt in FORMATS if fmt in listed]


@nox.session(tags=["release"])
def release(session: nox.Session) -> None:
    """Fetch, verify and build a release; run the auto group on it; one report.

    -- X.Y.Z for a QEMU release, or any other build source: ``debian`` (the
    distribution's source package, as packagers verify it), a tarball or a
    source tree; then runner options. The first build fetches and verifies
    the source (build-qemu refuses an unverified release).
    """
    import re

    if not session.posargs or session.posargs[0].startswith("-"):
        session.error("usage: nox -s release -- X.Y.Z|debian|TARBALL|TREE [runner options]")
    version, *extra = session.posargs
    owned = {"group": "auto", "format": "each supported", "protocol": "file, nbd"}
    _refuse_fixed(session, {**owned, **_REPORTED_BUILD}, extra)
    _install(session, "tasks")
    label = re.sub(r"[^A-Za-z0-9._+-]", "_", Path(version).name) or "source"
    out = _fresh_dir(f"{BUILD_RESULTS}/release-{label}")
    trees = _release_builds(session, version, out)
    failed = _release_suites(session, out, trees, extra)
    _release_report(session, out)
    if failed:
        session.error(f"release {version}: failures in {', '.join(failed)}")


def _release_builds(session: nox.Session, version: str, out: str) -> dict[str, str]:
    """The release built in each profile it is run on, its build manifests kept under *out*."""
    import shutil

    trees = {profile: _build(session, profile, version) for profile in ("tools", "system", "asan")}
    manifests = _fresh_dir(f"{out}/manifests")
    for profile, tree in trees.items():
        shutil.copy(Path(tree).parent / "manifest.json", f"{manifests}/{profile}.json")
    return trees


def _release_auto(
    session: nox.Session,
    out: str,
    name: str,
    tree: str,
    *chosen: str,
    extra: Sequence[str],
    env: dict[str, str] | None = None,
) -> bool:
    """One run of the release's auto group on *tree*; True when it passed."""
    return _suite(session, name, out, "-g", "auto", *chosen, "--build-dir", tree, *extra, env=env)


def _release_suites(
    session: nox.Session, out: str, trees: dict[str, str], extra: Sequence[str]
) -> list[str]:
    """Every supported format, raw over NBD, and qcow2 and raw on ASan: what failed."""
    system = trees["system"]
    failed = [
        fmt
        for fmt in _supported_formats(session, system)
        if not _release_auto(session, out, fmt, system, "-f", fmt, extra=extra)
    ]
    if Path(system, "qemu-nbd").exists() and not _release_auto(
        session, out, "raw-nbd", system, "-f", "raw", "-p", "nbd", extra=extra
    ):
        failed.append("raw over nbd")
    logs = _fresh_dir(f"{out}/sanitizer-logs")
    for fmt in ("qcow2", "raw"):
        name, env = f"asan-{fmt}", _sanitizer_env(logs)
        if not _release_auto(session, out, name, trees["asan"], "-f", fmt, extra=extra, env=env):
            failed.append(f"{fmt} on asan")
    try:
        session.run("invoke", "sanitizer-scan", logs)
    except nox.command.CommandFailed:
        failed.append("sanitizer reports")
    return failed


def _release_report(session: nox.Session, out: str) -> None:
    """One report (HTML, Markdown, JUnit) of every run's JSON under *out*."""
    reports = sorted(str(p) for p in Path(out).glob("*.json"))
    # Exit status 1 means "something failed", which _release_suites already said; anything
    # else (a bad report file, a usage error) must stop the session.
    session.run(
        "iotests",
        "report",
        *reports,
        "--html",
        f"{out}/html",
        "--markdown",
        f"{out}/report.md",
        "--junit",
        f"{out}/junit-all.xml",
        success_codes=[0, 1],
    )
    session.log(f"report: {out}/report.md and {out}/html/index.html")


# --- end build flavours --------------------------------------------------------------------------
