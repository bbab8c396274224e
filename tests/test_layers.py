"""Imports run one way (docs/ARCHITECTURE.md, "Layers"): each product module imports only its own
layer or lower ones, no modules import one another in a circle, and only storage/ touches the
tables. Every import counts, including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage", "standards")
LAYERS = (
    ("bot/core/", "standards/", "bot/config.py", "bot/logs.py"),
    ("storage/",),
    ("bot/delivery.py",),
    ("bot/reports/",),
    ("bot/flows/",),
    ("bot/handlers/", "bot/scheduler.py"),
    ("bot/app.py",),
    ("bot/cli/", "bot/__main__.py"),
)


def _layer(path: str) -> int | None:
    for number, prefixes in enumerate(LAYERS, start=1):
        if path.startswith(prefixes):
            return number
    return None


def _modules() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in PACKAGES:
        for file in (ROOT / package).rglob("*.py"):
            path = file.relative_to(ROOT).as_posix()
            if "/migrations/" in path:
                continue
            name = path[: -len(".py")].replace("/", ".").removesuffix(".__init__")
            found[name] = path
    return found


def _imports(modules: dict[str, str]) -> dict[str, set[str]]:
    """Each module file → the product module files it imports (packages' __init__ left out)."""

    def resolve(name: str) -> str | None:
        while name:
            if name in modules:
                return modules[name]
            name = name.rpartition(".")[0]
        return None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        targets: list[str] = []
        for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets.extend([base, *(f"{base}.{alias.name}" for alias in node.names)])
        hits = {resolve(target) for target in targets}
        graph[path] = {
            hit for hit in hits if hit and hit != path and not hit.endswith("__init__.py")
        }
    return graph


def test_every_import_runs_down_the_layers() -> None:
    graph = _imports(_modules())
    upward = [
        f"{path} -> {target}"
        for path, targets in sorted(graph.items())
        for target in sorted(targets)
        if (mine := _layer(path)) and (theirs := _layer(target)) and theirs > mine
    ]
    assert upward == []


def test_no_modules_import_one_another_in_a_circle() -> None:
    graph = _imports(_modules())
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(path: str, trail: list[str]) -> None:
        state[path] = 1
        for target in sorted(graph[path]):
            if state.get(target) == 1:
                circles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[path] = 2

    for path in sorted(graph):
        if path not in state:
            visit(path, [path])
    assert circles == []


def test_only_storage_touches_the_tables() -> None:
    """Adapters, flows and services read and write through the repositories (storage/API.md)."""
    modules = _modules()
    graph = _imports(modules)
    outside = [
        path
        for path, targets in sorted(graph.items())
        if not path.startswith("storage/") and "storage/tables.py" in targets
    ]
    assert outside == []
