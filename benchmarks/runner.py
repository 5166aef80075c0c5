#!/usr/bin/env python3
"""Figures for the runner, printed (never asserted).

1. Overhead per case: 200 trivial cases (each prints one line) run at -j1;
   wall time divided by 200 is what the runner adds around a case.
2. The suite's wall time for qcow2 at -j1 and -j2, and the speed-up.

Usage: python benchmarks/runner.py [--group auto] [--format qcow2] [--skip-suite]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from iotests import command

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = "#!/usr/bin/env python3\n# group: bench\nprint('hello')\n"


def iotests(*args: str, cwd: Path) -> float:
    """Run the real CLI and return its wall time in seconds."""
    start = time.monotonic()
    result = command.run([sys.executable, "-m", "iotests", *args], cwd=cwd, check=False)
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 1):
        sys.exit(
            f"iotests {' '.join(args)} failed with exit code {result.returncode}:\n{result.output}"
        )
    return elapsed


def interpreter_start(times: int) -> float:
    """Seconds to start the case interpreter and print a line: the floor under any case."""
    start = time.monotonic()
    for _ in range(times):
        command.run([sys.executable, "-u", "-c", "print('hello')"])
    return (time.monotonic() - start) / times


def overhead(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="iotests-bench-") as tmp:
        root = Path(tmp)
        (root / "cases").mkdir()
        (root / "expected").mkdir()
        for i in range(count):
            case = root / "cases" / f"{i + 1:03d}"
            case.write_text(TRIVIAL)
            case.chmod(0o755)
            (root / "expected" / f"{i + 1:03d}.out").write_text("hello\n")
        base = [
            "run",
            "--cases-dir",
            str(root / "cases"),
            "--expected-dir",
            str(root / "expected"),
            "--results-dir",
            str(root / "results"),
            "-f",
            "raw",
        ]
        empty = iotests(*base, "-j1", "001", cwd=root)
        total = iotests(*base, "-j1", cwd=root)
        per_case = (total - empty) / (count - 1) * 1000
        bare = interpreter_start(20) * 1000
        print(
            f"overhead: {count} trivial cases at -j1 in {total:.2f}s; start-up {empty:.2f}s; "
            f"{per_case:.1f} ms per case, of which {bare:.1f} ms is the case's own Python "
            f"start: runner overhead {per_case - bare:.1f} ms per case"
        )


def suite(fmt: str, group: str) -> None:
    args = ["run", "-f", fmt, "-g", group, "--results-dir", str(ROOT / "results" / "bench")]
    j1 = iotests(*args, "-j1", cwd=ROOT)
    j2 = iotests(*args, "-j2", cwd=ROOT)
    print(
        f"suite {fmt} -g {group}: -j1 {j1:.1f}s, -j2 {j2:.1f}s, ratio j2/j1 {j2 / j1:.2f} "
        f"({os.cpu_count()} CPUs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--format", default="qcow2")
    parser.add_argument("--group", default="quick")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--skip-suite", action="store_true")
    args = parser.parse_args()
    overhead(args.cases)
    if not args.skip_suite:
        suite(args.format, args.group)


if __name__ == "__main__":
    main()
