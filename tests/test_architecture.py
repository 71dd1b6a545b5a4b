"""The package layout is the architecture: layers, lowest first, and no import cycle.

Every ``import`` of ``assistant/**/*.py`` counts, including imports inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency. A module may import its own layer or a lower
one, never a higher one; and no two modules may import each other, directly or through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

from assistant.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "assistant"

# Lowest first. A module belongs to the first layer one of whose names is the module or a package above it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("assistant", "assistant.config", "assistant.text", "assistant.fileio", "assistant.wording"),
    ("assistant.index",),
    ("assistant.answer",),
    ("assistant.draft",),
    ("assistant.evaluation",),
    ("assistant.pipeline",),
    ("assistant.ui",),
    ("assistant.cli", "assistant.__main__"),
)
TOP_LEVEL_MODULES = {"__init__", "__main__", "config", "text", "fileio", "wording", "pipeline"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports (``from pkg import module`` counts as the module)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target in known:
                found.add(target)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def _layer(module: str) -> int:
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for index, names in enumerate(LAYERS):
        for prefix in names:
            if module == prefix or module.startswith(f"{prefix}."):
                if prefix == "assistant" and module != "assistant":
                    continue  # the package itself only, not everything below it
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), index)
    assert best is not None, f"{module} : couche inconnue, ajoutez-la à LAYERS"
    return best[1]


def test_every_module_has_a_layer() -> None:
    for module in _graph():
        _layer(module)


def test_no_module_imports_a_higher_layer() -> None:
    wrong = [
        f"{module} (couche {_layer(module)}) importe {target} (couche {_layer(target)})"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_few_modules_at_the_top() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL_MODULES, sorted(top - TOP_LEVEL_MODULES)


def test_the_graph_sees_lazy_imports() -> None:
    """The checker itself: an import inside a function is a dependency like any other."""
    graph = _graph()
    assert "assistant.index.shared" in graph["assistant.index.store"]  # imported inside build_index
    assert "assistant.cli.app" in graph["assistant.cli"]
