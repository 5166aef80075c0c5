"""Printing what a case did and saw, in a form stable across runs and formats."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, NoReturn

from iotests.lib.env import case_env


def format_neutral(text: str) -> str:
    """Replace the current format's name where it would make output format-specific.

    ``fmt=qcow2`` becomes ``fmt=IMGFMT``; used for messages that name the
    format of the image under test (not for a backing file's declared format).
    """
    fmt = case_env().imgfmt
    return re.sub(rf"\bfmt={re.escape(fmt)}\b", "fmt=IMGFMT", text)


def log(*parts: object) -> None:
    """Print a line of the case's output."""
    print(*parts, flush=True)


def section(title: str) -> None:
    """Print a section heading, so goldens read like the scenario."""
    print(f"\n=== {title} ===\n", flush=True)


def log_json(value: Any) -> None:
    """Print JSON with sorted keys, one stable rendering for any dict order."""
    print(json.dumps(value, sort_keys=True, indent=None, separators=(", ", ": ")), flush=True)


def check(condition: bool, what: str) -> bool:
    """Assert a behaviour the case relies on.

    Prints ``ok: what`` or ``FAIL: what``; a FAIL line never matches a golden
    file, so the case fails however the rest of its output looks.
    """
    print(f"{'ok' if condition else 'FAIL'}: {what}", flush=True)
    return condition


def notrun(reason: str) -> NoReturn:
    """End the case as "not run" with *reason* (a capability is missing)."""
    path = case_env().notrun_file
    if path is not None:
        path.write_text(reason + "\n")
    else:
        print(f"not run: {reason}", file=sys.stderr)
    sys.exit(0)
