"""How upstream tests are set up and judged by our runner.

Our runner keeps what makes it better (a scratch and socket directory per
test, a process group and a deadline per test, longest-first parallel
scheduling, reports); everything that decides a verdict follows upstream's
``check``: the exported variables, the reference lookup, the ``.notrun``
file, and the raw output compared line by line with trailing whitespace
ignored. Our output filters are not applied: upstream tests filter their own
output, and rewriting paths or dates on top could hide a real mismatch.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from iotests.env.probe import Probe
from iotests.runner.dirs import CaseDirs
from iotests.runner.discovery import Case
from iotests.runner.execution import Suite, bytecode_environment
from iotests.runner.filters import Filter
from iotests.runner.results import CaseResult
from iotests.runner.settings import RunSettings
from iotests.upstream import environment, expected
from iotests.upstream.environment import CheckOptions


def _unfiltered(text: str) -> str:
    return text


class UpstreamSuite(Suite):
    """Runs the tests of one upstream tree with ``check``'s environment and verdicts."""

    def __init__(self, tree: Path, options: CheckOptions, check_env: Mapping[str, str]) -> None:
        self.tree = tree
        self.options = options
        #: What ``check`` exports, except the per-test TEST_DIR and SOCK_DIR.
        self.check_env = dict(check_env)
        self._casenotrun: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        tree: Path,
        settings: RunSettings,
        options: CheckOptions,
        progs: Mapping[str, str],
        environ: Mapping[str, str],
    ) -> UpstreamSuite:
        """Probe the default machine once and compute the run's environment."""
        machine = environment.query_default_machine(progs.get("QEMU_PROG"))
        check_env = environment.check_environment(
            tree, settings.format, settings.protocol, options, progs, environ, machine
        )
        return cls(tree, options, check_env)

    @property
    def machine(self) -> str:
        return self.check_env.get("QEMU_DEFAULT_MACHINE", "")

    def environment(
        self, case: Case, settings: RunSettings, dirs: CaseDirs, base: Mapping[str, str]
    ) -> dict[str, str]:
        env = {k: v for k, v in base.items() if k != "PYTHONPATH"}
        env.update(self.check_env)
        env.update(TEST_DIR=str(dirs.scratch), SOCK_DIR=str(dirs.sock))
        env.update(bytecode_environment(settings))
        return env

    def filters(self, path_map: list[tuple[str, str]]) -> Filter:
        return _unfiltered

    def expected_file(self, case: Case, settings: RunSettings) -> Path | None:
        return expected.reference(
            case.path.parent,
            case.name,
            settings.format,
            self.check_env.get("CACHEMODE", settings.cachemode),
            self.machine,
        )

    def regenerate_target(self, case: Case, settings: RunSettings) -> Path:
        return self.expected_file(case, settings) or case.path.parent / f"{case.name}.out"

    def notrun_reason(self, case: Case, dirs: CaseDirs) -> str | None:
        """Upstream's ``NAME.notrun`` in TEST_DIR; keeps ``NAME.casenotrun`` for the report."""
        try:
            casenotrun = (dirs.scratch / f"{case.name}.casenotrun").read_text(errors="replace")
        except OSError:
            casenotrun = ""
        if casenotrun.strip():
            (dirs.result / "casenotrun").write_text(casenotrun)
            with self._lock:
                self._casenotrun[case.name] = casenotrun.rstrip("\n")
        try:
            return (dirs.scratch / f"{case.name}.notrun").read_text(errors="replace").strip()
        except OSError:
            return None

    def casenotrun_lines(self, results: Sequence[CaseResult]) -> list[str]:
        """Sub-cases the tests reported as not run, in result order.

        Upstream prints each test's ``.casenotrun`` under its status line;
        ours come after the run, as the live view may be redrawing.
        """
        with self._lock:
            notes = dict(self._casenotrun)
        return [f"{r.name}:\n{notes[r.name]}" for r in results if r.name in notes]

    def qtest_hint(self, results: Sequence[CaseResult], probe: Probe) -> str | None:
        """Why many upstream tests fail with an emulator built without qtest (Debian's).

        ``check`` starts every VM with ``-accel qtest`` (QEMU_OPTIONS), so with
        such an emulator each VM test fails, under ``check`` and here alike.
        The verdicts stay; the hint saves hunting through the diffs.
        """
        qemu = probe.binaries.get("qemu")
        failed = sum(r.status.failed for r in results)
        if not failed or not qemu or "qtest" in probe.accelerators:
            return None
        if "-accel qtest" not in self.check_env.get("QEMU_OPTIONS", ""):
            return None
        return (
            f"note: {failed} failed; {qemu} has no qtest accelerator and upstream starts"
            " every VM with -accel qtest, so each test that starts a VM fails here as under"
            " ./check. `invoke build-qemu --profile system` builds an emulator with qtest."
        )

    def not_run(self, case: Case, settings: RunSettings, probe: Probe) -> str | None:
        """Checked before a test starts: upstream skips a test with no reference file."""
        if self.expected_file(case, settings) is None:
            return f"No qualified output (expected {case.path.parent / (case.name + '.out')})"
        return None
