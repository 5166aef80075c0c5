"""The mutation engine on small C snippets parsed by the real tree-sitter C grammar."""

from __future__ import annotations

import pytest

pytest.importorskip("tree_sitter_c", reason="the mutants extra is not installed")

from iotests.mutate.engine import (
    Mutant,
    Operator,
    StaleMutantError,
    apply,
    directive_lines,
    generate,
)


def _in_function(body: str) -> bytes:
    return f"int f(int a, int b)\n{{\n{body}\n}}\n".encode()


def _edits(source: bytes, operator: Operator) -> list[tuple[str, str]]:
    return [(m.original, m.replacement) for m in generate("t.c", source, [operator])]


def _check_exact(source: bytes, mutant: Mutant) -> bytes:
    """The mutated text differs from *source* in the mutant's span and nowhere else."""
    mutated = apply(source, mutant)
    assert source[mutant.start : mutant.end] == mutant.original.encode()
    assert mutated[: mutant.start] == source[: mutant.start]
    tail = len(source) - mutant.end
    assert mutated[len(mutated) - tail :] == source[mutant.end :]
    assert mutated[mutant.start : len(mutated) - tail] == mutant.replacement.encode()
    assert mutated != source
    return mutated


@pytest.mark.parametrize(
    ("operator", "body", "expected"),
    [
        (Operator.RELATIONAL_BOUNDARY, "return a < b;", [("<", "<=")]),
        (Operator.RELATIONAL_BOUNDARY, "return a <= b;", [("<=", "<")]),
        (Operator.RELATIONAL_BOUNDARY, "return a > b;", [(">", ">=")]),
        (Operator.RELATIONAL_BOUNDARY, "return a >= b;", [(">=", ">")]),
        (Operator.RELATIONAL_BOUNDARY, "return s->a > b->c;", [(">", ">=")]),
        (Operator.RELATIONAL_BOUNDARY, "return a >> b;", []),
        (Operator.EQUALITY_NEGATION, "return a == b;", [("==", "!=")]),
        (Operator.EQUALITY_NEGATION, "return a != b;", [("!=", "==")]),
        (Operator.ARITHMETIC, "return a + b;", [("+", "-")]),
        (Operator.ARITHMETIC, "return a - b;", [("-", "+")]),
        (Operator.ARITHMETIC, "return -a;", []),
        (Operator.ARITHMETIC, "a++; return a;", []),
        (Operator.LOGICAL, "return a && b;", [("&&", "||")]),
        (Operator.LOGICAL, "return a || b;", [("||", "&&")]),
        (Operator.LOGICAL, "return a & b;", []),
        (Operator.CONSTANT_OFF_BY_ONE, "return a * 8;", [("8", "9"), ("8", "7")]),
        (Operator.CONSTANT_OFF_BY_ONE, "return a * 0;", [("0", "1")]),
        (
            Operator.CONSTANT_OFF_BY_ONE,
            "return a & 0x1ff;",
            [("0x1ff", "0x200"), ("0x1ff", "0x1fe")],
        ),
        (Operator.CONSTANT_OFF_BY_ONE, "return a & 0x0F;", [("0x0F", "0x10"), ("0x0F", "0x0E")]),
        (Operator.CONSTANT_OFF_BY_ONE, "return a << 9ULL;", [("9ULL", "10ULL"), ("9ULL", "8ULL")]),
        (Operator.CONSTANT_OFF_BY_ONE, "return a | 0644;", [("0644", "0645"), ("0644", "0643")]),
        (Operator.CONSTANT_OFF_BY_ONE, "return a * 1.5;", []),
        (
            Operator.CONSTANT_OFF_BY_ONE,
            "switch (a) { case 3: return 1; }",
            [("1", "2"), ("1", "0")],
        ),
        (Operator.CONSTANT_OFF_BY_ONE, "char buf[512]; return buf[a];", []),
        (Operator.NEGATE_CONDITION, "if (a < b) { return 1; }", [("a < b", "!(a < b)")]),
        (Operator.NEGATE_CONDITION, "while (a) { a--; }", [("a", "!(a)")]),
        (Operator.NEGATE_CONDITION, "do { a--; } while (a > 2);", [("a > 2", "!(a > 2)")]),
        (Operator.NEGATE_CONDITION, "while (1) { a--; }", []),
        (Operator.NEGATE_CONDITION, "for (;a;) { a--; }", []),
        (Operator.REMOVE_CALL, "g(a, b);", [("g(a, b);", ";")]),
        (Operator.REMOVE_CALL, "s->drv->flush(s);", [("s->drv->flush(s);", ";")]),
        (Operator.REMOVE_CALL, "a = g(a);", []),
        (Operator.REMOVE_CALL, "trace_qcow2_thing(a); assert(a); g_assert(b);", []),
        (Operator.RELATIONAL_BOUNDARY, "assert(a > 0 && a <= b); QEMU_BUILD_BUG_ON(A > B);", []),
        (Operator.CONSTANT_OFF_BY_ONE, "g_assert(a == 4); trace_x(a + 1);", []),
        (Operator.ERROR_TO_SUCCESS, "return -EINVAL;", [("-EINVAL", "0")]),
        (Operator.ERROR_TO_SUCCESS, "return -errno;", [("-errno", "0")]),
        (Operator.ERROR_TO_SUCCESS, "return -1;", [("-1", "0")]),
        (Operator.ERROR_TO_SUCCESS, "int ret = g(); return ret;", [("ret", "0")]),
        (
            Operator.ERROR_TO_SUCCESS,
            "int n = g(); if (n < 0) { return n; } return 1;",
            [("n", "0")],
        ),
        (Operator.ERROR_TO_SUCCESS, "int n = g(); return n;", []),
        (Operator.ERROR_TO_SUCCESS, "return 0;", []),
        (Operator.ERROR_TO_SUCCESS, "return -0;", []),
        (Operator.ERROR_TO_SUCCESS, "return EINVAL;", []),
    ],
)
def test_each_operator_makes_exactly_its_edit(
    operator: Operator, body: str, expected: list[tuple[str, str]]
) -> None:
    source = _in_function(body)
    assert sorted(_edits(source, operator)) == sorted(expected)
    for mutant in generate("t.c", source, [operator]):
        _check_exact(source, mutant)


def test_negated_condition_compiles_to_the_whole_condition() -> None:
    source = _in_function("if (a < 0 &&\n    b) {\n    return 1;\n}\nreturn 0;")
    [mutant] = generate("t.c", source, [Operator.NEGATE_CONDITION])
    mutated = _check_exact(source, mutant)
    assert b"if (!(a < 0 &&\n    b)) {" in mutated
    assert (mutant.line, mutant.end_line) == (3, 4)


def test_error_return_is_left_alone_in_a_function_returning_a_pointer() -> None:
    source = b"char *f(void)\n{\n    char *ret = g();\n    return ret;\n}\n"
    assert _edits(source, Operator.ERROR_TO_SUCCESS) == []


def test_no_mutant_leaves_the_source_identical() -> None:
    source = _in_function(
        "int x = a + 0x0 + 00 + 0b0 + 1 - b;\n"
        "if (x == 0 || !x) { g(); return -EIO; }\n"
        "while (x >= 1 && x <= 9) x = x - 1;\n"
        "return x;"
    )
    mutants = generate("t.c", source)
    assert {m.operator for m in mutants} == set(Operator)
    for mutant in mutants:
        assert mutant.original != mutant.replacement
        _check_exact(source, mutant)
    spans = [(m.start, m.end, m.replacement) for m in mutants]
    assert len(spans) == len(set(spans))


def test_preprocessor_lines_and_macro_bodies_are_skipped() -> None:
    source = (
        b"#define LIMIT(x) ((x) < 512 && g(x))\n"
        b"#if SIZE > 4 && \\\n    SIZE < 9\n#endif\n"
        b"int f(int a)\n{\n"
        b"#if A > 1\n"
        b"    g(a);\n"
        b"#endif\n"
        b"    return a;\n}\n"
    )
    mutants = generate("t.c", source)
    assert [(m.line, m.original, m.replacement) for m in mutants] == [(8, "g(a);", ";")]
    assert directive_lines(source) == frozenset({1, 2, 3, 4, 7, 9})


def test_code_outside_function_bodies_is_skipped() -> None:
    source = b"static const int table[] = { 1 + 2, 3 };\nenum { A = 4 };\nint f(void)\n{\n    return A;\n}\n"
    assert generate("t.c", source) == []


def test_unparseable_statements_are_skipped_but_their_neighbours_are_not() -> None:
    source = _in_function(
        "QLIST_FOREACH(x, &list, next) {\n    g(x);\n}\nif (a == b) {\n    return 1;\n}\nreturn 0;"
    )
    found = {(m.operator, m.original) for m in generate("t.c", source)}
    assert (Operator.EQUALITY_NEGATION, "==") in found
    assert (Operator.REMOVE_CALL, "g(x);") in found
    assert not any("QLIST_FOREACH" in original for _op, original in found)


def test_qemu_annotations_do_not_hide_a_function() -> None:
    source = b"static int coroutine_fn GRAPH_RDLOCK f(int a)\n{\n    return a + 1;\n}\n"
    [plus] = generate("t.c", source, [Operator.ARITHMETIC])
    assert plus.function == "f"
    _check_exact(source, plus)


def test_ids_are_stable_across_edits_elsewhere_and_unique() -> None:
    first = _in_function("if (a < b) {\n    g(a);\n}\nreturn a < b;")
    shifted = b"/* a new comment\n   of two lines */\n" + first.replace(
        b"int f(", b"int other(void)\n{\n    return 1 + 2;\n}\n\nint f("
    )
    before = {m.id: (m.original, m.replacement) for m in generate("t.c", first)}
    after = {m.id: (m.original, m.replacement) for m in generate("t.c", shifted)}
    assert len(before) == len(generate("t.c", first))
    assert before.items() <= after.items()
    assert {m.id for m in generate("u.c", first)}.isdisjoint(before)


def test_positions_are_one_based() -> None:
    source = _in_function("    return a < b;")
    [mutant] = generate("t.c", source, [Operator.RELATIONAL_BOUNDARY])
    assert (mutant.line, mutant.column, mutant.end_line, mutant.end_column) == (3, 14, 3, 15)
    assert source.splitlines()[2][mutant.column - 1 : mutant.end_column - 1] == b"<"


def test_a_stale_mutant_is_refused() -> None:
    source = _in_function("return a < b;")
    [mutant] = generate("t.c", source, [Operator.RELATIONAL_BOUNDARY])
    with pytest.raises(StaleMutantError, match=r"t\.c:3: mutant .* expects '<'"):
        apply(source.replace(b"a < b", b"a + b"), mutant)


def test_serialisation_round_trips() -> None:
    for mutant in generate("t.c", _in_function("g(a); return a < b;")):
        assert Mutant.from_dict(mutant.serialize()) == mutant
