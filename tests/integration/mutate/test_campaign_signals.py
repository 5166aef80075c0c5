"""A campaign stopped by a real signal mid-mutant leaves its copy of the source as it was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("tree_sitter_c", reason="the mutants extra is not installed")

SOURCE = b"int f(int a)\n{\n    if (a < 2) {\n        g(a);\n    }\n    return a + 1;\n}\n"

#: A campaign whose "rebuild" is a real child process that hangs until signalled.
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from iotests import command
    from iotests.mutate import campaign
    from iotests.mutate.covmap import CaseCoverage, CoverageMap
    from iotests.mutate.engine import generate

    root = Path(sys.argv[1])

    class Hanging(campaign.Workspace):
        def rebuild(self):
            (root / "building").write_text("1")
            command.run(["sleep", "60"])
            return True, ""

    ws = Hanging(root / "ws", root / "origin", ("configure",))
    cmap = CoverageMap()
    cmap.add("qcow2-file/001", CaseCoverage("pass", 1.0, {"f.c": frozenset(range(1, 8))}), {})
    mutants = generate("f.c", (ws.source / "f.c").read_bytes())
    campaign.run(mutants, cmap, ws, campaign.ResultStore(root / "r.jsonl"), lambda c, n, t: {})
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_mutant_restores_the_file_and_its_checksum(
    tmp_path: Path, signum: int
) -> None:
    """A signal during a mutant's rebuild restores the file by checksum."""
    (tmp_path / "origin").mkdir()
    (tmp_path / "origin" / "f.c").write_bytes(SOURCE)
    (tmp_path / "ws" / "src").mkdir(parents=True)
    (tmp_path / "ws" / "src" / "f.c").write_bytes(SOURCE)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "building").exists() or not _session(proc.pid, but=proc.pid):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the campaign never reached its first rebuild"
        time.sleep(0.05)
    assert (tmp_path / "ws" / "src" / "f.c").read_bytes() != SOURCE  # mutated right now
    assert (tmp_path / "ws" / "journal.json").is_file()
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in err
    restored = (tmp_path / "ws" / "src" / "f.c").read_bytes()
    assert hashlib.sha256(restored).hexdigest() == hashlib.sha256(SOURCE).hexdigest()
    assert not (tmp_path / "ws" / "journal.json").exists()
    assert not (tmp_path / "r.jsonl").exists()  # no verdict was made up for the cut mutant
    assert _session(proc.pid) == [], "the hung rebuild outlived the campaign"


def _session(sid: int, but: int | None = None) -> list[int]:
    """Live processes of session *sid* (the campaign's children), *but* excepted."""
    found = subprocess.run(
        ["pgrep", "-s", str(sid)], check=False, capture_output=True, text=True
    ).stdout
    return [int(p) for p in found.split() if int(p) != but]
