#!/usr/bin/env python3
"""Figures for the runner, printed (never asserted).

1. Overhead per case: 200 trivial cases (each prints one line) run at -j1;
   wall time divided by 200 is what the runner adds around a case.
2. The developer loop: ``iotests run -f qcow2 002`` warm (probe answers
   and bytecode cached by an earlier run), its probe cold and warm, and
   upstream's ``./check -qcow2 002`` on the same binaries in QEMU's own tree
   (scripts/fetch-upstream-tree fetches Debian's 7.2), medians of --rounds.
3. The suite's wall time for qcow2 at -j1 and -j2, and the speed-up.

Usage: python benchmarks/runner.py [--group quick] [--format qcow2] [--rounds 5]
                                   [--upstream-tree DIR] [--skip-suite]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from iotests import command
from iotests.env import binaries

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_TREE = "/var/tmp/iotests-upstream/qemu-7.2/tests/qemu-iotests"
TRIVIAL = "#!/usr/bin/env python3\n# group: bench\nprint('hello')\n"


def iotests(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> float:
    """Run the real CLI and return its wall time in seconds."""
    start = time.monotonic()
    argv = [sys.executable, "-m", "iotests", *args]
    result = command.run(argv, cwd=cwd, check=False, env=None if env is None else dict(env))
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


def _median_seconds(argv: list[str], cwd: Path, env: Mapping[str, str], rounds: int) -> float:
    """Median wall time of *rounds* runs of *argv* after one untimed warm-up run."""
    times = []
    for attempt in range(rounds + 1):
        start = time.monotonic()
        result = command.run(argv, cwd=cwd, env=dict(env), check=False, timeout=600)
        if result.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.output[-2000:]}")
        if attempt:
            times.append(time.monotonic() - start)
    return statistics.median(times)


def _probe_seconds(found: binaries.Binaries, cache: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of the probe asking every binary, and answered from a warm cache."""
    from iotests.env.probe import probe
    from iotests.env.probe_cache import cached_probe

    env = {"IOTESTS_CACHE_DIR": str(cache)}
    cached_probe(found, environ=env)
    asked, kept = [], []
    for _ in range(rounds):
        start = time.monotonic()
        probe(found)
        asked.append(time.monotonic() - start)
        start = time.monotonic()
        cached_probe(found, environ=env)
        kept.append(time.monotonic() - start)
    return statistics.median(asked), statistics.median(kept)


def one_case(rounds: int, tree: Path) -> None:
    """The edit-one-case loop, warm: ours against upstream's check, on the same binaries."""
    found = binaries.resolve(None, os.environ, use_cache=False)
    env = {**os.environ, **found.env(), "IOTESTS_NO_CACHED_BUILD": "1"}
    with tempfile.TemporaryDirectory(prefix="iotests-bench-") as tmp:
        ours = [sys.executable, "-m", "iotests", "run", "-f", "qcow2", "002", "-j1"]
        ours += ["--results-dir", f"{tmp}/results"]
        warm = _median_seconds(ours, ROOT, {**env, "IOTESTS_CACHE_DIR": f"{tmp}/cache"}, rounds)
        cold = _median_seconds(ours, ROOT, {**env, "IOTESTS_PROBE_CACHE": "0"}, rounds)
        asked, kept = _probe_seconds(found, Path(tmp, "probe-cache"), rounds)
        print(
            f"one case (iotests run -f qcow2 002), warm: median {warm:.2f}s of {rounds};"
            f" without the probe cache {cold:.2f}s; the probe itself {asked * 1000:.0f} ms"
            f" asking the binaries, {kept * 1000:.1f} ms from the cache"
        )
        if not (tree / "check").is_file():
            print(
                f"upstream ./check -qcow2 002: skipped, no tree at {tree}"
                " (run scripts/fetch-upstream-tree)"
            )
            return
        scratch = Path(tmp, "upstream")
        scratch.mkdir()
        theirs = _median_seconds(
            ["./check", "-qcow2", "002"], tree, {**env, "TEST_DIR": str(scratch)}, rounds
        )
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"upstream ./check -qcow2 002 on the same binaries, warm: median {theirs:.2f}s;"
        f" ratio ours/upstream {warm / theirs:.2f}"
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
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per figure")
    parser.add_argument(
        "--upstream-tree",
        type=Path,
        default=Path(os.environ.get("IOTESTS_UPSTREAM_TREE", UPSTREAM_TREE)),
        help="QEMU's tests/qemu-iotests (default: $IOTESTS_UPSTREAM_TREE or %(default)s)",
    )
    parser.add_argument("--skip-suite", action="store_true")
    args = parser.parse_args()
    overhead(args.cases)
    one_case(args.rounds, args.upstream_tree)
    if not args.skip_suite:
        suite(args.format, args.group)


if __name__ == "__main__":
    main()
