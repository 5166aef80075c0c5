"""Every exit code the ``iotests`` command can end with.

CI systems branch on these, so each one has exactly one meaning and a test
that provokes it (tests/integration/test_cli_exitcodes.py).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    #: Every selected case ran (or was legitimately not run) and none failed.
    OK = 0
    #: At least one case failed or timed out.
    FAILED = 1
    #: The command line, an environment variable or the config file was wrong.
    USAGE_ERROR = 2
    #: No QEMU binary that the run needs could be found.
    NO_BINARIES = 3
    #: The selection matched no case at all (usually a typo in a name or group).
    NO_CASES = 4
    #: A bug or an unexpected condition inside the toolkit itself.
    INTERNAL_ERROR = 5
    #: Building or fetching QEMU failed.
    BUILD_FAILED = 6
    #: The user interrupted the run (Ctrl-C / SIGTERM); everything was cleaned up.
    INTERRUPTED = 130
