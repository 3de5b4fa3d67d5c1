"""The modules of the demo, the serve loop and the operator commands: sorted, resolvable ``__all__``,
a docstring on every public module, class and function, and the dependency direction (the backend
imports none of them, nor the KE side, nor rdflib)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import dso_saref

MODULES = ["dso_saref.app.demo", "dso_saref.app.scenarios", "dso_saref.app.serve", "dso_saref.cli.operator"]


def isort_style(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_resolves_and_is_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    assert module.__all__ == sorted(module.__all__, key=isort_style)
    for exported in module.__all__:
        value = getattr(module, exported)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{exported} has no docstring"


def test_the_backend_speaks_typed_messages_only() -> None:
    """cli -> ke.adapter -> backend: the backend imports neither rdflib nor the KE side nor the demo."""
    for source in (Path(dso_saref.__file__).parent / "backend").glob("*.py"):
        imports = [line for line in source.read_text(encoding="utf-8").splitlines()
                   if line.startswith(("import ", "from "))]
        assert not [line for line in imports if "rdflib" in line or "dso_saref.ke" in line], source.name


def test_importing_the_backend_loads_no_ke_nor_demo_module() -> None:
    code = ("import sys, dso_saref.backend, dso_saref.app.counterparts, dso_saref.app.seed; "
            "print(sorted(m for m in sys.modules if m.startswith(('dso_saref.ke', 'dso_saref.app.demo', "
            "'dso_saref.app.scenarios', 'dso_saref.app.serve'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
