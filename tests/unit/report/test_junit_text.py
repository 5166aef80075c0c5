"""JUnit text stays XML 1.0 whatever a case printed, and a huge output is cut to its end with a note."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from iotests.report.files import OUTPUT_LIMIT, junit_xml, read_tail, write_junit, xml_safe
from iotests.runner.results import CaseResult, Status

SCHEMA = Path(__file__).parents[2] / "data" / "junit.xsd"

#: What a case may print that XML 1.0 cannot carry, and how the report spells it.
ILLEGAL = [
    ("\x01", "\\x01"),
    ("\x1b[31m", "\\x1b[31m"),
    ("\x00", "\\x00"),
    ("\x7f", "\x7f"),  # DEL is legal XML 1.0, left alone
    ("\ufffe", "\\ufffe"),
    ("\udcff", "\\xff"),  # the byte 0xff, as errors="surrogateescape" kept it
    ("\udc80", "\\x80"),
    ("\ud800", "\\ud800"),  # a lone high surrogate
    ("tab\tcr\rlf\n", "tab\tcr\rlf\n"),
    ("\U0001f600 é", "\U0001f600 é"),
]


@pytest.mark.parametrize(("raw", "spelled"), ILLEGAL)
def test_xml_safe(raw: str, spelled: str) -> None:
    assert xml_safe(raw) == spelled


def _validate(path: Path) -> etree._Element:
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    root = etree.parse(str(path)).getroot()
    schema.assertValid(root)
    return root


@pytest.mark.parametrize(("raw", "spelled"), ILLEGAL[:8])
def test_illegal_characters_anywhere_make_a_valid_file(
    tmp_path: Path, raw: str, spelled: str
) -> None:
    """In the output file, the diff, the reason and the name: every place text goes."""
    try:
        printed, spelled_out = raw.encode("utf-8", "surrogateescape"), spelled
    except UnicodeEncodeError:
        # No byte decodes to a lone high surrogate: a file can only hold its CESU-8 form.
        printed = raw.encode("utf-8", "surrogatepass")
        spelled_out = "".join(f"\\x{b:02x}" for b in printed)
    output = tmp_path / "output"
    output.write_bytes(b"before " + printed + b" after\n")
    result = CaseResult(
        f"case{raw}",
        "raw",
        "file",
        Status.FAIL,
        f"reason {raw}",
        output_file=str(output),
        diff=f"-x\n+{raw}",
    )
    path = tmp_path / "junit.xml"
    write_junit(path, [result])
    root = _validate(path)
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == f"case{spelled}"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == f"reason {spelled}"
    assert failure.text == f"-x\n+{spelled}"
    assert case.findtext("system-out") == f"before {spelled_out} after\n"
    assert case.findtext("system-err") == f"-x\n+{spelled}\n"
    # The standard library's parser reads it too (it is what many scripts use).
    assert ET.parse(path).getroot().tag == "testsuites"


def test_undecodable_bytes_in_the_output_file(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_bytes(b"qemu said \xff\xfe\x00 then \xe2\x82\xac\n")
    result = CaseResult("001", "raw", "file", Status.FAIL, "differs", output_file=str(output))
    path = tmp_path / "junit.xml"
    write_junit(path, [result])
    out = _validate(path).findtext("testsuite/testcase/system-out")
    assert out == "qemu said \\xff\\xfe\\x00 then \u20ac\n"


def test_a_huge_output_keeps_its_end_with_a_note(tmp_path: Path) -> None:
    output = tmp_path / "output"
    lines = [f"line {n:06d} \u00e9\u00e9\u00e9\n" for n in range(20000)]
    output.write_text("".join(lines), encoding="utf-8")
    size = output.stat().st_size
    assert size > 4 * OUTPUT_LIMIT
    result = CaseResult("001", "raw", "file", Status.FAIL, "differs", output_file=str(output))
    path = tmp_path / "junit.xml"
    write_junit(path, [result])
    out = _validate(path).findtext("testsuite/testcase/system-out")
    assert out is not None
    note, _, kept = out.partition("\n")
    assert note.startswith(f"[iotests: {output} is {size} bytes; the first ")
    assert note.endswith("follow]")
    assert len(kept.encode()) <= OUTPUT_LIMIT
    assert len(kept.encode()) > OUTPUT_LIMIT - 100
    # Whole lines, from a line's start to the file's very end.
    assert kept.startswith("line ")
    assert kept.endswith(lines[-1])
    assert kept.splitlines(keepends=True) == lines[-len(kept.splitlines()) :]


def test_a_cut_through_a_character_starts_at_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\xe2\x82\xac" * 10)  # no newline to align on
    tail = read_tail(str(path), limit=10)
    assert tail.text == "\u20ac" * 3
    assert (tail.size, tail.cut) == (30, 21)


def test_a_short_output_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("a\nb\n")
    tail = read_tail(str(path))
    assert (tail.text, tail.cut, tail.note(str(path))) == ("a\nb\n", 0, "")


def test_flaky_with_illegal_reason_is_valid(tmp_path: Path) -> None:
    result = CaseResult("001", "raw", "file", Status.FLAKY, "passed on attempt 2 after \x1b")
    text = junit_xml([result], "iotests")
    root = etree.fromstring(text.encode())
    assert root.findtext("testsuite/testcase/system-out") == (
        "[iotests: flaky: passed on attempt 2 after \\x1b]\n"
    )


def test_a_huge_diff_keeps_its_start_with_a_note(tmp_path: Path) -> None:
    diff = "".join(f"+line {n:06d} \udcff\n" for n in range(20000))
    output = tmp_path / "case" / "output"
    output.parent.mkdir()
    output.write_text("x\n")
    result = CaseResult(
        "001", "raw", "file", Status.FAIL, "differs", output_file=str(output), diff=diff
    )
    path = tmp_path / "junit.xml"
    write_junit(path, [result])
    case = _validate(path).find("testsuite/testcase")
    assert case is not None
    shown = OUTPUT_LIMIT // len("+line 000000 \udcff\n".encode("utf-8", "surrogatepass"))
    rest = f"the rest is in {output.parent / 'diff'}"
    note = f"[iotests: the first {shown} of the diff's 20000 lines; {rest}]\n"
    for text in (case.findtext("failure"), case.findtext("system-err")):
        assert text is not None
        assert text.startswith("+line 000000 \\xff\n")
        assert text.endswith(f"+line {shown - 1:06d} \\xff\n" + note)
