"""The package's import graph, read from its source: no cycles, no import from a layer above.

The layers are the ones ``owslib/__init__.py`` states. Imports under ``if TYPE_CHECKING:`` are
annotations, not imports at run time, and are left out. ``from package import submodule`` is an
edge to the submodule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import owslib

PACKAGE = Path(owslib.__file__).parent

#: Layer of each top-level part of owslib (lower imports nothing higher).
LAYERS = {  # one row per layer: the table reads as the layering
    "owslib": 0, "config": 0, "labels": 0, "io": 0, "paths": 0, "distributed": 0, "comparison": 0,
    "syncs": 0, "stats": 0, "profiles": 0, "sources": 0,
    "data": 1, "models": 1, "losses": 1, "metrics": 1, "inference": 1, "plots": 1,
    "engine": 2,
    "evaluation": 3, "report": 3,
    "runs": 4,
    "study": 5,
    "cli": 6, "notebook": 6, "__main__": 6,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _runtime_imports(tree: ast.Module):
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip
    ]


def import_graph() -> dict[str, set[str]]:
    """``module -> the owslib modules it imports`` (at any depth: top level or in a function)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}

    def owner(name: str) -> str | None:
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in mods else None

    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                if node.level:
                    base = base[: len(base) - node.level + 1]
                    full = ".".join([*base, node.module] if node.module else base)
                else:
                    full = node.module or ""
                subs = [f"{full}.{a.name}" for a in node.names]
                targets = subs if all(s in mods for s in subs) else [full]
            for t in targets:
                o = owner(t) if t.split(".")[0] == "owslib" else None
                if o and o != mod:
                    graph[mod].add(o)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else parts[0]]


def test_every_part_of_the_package_has_a_layer_and_the_docstring_states_them():
    tops = {m.split(".")[1] for m in _modules() if "." in m}
    assert tops <= set(LAYERS), f"parts without a layer: {sorted(tops - set(LAYERS))}"
    doc = owslib.__doc__ or ""
    for part in LAYERS:
        if part not in ("owslib", "__main__"):
            assert part in doc, f"owslib/__init__.py's docstring does not place {part}"


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(
        f"{m} ({layer(m)}) -> {t} ({layer(t)})"
        for m, targets in import_graph().items()
        for t in targets
        if layer(t) > layer(m)
    )
    assert upward == []


def test_the_graph_sees_function_local_imports(tmp_path, monkeypatch):
    """The walker reads imports inside functions too (a cycle hidden in a function is one)."""
    tree = ast.parse(
        "def f():\n    from owslib.study import run\nif TYPE_CHECKING:\n    import owslib.cli\n"
    )
    found = [ast.unparse(n) for n in _runtime_imports(tree)]
    assert found == ["from owslib.study import run"]


def test_at_most_ten_flat_modules_beside_the_packages():
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(flat) <= 10, flat


#: The parts whose size this checks (the notebook's face and what it draws and reports with).
SIZED = ("notebook", "plots", "report", "comparison.py", "stats.py")


def test_no_class_of_thirty_methods_nor_function_over_eighty_lines():
    too_big = []
    for part in SIZED:
        paths = [PACKAGE / part] if part.endswith(".py") else sorted((PACKAGE / part).rglob("*.py"))
        for path in paths:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef):
                    methods = [b for b in node.body if isinstance(b, ast.FunctionDef)]
                    if len(methods) >= 30:
                        too_big.append(f"{path.name}: class {node.name} ({len(methods)} methods)")
                elif isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno >= 80:
                    too_big.append(
                        f"{path.name}: {node.name} ({node.end_lineno - node.lineno + 1})"
                    )
    assert too_big == []
