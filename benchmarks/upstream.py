#!/usr/bin/env python3
"""Head to head: upstream's own ``check`` against ``iotests check`` on the same tests.

Both runners get the same tree, selection (default: qcow2, group quick,
-j2) and the same binaries (QEMU_*_PROG as resolved once here: explicit
variables, else PATH). Runs alternate (upstream, ours, upstream, ours, ...)
so that load from elsewhere on the machine hits both alike. Prints each
wall time, the medians, the ratio ours/upstream (target: at most 0.8) and
every test whose verdict differs (target: none). Exit code 1 when verdicts
differ, so CI can use it as a check too.

    python benchmarks/upstream.py [TREE] [--format qcow2] [--group quick] [-j 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from iotests import command
from iotests.env import binaries
from iotests.upstream import discovery, verdicts

DEFAULT_TREE = "/var/tmp/iotests-upstream/qemu-7.2/tests/qemu-iotests"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "tree",
        nargs="?",
        default=os.environ.get("IOTESTS_UPSTREAM_TREE", DEFAULT_TREE),
        help="upstream tests/qemu-iotests (default: $IOTESTS_UPSTREAM_TREE or %(default)s)",
    )
    p.add_argument("--format", default="qcow2", help="image format (default: qcow2)")
    p.add_argument("--group", default="quick", help="test group (default: quick)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="parallel jobs (default: 2)")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds (default: 1)")
    p.add_argument("--results-dir", help="our results and timings (default: a temp dir)")
    p.add_argument("--junit", metavar="FILE", help="also write our run's JUnit XML here")
    return p


def _programs() -> dict[str, str]:
    """Resolve every binary once, so both runners get the very same paths."""
    found = binaries.resolve(None, os.environ, use_cache=False)
    missing = [r.variable for r in binaries.ROLES if not found.get(r.name)]
    if missing:
        sys.exit(f"upstream check needs every binary; missing: {', '.join(missing)}")
    return found.env()


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.monotonic()
    result = command.run(argv, cwd=cwd, env=env, check=False, merge_stderr=True, timeout=7200)
    return time.monotonic() - start, result.output


def main() -> int:
    args = _parser().parse_args()
    tree = Path(args.tree).resolve()
    if not discovery.is_tree(tree):
        sys.exit(f"{tree}: not an upstream tests/qemu-iotests (run scripts/fetch-upstream-tree)")
    # Upstream's default scratch directory is inside the tree, whose default
    # path (qemu-7.2) has a dot: tests 197 and 215 refuse to run from a
    # TEST_DIR with anything but [-_a-zA-Z0-9/] in it. A plain temporary
    # directory lets upstream run every test ours runs.
    scratch = tempfile.mkdtemp(prefix="iotests_upstream_")
    env = {**os.environ, **_programs(), "TEST_DIR": scratch}
    selection = [f"-{args.format}", "-g", args.group, "-j", str(args.jobs), "-tap"]
    results_dir = Path(args.results_dir or tempfile.mkdtemp(prefix="iotests-bench-")).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    report = results_dir / "report.json"
    ours_argv = [
        sys.executable,
        "-m",
        "iotests",
        "check",
        *selection,
        "--upstream",
        str(tree),
        "--results-dir",
        str(results_dir),
        "--json",
        str(report),
        *(["--junit", str(Path(args.junit).resolve())] if args.junit else []),
    ]
    times: dict[str, list[float]] = {"upstream": [], "ours": []}
    tables: dict[str, dict[str, str]] = {}
    for round_no in range(1, args.rounds + 1):
        seconds, output = _timed(["./check", *selection], tree, env)
        times["upstream"].append(seconds)
        tables["upstream"] = verdicts.parse_check_output(output)
        print(f"round {round_no}: upstream check {seconds:7.1f}s", flush=True)
        report.unlink(missing_ok=True)
        # Not from the tree: ``-m iotests`` would import upstream's iotests.py there.
        seconds, output = _timed(ours_argv, results_dir, env)
        if not report.is_file():
            sys.exit(f"iotests check wrote no report; its output ended:\n{output[-2000:]}")
        times["ours"].append(seconds)
        tables["ours"] = verdicts.read_json_report(report)
        print(f"round {round_no}: iotests check  {seconds:7.1f}s", flush=True)
    upstream_s = statistics.median(times["upstream"])
    ours_s = statistics.median(times["ours"])
    print(f"selection: {' '.join(selection[:-1])} on {tree}")
    for side in ("upstream", "ours"):
        counts = verdicts.tally(tables[side])
        print(f"{side:>8}: median {statistics.median(times[side]):7.1f}s  {counts}")
    print(f"ratio ours/upstream: {ours_s / upstream_s:.2f} (target <= 0.80)")
    diffs = verdicts.differences(tables["upstream"], tables["ours"])
    print(f"verdict differences: {len(diffs)}")
    for d in diffs:
        print(f"  {d.name}: upstream {d.upstream or 'absent'}, ours {d.ours or 'absent'}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
