"""Issue 9: the library apart from the application, dependencies one way, no cycles (DESIGN.md).

The import graph is read from the source (every ``import`` statement, function-level ones too) and
checked against DESIGN's directions: the backend speaks typed messages only (no rdflib, no Knowledge
Engine, no validation), only the KE client imports requests, only the pySHACL engine imports pyshacl,
click lives in ``dso_saref.cli`` alone, and the library never imports the application
(``dso_saref.app``, ``dso_saref.cli``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "dso_saref"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module an import statement of ``path`` names (``from a import b`` counts ``a`` and, when
    ``a.b`` is a module of ours, ``a.b``); imports for type checkers only (``if TYPE_CHECKING:``) are
    not dependencies."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    here = module_name(path).split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = here if path.name == "__init__.py" else here[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {m for m in imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}
EXTERNAL = {name: {m.split(".")[0] for m in imports(path) if not m.startswith("dso_saref")}
            for name, path in MODULES.items()}


def reaching(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in GRAPH[todo.pop()]:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_there_is_no_import_cycle() -> None:
    cycles = sorted(name for name in GRAPH if name in reaching(name) and name != "dso_saref")
    assert not cycles, f"modules that import themselves through others: {cycles}"


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(("package", "forbidden"), [
    ("dso_saref.backend", ("rdflib", "pyshacl", "requests", "click")),
    ("dso_saref.exchange", ("rdflib", "requests", "click", "pyshacl", "fastapi", "http")),
    ("dso_saref.messages", ("rdflib", "requests", "click", "pyshacl")),
])
def test_layers_that_speak_typed_messages_only_import_no_rdf_or_http(package: str, forbidden: tuple[str, ...]) -> None:
    for name, external in EXTERNAL.items():
        if in_package(name, package):
            assert not external & set(forbidden), (name, external & set(forbidden))


@pytest.mark.parametrize(("library", "owner"), [
    ("requests", ("dso_saref.ke.client",)),
    ("pyshacl", ("dso_saref.validation.engines.pyshacl",)),
    ("click", ("dso_saref.cli",)),
])
def test_one_owner_per_external_library(library: str, owner: tuple[str, ...]) -> None:
    users = sorted(name for name, external in EXTERNAL.items() if library in external)
    assert all(any(in_package(name, o) for o in owner) for name in users), users


def test_the_library_never_imports_the_application() -> None:
    for name, targets in GRAPH.items():
        if in_package(name, "dso_saref.cli") or in_package(name, "dso_saref.app"):
            continue
        application = {t for t in targets if in_package(t, "dso_saref.app") or in_package(t, "dso_saref.cli")}
        assert not application, (name, application)


def test_dependencies_point_one_way() -> None:
    """DESIGN: cli -> app -> (ke, backend) -> exchange; ke -> catalog; the backend never reaches the KE,
    validation, the catalog or rdflib; validation never reaches the KE or the backend; nothing below the
    facade imports it."""
    for name in GRAPH:
        reached = reaching(name)
        if in_package(name, "dso_saref.backend"):
            assert not {m for m in reached if in_package(m, "dso_saref.ke") or in_package(m, "dso_saref.validation")
                        or m == "dso_saref.catalog"}, name
        if in_package(name, "dso_saref.validation") or in_package(name, "dso_saref.catalog"):
            assert not {m for m in reached if in_package(m, "dso_saref.ke") or in_package(m, "dso_saref.backend")}, name
        if name != "dso_saref" and not in_package(name, "dso_saref.cli") and not in_package(name, "dso_saref.app"):
            assert "dso_saref" not in GRAPH[name], f"{name} imports the package facade"


def test_serve_does_not_depend_on_the_demo() -> None:
    reached = reaching("dso_saref.app.serve")
    assert not {"dso_saref.app.scenarios", "dso_saref.app.demo"} & reached
