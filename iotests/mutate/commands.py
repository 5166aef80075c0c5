"""The per-case coverage and mutants commands: what nox, invoke and ``python -m`` call.

``python -m iotests.mutate coverage --build-dir GCOV_TREE [runner selection]``
``python -m iotests.mutate mutants --build-dir GCOV_TREE --files GLOBS [...] [runner selection]``

Arguments these commands do not know go to ``iotests run`` unchanged, so the
selection is written as for any run (``-f qcow2 -g auto 001-050``). Without a
format the suite runs as qcow2; without a group or names, the auto group.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iotests.build.config import load_build_config
from iotests.build.manifest import Manifest
from iotests.errors import IotestsError, UsageError
from iotests.mutate import campaign, covmap, engine, percase, report
from iotests.mutate.select import changed_since


@dataclass(frozen=True)
class Selection:
    """The runner arguments, and what this module needs to know of them."""

    args: tuple[str, ...]
    combo: str
    cases_dir: Path
    expected_dir: Path
    config: str | None

    #: Runner options that keep their meaning on the mutant build (not selection or format).
    KEPT = ("--cases-dir", "--expected-dir", "--config", "-c", "--cachemode", "-i", "--aiomode")

    def passthrough(self) -> list[str]:
        """The runner options for the mutant runs, which choose cases themselves."""
        kept: list[str] = []
        args = list(self.args)
        for at, arg in enumerate(args):
            name = arg.split("=", 1)[0]
            if name in self.KEPT:
                kept.append(arg)
                if "=" not in arg and at + 1 < len(args):
                    kept.append(args[at + 1])
        return kept


def parse_selection(args: Sequence[str]) -> Selection:
    """Fill in the defaults (qcow2, the auto group) and read the few options needed here."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-f", "--format")
    parser.add_argument("-p", "--protocol")
    parser.add_argument("-g", "--group", action="append")
    parser.add_argument("--cases-dir")
    parser.add_argument("--expected-dir")
    parser.add_argument("--config")
    known, rest = parser.parse_known_args(list(args))
    full = list(args)
    if known.format is None:
        full += ["-f", "qcow2"]
    names = [a for a in rest if not a.startswith("-")]
    if known.group is None and not names:
        full += ["-g", "auto"]
    return Selection(
        tuple(full),
        f"{known.format or 'qcow2'}-{known.protocol or 'file'}",
        Path(known.cases_dir or "cases").resolve(),
        Path(known.expected_dir or "expected").resolve(),
        known.config,
    )


def _gcov_build(build_dir: Path) -> tuple[Manifest, Path]:
    manifest_file = build_dir.parent / "manifest.json"
    if not manifest_file.is_file():
        raise UsageError(f"{build_dir}: not a cached build (no manifest.json beside it)")
    manifest = Manifest.read(manifest_file)
    if "--enable-gcov" not in manifest.configure:
        raise UsageError(f"{build_dir}: not a gcov build (see: invoke build-qemu --profile gcov)")
    return manifest, Path(manifest.source_dir)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def coverage_map(
    build_dir: Path, selection: Selection, *, refresh: bool = False
) -> tuple[covmap.CoverageMap, Path, float]:
    """The cached map of this build, suite and combo, made (or widened) when needed.

    Returns the map, its file and the seconds spent making it (0 when cached).
    A map is widened when the selection names cases it lacks.
    """
    manifest, source_root = _gcov_build(build_dir)
    suite = percase.Suite(Path.cwd(), selection.cases_dir, selection.expected_dir)
    cache_root = load_build_config(selection.config).cache_dir
    path = percase.map_path(cache_root, build_dir, suite, selection.combo)
    existing = covmap.CoverageMap.read(path) if path.is_file() else None
    if existing is not None and not refresh:
        return existing, path, 0.0
    started = time.monotonic()
    cmap, result = percase.build_map(
        build_dir, source_root, selection.args, cache_root / "coverage" / "work",
        project=Path.cwd(), into=existing,
    )  # fmt: skip
    cmap.meta.update(
        source=f"{manifest.source.get('spec')} {manifest.version} ({manifest.key})",
        source_dir=str(source_root),
        build_dir=str(build_dir),
        suite=suite.digest(),
        combo=selection.combo,
    )
    seconds = time.monotonic() - started
    cmap.meta.update(suite_seconds=round(result.seconds, 1), map_seconds=round(seconds, 1))
    cmap.write(path)
    _log(
        f"per-case coverage: {len(result.status)} case(s) run in {result.seconds:.0f}s, "
        f"map made in {seconds:.0f}s: {path}"
    )
    return cmap, path, seconds


def coverage_command(build_dir: Path, selection: Selection, out_dir: Path) -> int:
    cmap, path, seconds = coverage_map(build_dir, selection, refresh=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = covmap.markdown(cmap)
    (out_dir / "per-case.md").write_text(text, encoding="utf-8")
    summary = {
        "map": str(path),
        "seconds": round(seconds, 1),
        "areas": [
            {"area": a.name, "covered": a.covered, "total": a.total, "cases": list(a.cases)}
            for a in covmap.per_area(cmap)
        ],
        "files": [
            {"file": f.name, "covered": f.covered, "total": f.total, "cases": list(f.cases)}
            for f in covmap.per_file(cmap)
            if f.total
        ],
    }
    (out_dir / "per-case.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for area in covmap.per_area(cmap):
        print(
            f"{area.name:<22} {area.percent:5.1f}% lines ({area.covered}/{area.total}), "
            f"{len(area.cases)} case(s)"
        )
    print(f"per-case coverage report: {out_dir / 'per-case.md'} (map: {path})")
    return 0


def expand_files(source_root: Path, patterns: str) -> list[str]:
    """The C files of *source_root* that the comma-separated globs name, relative to it.

    :raises UsageError: naming a pattern that matches nothing.
    """
    chosen: list[str] = []
    every = sorted(str(p.relative_to(source_root)) for p in source_root.rglob("*.c"))
    for pattern in filter(None, (p.strip() for p in patterns.split(","))):
        matched = [f for f in every if fnmatch.fnmatchcase(f, pattern)]
        if not matched:
            raise UsageError(f"--files {pattern}: no C file of {source_root} matches")
        chosen += [f for f in matched if f not in chosen]
    return chosen


def choose_mutants(
    mutants: Sequence[engine.Mutant],
    changes: dict[str, frozenset[int]] | None,
    sample: int | None,
    seed: int,
) -> list[engine.Mutant]:
    """Those on changed lines (when *changes*), then a seeded sample of them (pure).

    The sample is drawn from all of them, covered or not, so that its score
    estimates the score of the whole set.
    """
    chosen = [
        m
        for m in mutants
        if changes is None or any(n in changes.get(m.file, frozenset()) for n in m.lines)
    ]
    if sample is not None and sample < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [m for i, m in enumerate(chosen) if i in picked]
    return chosen


def mutants_command(
    build_dir: Path,
    selection: Selection,
    files: str,
    out_dir: Path,
    *,
    diff: str | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> int:
    """Run a campaign; print and write its reports. 0 when it ran, whatever the score."""
    setup_started = time.monotonic()
    manifest, source_root = _gcov_build(build_dir)
    paths = expand_files(source_root, files)
    cmap, _map_file, map_seconds = coverage_map(build_dir, selection)
    sources = {rel: (source_root / rel).read_bytes() for rel in paths}
    every = [m for rel in paths for m in engine.generate(rel, sources[rel])]
    changes = changed_since(diff, source_root) if diff else None
    chosen = choose_mutants(every, changes, sample, seed)
    cache_root = load_build_config(selection.config).cache_dir
    workspace = campaign.Workspace(
        cache_root / "mutants" / manifest.key, source_root, tuple(manifest.configure)
    )
    workspace.prepare(_log)
    setup = time.monotonic() - setup_started - map_seconds
    store = campaign.ResultStore(
        workspace.root / "results" / f"{cmap.meta.get('suite', 'suite')}-{selection.combo}.jsonl"
    )
    runner = campaign.SuiteRunner(
        workspace.tree, workspace.root / "run", Path.cwd(), tuple(selection.passthrough())
    )
    _log(f"{len(chosen)} of {len(every)} mutant(s) of {', '.join(paths)}; results: {store.path}")
    count = 0

    def show(result: campaign.MutantResult, resumed: bool) -> None:
        nonlocal count
        count += 1
        m = result.mutant
        how = (
            "resumed"
            if resumed
            else f"build {result.build_seconds:.1f}s, cases {result.test_seconds:.1f}s"
        )
        killer = f", by {result.killed_by[0]}" if result.killed_by else ""
        _log(
            f"[{count}/{len(chosen)}] {m.id} {m.file}:{m.line} {m.operator} "
            f"{m.original!r}->{m.replacement!r}: {result.status}{killer} ({how})"
        )

    started = time.monotonic()
    results = campaign.run(chosen, cmap, workspace, store, runner, show)
    seconds = time.monotonic() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"{', '.join(paths)} on {manifest.source.get('spec')} {manifest.version}"
    elements = report.to_elements(
        results, sources, project_root=str(source_root),
        performance={"setup": setup, "initialRun": map_seconds, "mutation": seconds},
    )  # fmt: skip
    (out_dir / "mutants.json").write_text(json.dumps(elements, indent=1), encoding="utf-8")
    text = report.markdown(results, sources, title)
    (out_dir / "mutants.md").write_text(text, encoding="utf-8")
    (out_dir / "mutants.html").write_text(report.html_page(results, sources, title), "utf-8")
    print(text)
    print(f"reports: {out_dir}/mutants.md, mutants.json and mutants.html")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m iotests.mutate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cov = sub.add_parser("coverage", help="per-case coverage map of a gcov build")
    mut = sub.add_parser("mutants", help="mutation testing of QEMU sources")
    for p in (cov, mut):
        p.add_argument("--build-dir", required=True, help="a cached gcov build tree")
        p.add_argument("--out", help="report directory")
    mut.add_argument("--files", required=True, help="comma-separated globs, e.g. block/qcow2*.c")
    mut.add_argument("--diff", metavar="REV", help="only lines changed since REV (a git source)")
    mut.add_argument("--sample", type=int, metavar="N", help="a seeded sample of N mutants")
    mut.add_argument("--seed", type=int, default=0, metavar="S", help="the sample's seed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    try:
        selection = parse_selection(rest)
        build_dir = Path(args.build_dir).resolve()
        if args.command == "coverage":
            return coverage_command(
                build_dir, selection, Path(args.out or "results/coverage-per-case")
            )
        if args.sample is not None and args.sample < 1:
            raise UsageError(f"--sample {args.sample}: expected a positive number")
        return mutants_command(
            build_dir, selection, args.files, Path(args.out or "results/mutants"),
            diff=args.diff, sample=args.sample, seed=args.seed,
        )  # fmt: skip
    except IotestsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted; every mutated file was restored", file=sys.stderr)
        return 130
