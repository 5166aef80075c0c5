"""Known failures: loading, where an entry applies, expiry, and the verdicts it changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from iotests.errors import ConfigError
from iotests.runner.known import Judge, VersionRange, load
from iotests.runner.results import CaseResult, Status

TODAY = dt.date(2026, 12, 1)


def _list(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known-failures.yaml"
    path.write_text(text)
    return path


ENTRY = """\
- case: 87
  formats: [luks]
  qemu: ">=7.2, <8.0"
  reason: luks creation flakes
  bug: https://example.invalid/1
  expires: 2027-03-01
"""


def _result(status: Status, *, fmt: str = "luks", name: str = "087") -> CaseResult:
    return CaseResult(name, fmt, "file", status, "output differs from 087.out")


def test_an_entry_turns_a_matching_failure_into_known(tmp_path: Path) -> None:
    judge = Judge(load([_list(tmp_path, ENTRY)]), qemu=(7, 2, 22), today=TODAY)
    known = judge(_result(Status.FAIL))
    assert known.status is Status.KNOWN
    assert not known.status.failed
    assert known.reason == (
        f"known failure ({tmp_path / 'known-failures.yaml'}:1: luks creation flakes; "
        "https://example.invalid/1): output differs from 087.out"
    )


@pytest.mark.parametrize(
    ("result", "qemu"),
    [
        (_result(Status.FAIL, fmt="qcow2"), (7, 2, 22)),
        (_result(Status.FAIL, name="088"), (7, 2, 22)),
        (_result(Status.FAIL), (8, 0, 0)),
        (_result(Status.FAIL), None),
    ],
    ids=["other format", "other case", "newer qemu", "unknown qemu"],
)
def test_an_entry_applies_only_where_it_says(
    tmp_path: Path, result: CaseResult, qemu: tuple[int, int, int] | None
) -> None:
    judge = Judge(load([_list(tmp_path, ENTRY)]), qemu=qemu, today=TODAY)
    assert judge(result) == result


def test_a_listed_case_that_passes_is_flagged(tmp_path: Path) -> None:
    judge = Judge(load([_list(tmp_path, ENTRY)]), qemu=(7, 2, 0), today=TODAY)
    passed = judge(CaseResult("087", "luks", "file", Status.PASS))
    assert passed.status is Status.PASS
    assert passed.reason is not None
    assert "fixed? remove it from" in passed.reason
    assert judge.fixed([passed]) == [passed]


def test_an_expired_entry_no_longer_applies_and_is_named(tmp_path: Path) -> None:
    judge = Judge(load([_list(tmp_path, ENTRY)]), qemu=(7, 2, 0), today=dt.date(2027, 3, 2))
    failed = _result(Status.FAIL)
    assert judge(failed) == failed
    [entry] = judge.expired([failed])
    assert entry.case == "087"
    assert entry.expires == dt.date(2027, 3, 1)


def test_flavours_and_protocols_narrow_an_entry(tmp_path: Path) -> None:
    text = ENTRY.replace("  formats: [luks]\n", "  flavours: asan\n  protocols: [nbd]\n")
    judge = Judge(load([_list(tmp_path, text)]), flavour="asan", qemu=(7, 2, 0), today=TODAY)
    assert judge(CaseResult("087", "raw", "nbd", Status.FAIL)).status is Status.KNOWN
    assert judge(CaseResult("087", "raw", "file", Status.FAIL)).status is Status.FAIL
    plain = Judge(judge.entries, flavour="tools", qemu=(7, 2, 0), today=TODAY)
    assert plain(CaseResult("087", "raw", "nbd", Status.FAIL)).status is Status.FAIL


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("case: 1\n", "(top level): expected a list of entries"),
        ("- case: 1\n  reason: r\n  bug: b\n", ":1: expires: missing"),
        ("- {case: 1, reason: r, bug: b, expires: soon}\n", "expires: expected a date"),
        (
            "- {case: 1, reason: r, bug: b, expires: 2027-01-01, colour: red}\n",
            "colour: unknown key",
        ),
        (
            "- {case: 1, reason: r, bug: b, expires: 2027-01-01, qemu: 'about 8'}\n",
            "qemu: not a version bound",
        ),
        ("- {case: 1, reason: '', bug: b, expires: 2027-01-01}\n", "reason: expected a non-empty"),
        (
            "- {case: 1, reason: r, bug: b, expires: 2027-01-01, formats: [1]}\n",
            "formats: expected a name",
        ),
    ],
)
def test_bad_lists_are_one_line_naming_file_entry_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=r"known-failures\.yaml") as info:
        load([_list(tmp_path, text)])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "version", "inside"),
    [
        (">=7.2, <8.0", (7, 2, 22), True),
        (">=7.2, <8.0", (8, 0, 0), False),
        ("==10.0.13", (10, 0, 13), True),
        (">10", (10, 0, 0), False),
        ("<=9.1", (9, 1, 0), True),
    ],
)
def test_version_ranges(text: str, version: tuple[int, int, int], inside: bool) -> None:
    assert VersionRange.parse(text).contains(version) is inside
