"""Print the build figures: cold build, no-op rebuild, and ccache-warm rebuild times.

    python benchmarks/build.py [--source debian] [--profile tools] [--jobs N]

Cold means an empty build cache *and* an empty ccache (both in a temporary
directory, so the user's caches are neither used nor disturbed); no-op is the
same build asked for again; ccache-warm removes the build and builds it again
with the ccache the cold build filled. Expect minutes: run it on a quiet
machine (it uses every core unless told otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from iotests.build.actions import build_qemu, clean
from iotests.build.config import CACHE_ENV
from iotests.errors import IotestsError


def timed(label: str, console: Console, args: argparse.Namespace) -> float:
    started = time.monotonic()
    outcome = build_qemu(source=args.source, profile=args.profile, jobs=args.jobs, console=console)
    elapsed = time.monotonic() - started
    console.print(f"[bold]{label}[/]: {elapsed:.2f}s (no-op: {outcome.no_op})")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="debian")
    parser.add_argument("--profile", default="tools")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    console = Console(stderr=True, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="iotests-bench-") as scratch:
        os.environ[CACHE_ENV] = str(Path(scratch) / "cache")
        os.environ["CCACHE_DIR"] = str(Path(scratch) / "ccache")
        try:
            cold = timed("cold build", console, args)
            no_op = timed("no-op", console, args)
            clean(console=console)
            warm = timed("ccache-warm rebuild", console, args)
        except IotestsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return int(exc.exit_code)
    print(f"source={args.source} profile={args.profile} jobs={args.jobs or os.cpu_count()}")
    print(f"cold build:          {cold:8.1f} s")
    print(f"no-op:               {no_op:8.2f} s")
    print(f"ccache-warm rebuild: {warm:8.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
