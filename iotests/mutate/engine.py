"""Mutants of C sources: small, plausible bugs planted one at a time.

A mutant is one byte span of one file and the text that replaces it, found
on tree-sitter's C syntax tree rather than by regular expressions, so that
``a->b`` is never mistaken for ``>``, and ``-1`` in ``x - 1`` is told apart
from a negative constant. What is never mutated, and why:

- preprocessor lines (``#define``, ``#if`` conditions, their continuation
  lines): a macro's body is expanded at every use, so one edit there is many
  mutants at once, and the tree of a macro body is only a guess;
- anything outside a function body (tables, initialisers, array sizes): an
  edit there rarely compiles into a behaviour, it is a different data table;
- a subtree tree-sitter could not parse (QEMU's macros sometimes defeat it);
- calls whose removal cannot change what a test sees (trace points,
  assertions, the GLOBAL_STATE_CODE()-style annotations): equivalent mutants
  only lower the score without saying anything about the suite.

Each mutant has a stable id: a digest of its file, function, operator, texts
and rank among the same edits in that function, so ids survive edits
elsewhere in the file and a campaign can resume or be compared across runs.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iotests.errors import UsageError

if TYPE_CHECKING:
    from tree_sitter import Node, Parser


class Operator(enum.StrEnum):
    """The kinds of mutant; the value is the name reports use."""

    RELATIONAL_BOUNDARY = "relational-boundary"  # < <-> <=, > <-> >=
    EQUALITY_NEGATION = "equality-negation"  # == <-> !=
    ARITHMETIC = "arithmetic"  # binary + <-> -
    CONSTANT_OFF_BY_ONE = "constant-off-by-one"  # integer literal +1 / -1
    NEGATE_CONDITION = "negate-condition"  # if/while/do condition c -> !(c)
    LOGICAL = "logical"  # && <-> ||
    REMOVE_CALL = "remove-call"  # f(x); -> ;
    ERROR_TO_SUCCESS = "error-to-success"  # return -EINVAL; / return ret; -> return 0;


ALL_OPERATORS = frozenset(Operator)

_BINARY_SWAPS: Mapping[str, tuple[Operator, str]] = {
    "<": (Operator.RELATIONAL_BOUNDARY, "<="),
    "<=": (Operator.RELATIONAL_BOUNDARY, "<"),
    ">": (Operator.RELATIONAL_BOUNDARY, ">="),
    ">=": (Operator.RELATIONAL_BOUNDARY, ">"),
    "==": (Operator.EQUALITY_NEGATION, "!="),
    "!=": (Operator.EQUALITY_NEGATION, "=="),
    "+": (Operator.ARITHMETIC, "-"),
    "-": (Operator.ARITHMETIC, "+"),
    "&&": (Operator.LOGICAL, "||"),
    "||": (Operator.LOGICAL, "&&"),
}

#: Preprocessor nodes whose whole text is skipped (their lines are also skipped by text).
_DIRECTIVES = frozenset({"preproc_def", "preproc_function_def", "preproc_call", "preproc_include"})
#: Places where an integer literal is a compile-time constant: an edit there is a data or
#: compile error, not a behaviour (array sizes, case labels, bit-field widths, enum values).
_CONSTANT_CONTEXTS = frozenset({"array_declarator", "bitfield_clause", "enumerator"})
#: Calls whose removal no test can observe (or that only fire on a bug anyway).
_EQUIVALENT_CALL_PREFIXES = (
    "trace_",
    "assert",
    "g_assert",
    "GLOBAL_STATE_CODE",
    "IO_CODE",
    "IO_OR_GS_CODE",
    "GRAPH_RDLOCK_GUARD",
    "assert_bdrv_graph",
)
#: Calls whose arguments are never mutated: compile-time checks and assertions only fire on
#: a bug, so an edit inside them is equivalent (or a build failure), never a behaviour.
_UNOBSERVED_CALLS = (*_EQUIVALENT_CALL_PREFIXES, "QEMU_BUILD_BUG")
#: Variables that hold "0 or -errno" by QEMU convention.
_ERRNO_VARIABLES = frozenset({"ret", "r", "rc", "err"})
#: Return types of functions whose negative return means an error.
_ERRNO_RETURN_TYPES = frozenset({"int", "int64_t", "ssize_t", "int32_t", "long"})

_INTEGER = re.compile(
    r"^(?P<digits>0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)(?P<suffix>[uUlL]*)$"
)
_ERRNO_NAME = re.compile(r"^(E[A-Z0-9]+|errno)$")
#: QEMU's bare annotation macros, which tree-sitter cannot place in a declaration. They are
#: blanked (same length, so every byte offset still holds) before parsing.
_ANNOTATIONS = re.compile(
    rb"\b(coroutine_fn|coroutine_mixed_fn|no_coroutine_fn|g_autofree|GRAPH_RDLOCK|GRAPH_WRLOCK"
    rb"|GRAPH_RDLOCK_PTR|GRAPH_WRLOCK_PTR|QEMU_WARN_UNUSED_RESULT|G_GNUC_UNUSED)\b"
)


class StaleMutantError(UsageError):
    """The bytes a mutant would replace are no longer what it was made from."""


@dataclass(frozen=True)
class Mutant:
    """One planted bug: replace bytes ``start:end`` of *file* (``original``) by ``replacement``.

    ``line`` and ``column`` are 1-based (column in bytes), as editors and the
    mutation-testing-elements schema count them.
    """

    id: str
    file: str
    function: str
    operator: Operator
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int
    original: str
    replacement: str

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "function": self.function,
            "operator": str(self.operator),
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "start": self.start,
            "end": self.end,
            "original": self.original,
            "replacement": self.replacement,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Mutant:
        return cls(
            id=str(data["id"]),
            file=str(data["file"]),
            function=str(data["function"]),
            operator=Operator(data["operator"]),
            line=int(data["line"]),
            column=int(data["column"]),
            end_line=int(data["end_line"]),
            end_column=int(data["end_column"]),
            start=int(data["start"]),
            end=int(data["end"]),
            original=str(data["original"]),
            replacement=str(data["replacement"]),
        )

    @property
    def lines(self) -> range:
        """The source lines the edit touches."""
        return range(self.line, self.end_line + 1)


def apply(source: bytes, mutant: Mutant) -> bytes:
    """*source* with *mutant*'s bytes replaced and nothing else changed.

    :raises StaleMutantError: when those bytes are not the mutant's original text.
    """
    found = source[mutant.start : mutant.end]
    if found != mutant.original.encode():
        raise StaleMutantError(
            f"{mutant.file}:{mutant.line}: mutant {mutant.id} expects {mutant.original!r} "
            f"but the source has {found.decode(errors='replace')!r} (regenerate the mutants)"
        )
    return source[: mutant.start] + mutant.replacement.encode() + source[mutant.end :]


def _parser() -> Parser:
    try:
        import tree_sitter
        import tree_sitter_c
    except ImportError:
        raise UsageError(
            "mutants need tree-sitter and tree-sitter-c: pip install -e '.[mutants]'"
        ) from None
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def directive_lines(source: bytes) -> frozenset[int]:
    """1-based numbers of preprocessor lines, continuation lines included."""
    lines: set[int] = set()
    continued = False
    for number, raw in enumerate(source.split(b"\n"), start=1):
        text = raw.rstrip(b"\r")
        if continued or text.lstrip().startswith(b"#"):
            lines.add(number)
            continued = text.endswith(b"\\")
        else:
            continued = False
    return frozenset(lines)


@dataclass(frozen=True)
class _Edit:
    operator: Operator
    start: int
    end: int
    replacement: str


def _text(node: Node) -> str:
    return (node.text or b"").decode(errors="replace")


def _function_name(definition: Node) -> str:
    node = definition.child_by_field_name("declarator")
    while node is not None and node.type != "identifier":
        inner = node.child_by_field_name("declarator")
        if inner is None:
            break
        node = inner
    return _text(node) if node is not None and node.type == "identifier" else "?"


def _returns_errno(definition: Node) -> bool:
    """Whether the function returns a plain signed integer (not a pointer to one)."""
    kind = definition.child_by_field_name("type")
    declarator = definition.child_by_field_name("declarator")
    if kind is None or declarator is None or declarator.type != "function_declarator":
        return False
    return _text(kind) in _ERRNO_RETURN_TYPES


def _integer(literal: str) -> int | None:
    match = _INTEGER.match(literal)
    if match is None:
        return None
    digits = match["digits"]
    return int(digits, 8) if _is_octal(digits) else int(digits, 0)


def _is_octal(digits: str) -> bool:
    return len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXbB"


def _off_by_one(literal: str) -> list[str]:
    if literal.startswith("-"):
        # tree-sitter reads "return -1" as one literal; its magnitude is what is off by one.
        return ["-" + text for text in _off_by_one(literal[1:])]
    match = _INTEGER.match(literal)
    if match is None:
        return []
    digits, suffix = match["digits"], match["suffix"]
    if digits[:2] in ("0x", "0X"):
        value, prefix, body = int(digits[2:], 16), digits[:2], digits[2:]
        upper = any(c in "ABCDEF" for c in body)

        def render(v: int) -> str:
            text = format(v, "X" if upper else "x").rjust(len(body), "0")
            return prefix + text

    elif digits[:2] in ("0b", "0B"):
        value, prefix, body = int(digits[2:], 2), digits[:2], digits[2:]

        def render(v: int) -> str:
            return prefix + format(v, "b").rjust(len(body), "0")

    elif _is_octal(digits):
        value = int(digits, 8)

        def render(v: int) -> str:
            return "0" + format(v, "o") if v else "0"

    else:
        value = int(digits)

        def render(v: int) -> str:
            return str(v)

    candidates = [value + 1] + ([value - 1] if value > 0 else [])
    return [render(v) + suffix for v in candidates if render(v) + suffix != literal]


def _in_constant_context(node: Node) -> bool:
    """Whether *node* is a case label, an array size, a bit-field width or an enum value."""
    child, parent = node, node.parent
    while parent is not None and not parent.type.endswith("_statement"):
        if parent.type in _CONSTANT_CONTEXTS:
            return True
        child, parent = parent, parent.parent
    if parent is not None and parent.type == "case_statement":
        # The statements after a label are children of case_statement too: only its value.
        return child == parent.child_by_field_name("value")
    return False


def _called_name(call: Node) -> str:
    function = call.child_by_field_name("function")
    return _text(function) if function is not None else ""


def _errno_guarded(node: Node, name: str) -> bool:
    """Whether the nearest enclosing ``if`` tests *name* as an error (``name < 0``, ``name``)."""
    parent = node.parent
    while parent is not None and parent.type not in ("if_statement", "function_definition"):
        parent = parent.parent
    if parent is None or parent.type != "if_statement":
        return False
    condition = parent.child_by_field_name("condition")
    text = re.sub(r"\s+", "", _text(condition)) if condition is not None else ""
    return text in (f"({name}<0)", f"({name})", f"({name}!=0)") or f"({name}<0)" in text


def _edits(node: Node, definition: Node) -> Iterator[_Edit]:
    """The edits proposed at *node* itself (not its children)."""
    kind = node.type
    if kind == "binary_expression" and not node.has_error:
        operator = node.child_by_field_name("operator")
        if operator is not None and operator.type in _BINARY_SWAPS:
            op, replacement = _BINARY_SWAPS[operator.type]
            yield _Edit(op, operator.start_byte, operator.end_byte, replacement)
    elif kind == "number_literal":
        if not _in_constant_context(node):
            for replacement in _off_by_one(_text(node)):
                yield _Edit(
                    Operator.CONSTANT_OFF_BY_ONE, node.start_byte, node.end_byte, replacement
                )
    elif kind in ("if_statement", "while_statement", "do_statement"):
        condition = node.child_by_field_name("condition")
        inner = condition.named_children[0] if condition is not None else None
        if (
            condition is not None
            and inner is not None
            and not condition.has_error
            and condition.type == "parenthesized_expression"
            and len(condition.named_children) == 1
            and inner.type not in ("number_literal", "true", "false")
        ):
            yield _Edit(
                Operator.NEGATE_CONDITION,
                inner.start_byte,
                inner.end_byte,
                f"!({_text(inner)})",
            )
    elif kind == "expression_statement":
        children = node.named_children
        if (
            not node.has_error
            and len(children) == 1
            and children[0].type == "call_expression"
            and not _called_name(children[0]).startswith(_EQUIVALENT_CALL_PREFIXES)
        ):
            yield _Edit(Operator.REMOVE_CALL, node.start_byte, node.end_byte, ";")
    elif kind == "return_statement":
        values = [c for c in node.named_children if c.type != "comment"]
        if not node.has_error and len(values) == 1 and _is_error_value(values[0], definition):
            value = values[0]
            yield _Edit(Operator.ERROR_TO_SUCCESS, value.start_byte, value.end_byte, "0")


def _is_error_value(value: Node, definition: Node) -> bool:
    if value.type == "number_literal":
        literal = _text(value)
        return literal.startswith("-") and _integer(literal[1:]) not in (None, 0)
    if value.type == "unary_expression":
        operator = value.child_by_field_name("operator")
        argument = value.child_by_field_name("argument")
        if operator is None or operator.type != "-" or argument is None:
            return False
        if argument.type == "identifier":
            return _ERRNO_NAME.match(_text(argument)) is not None
        return argument.type == "number_literal" and _integer(_text(argument)) not in (None, 0)
    if value.type == "identifier" and _returns_errno(definition):
        name = _text(value)
        return name in _ERRNO_VARIABLES or _errno_guarded(value, name)
    return False


def _walk_function(body: Node, definition: Node) -> Iterator[tuple[Node, _Edit]]:
    stack = [body]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing or node.type in _DIRECTIVES:
            continue
        if node.type == "call_expression" and _called_name(node).startswith(_UNOBSERVED_CALLS):
            continue
        if node.type in ("preproc_if", "preproc_elif"):
            condition = node.child_by_field_name("condition")
            children = [c for c in node.children if c != condition]
        else:
            children = list(node.children)
        for edit in _edits(node, definition):
            yield node, edit
        stack.extend(reversed(children))


def generate(
    file: str, source: bytes, operators: Iterable[Operator] = ALL_OPERATORS
) -> list[Mutant]:
    """Every mutant of *source* (the text of *file*, a path relative to the source root).

    Ordered by position in the file; no two share a span and replacement, and
    none leaves the source as it was.

    :raises UsageError: when tree-sitter is not installed.
    """
    wanted = frozenset(operators)
    tree = _parser().parse(_ANNOTATIONS.sub(lambda m: b" " * len(m[0]), source))
    skipped = directive_lines(source)
    line_starts = [0] + [i + 1 for i, b in enumerate(source) if b == 0x0A]
    proposed: list[tuple[str, _Edit]] = []
    seen: set[tuple[int, int, str]] = set()
    for definition in _function_definitions(tree.root_node):
        body = definition.child_by_field_name("body")
        if body is None:
            continue
        name = _function_name(definition)
        for _node, edit in _walk_function(body, definition):
            key = (edit.start, edit.end, edit.replacement)
            if edit.operator not in wanted or key in seen:
                continue
            original = source[edit.start : edit.end]
            if original == edit.replacement.encode():
                continue
            first = _line_of(line_starts, edit.start)
            last = _line_of(line_starts, max(edit.start, edit.end - 1))
            if any(n in skipped for n in range(first, last + 1)):
                continue
            seen.add(key)
            proposed.append((name, edit))
    proposed.sort(key=lambda pair: (pair[1].start, pair[1].end, pair[1].replacement))
    return _number(file, source, line_starts, proposed)


def _function_definitions(root: Node) -> Iterator[Node]:
    """Function definitions, also those inside ``#if`` blocks and ``extern "C"``-like wrappers."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            yield node
            continue
        if node.type in _DIRECTIVES or node.type == "ERROR":
            continue
        stack.extend(reversed(node.children))


def _line_of(line_starts: Sequence[int], offset: int) -> int:
    import bisect

    return bisect.bisect_right(line_starts, offset)


def _number(
    file: str, source: bytes, line_starts: Sequence[int], proposed: Sequence[tuple[str, _Edit]]
) -> list[Mutant]:
    ranks: dict[tuple[str, str, str, str], int] = {}
    mutants = []
    for function, edit in proposed:
        original = source[edit.start : edit.end].decode(errors="replace")
        group = (function, str(edit.operator), original, edit.replacement)
        rank = ranks.get(group, 0)
        ranks[group] = rank + 1
        digest = hashlib.sha256("\0".join((file, *group, str(rank))).encode()).hexdigest()
        line = _line_of(line_starts, edit.start)
        end_line = _line_of(line_starts, max(edit.start, edit.end - 1))
        mutants.append(
            Mutant(
                id=digest[:12],
                file=file,
                function=function,
                operator=edit.operator,
                line=line,
                column=edit.start - line_starts[line - 1] + 1,
                end_line=end_line,
                end_column=edit.end - line_starts[end_line - 1] + 1,
                start=edit.start,
                end=edit.end,
                original=original,
                replacement=edit.replacement,
            )
        )
    return mutants
