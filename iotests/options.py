"""The command line, typed: what ``run``, ``list``, ``env`` and ``check`` were asked for.

Two parsers end here: ``iotests run``/``list``/``env`` (:mod:`iotests.cli`)
and ``iotests check`` in upstream's spellings (:mod:`iotests.upstream.options`),
so the rest of the run reads one type whichever was typed. Each value is
checked where it is parsed; ``None`` means "not given" and nothing else does:
0 and "" are values (``-j 0`` is refused by its parser, never taken for
"unset"). What was not given comes from the environment, the config or
:class:`~iotests.runner.settings.RunSettings`'s defaults, merged once by
:mod:`iotests.plan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iotests.runner.selection import Shard


def comma_list(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeated or comma-separated flag values (``-g a,b -g c``) as one tuple (pure)."""
    return tuple(v for item in values or () for v in item.split(",") if v)


@dataclass(frozen=True)
class Options:
    """One command line; every field's default is what leaving the flag out means."""

    command: str = "run"
    #: The command was ``check``: the tree may be the current directory.
    from_check: bool = False

    # Where things are.
    config: str | None = None
    build_dir: str | None = None
    mix_versions: bool = False
    cases_dir: str | None = None
    expected_dir: str | None = None
    results_dir: str | None = None
    upstream: str | None = None

    # What runs.
    format: str | None = None
    protocol: str | None = None
    tests: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    exclude_groups: tuple[str, ...] = ()
    shard: Shard | None = None
    start_from: str | None = None
    # Cases chosen by the QEMU lines they cover (iotests.mutate.select).
    changed: str | None = None
    touching: tuple[str, ...] = ()
    source_dir: str | None = None
    coverage_map: str | None = None

    # How each case runs.
    jobs: int | None = None
    timeout: float | None = None
    cachemode: str | None = None
    aiomode: str | None = None
    imgopts: str | None = None
    valgrind: bool = False
    misalign: bool = False
    verbose: bool = False
    regenerate: bool | None = None
    # Only upstream tests read these (check's -d, -gdb, -p).
    debug: bool = False
    gdb: bool = False
    print_qemu: bool = False

    # What is reported, and what fails the run.
    dry_run: bool = False
    json: bool = False
    json_file: str | None = None
    junit: str | None = None
    tap: bool = False
    github: bool = False
    known: tuple[str, ...] = ()
    rerun_failures: int = 0
    flaky_fails: bool = False
    fail_on_not_run: bool = False
    min_run: int | None = None
