"""A throwaway project (cases, goldens, results) driven by the real CLI, for integration tests."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from iotests import command

HAVE_QEMU = shutil.which("qemu-img") is not None and shutil.which("qemu-io") is not None
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-img/qemu-io not installed")


@dataclass
class Project:
    root: Path

    @property
    def cases(self) -> Path:
        return self.root / "cases"

    @property
    def expected(self) -> Path:
        return self.root / "expected"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def case(self, name: str, header: str, body: str, golden: str | None = None) -> Path:
        """Write an executable Python case and, if given, its golden output."""
        path = self.cases / name
        text = "#!/usr/bin/env python3\n" + textwrap.dedent(header).strip() + "\n"
        path.write_text(text + textwrap.dedent(body))
        path.chmod(0o755)
        if golden is not None:
            (self.expected / f"{name}.out").write_text(textwrap.dedent(golden).lstrip("\n"))
        return path

    def argv(self, *args: str) -> list[str]:
        sub, rest = args[0], args[1:]
        if sub == "report":
            return [sys.executable, "-m", "iotests", *args]
        return [
            sys.executable,
            "-m",
            "iotests",
            sub,
            "--cases-dir",
            str(self.cases),
            "--expected-dir",
            str(self.expected),
            *(("--results-dir", str(self.results)) if sub == "run" else ()),
            *rest,
        ]

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> command.Completed:
        environ = dict(os.environ)
        environ.pop("IOTESTS_CONFIG", None)
        # The binaries on PATH, not whatever build an earlier session cached.
        environ.setdefault("IOTESTS_NO_CACHED_BUILD", "1")
        environ.update(env or {})
        return command.run(
            self.argv(*args),
            env=environ,
            cwd=self.root,
            check=False,
            merge_stderr=False,
            timeout=300,
        )


def make_project(root: Path) -> Project:
    p = Project(root)
    p.cases.mkdir()
    p.expected.mkdir()
    return p
