"""The quick group stays a quick subset of auto that still touches every area.

Areas are the header groups other than quick and auto (rw, snapshot,
backing, nbd, bitmap, jobs, qcow2, ...). Which cases are quick was chosen by
measured time (see README, "Running the suite"); this test keeps the
choice honest without timing anything: small, inside auto, covering.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iotests.runner.discovery import Case, discover

REPO = Path(__file__).resolve().parents[2]
#: At most this share of the cases is quick (38 of 181 when it was chosen).
MAX_SHARE = 0.25
NOT_AREAS = {"quick", "auto"}


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return discover(REPO / "cases", REPO / "expected")


def test_quick_cases_are_auto_cases(cases: list[Case]) -> None:
    assert [c.name for c in cases if "quick" in c.groups and "auto" not in c.groups] == []


def test_every_area_of_auto_has_a_quick_case(cases: list[Case]) -> None:
    auto = [c for c in cases if "auto" in c.groups]
    areas = {g for c in auto for g in c.groups} - NOT_AREAS
    quick_areas = {g for c in auto if "quick" in c.groups for g in c.groups}
    assert sorted(areas - quick_areas) == []


def test_quick_is_a_small_share_of_the_cases(cases: list[Case]) -> None:
    quick = [c for c in cases if "quick" in c.groups]
    assert quick
    assert len(quick) <= MAX_SHARE * len(cases), (
        f"{len(quick)} of {len(cases)} cases are quick; a new case joins quick only"
        " when it is the fastest of an area no quick case covers"
    )
