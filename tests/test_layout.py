"""The shape of the code: every module readable in one sitting, layers that import downwards only,
and no two modules that import each other (directly or round a longer circle)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

from bot.settings import PROJECT_ROOT

PACKAGES = ("bot", "actions", "channels")
MAX_LINES = 400


def _modules() -> Dict[str, Path]:
    found: Dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Set[str]:
    """Our modules that ``name`` imports at module level (imports inside functions included: a
    circle through a late import is still a circle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    # "from bot.cases import store" names the module bot.cases.store; keep only our modules.
    return {target for target in targets if target in MODULES and target != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_readable_in_one_sitting(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by what it does"


def test_the_core_knows_no_adapter() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == "bot"
        for target in targets
        if target.split(".")[0] in ("actions", "channels")
    )
    assert not wrong


def test_actions_and_channels_do_not_import_each_other() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if {name.split(".")[0], target.split(".")[0]} == {"actions", "channels"}
    )
    assert not wrong


def _is_package_reexport(name: str, target: str) -> bool:
    # A package's __init__ re-exports its modules, and its modules import their siblings through
    # the package's submodules: that is the package, not a circle between two modules.
    return target.startswith(name + ".") or name.startswith(target + ".")


def test_no_import_circles() -> None:
    edges = {name: {t for t in targets if not _is_package_reexport(name, t)} for name, targets in GRAPH.items()}
    circles: List[List[str]] = []
    state: Dict[str, int] = {}  # 1 on the path, 2 done
    path: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)
    assert not circles, "\n".join(" -> ".join(circle) for circle in circles)
