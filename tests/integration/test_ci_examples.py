"""The CI examples docs/ci.md points at: valid for their service, and their steps work.

``.github/workflows/iotests.yml`` and ``docs/ci/gitlab-ci.yml`` are checked
against the schemas GitHub and GitLab publish (the copies check-jsonschema
ships), then run as their CI would run them: each job in a fresh copy of the
checkout, its shell steps in the shell that CI uses, matrix values from the
file substituted (qcow2, shards 1/2 and 2/2), artifacts and caches carried
between jobs, on this checkout trimmed to four real cases (a fifth on the
branch) and real QEMU.

Two pipelines run per file: one on the default branch, whose reports become
the baseline, then one on a branch that breaks a case that passed and adds a
failing case, whose report must fail on exactly the first.

What stands in for the service: its checkout (a copy), ``actions/*`` and
GitLab's artifacts and cache (copied directories), setup-python (a fresh
virtual environment), the image (this Debian 12 machine, as root) and
apt-get (which installs nothing and fails for a package that is missing).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.project import Project, needs_qemu

from iotests import command
from iotests.report.merge import STATUSES

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / ".github" / "workflows" / "iotests.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
#: Real cases of this checkout, small and quick; 005 is added on the branch.
CASES = ("001", "002", "003", "004")
NEW_CASE = "005"
#: The matrix entries run here, out of the 18 the files define.
WANTED = ({"session": "qcow2", "shard": "1/2"}, {"session": "qcow2", "shard": "2/2"})
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_GET = """\
#!/bin/sh
# Stand-in for the CI image's apt-get: installs nothing, fails for what is missing here.
[ "$1" = update ] && exit 0
for arg; do
    case $arg in -*|install) continue ;; esac
    dpkg-query -W -f='${Status}' "$arg" 2>/dev/null | grep -q '^install ok installed$' \\
        || { echo "apt-get stand-in: $arg is not installed on this machine" >&2; exit 100; }
done
"""


def check_jsonschema(schema: str, path: Path) -> command.Completed:
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)]
    return command.run(argv, check=False, timeout=120)


@pytest.mark.parametrize(
    ("path", "schema", "break_it"),
    [
        (GITHUB, "vendor.github-workflows", lambda d: d["jobs"]["suite"].pop("runs-on")),
        (GITLAB, "vendor.gitlab-ci", lambda d: d["report"].update(when="sometimes")),
    ],
    ids=["github", "gitlab"],
)
def test_examples_match_the_published_schema(
    tmp_path: Path, path: Path, schema: str, break_it: Callable[[dict[str, Any]], object]
) -> None:
    result = check_jsonschema(schema, path)
    assert result.returncode == 0, result.output
    # The same check refuses a copy with one mistake: it is not a vacuous pass.
    data = yaml.safe_load(path.read_text())
    break_it(data)
    broken = tmp_path / path.name
    broken.write_text(yaml.safe_dump(data))
    assert check_jsonschema(schema, broken).returncode == 1


# --- what stands in for the CI service ------------------------------------------------------


def make_source(root: Path, cases: tuple[str, ...] = CASES) -> Path:
    """The checkout as CI would clone it: tracked and new files, with only *cases*."""
    argv = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = command.run(argv, cwd=REPO, timeout=60).stdout
    for name in filter(None, listed.split("\0")):
        top = name.split("/", 1)[0]
        stem = Path(name).name.split(".", 1)[0]
        if top in ("cases", "expected") and stem not in cases:
            continue
        src, dst = REPO / name, root / name
        if not src.is_symlink() and not src.exists():
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    return root


def listing(root: Path) -> list[str]:
    """The files (and links) under *root*, relative to it."""
    found = (p for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file())
    return [str(p.relative_to(root)) for p in found]


def copy_in(src: Path, dst: Path) -> list[str]:
    """Copy the files under *src* into *dst*, links as links; their relative paths."""
    names = listing(src)
    for name in names:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, dst / name, follow_symlinks=False)
    return names


@dataclass
class Job:
    """One job (one matrix entry) as it ran."""

    name: str
    workspace: Path
    ok: bool = True
    log: list[str] = field(default_factory=list)


@dataclass
class Service:
    """What outlives one pipeline: the caches. And this test's scratch space."""

    root: Path
    caches: list[tuple[str, Path]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def scratch(self, name: str) -> Path:
        path = self.root / f"{next(self.counter):02d}-{name}"
        path.mkdir(parents=True)
        return path

    def env(self) -> dict[str, str]:
        """A fresh runner's environment: system PATH, no build cache, nothing of this test run."""
        shims = self.root / "shims"
        if not shims.exists():
            shims.mkdir(parents=True)
            (shims / "apt-get").write_text(APT_GET)
            (shims / "apt-get").chmod(0o755)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IOTESTS_", "VIRTUAL_ENV", "PYTEST_", "NOX_", "PYTHON"))
        }
        env["PATH"] = f"{shims}:{SYSTEM_PATH}"
        env["IOTESTS_CACHE_DIR"] = str(self.root / "no-builds")
        return env

    def save_cache(self, key: str, src: Path, *, replace: bool) -> None:
        """Keep *src* under *key*: GitLab replaces a key's cache, GitHub's never change."""
        if replace:
            self.caches = [(k, store) for k, store in self.caches if k != key]
        assert key not in (k for k, _ in self.caches), f"cache {key} saved twice"
        store = self.scratch(f"cache-{key}")
        copy_in(src, store)
        self.caches.append((key, store))

    def restore_cache(self, keys: list[str], dst: Path) -> str | None:
        """The newest cache whose key is *keys[0]*, else starts with a later one."""
        for wanted, exact in [(keys[0], True), *((k, False) for k in keys[1:])]:
            for key, store in reversed(self.caches):
                if key == wanted if exact else key.startswith(wanted):
                    copy_in(store, dst)
                    return key
        return None


def shell(script: str, argv: list[str], cwd: Path, env: dict[str, str], job: Job) -> bool:
    """Run one step's *script* as a file, as both services do; True when it exited 0."""
    path = cwd.parent / f"{cwd.name}-step.sh"
    path.write_text(script)
    result = command.run([*argv, str(path)], cwd=cwd, env=env, check=False, timeout=600)
    job.log.append(f"$ {script.strip()}\n{result.output}[exit {result.returncode}]")
    return result.returncode == 0


# --- GitHub Actions -------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\)|,)|'((?:[^']|'')*)'|([A-Za-z_][\w.-]*))")


class Expression:
    """The part of GitHub's expression language the workflow uses; anything else is refused."""

    def __init__(self, text: str, context: dict[str, Any], status: str = "success") -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise AssertionError(f"cannot read expression {text!r} at {pos}")
            op, string, name = match.groups()
            if op:
                self.tokens.append(("op", op))
            elif string is not None:
                self.tokens.append(("str", string.replace("''", "'")))
            else:
                self.tokens.append(("name", name))
            pos = match.end()
        self.context, self.status = context, status

    def value(self) -> Any:
        result = self._or()
        assert not self.tokens, f"unread tokens {self.tokens}"
        return result

    def _take(self, op: str) -> bool:
        if self.tokens and self.tokens[0] == ("op", op):
            self.tokens.pop(0)
            return True
        return False

    def _or(self) -> Any:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left or right
        return left

    def _and(self) -> Any:
        left = self._unary()
        while self._take("&&"):
            right = self._unary()
            left = left and right
        return left

    def _unary(self) -> Any:
        if self._take("!"):
            return not self._unary()
        left = self._primary()
        if self._take("=="):
            return left == self._primary()
        if self._take("!="):
            return left != self._primary()
        return left

    def _primary(self) -> Any:
        if self._take("("):
            inner = self._or()
            assert self._take(")")
            return inner
        kind, text = self.tokens.pop(0)
        if kind == "str":
            return text
        assert kind == "name", f"unexpected {text!r}"
        if self._take("("):
            args = [] if self._take(")") else [self._or()]
            assert not args or self._take(")"), "one argument at most"
            functions: dict[str, Callable[[], Any]] = {
                "always": lambda: True,
                "cancelled": lambda: False,
                "success": lambda: self.status == "success",
                "failure": lambda: self.status == "failure",
                "fromJson": lambda: json.loads(args[0]),
            }
            return functions[text]()
        value: Any = self.context
        for part in text.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def evaluate(value: Any, context: dict[str, Any]) -> Any:
    """*value* with its ``${{ }}`` expressions replaced, as the runner does before a step."""
    if isinstance(value, dict):
        return {k: evaluate(v, context) for k, v in value.items()}
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = re.fullmatch(r"\$\{\{(.*?)\}\}", value.strip(), re.DOTALL)
    if whole:
        return Expression(whole.group(1), context).value()
    return re.sub(
        r"\$\{\{(.*?)\}\}",
        lambda m: str(Expression(m.group(1), context).value() or ""),
        value,
    )


def condition(text: Any, context: dict[str, Any], status: str) -> bool:
    if text is None:
        return status == "success"
    expr = str(text).strip()
    expr = expr[3:-2] if expr.startswith("${{") else expr
    has_status = re.search(r"\b(always|cancelled|success|failure)\(", expr)
    value = Expression(expr, context, status).value()
    return bool(value) if has_status else status == "success" and bool(value)


@dataclass
class GitHubRun:
    service: Service
    source: Path
    ref_name: str
    run_id: int
    artifacts: dict[str, Path] = field(default_factory=dict)
    jobs: dict[str, list[Job]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, workflow: dict[str, Any]) -> None:
        for name, spec in workflow["jobs"].items():
            needs = spec.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            assert all(n in self.jobs for n in needs), f"{name} needs a later job"
            status = "success" if all(j.ok for n in needs for j in self.jobs[n]) else "failure"
            context: dict[str, Any] = {
                "github": {
                    "ref_name": self.ref_name,
                    "run_id": str(self.run_id),
                    "run_attempt": "1",
                    "event": {"repository": {"default_branch": "main"}},
                },
                "needs": {n: {"outputs": self.outputs.get(n, {})} for n in needs},
            }
            self.jobs[name] = []
            if not condition(spec.get("if"), context, status):
                continue
            matrix = evaluate(spec.get("strategy", {}).get("matrix"), context)
            entries = list(enumerate(matrix["include"])) if matrix else [(0, {})]
            if matrix:
                entries = [(i, m) for i, m in entries if m in WANTED]
                assert len(entries) == len(WANTED), f"{name}: {WANTED} not in its matrix"
            for index, entry in entries:
                job_context = {
                    **context,
                    "matrix": entry,
                    "strategy": {"job-index": str(index)},
                    "steps": {},
                }
                self.jobs[name].append(self.job(name, spec, job_context))

    def job(self, name: str, spec: dict[str, Any], context: dict[str, Any]) -> Job:
        workspace = self.service.scratch(f"github-{name}") / "work"
        workspace.mkdir()
        job = Job(name, workspace)
        env = self.service.env()
        env.update(evaluate(spec.get("env", {}), context))
        summary = workspace.parent / "summary.md"
        env["GITHUB_STEP_SUMMARY"] = str(summary)
        for number, step in enumerate(spec["steps"]):
            status = "success" if job.ok else "failure"
            if not condition(step.get("if"), context, status):
                continue
            ok = self.step(step, context, env, job, number)
            job.ok = job.ok and ok
        outputs = evaluate(spec.get("outputs", {}), context)
        self.outputs[name] = outputs
        return job

    def step(
        self, step: dict[str, Any], context: dict[str, Any], env: dict[str, str], job: Job, n: int
    ) -> bool:
        with_ = evaluate(step.get("with", {}), context)
        workspace = job.workspace
        if "run" in step:
            output = workspace.parent / f"output-{n}"
            output.touch()
            step_env = {**env, **evaluate(step.get("env", {}), context)}
            step_env["GITHUB_OUTPUT"] = str(output)
            script = evaluate(step["run"], context)
            ok = shell(
                script,
                ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
                workspace,
                step_env,
                job,
            )
            pairs = [line.partition("=") for line in output.read_text().splitlines()]
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": {k: v for k, _, v in pairs}}
            return ok
        action = step["uses"].split("@")[0]
        if action == "actions/checkout":
            copy_in(self.source, workspace)
        elif action == "actions/setup-python":
            assert with_["python-version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
            venv = workspace.parent / "python"
            command.run([sys.executable, "-m", "venv", str(venv)], timeout=300)
            env["PATH"] = f"{venv}/bin:{env['PATH']}"
        elif action == "actions/upload-artifact":
            patterns = [p for p in str(with_["path"]).splitlines() if p.strip()]
            files = [
                f
                for p in patterns
                for f in (
                    sorted((workspace / p).rglob("*"))
                    if (workspace / p).is_dir()
                    else [workspace / p]
                )
                if f.is_file()
            ]
            if files:  # the least common ancestor of the files found is the artifact's root
                root = Path(os.path.commonpath([f.parent for f in files]))
                store = self.service.scratch(f"artifact-{with_['name']}")
                for f in files:
                    (store / f.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, store / f.relative_to(root))
                assert with_["name"] not in self.artifacts, (
                    f"artifact {with_['name']} uploaded twice"
                )
                self.artifacts[with_["name"]] = store
        elif action == "actions/download-artifact":
            assert with_.get("merge-multiple") is True
            seen: set[str] = set()
            for name, store in sorted(self.artifacts.items()):
                if fnmatch.fnmatchcase(name, with_["pattern"]):
                    names = copy_in(store, workspace / with_["path"])
                    assert not seen & set(names), (
                        f"artifacts overwrite each other: {seen & set(names)}"
                    )
                    seen.update(names)
        elif action == "actions/cache/restore":
            keys = [with_["key"], *str(with_.get("restore-keys", "")).split()]
            job.log.append(
                f"cache restored: {self.service.restore_cache(keys, workspace / with_['path'])}"
            )
        elif action == "actions/cache/save":
            self.service.save_cache(with_["key"], workspace / with_["path"], replace=False)
        else:
            raise AssertionError(f"no stand-in for {step['uses']}")
        return True


# --- GitLab CI ------------------------------------------------------------------------------

GITLAB_GLOBAL = {"default", "stages", "variables", "workflow", "include", "image"}


@dataclass
class GitLabPipeline:
    service: Service
    source: Path
    branch: str
    artifacts: dict[str, list[Path]] = field(default_factory=dict)
    jobs: dict[str, list[Job]] = field(default_factory=dict)

    def run(self, config: dict[str, Any]) -> None:
        stages = [".pre", *config.get("stages", ["build", "test", "deploy"]), ".post"]
        names = [n for n in config if n not in GITLAB_GLOBAL and not n.startswith(".")]
        for name in sorted(names, key=lambda n: stages.index(config[n].get("stage", "test"))):
            self.job(name, config[name], config.get("default", {}))

    def variables(self) -> dict[str, str]:
        return {"CI_COMMIT_BRANCH": self.branch, "CI_DEFAULT_BRANCH": "main"}

    def when(self, spec: dict[str, Any]) -> str | None:
        """The job's ``when``, after its rules; None when no rule lets it in."""
        if "rules" not in spec:
            return str(spec.get("when", "on_success"))
        for rule in spec["rules"]:
            match = re.fullmatch(r"\$(\w+) == \$(\w+)", rule["if"])
            assert match, f"no stand-in for rule {rule['if']!r}"
            values = self.variables()
            if values.get(match.group(1)) == values.get(match.group(2)):
                return str(rule.get("when", "on_success"))
        return None

    def job(self, name: str, spec: dict[str, Any], default: dict[str, Any]) -> None:
        assert spec.get("image", default.get("image")) == "debian:bookworm"
        assert Path("/etc/debian_version").read_text().startswith("12"), "stands in for bookworm"
        self.jobs[name] = []
        when = self.when(spec)
        needs = [n if isinstance(n, str) else n["job"] for n in spec.get("needs", [])]
        with_artifacts = [
            n if isinstance(n, str) else n["job"]
            for n in spec.get("needs", [])
            if isinstance(n, str) or n.get("artifacts", True)
        ]
        passed = all(j.ok for n in needs for j in self.jobs[n])
        if when is None or (when == "on_success" and not passed):
            return
        matrix = spec.get("parallel", {}).get("matrix")
        entries: list[dict[str, str]] = [{}]
        if matrix:
            entries = [
                dict(zip(m, combo, strict=True))
                for m in matrix
                for combo in itertools.product(*m.values())
            ]
            entries = [e for e in entries if {k.lower(): v for k, v in e.items()} in WANTED]
            assert len(entries) == len(WANTED), f"{name}: {WANTED} not in its matrix"
        for entry in entries:
            workspace = self.service.scratch(f"gitlab-{name}") / "work"
            workspace.mkdir()
            job = Job(name, workspace)
            copy_in(self.source, workspace)
            seen: set[str] = set()
            for needed in with_artifacts:
                for store in self.artifacts.get(needed, []):
                    names = copy_in(store, workspace)
                    assert not seen & set(names), (
                        f"artifacts overwrite each other: {seen & set(names)}"
                    )
                    seen.update(names)
            cache = spec.get("cache")
            if cache and cache.get("policy", "pull-push") in ("pull", "pull-push"):
                got = self.service.restore_cache([cache["key"]], workspace)
                job.log.append(f"cache restored: {got}")
            env = {**self.service.env(), **self.variables(), **entry}
            env.update(CI_PROJECT_DIR=str(workspace), CI_JOB_NAME=name)
            script = "\n".join(spec["script"]) + "\n"
            job.ok = shell(script, ["bash", "-eo", "pipefail"], workspace, env, job)
            if cache and cache.get("policy", "pull-push") in ("push", "pull-push") and job.ok:
                keep = self.service.scratch("gitlab-cache-paths")
                for p in cache["paths"]:
                    if (workspace / p).exists():
                        copy_in(workspace / p, keep / p)
                self.service.save_cache(cache["key"], keep, replace=True)
            kept = spec.get("artifacts", {})
            if kept and (job.ok or kept.get("when") == "always"):
                store = self.service.scratch(f"gitlab-artifacts-{name}")
                for pattern in kept["paths"]:
                    for path in workspace.glob(pattern.rstrip("/")):
                        if path.is_dir():
                            copy_in(path, store / path.relative_to(workspace))
                        else:
                            (store / path.relative_to(workspace)).parent.mkdir(
                                parents=True, exist_ok=True
                            )
                            shutil.copy2(path, store / path.relative_to(workspace))
                self.artifacts.setdefault(name, []).append(store)
            self.jobs[name].append(job)


# --- the two pipelines ----------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The service's state and every job's workspace, removed after: each holds virtualenvs."""
    made = Service(tmp_path / "service")
    yield made
    shutil.rmtree(made.root, ignore_errors=True)


def break_a_case(main: Path, root: Path) -> Path:
    """The branch: 003 (passing on main) now fails, and a new case 005 fails from the start."""
    topic = make_source(root, (*CASES, NEW_CASE))
    (topic / "expected" / "003.out").write_text(
        (main / "expected" / "003.out").read_text() + "a line 003 does not print\n"
    )
    golden = topic / "expected" / f"{NEW_CASE}.out"
    golden.write_text(golden.read_text() + "a line 005 does not print\n")
    return topic


def table_row(fmt: str, passed: int, failed: int = 0) -> str:
    """The summary's row for *fmt* with only passes and failures, whatever statuses exist."""
    counts = {"pass": passed, "fail": failed}
    cells = [str(counts.get(status, 0)) for status in STATUSES]
    return f"| {fmt} | " + " | ".join(cells) + f" | {passed + failed} |"


def logs(jobs: dict[str, list[Job]]) -> str:
    return "\n".join(f"--- {j.name}\n" + "\n".join(j.log) for js in jobs.values() for j in js)


def check_main_report(workspace: Path, log: str) -> None:
    """The default branch's report: every shard merged, no baseline yet, all passing."""
    assert "iotests report: note: no run report at --baseline baseline: every failure counts" in log
    report = (workspace / "report.md").read_text()
    assert table_row("qcow2", passed=4) in report, report
    assert "Against the baseline" not in report


def check_topic_report(workspace: Path) -> None:
    report = (workspace / "report.md").read_text()
    assert table_row("qcow2", passed=3, failed=2) in report, report
    assert "Newly failing: 1\n- 003 (qcow2): fail\n" in report, report
    assert f"### {NEW_CASE} (qcow2): fail" in report, "a new case's failure is listed, not gating"
    assert (workspace / "html" / "index.html").is_file()
    assert (workspace / "all.xml").is_file()


@pytest.mark.qemu
@pytest.mark.slow
@needs_qemu
def test_github_workflow_shards_merges_and_judges_against_main(
    tmp_path: Path, service: Service
) -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    main = make_source(tmp_path / "main")

    first = GitHubRun(service, main, "main", run_id=101)
    first.run(workflow)
    log = logs(first.jobs)
    assert all(j.ok for js in first.jobs.values() for j in js), log
    plan = first.outputs["plan"]["matrix"]
    sessions = {(e["session"], e["shard"]) for e in json.loads(plan)["include"]}
    assert len(sessions) == 18, plan
    shards = {name: listing(s) for name, s in first.artifacts.items() if name != "report"}
    assert all(name.startswith("reports-qcow2-") for name in shards), shards
    assert sorted(shards.values()) == [["qcow2-1of2.json"], ["qcow2-2of2.json"]]
    assert log.count("binaries: PATH") == 2, "each shard ran the distribution's QEMU"
    (report,) = first.jobs["report"]
    check_main_report(report.workspace, log)
    assert [k for k, _ in service.caches] == ["iotests-baseline-101-1"]

    second = GitHubRun(service, break_a_case(main, tmp_path / "topic"), "topic", run_id=102)
    second.run(workflow)
    log = logs(second.jobs)
    assert all(j.ok for j in second.jobs["suite"]), (
        "shards with failures still hand in reports\n" + log
    )
    (report,) = second.jobs["report"]
    assert not report.ok, log
    assert "cache restored: iotests-baseline-101-1" in log
    check_topic_report(report.workspace)
    assert [k for k, _ in service.caches] == ["iotests-baseline-101-1"], "only main saves"


@pytest.mark.qemu
@pytest.mark.slow
@needs_qemu
def test_gitlab_pipeline_shards_merges_and_judges_against_main(
    tmp_path: Path, service: Service
) -> None:
    config = yaml.safe_load(GITLAB.read_text())
    main = make_source(tmp_path / "main")

    first = GitLabPipeline(service, main, "main")
    first.run(config)
    log = logs(first.jobs)
    assert [j.name for js in first.jobs.values() for j in js] == [
        "suite",
        "suite",
        "report",
        "baseline",
    ]
    assert all(j.ok for js in first.jobs.values() for j in js), log
    assert [listing(s) for s in first.artifacts["suite"]] == [
        ["reports/qcow2-1of2.json", "reports/qcow2-1of2.xml"],
        ["reports/qcow2-2of2.json", "reports/qcow2-2of2.xml"],
    ]
    assert log.count("binaries: PATH") == 2, "each shard ran the distribution's QEMU"
    (report,) = first.jobs["report"]
    check_main_report(report.workspace, log)
    assert [k for k, _ in service.caches] == ["iotests-baseline"]

    second = GitLabPipeline(service, break_a_case(main, tmp_path / "topic"), "topic")
    second.run(config)
    log = logs(second.jobs)
    assert [j.name for js in second.jobs.values() for j in js] == ["suite", "suite", "report"]
    assert all(j.ok for j in second.jobs["suite"]), (
        "shards with failures still hand in reports\n" + log
    )
    (report,) = second.jobs["report"]
    assert not report.ok, log
    assert "cache restored: iotests-baseline" in log
    check_topic_report(report.workspace)
    assert len(service.caches) == 1, "only the default branch saves a baseline"


def test_shard_names_keep_both_numbers() -> None:
    """The one line both files use to name a shard's report, run by the shell they use."""
    github = yaml.safe_load(GITHUB.read_text())["jobs"]["suite"]["steps"]
    gitlab = yaml.safe_load(GITLAB.read_text())["suite"]["script"]
    scripts = [step.get("run", "") for step in github] + gitlab
    lines = {
        line.strip()
        for script in scripts
        for line in script.splitlines()
        if line.strip().startswith("name=")
    }
    assert len(lines) == 1, lines
    (line,) = lines
    script = line + '\nprintf %s "$name"\n'
    names = [
        command.run(
            ["sh", "-c", script],
            env={"SESSION": "qcow2", "SHARD": shard, "PATH": SYSTEM_PATH},
            merge_stderr=False,
            timeout=60,
        ).stdout
        for shard in ("1/2", "2/2", "10/12")
    ]
    assert names == ["qcow2-1of2", "qcow2-2of2", "qcow2-10of12"]


@pytest.mark.qemu
@needs_qemu
def test_report_over_a_real_results_directory_skips_the_runners_own_json(
    project: Project,
) -> None:
    """``iotests report results/*.json`` after a real run: timings.json is passed over."""
    shutil.copy2(REPO / "cases" / "001", project.cases / "001")
    shutil.copy2(REPO / "expected" / "001.out", project.expected / "001.out")
    report = project.results / "qcow2.json"
    ran = project.run("run", "-f", "qcow2", "001", "-j1", "--json", str(report))
    assert ran.returncode == 0, ran.output
    # What the shell makes of results/*.json and results/*/*.json.
    matched = sorted(project.results.glob("*.json")) + sorted(project.results.glob("*/*.json"))
    others = [p for p in matched if p != report]
    assert {p.name for p in others} >= {"timings.json", "probe.json"}
    merged = project.run("report", *map(str, matched))
    assert merged.returncode == 0, merged.output
    assert table_row("qcow2", passed=1) in merged.stdout
    assert merged.stderr.splitlines() == [
        f'iotests report: warning: {p}: not a run report (no "version" and "results"), skipped'
        for p in others
    ]
