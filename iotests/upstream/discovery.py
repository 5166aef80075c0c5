"""Finding upstream's tests: ``NNN`` files and ``tests/NAME`` files that have a ``.out``.

The rules are those of upstream's ``findtests.py``, so that a selection
names the same tests here as there: a numbered test needs no reference
file (a missing one makes it "not run" at run time), a named test only
counts when ``tests/NAME.out`` exists, and a test's groups are the words of
the first line starting with ``# group: `` anywhere in the file. A
``group.local`` file next to ``check`` adds groups.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from iotests.errors import UsageError
from iotests.runner import reaper
from iotests.runner.discovery import Case, sort_key
from iotests.runner.header import CaseHeader

_NUMBERED = re.compile(r"^\d{3}$")
_GROUP_PREFIX = "# group: "
#: Upstream runs a test under its own interpreter only when the first line is exactly this.
_PYTHON_SHEBANG = "#!/usr/bin/env python3"


@dataclass(frozen=True)
class UpstreamCase(Case):
    """An upstream test: run unmodified, from its own directory, like ``check`` does."""

    #: Appended to the test's argv (``-d`` under ``check -d``).
    args: tuple[str, ...] = ()

    def command(self) -> list[str]:
        """The argv upstream's ``check`` would use, wrapped in :data:`LAUNCHER`."""
        with self.path.open("rb") as f:
            first = f.readline(256).decode(errors="replace").rstrip()
        argv = [str(self.path)]
        if first == _PYTHON_SHEBANG:
            argv.insert(0, sys.executable)
        return ["sh", "-c", LAUNCHER, "upstream-test", str(self.path.parent), *argv, *self.args]


#: Runs a test from its own directory (bash tests source ``./common.rc``), then
#: cleans up after it the way our runner expects, without changing a verdict:
#:
#: - it gives the processes the test stopped up to 2 s to finish exiting.
#:   Upstream tests often ``kill`` a daemon without waiting (common.nbd's
#:   nbd_server_stop); our runner fails a test whose processes are still alive
#:   when it ends, which upstream's check never does. A daemon that is really
#:   left behind still fails. The test's processes carry the runner's token;
#:   the wrapper's own /proc entry does too, so it is the one match to ignore
#:   (its children get the token unset, and grep alone runs while /proc is read);
#: - it lazily unmounts what the test left mounted below TEST_DIR: 108 kills
#:   its FUSE-exporting storage daemon and needs ``fusermount`` (often not
#:   installed) to unmount; a stale mount would break the scratch clean-up.
LAUNCHER = f"""
tok=${{{reaper.TOKEN_VARIABLE}:-}}
cd "$1" || exit 126
shift
"$@"
rc=$?
unset {reaper.TOKEN_VARIABLE}
i=0
while [ -n "$tok" ] && [ "$i" -lt 100 ]; do
    left=$(LC_ALL=C grep -lsxzF "{reaper.TOKEN_VARIABLE}=$tok" /proc/[0-9]*/environ)
    case $left in "" | "/proc/$$/environ") break ;; esac
    sleep 0.02
    i=$((i + 1))
done
if [ -n "${{TEST_DIR:-}}" ]; then
    while read -r _ mountpoint _; do
        case $mountpoint in
        "$TEST_DIR"/*) umount -l "$mountpoint" 2>/dev/null ||
            fusermount3 -uz "$mountpoint" 2>/dev/null || fusermount -uz "$mountpoint" 2>/dev/null ;;
        esac
    done </proc/self/mounts
fi
exit "$rc"
"""


def is_tree(directory: Path) -> bool:
    """Whether *directory* looks like an upstream ``tests/qemu-iotests``."""
    return (directory / "check").is_file() and (directory / "common.rc").is_file()


def groups_of(text: str) -> frozenset[str]:
    """The groups named by the first ``# group: `` line of a test's *text* (pure)."""
    for line in text.splitlines():
        if line.startswith(_GROUP_PREFIX):
            return frozenset(line.split()[2:])
    return frozenset()


def parse_group_file(text: str) -> dict[str, frozenset[str]]:
    """``group.local`` lines (``TEST group...``) as test name -> added groups (pure).

    :raises UsageError: for a path instead of a test name, as upstream refuses it.
    """
    added: dict[str, frozenset[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, *groups = line.split()
        if "/" in name:
            raise UsageError(f"group.local: paths are not test names: {name!r}")
        name = f"{int(name):03}" if name.isdigit() else name
        added[name] = added.get(name, frozenset()) | frozenset(groups)
    return added


def _read_groups(path: Path) -> frozenset[str]:
    with path.open(encoding="utf-8", errors="replace") as f:
        return groups_of(f.read())


def discover(tree: Path) -> list[UpstreamCase]:
    """Every test of the upstream iotests directory *tree*, in upstream's order.

    Named tests are known by their base name (``tests/reopen-file`` is
    ``reopen-file``), as upstream's selection and output call them.

    :raises UsageError: when *tree* is not an upstream iotests directory.
    """
    tree = tree.resolve()
    if not is_tree(tree):
        raise UsageError(f"{tree}: not a QEMU tests/qemu-iotests directory (no check, common.rc)")
    paths = [p for p in tree.iterdir() if _NUMBERED.match(p.name) and p.is_file()]
    named_dir = tree / "tests"
    if named_dir.is_dir():
        paths += [
            p
            for p in named_dir.iterdir()
            if p.is_file()
            and not p.name.endswith(".out")
            and (named_dir / f"{p.name}.out").is_file()
        ]
    local_file = tree / "group.local"
    local = parse_group_file(local_file.read_text()) if local_file.is_file() else {}
    cases = [
        UpstreamCase(
            p.name,
            p,
            CaseHeader(groups=_read_groups(p) | local.get(p.name, frozenset())),
            p.parent,
        )
        for p in paths
    ]
    return sorted(cases, key=lambda c: sort_key(c.name))
