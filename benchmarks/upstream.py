#!/usr/bin/env python3
"""Head to head: upstream's own ``check`` against ``iotests check`` on the same tests.

Both runners get the same tree, selection (default: qcow2, group quick,
-j2) and the same binaries (--build-dir, else QEMU_*_PROG variables, else
PATH, resolved once here). Runs alternate (upstream, ours, upstream, ours,
...) so that load from elsewhere on the machine hits both alike. Prints each
wall and CPU time, the medians, the ratio ours/upstream (target: at most
0.8), the CPU floor that bounds any runner, and every test whose verdict
differs (target: none). A difference that is a known QEMU flake, or that
does not come back when the test runs again alone under both runners, is
shown but not counted. Exit code 1 when counted differences remain, so CI
can use it as a check too.

    python benchmarks/upstream.py [TREE] [--format qcow2] [--group quick] [-j 2]
                                  [--rounds 1] [--build-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from iotests import command
from iotests.env import binaries
from iotests.errors import UsageError
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
    p.add_argument(
        "--build-dir",
        help="binaries from this QEMU build tree (default: QEMU_*_PROG variables, then PATH)",
    )
    p.add_argument("--results-dir", help="our results and timings (default: a temp dir)")
    p.add_argument("--junit", metavar="FILE", help="also write our run's JUnit XML here")
    return p


def _programs(build_dir: str | None) -> dict[str, str]:
    """Resolve every binary once, so both runners get the very same paths."""
    try:
        found = binaries.resolve(
            Path(build_dir) if build_dir else None, os.environ, use_cache=False
        )
    except UsageError as exc:
        sys.exit(str(exc))
    if missing := found.missing():
        sys.exit(f"upstream check needs every binary; missing: {', '.join(missing)}")
    return found.env()


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of the whole process tree, and the merged output."""
    with tempfile.TemporaryFile() as sink:
        start = time.monotonic()
        proc = command.spawn(argv, cwd=cwd, env=env, stdout=sink, stderr=command.STDOUT)
        try:
            if proc.wait(7200) is None:
                proc.kill_group()
                sys.exit(f"{argv[0]} still ran after 2 hours; killed")
        except BaseException:
            proc.kill_group()
            raise
        seconds = time.monotonic() - start
        sink.seek(0)
        output = sink.read().decode(errors="replace")
    return seconds, proc.cpu_seconds or 0.0, output


def _unmount_below(directory: Path) -> None:
    """Lazily unmount what upstream's tests left mounted in their scratch directory.

    108 kills its FUSE-exporting storage daemon and needs fusermount to
    unmount; without it upstream's check leaves a dead mount behind.
    """
    prefix = f"{directory}/"
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mountpoint = line.split()[1]
        if mountpoint.startswith(prefix):
            command.run(["umount", "-l", mountpoint], check=False)


def _evidence(directory: Path, stem: str) -> str:
    """What a test left to explain its verdict: upstream's .notrun/.out.bad, our output."""
    texts = []
    for name in (f"{stem}.notrun", f"{stem}.out.bad", stem, "result.json"):
        with contextlib.suppress(OSError):
            texts.append((directory / name).read_text(errors="replace"))
    return "\n".join(texts)


def _ours_argv(tree: Path, selection: list[str], results_dir: Path, report: Path) -> list[str]:
    """``iotests check`` on *tree* with upstream's *selection*, writing a JSON report.

    Run it from outside the tree: there ``-m iotests`` would import upstream's
    iotests.py.
    """
    return [
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
    ]


#: How often a verdict difference is re-run, alone, under both runners.
RERUNS = 2


def _reproduced(
    names: list[str], tree: Path, fmt: str, env: dict[str, str], results_dir: Path
) -> list[str]:
    """The differences that come back when the tests run again, each under both runners.

    A test can race with itself (312 sends 'quit' and opens the image at once,
    without waiting for QEMU to let go of it) and lose under either runner on
    a loaded machine. Such a difference is counted only if it shows again:
    RERUNS more runs of the test under both runners, and any of them differs.
    """
    kept = []
    for name in names:
        outcomes = []
        for attempt in range(1, RERUNS + 1):
            scratch = tempfile.mkdtemp(prefix="iotests_rerun_")
            theirs = verdicts.parse_check_output(
                _timed(["./check", f"-{fmt}", "-tap", name], tree, {**env, "TEST_DIR": scratch})[2]
            )
            _unmount_below(Path(scratch))
            shutil.rmtree(scratch, ignore_errors=True)
            report = results_dir / f"rerun-{name}-{attempt}.json"
            selection = [f"-{fmt}", "-tap", name]
            _timed(_ours_argv(tree, selection, results_dir / "rerun", report), results_dir, env)
            ours = verdicts.read_json_report(report) if report.is_file() else {}
            outcomes.append((theirs.get(name) or "absent", ours.get(name) or "absent"))
        same = all(u == o for u, o in outcomes)
        shown = ", ".join(f"{u}/{o}" for u, o in outcomes)
        verdict = "not reproduced: a flaky test" if same else "reproduced"
        print(f"  {name} again (upstream/ours): {shown}: {verdict}")
        if not same:
            kept.append(name)
    return kept


def main() -> int:
    args = _parser().parse_args()
    tree = Path(args.tree).resolve()
    if not discovery.is_tree(tree):
        sys.exit(f"{tree}: not an upstream tests/qemu-iotests (run scripts/fetch-upstream-tree)")
    programs = _programs(args.build_dir)
    selection = [f"-{args.format}", "-g", args.group, "-j", str(args.jobs), "-tap"]
    results_dir = Path(args.results_dir or tempfile.mkdtemp(prefix="iotests-bench-")).resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    report = results_dir / "report.json"
    ours_argv = _ours_argv(tree, selection, results_dir, report)
    if args.junit:
        ours_argv += ["--junit", str(Path(args.junit).resolve())]
    times: dict[str, list[float]] = {"upstream": [], "ours": []}
    cpus: dict[str, list[float]] = {"upstream": [], "ours": []}
    tables: dict[str, dict[str, str]] = {}
    differing = 0
    for round_no in range(1, args.rounds + 1):
        # Upstream's default scratch directory is inside the tree, whose default
        # path (qemu-7.2) has a dot: tests 197 and 215 refuse to run from a
        # TEST_DIR with anything but [-_a-zA-Z0-9/] in it. A fresh plain
        # temporary directory per round lets upstream run every test ours runs,
        # without files a previous round left behind.
        scratch = tempfile.mkdtemp(prefix="iotests_upstream_")
        env = {**os.environ, **programs, "TEST_DIR": scratch}
        seconds, cpu, output = _timed(["./check", *selection], tree, env)
        _unmount_below(Path(scratch))
        (results_dir / f"upstream-round-{round_no}.txt").write_text(output)
        times["upstream"].append(seconds)
        cpus["upstream"].append(cpu)
        tables["upstream"] = verdicts.parse_check_output(output)
        print(f"round {round_no}: upstream check {seconds:7.1f}s  cpu {cpu:6.1f}s", flush=True)
        report.unlink(missing_ok=True)
        seconds, cpu, output = _timed(ours_argv, results_dir, env)
        if not report.is_file():
            sys.exit(f"iotests check wrote no report; its output ended:\n{output[-2000:]}")
        shutil.copyfile(report, results_dir / f"ours-round-{round_no}.json")
        times["ours"].append(seconds)
        cpus["ours"].append(cpu)
        tables["ours"] = verdicts.read_json_report(report)
        print(f"round {round_no}: iotests check  {seconds:7.1f}s  cpu {cpu:6.1f}s", flush=True)
        diffs = verdicts.differences(tables["upstream"], tables["ours"])
        unexplained = []
        for d in diffs:
            evidence = _evidence(Path(scratch) / d.name, d.name) + _evidence(
                results_dir / f"{args.format}-file" / d.name, "output"
            )
            flake = verdicts.flake_in(evidence)
            note = f" (QEMU flake: {flake!r}, not the runner)" if flake else ""
            if not flake:
                unexplained.append(d.name)
            print(f"  {d.name}: upstream {d.upstream or 'absent'}, ours {d.ours or 'absent'}{note}")
        differing += len(_reproduced(unexplained, tree, args.format, env, results_dir))
        if diffs:
            print(f"  upstream's outputs kept in {scratch}, ours in {results_dir}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"selection: {' '.join(selection[:-1])} on {tree}")
    for side in ("upstream", "ours"):
        counts = verdicts.tally(tables[side])
        print(
            f"{side:>8}: median {statistics.median(times[side]):7.1f}s"
            f"  cpu {statistics.median(cpus[side]):6.1f}s  {counts} (last round)"
        )
    ratios = [o / u for o, u in zip(times["ours"], times["upstream"], strict=True)]
    median_ratio = statistics.median(times["ours"]) / statistics.median(times["upstream"])
    print(
        f"ratio ours/upstream: {median_ratio:.2f} of medians,"
        f" per round {', '.join(f'{r:.2f}' for r in ratios)} (target <= 0.80)"
    )
    _print_floor(times, cpus, report)
    print(f"verdict differences not explained by a flake: {differing} ({args.rounds} round(s))")
    return 1 if differing else 0


def _print_floor(times: dict[str, list[float]], cpus: dict[str, list[float]], report: Path) -> None:
    """Why the wall time cannot drop below a bound, whatever the runner does.

    Both runners execute the same test scripts, which spawn the same QEMU
    processes; their CPU seconds divided by the cores is the shortest wall
    time any scheduler can reach. Our runner's own share is its total CPU
    minus what its cases' process trees used (from its JSON report).
    """
    cores = len(os.sched_getaffinity(0))
    upstream_wall = statistics.median(times["upstream"])
    upstream_cpu = statistics.median(cpus["upstream"])
    floor = upstream_cpu / cores
    print(
        f"CPU floor: upstream's run used {upstream_cpu:.1f} CPU-s;"
        f" on {cores} core(s) the same work cannot finish in under {floor:.1f}s."
        f" 0.8 of upstream's wall time is {0.8 * upstream_wall:.1f}s"
        f" ({'below' if 0.8 * upstream_wall < floor else 'above'} that floor)."
    )
    cases = json.loads(report.read_text()).get("results", [])
    in_cases = sum(r.get("cpu") or 0.0 for r in cases)
    total = cpus["ours"][-1]
    own = total - in_cases
    print(
        f"ours, last round: cases {in_cases:.1f} CPU-s, runner and probes {own:.1f} CPU-s"
        f" ({own / total:.1%}); wall {times['ours'][-1] / floor:.2f}x the floor"
    )


if __name__ == "__main__":
    sys.exit(main())
