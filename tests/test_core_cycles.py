"""No import cycles inside tui_lora/core: every module there can be read, tested and moved on its own.

The graph is built from the source with ``ast`` (not by importing), so it sees the imports inside
functions as well, the ones kept there to stay light, which still tie two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "tui_lora" / "core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def core_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _absolute(name: str, node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names, resolving leading dots against ``here``."""
    if not node.level:
        return name
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The core modules ``name`` imports anywhere in its source, each resolved to a module in ``known``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                # `import a.b.c` runs a, a.b and a.b.c; the deepest core module is the one it uses.
                parts = alias.name.split(".")
                for i in range(len(parts), 0, -1):
                    if ".".join(parts[:i]) in known:
                        found.add(".".join(parts[:i]))
                        break
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node.module or "", node, name, is_package)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    found.add(sub)  # `from pkg import submodule`
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, …, a], or None; depth-first search with white/grey/black colouring."""
    colour = dict.fromkeys(graph, 0)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour[nxt] == 0 and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0 and (cycle := visit(node)):
            return cycle
    return None


def test_core_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in tui_lora/core: " + " -> ".join(cycle or [])


def test_the_graph_sees_function_level_and_submodule_imports():
    # The checker itself can fail: a cycle hidden in a function and spelt `from pkg import module` is found.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    real = import_graph()
    assert "tui_lora.core.settings" in real["tui_lora.core.project"]
    assert "tui_lora.core.gpu" in real["tui_lora.core.train.launch"]  # imported inside a function only
    assert "tui_lora.core.train.data" in real["tui_lora.core.train.setup"]  # `from tui_lora.core.train import data`
