"""nox sessions: one per image format and protocol, plus tests, lint and bench.

Thin by design: every session installs the package and calls the ``iotests``
runner (or pytest); the logic lives in the package. Arguments after ``--``
go to the runner, e.g. ``nox -s qcow2 -- -g quick 001-010``.
"""

from __future__ import annotations

from collections.abc import Sequence

import nox

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["qcow2"]
nox.options.error_on_missing_interpreters = True

FORMATS = ("raw", "qcow2", "qed", "vmdk", "vdi", "vpc", "vhdx", "luks", "parallels", "qcow")
PROTOCOLS = ("nbd",)


def _install(session: nox.Session, *extras: str) -> None:
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


def _run_suite(session: nox.Session, *args: str) -> None:
    session.run("iotests", "run", *args, *session.posargs, external=False)


def _format_session(fmt: str) -> None:
    @nox.session(name=fmt)
    def run_format(session: nox.Session) -> None:
        _install(session)
        _run_suite(session, "-f", fmt)

    run_format.__doc__ = f"Run the suite for the {fmt} format."


for _fmt in FORMATS:
    _format_session(_fmt)


@nox.session(name="nbd")
def nbd(session: nox.Session) -> None:
    """Run the suite with images served over NBD by qemu-nbd (raw format)."""
    _install(session)
    _run_suite(session, "-f", "raw", "-p", "nbd")


@nox.session
def formats(session: nox.Session) -> None:
    """Run the suite for every format in turn; fails if any format failed."""
    _install(session)
    failed = []
    for fmt in FORMATS:
        try:
            session.run("iotests", "run", "-f", fmt, *session.posargs)
        except nox.command.CommandFailed:
            failed.append(fmt)
    if failed:
        session.error("failures in: " + ", ".join(failed))


@nox.session
def tests(session: nox.Session) -> None:
    """The toolkit's own tests (pytest): unit and integration with real QEMU."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session
def drills(session: nox.Session) -> None:
    """Fault drills (tests/drills): signals, crashes, crafted tarballs, full disks, two runs."""
    _install(session, "test")
    session.run("pytest", "tests/drills", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict."""
    _install(session, "lint", "test")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Print the runner's figures: per-case overhead and -j1/-j2 wall times."""
    _install(session)
    session.run("python", "benchmarks/runner.py", *session.posargs)


# --- upstream: QEMU's own tests/qemu-iotests through our runner (issue 6) ---------------------


@nox.session
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


@nox.session(name="upstream-verdicts")
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
    _install(session, "tasks")
    args = list(session.posargs)
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


@nox.session
def asan(session: nox.Session) -> None:
    """Build the ASan+UBSan profile if needed; run qcow2 and raw on it; any report fails."""
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


@nox.session
def coverage(session: nox.Session) -> None:
    """Build the gcov profile, reset its counters, run the suite, report with gcovr.

    -- [SOURCE] [--per-case] [runner selection]. SOURCE is what build-qemu
    takes (debian, X.Y.Z, a tarball or a tree). With --per-case: which lines
    each case executed (default: -f qcow2 -g auto), kept in the build cache
    for mutants and `iotests run --changed`; report in results/coverage-per-case.
    """
    source, args = _split_source(session.posargs)
    if "--per-case" in args:
        _install(session, "tasks")
        tree = _build(session, "gcov", source)
        rest = [a for a in args if a != "--per-case"]
        session.run("python", "-m", "iotests.mutate", "coverage", "--build-dir", tree, *rest)
        return
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


@nox.session
def mutants(session: nox.Session) -> None:
    """Mutation testing of QEMU sources on the gcov build's per-case coverage.

    -- [SOURCE] --files 'block/qcow2*.c,qemu-img.c' [--diff REV] [--sample N --seed S]
    [runner selection]. Works on a copy of the source in the build cache;
    reports (mutation-testing-elements JSON, Markdown, HTML) in results/mutants.
    """
    _install(session, "tasks", "mutants")
    source, args = _split_source(session.posargs)
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


@nox.session
def release(session: nox.Session) -> None:
    """Fetch, verify and build a release; run the auto group on it; one report.

    -- X.Y.Z for a QEMU release, or any other build source: ``debian`` (the
    distribution's source package, as packagers verify it), a tarball or a
    source tree; then runner options. The first build fetches and verifies
    the source (build-qemu refuses an unverified release).
    """
    import re
    import shutil
    from pathlib import Path

    if not session.posargs or session.posargs[0].startswith("-"):
        session.error("usage: nox -s release -- X.Y.Z|debian|TARBALL|TREE [runner options]")
    version, *extra = session.posargs
    _install(session, "tasks")
    label = re.sub(r"[^A-Za-z0-9._+-]", "_", Path(version).name) or "source"
    out = _fresh_dir(f"{BUILD_RESULTS}/release-{label}")
    trees = {profile: _build(session, profile, version) for profile in ("tools", "system", "asan")}
    manifests = _fresh_dir(f"{out}/manifests")
    for profile, tree in trees.items():
        shutil.copy(Path(tree).parent / "manifest.json", f"{manifests}/{profile}.json")
    failed: list[str] = []
    for fmt in _supported_formats(session, trees["system"]):
        if not _suite(
            session, fmt, out, "-g", "auto", "-f", fmt, "--build-dir", trees["system"], *extra
        ):
            failed.append(fmt)
    if Path(trees["system"], "qemu-nbd").exists() and not _suite(
        session,
        "raw-nbd",
        out,
        "-g",
        "auto",
        "-f",
        "raw",
        "-p",
        "nbd",
        "--build-dir",
        trees["system"],
        *extra,
    ):
        failed.append("raw over nbd")
    logs = _fresh_dir(f"{out}/sanitizer-logs")
    for fmt in ("qcow2", "raw"):
        if not _suite(
            session,
            f"asan-{fmt}",
            out,
            "-g",
            "auto",
            "-f",
            fmt,
            "--build-dir",
            trees["asan"],
            *extra,
            env=_sanitizer_env(logs),
        ):
            failed.append(f"{fmt} on asan")
    try:
        session.run("invoke", "sanitizer-scan", logs)
    except nox.command.CommandFailed:
        failed.append("sanitizer reports")
    reports = sorted(str(p) for p in Path(out).glob("*.json"))
    # Exit status 1 means "something failed", which `failed` already knows; anything
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
    if failed:
        session.error(f"release {version}: failures in {', '.join(failed)}")


# --- end build flavours --------------------------------------------------------------------------
