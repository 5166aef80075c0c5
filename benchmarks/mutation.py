"""Print the mutation figures: seconds per mutant, the per-case map's wall time, selection vs suite.

    python benchmarks/mutation.py --build-dir GCOV_TREE [--agreement N] [runner selection]

Reads what ``nox -s mutants`` (or ``python -m iotests.mutate mutants``) left in
the build cache for this build, suite and combo: seconds per mutant (the
rebuild and the covering cases, for the mutants that were built), and the
map's own timings (the suite's run and the whole map). With ``--agreement N``
it takes N of the campaign's mutants (survivors and uncovered ones first:
for a killed mutant the whole suite holds the killer anyway), plants each in
the campaign's copy, runs the *whole* selection against it and counts how
often "detected by the covering cases" and "detected by the whole suite"
agree. Expect minutes per agreement mutant: a quiet machine, please.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from iotests.build.config import load_build_config
from iotests.errors import IotestsError
from iotests.mutate import campaign, commands, percase


def _figures(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<24} -"
    mean, median = statistics.mean(values), statistics.median(values)
    return (
        f"{label:<24} mean {mean:6.1f}s  median {median:6.1f}s  max {max(values):6.1f}s"
        f"  (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True, type=Path)
    parser.add_argument("--agreement", type=int, default=0, metavar="N")
    args, rest = parser.parse_known_args()
    try:
        selection = commands.parse_selection(rest)
        build_dir = args.build_dir.resolve()
        manifest, source_root = commands._gcov_build(build_dir)
        cmap, map_file, _ = commands.coverage_map(build_dir, selection)
        cache_root = load_build_config(selection.config).cache_dir
        workspace = campaign.Workspace(
            cache_root / "mutants" / manifest.key, source_root, tuple(manifest.configure)
        )
        store = campaign.ResultStore(
            workspace.root / "results" / f"{cmap.meta.get('suite')}-{selection.combo}.jsonl"
        )
        results = list(store.load().values())
        built = [r for r in results if r.status not in (campaign.Status.NO_COVERAGE,)]
        print(f"campaign results: {store.path} ({len(results)} mutant(s))")
        print(_figures("rebuild", [r.build_seconds for r in built]))
        print(_figures("cases", [r.test_seconds for r in built]))
        print(_figures("per built mutant", [r.build_seconds + r.test_seconds for r in built]))
        every = [r.build_seconds + r.test_seconds for r in results]
        print(_figures("per mutant (all)", every))
        for status in campaign.Status:
            chosen = [r.build_seconds + r.test_seconds for r in results if r.status == status]
            if chosen:
                print(_figures(f"  {status}", chosen))
        meta = cmap.meta
        print(
            f"per-case map {map_file.name}: {len(cmap.cases)} case run(s); suite run "
            f"{meta.get('suite_seconds', '?')}s, whole map {meta.get('map_seconds', '?')}s"
        )
        if args.agreement:
            return _agreement(args.agreement, results, workspace, selection)
    except IotestsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    return 0


def _agreement(
    count: int,
    results: list[campaign.MutantResult],
    workspace: campaign.Workspace,
    selection: commands.Selection,
) -> int:
    order = {campaign.Status.SURVIVED: 0, campaign.Status.NO_COVERAGE: 1}
    chosen = sorted(
        (r for r in results if r.status.counted),
        key=lambda r: (order.get(r.status, 2), r.mutant.file, r.mutant.line),
    )[:count]
    runner = percase.run_suite
    agree = 0
    guard = campaign.Guard(workspace)
    with campaign.signals_interrupt():
        try:
            for result in chosen:
                guard.plant(result.mutant)
                ok, _ = workspace.rebuild()
                started = time.monotonic()
                whole = runner(
                    workspace.tree,
                    workspace.root / "agreement-gcda",
                    [*selection.args, "--timeout", "60"],
                    workspace.root / "agreement",
                    project=Path.cwd(),
                )
                guard.restore()
                killers = sorted(n for n, s in whole.status.items() if s in campaign.KILLING)
                same = ok and (bool(killers) == result.status.detected)
                agree += same
                m = result.mutant
                seen = "detected by " + ", ".join(killers[:5]) if killers else "not detected"
                print(
                    f"{m.id} {m.file}:{m.line} {m.operator}: selection {result.status}, whole "
                    f"suite {seen} ({time.monotonic() - started:.0f}s) "
                    + ("agree" if same else "DISAGREE")
                )
        finally:
            guard.restore()
    print(f"agreement: {agree}/{len(chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
