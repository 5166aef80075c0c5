"""The drill table itself: it must count what ran."""

from __future__ import annotations

import sys
from pathlib import Path

from iotests import command


def test_drill_table_lists_each_drill(tmp_path: Path) -> None:
    """The drill table names every drill with its verdict."""
    root = tmp_path
    drills = root / "tests" / "drills"
    drills.mkdir(parents=True)
    conftest = (Path(__file__).parents[1] / "drills" / "conftest.py").read_text()
    (drills / "conftest.py").write_text(conftest)
    (drills / "test_x.py").write_text(
        'import pytest\n\ndef test_a():\n    """Alpha drill."""\n\n'
        'def test_b():\n    """Beta drill."""\n    assert False\n\n'
        '@pytest.mark.skip(reason="no")\ndef test_c():\n    """Gamma drill."""\n'
    )
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n    drill: d\n")
    result = command.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/drills"],
        cwd=root,
        check=False,
    )
    table = result.stdout.split("fault drills", 1)[1]
    rows = {line.split("  ")[0]: line.split()[-2] for line in table.splitlines()[2:5]}
    assert rows == {"Alpha drill.": "passed", "Beta drill.": "FAILED", "Gamma drill.": "skipped"}
    assert "1 of 3 drills passed" in table
