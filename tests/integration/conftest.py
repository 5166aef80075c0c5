"""Fixtures for integration tests that drive the real CLI on real QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.project import Project, make_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)
