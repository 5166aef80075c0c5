"""What the runner tells a case through its environment: one typed record, one spelling.

The runner writes it (:mod:`iotests.runner.execution`) and the case library
reads it (:mod:`iotests.lib.env`), both through :class:`CaseEnvironment`,
whose fields carry their variables' names. A variable can therefore be
renamed, added or dropped in one place only, and both sides agree on its
type and on what its absence means (QEMU's ``testenv.py`` keeps its
contract in one place for the same reason).

Names are QEMU's own iotests' where one exists (``IMGFMT``, ``TEST_DIR``,
the ``QEMU_*_PROG`` of :data:`iotests.env.binaries.ROLES`), so an upstream
test finds what it expects; the toolkit's own are ``IOTESTS_*``. A boolean
is ``1`` when true and absent when false; an absent path is None.
"""

from __future__ import annotations

import dataclasses
import signal
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iotests.env.binaries import ROLES

#: The key of a field's metadata that names its variable.
_VARIABLE = "variable"

#: The signal a hang record sends a case's Python process for its threads' stacks
#: (answered by :mod:`faulthandler` where the case library registered it, see
#: :func:`iotests.lib.evidence.answer_stack_requests`).
STACK_SIGNAL = signal.SIGUSR2


@dataclass(frozen=True)
class CaseEnvironment:
    """The case's side of a run: format, protocol, directories, binaries, evidence files."""

    imgfmt: str = field(default="raw", metadata={_VARIABLE: "IMGFMT"})
    imgproto: str = field(default="file", metadata={_VARIABLE: "IMGPROTO"})
    cachemode: str = field(default="writeback", metadata={_VARIABLE: "CACHEMODE"})
    aiomode: str = field(default="threads", metadata={_VARIABLE: "AIOMODE"})
    imgopts: str = field(default="", metadata={_VARIABLE: "IMGOPTS"})
    #: The scratch directory; outside the runner, the current directory.
    test_dir: Path = field(default_factory=Path.cwd, metadata={_VARIABLE: "TEST_DIR"})
    #: Where sockets go (short: sun_path holds 108 bytes); unset, TEST_DIR.
    sock_dir: Path = field(default_factory=Path.cwd, metadata={_VARIABLE: "SOCK_DIR"})
    #: The case's name and its result directory (which outlives the scratch one).
    case: str = field(default="", metadata={_VARIABLE: "IOTESTS_CASE"})
    result_dir: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_RESULT_DIR"})
    #: Where :func:`iotests.lib.env.notrun` writes its reason for the runner.
    notrun_file: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_NOTRUN_FILE"})
    #: Where crashes and sanitizer reports of the case's QEMU processes are recorded.
    events_file: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_EVENTS"})
    #: The probe of the run's binaries (versions, formats, accelerators).
    probe_file: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_PROBE"})
    misalign: bool = field(default=False, metadata={_VARIABLE: "IOTESTS_MISALIGN"})
    valgrind: bool = field(default=False, metadata={_VARIABLE: "IOTESTS_VALGRIND"})
    valgrind_dir: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_VALGRIND_DIR"})
    #: Where each Python process of the case keeps ``PID.txt`` open for its stacks
    #: (written on :data:`STACK_SIGNAL`); unset, no stacks are kept.
    stacks_dir: Path | None = field(default=None, metadata={_VARIABLE: "IOTESTS_STACKS_DIR"})
    #: Path per role (``qemu-img``, ``qsd``, ...) for the binaries the run found.
    progs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> typing.Self:
        """The contract as *environ* states it; what it leaves out takes the defaults."""
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in _variables(cls):
            raw = environ.get(f.metadata[_VARIABLE])
            if raw is None or (raw == "" and hints[f.name] is not str):
                continue
            kind = hints[f.name]
            values[f.name] = raw == "1" if kind is bool else raw if kind is str else Path(raw)
        if "sock_dir" not in values and "test_dir" in values:
            values["sock_dir"] = values["test_dir"]
        progs = {r.name: environ[r.variable] for r in ROLES if environ.get(r.variable)}
        return cls(**values, progs=progs)

    def to_environ(self) -> dict[str, str]:
        """The variables stating this contract: false booleans and None paths are left out."""
        out: dict[str, str] = {}
        for f in _variables(type(self)):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            out[f.metadata[_VARIABLE]] = "1" if value is True else str(value)
        out.update({r.variable: self.progs[r.name] for r in ROLES if self.progs.get(r.name)})
        return out


def _variables(cls: type[CaseEnvironment]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if _VARIABLE in f.metadata]
