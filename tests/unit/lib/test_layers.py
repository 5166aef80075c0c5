"""The case library is a graph without circles, drawn in its docstring and held to it.

Lazy (function-level) imports count like any other: they hid a five-module
circle once. Each module is also imported alone, in a fresh interpreter
that does not run the package's ``__init__``, so a module that only works
when something else happened to be imported first cannot pass.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import iotests.lib

LIB = Path(iotests.lib.__file__).parent
PACKAGE = "iotests.lib"
#: What the library may use of the rest of the toolkit (the docstring says why).
OUTSIDE = ("iotests.command", "iotests.contract", "iotests.env", "iotests.runner.compare")
#: A row of the drawing: its layer number, its modules, two spaces, what they are for.
ROW = re.compile(r"^\s+(\d+)\s+([a-z0-9_]+(?: [a-z0-9_]+)*)\s{2,}\S")


def drawn_layers(lib: Path) -> dict[str, int]:
    """Module name -> layer, as the package docstring draws them."""
    doc = ast.get_docstring(ast.parse((lib / "__init__.py").read_text())) or ""
    layers: dict[str, int] = {}
    for line in doc.splitlines():
        if match := ROW.match(line):
            for name in match[2].split():
                assert name not in layers, f"{name} is drawn twice"
                layers[name] = int(match[1])
    return layers


def modules(lib: Path) -> list[str]:
    return sorted(p.stem for p in lib.glob("*.py") if p.stem != "__init__")


def imports(path: Path, lib_modules: list[str]) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every iotests import in *path*, at any depth of the code."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: relative import"
            base = node.module or ""
            if base == PACKAGE:
                # ``from iotests.lib import x``: a submodule, or a name of the package itself.
                for alias in node.names:
                    is_module = alias.name in lib_modules
                    yield node.lineno, f"{PACKAGE}.{alias.name}" if is_module else PACKAGE
            elif base == "iotests":
                for alias in node.names:
                    yield node.lineno, f"iotests.{alias.name}"
            else:
                yield node.lineno, base


def edges(lib: Path) -> dict[str, set[str]]:
    """Module -> the library modules it imports (the package itself as ``__init__``)."""
    names = modules(lib)
    graph: dict[str, set[str]] = {}
    for name in names:
        targets = set()
        for _, target in imports(lib / f"{name}.py", names):
            if target == PACKAGE:
                targets.add("__init__")
            elif target.startswith(PACKAGE + "."):
                targets.add(target.removeprefix(PACKAGE + ".").split(".")[0])
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports in *graph*, as the modules along it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def layer_violations(lib: Path) -> list[str]:
    """Every import that does not point strictly down the drawing, or leaves for elsewhere."""
    layers = drawn_layers(lib)
    names = modules(lib)
    found = [f"{name} is not drawn" for name in names if name not in layers]
    found += [f"{name} is drawn but does not exist" for name in layers if name not in names]
    for name in names:
        for line, target in imports(lib / f"{name}.py", names):
            where = f"{name}.py:{line} imports {target}"
            if target == PACKAGE:
                found.append(f"{where} (the package: everything, above every module)")
            elif target.startswith(PACKAGE + "."):
                other = target.removeprefix(PACKAGE + ".").split(".")[0]
                if name in layers and layers.get(other, 99) >= layers[name]:
                    found.append(f"{where} (layer {layers.get(other)} >= {layers[name]})")
            elif target.startswith("iotests") and not target.startswith(OUTSIDE):
                found.append(f"{where} (outside what the library may use)")
    return found


def test_the_import_graph_has_no_circle() -> None:
    assert find_cycle(edges(LIB)) is None


def test_every_import_points_down_the_drawn_layers() -> None:
    assert layer_violations(LIB) == []


def test_the_drawing_has_the_layers_the_design_names() -> None:
    layers = drawn_layers(LIB)
    # Pure helpers at the bottom, then tools, one process base, the servers,
    # the protocol layer, and the image, chain and job helpers on top.
    assert layers["names"] == 0
    assert layers["names"] < layers["tools"] < layers["process"]
    assert layers["process"] < layers["nbdserver"] == layers["qmp"] < layers["protocol"]
    assert layers["protocol"] < min(layers["image"], layers["jobs"], layers["chain"])


def test_the_cycle_finder_finds_a_lazy_circle(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text('"""Nothing drawn."""\n')
    (tmp_path / "a.py").write_text("from iotests.lib import b\n")
    (tmp_path / "b.py").write_text("def f() -> None:\n    from iotests.lib.a import x\n")
    assert find_cycle(edges(tmp_path)) == ["a", "b", "a"]
    assert layer_violations(tmp_path) == ["a is not drawn", "b is not drawn"]


ALONE = """
import importlib, sys, types
# The package without its __init__: only what the module imports gets loaded.
package = types.ModuleType("iotests.lib")
package.__path__ = [sys.argv[1]]
sys.modules["iotests.lib"] = package
importlib.import_module("iotests.lib." + sys.argv[2])
"""


def test_each_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = modules(LIB)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", ALONE, str(LIB), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in names
    }
    failed = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failed[name] = out.decode(errors="replace").strip().splitlines()[-1:]
    assert failed == {}
