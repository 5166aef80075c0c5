"""The toolkit's exception tree.

Every error a user can cause or meet derives from :class:`IotestsError`, which
carries the exit code the CLI ends with; the CLI prints ``str(error)`` as one
line and never a traceback for these. Anything else escaping is a bug and is
reported as one (``ExitCode.INTERNAL_ERROR``)::

    IotestsError
     +-- UsageError            bad flag, variable or selection
     |    +-- ConfigError      a bad key or value in the YAML config (names file and key)
     |    +-- CaseHeaderError  a malformed case header (names file and line)
     |    +-- ResultsBusyError another live run holds the results folder
     +-- NoCasesError          the selection matched nothing
     +-- BinaryNotFoundError   a QEMU binary the run needs is missing
     +-- CommandError          a subprocess failed; keeps argv, exit code, output tail
     +-- BuildError            fetching, verifying, extracting or building QEMU failed
"""

from __future__ import annotations

from collections.abc import Sequence

from iotests.exitcodes import ExitCode


class IotestsError(Exception):
    """Root of every error the toolkit reports to a user as one line."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class UsageError(IotestsError):
    """The user asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE_ERROR


class ConfigError(UsageError):
    """A configuration file holds a key or value that is not valid."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class CaseHeaderError(UsageError):
    """A test case's metadata header cannot be parsed."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class ResultsBusyError(UsageError):
    """Another live run is using the same results folder (format and protocol)."""


class NoCasesError(IotestsError):
    """The selection matched no case, which is almost always a typo."""

    exit_code = ExitCode.NO_CASES


class BinaryNotFoundError(IotestsError):
    """A QEMU binary needed for the whole run is missing."""

    exit_code = ExitCode.NO_BINARIES


class BuildError(IotestsError):
    """Fetching, verifying, extracting or building QEMU failed."""

    exit_code = ExitCode.BUILD_FAILED


class CommandError(IotestsError):
    """A command exited unexpectedly.

    Shows the command line, how it ended and the tail of its output, so the
    one-line report is enough to start debugging.
    """

    TAIL_LINES = 20

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(self._describe())

    def _describe(self) -> str:
        how = (
            f"killed by signal {-self.returncode}"
            if self.returncode < 0
            else f"exit code {self.returncode}"
        )
        text = f"command failed ({how}): {' '.join(self.argv)}"
        tail = self.output.rstrip().splitlines()[-self.TAIL_LINES :]
        if tail:
            text += "\n" + "\n".join("    " + line for line in tail)
        return text
