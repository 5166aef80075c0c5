"""A tiny fake upstream tests/qemu-iotests, written per test."""

from __future__ import annotations

from pathlib import Path

import pytest

BASH_TEST = "#!/usr/bin/env bash\n# group: rw auto quick\n#\n# Copyright text\necho hi\n"
PYTHON_TEST = "#!/usr/bin/env python3\n# group: rw quick\nprint('hi')\n"


def write_test(directory: Path, name: str, text: str, *, out: bool = True) -> Path:
    path = directory / name
    path.write_text(text)
    path.chmod(0o755)
    if out:
        (directory / f"{name}.out").write_text("hi\n")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """An upstream-shaped tree: python/ beside tests/qemu-iotests, a few tests."""
    root = tmp_path / "qemu"
    iotests = root / "tests" / "qemu-iotests"
    (iotests / "tests").mkdir(parents=True)
    (root / "python").mkdir()
    (iotests / "check").write_text("#!/usr/bin/env python3\n")
    (iotests / "common.rc").write_text("")
    write_test(iotests, "001", BASH_TEST)
    write_test(iotests, "002", "#!/usr/bin/env bash\n# group: rw auto\n")
    write_test(iotests, "003", "#!/usr/bin/env bash\n# group: rw disabled\n")
    write_test(iotests, "004", "#!/usr/bin/env bash\n# no groups here\n", out=False)
    write_test(iotests / "tests", "reopen-file", PYTHON_TEST)
    write_test(iotests / "tests", "no-reference", PYTHON_TEST, out=False)
    (iotests / "001.out.qcow2").write_text("hi\n")
    (iotests / "common.filter").write_text("")
    return iotests
