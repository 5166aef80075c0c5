"""Printing what a case did and saw, in a form stable across runs and formats."""

from __future__ import annotations

import json
import re
from typing import Any

from iotests.lib.env import case_env


def format_neutral(text: str) -> str:
    """*text* with ``fmt=FORMAT`` of the format under test printed as ``fmt=IMGFMT``.

    For messages that name the format of the image under test (qemu-img's
    "Formatting" line), so one golden serves every format; a backing
    file's declared format (``backing_fmt=``) is kept. Nothing is rewritten
    unless a helper documents it (:func:`iotests.lib.image.create`) or the
    case asks.
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


def check(condition: object, what: str) -> bool:
    """Assert a behaviour the case relies on.

    Prints ``ok: what`` or ``FAIL: what``; a FAIL line never matches a golden
    file, so the case fails however the rest of its output looks. Any
    result counts by its truth: a :class:`~iotests.lib.tools.ToolResult` is
    true when its tool succeeded.
    """
    passed = bool(condition)
    print(f"{'ok' if passed else 'FAIL'}: {what}", flush=True)
    return passed
