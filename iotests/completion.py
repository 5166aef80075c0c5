"""Shell completion for ``iotests``, through argcomplete.

``eval "$(register-python-argcomplete iotests)"`` makes bash (or zsh with
bashcompinit) run ``iotests`` with ``_ARGCOMPLETE`` set on each TAB; this
module answers then and exits, and does nothing (and imports nothing) in any
other run. The formats and protocols are checked by a did-you-mean type, not
by argparse ``choices``, so argcomplete cannot see them on its own: they get
completers here, and groups come from the case headers in ``--cases-dir``
(default ``./cases``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from iotests.runner.settings import FORMATS, PROTOCOLS


def _groups(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """Every group a case header names, for ``-g`` and ``-x``; none if the cases cannot be read."""
    from iotests.runner.discovery import discover

    cases = Path(getattr(parsed_args, "cases_dir", None) or "cases")
    expected = Path(getattr(parsed_args, "expected_dir", None) or "expected")
    try:
        found = discover(cases, expected)
    except Exception:  # a half-typed command line must never print a traceback into the shell
        return []
    return sorted({group for case in found for group in case.header.groups})


def _formats(**_: Any) -> list[str]:
    return list(FORMATS)


def _protocols(**_: Any) -> list[str]:
    return list(PROTOCOLS)


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:  # argparse has no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _subparsers(sub)
    return found


def answer(parser: argparse.ArgumentParser) -> None:
    """When the shell asks for completions, print them for *parser* and exit the process."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    values: dict[str, Any] = {
        "--format": _formats,
        "--protocol": _protocols,
        "--group": _groups,
        "--exclude-group": _groups,
    }
    for sub in _subparsers(parser):
        for action in sub._actions:
            for option, completer in values.items():
                if option in action.option_strings:
                    action.completer = completer  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)
