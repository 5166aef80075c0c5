"""What a case library helper raises: one root, one class per cause, and "not run".

Every failure a helper cannot turn into output is a :class:`CaseError`, so a
case (or a test of the library) catches one class, and the traceback that
fails a case names the command and what it printed last::

    RuntimeError
     +-- CaseError             argv, output, tail
          +-- ToolError        a QEMU tool exited non-zero where success was needed
          +-- ServerError      a server (qemu-nbd, qemu-storage-daemon, QEMU) did not
          |                    start, or is not running
          +-- QMPCommandError  a QMP command returned an error where success was needed
          +-- QMPTimeout       an awaited QMP event did not arrive in time
          +-- ImageFormatError a file is not the image a parser was told to expect,
                               or ends before what a case reads of it
    SystemExit
     +-- NotRun                the case cannot run here; the runner says "not run"

CaseError is a RuntimeError because the helpers raised RuntimeError before
this tree existed, and cases catch that. Wrong arguments stay ValueError and
TypeError, as anywhere in Python: they are the case's bug, not QEMU's.

:class:`NotRun` is a SystemExit (status 0) so that no ``except Exception``
in a case can swallow it and every ``with`` block and ``finally`` still
runs; :func:`iotests.lib.env.notrun` writes the reason where the runner
reads it before raising it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Lines of a command's output an error message keeps.
TAIL_LINES = 20


class CaseError(RuntimeError):
    """A helper could not do what the case asked; carries the command and its output."""

    def __init__(self, message: str, *, argv: Sequence[str] = (), output: str = "") -> None:
        super().__init__(message)
        self.argv = tuple(argv)
        self.output = output

    @property
    def tail(self) -> str:
        """The last :data:`TAIL_LINES` lines of the output: where a failure usually says why."""
        return "\n".join(self.output.rstrip().splitlines()[-TAIL_LINES:])


class ToolError(CaseError):
    """A QEMU tool failed where the case needed it to succeed."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        what = f"{' '.join(argv)} exited with {returncode}"
        tail = "\n".join(output.rstrip().splitlines()[-TAIL_LINES:])
        super().__init__(f"{what}:\n{tail}" if tail.strip() else what, argv=argv, output=output)
        self.returncode = returncode


class ServerError(CaseError):
    """A server did not start (its log is the output), or a command found it stopped."""


class QMPCommandError(CaseError):
    """A QMP command that the case expected to succeed returned an error.

    Not named QMPError: ``qemu.qmp`` has a class of that name for protocol
    failures, which this is not (the command reached QEMU and was refused).
    """

    def __init__(self, command: str, reply: Mapping[str, Any]) -> None:
        desc = reply.get("error", {}).get("desc", reply)
        super().__init__(f"{command}: {desc}", argv=("qmp", command), output=str(reply))
        self.command = command
        self.reply = reply


class QMPTimeout(CaseError):
    """An awaited event did not arrive in time: the case fails loudly instead of hanging."""


class ImageFormatError(CaseError, ValueError):
    """A file is not the image a parser reads (bad magic, a table past its end).

    Also a ValueError, which it was before the tree existed.
    """


class NotRun(SystemExit):
    """The case cannot run here (a binary, format or capability is missing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(0)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
