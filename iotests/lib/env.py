"""The environment the runner hands a case, read once through the contract, and "not run".

:class:`iotests.contract.CaseEnvironment` says which variables exist; this
module adds what only the case's side needs: the binaries on PATH when the
runner named none (a case run by hand), the binaries' probe, and
:func:`notrun`, which ends the case in the way the runner reads.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from typing import NoReturn

from iotests.contract import CaseEnvironment
from iotests.env.binaries import ROLES
from iotests.env.probe import Probe
from iotests.lib.errors import NotRun


class CaseEnv(CaseEnvironment):
    """The contract plus the case's ways of using it."""

    def prog(self, role: str) -> str:
        """Path of a QEMU binary by role (qemu-img, qemu-io, qemu-nbd, qsd, qemu).

        :raises NotRun: when the run has no such binary.
        """
        path = self.progs.get(role)
        if not path:
            notrun(f"{role} binary not found")
        return path

    @functools.cached_property
    def probe(self) -> Probe | None:
        if self.probe_file is None or not self.probe_file.is_file():
            return None
        return Probe.load(self.probe_file)


@functools.cache
def case_env() -> CaseEnv:
    """The current case's environment; works outside the runner with defaults too."""
    env = CaseEnv.from_environ(os.environ)
    missing = [r for r in ROLES if r.name not in env.progs]
    on_path = {r.name: found for r in missing if (found := shutil.which(r.program))}
    return dataclasses.replace(env, progs={**env.progs, **on_path}) if on_path else env


def notrun(reason: str) -> NoReturn:
    """End the case as "not run" with *reason* (a capability is missing).

    The reason goes where the runner reads it (the contract's notrun file),
    or to stderr when no runner is listening; then :class:`NotRun` (a
    SystemExit with status 0) unwinds the case, closing its servers.
    """
    path = case_env().notrun_file
    if path is not None:
        path.write_text(reason + "\n")
    else:
        print(f"not run: {reason}", file=sys.stderr)
    raise NotRun(reason)
