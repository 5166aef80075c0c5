"""nox sessions: one per image format and protocol, plus tests, lint and bench.

Thin by design: every session installs the package and calls the ``iotests``
runner (or pytest); the logic lives in the package. Arguments after ``--``
go to the runner, e.g. ``nox -s qcow2 -- -g quick 001-010``.
"""

from __future__ import annotations

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
        session.error("usage: nox -s upstream-verdicts -- TREE [--format F --group G -j N]")
    _install(session)
    session.run("python", "benchmarks/upstream.py", *session.posargs)


# --- end upstream -------------------------------------------------------------------------------
