"""Every name a case may use is in docs/writing-cases.md, so the library's contract is read there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iotests import lib

DOC = Path(__file__).resolve().parents[3] / "docs" / "writing-cases.md"


@pytest.mark.parametrize("name", lib.__all__)
def test_the_name_is_documented(name: str) -> None:
    assert re.search(rf"`(lib\.)?{re.escape(name)}\b", DOC.read_text()), name
