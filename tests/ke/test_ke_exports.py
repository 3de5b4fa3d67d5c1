"""The public face of dso_saref.ke: sorted, complete ``__all__`` lists and a docstring on every
public module, class, function and method."""

from __future__ import annotations

import importlib
import inspect

import pytest

import dso_saref.ke as ke
from dso_saref.ke import errors, results, transport


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


MODULES = ["adapter", "client", "emulator", "emulator_asgi", "emulator_http", "emulator_match", "emulator_protocol",
           "emulator_rules", "emulator_state", "errors", "queue_retry", "results", "roles", "standin", "transport"]


@pytest.mark.parametrize("name", ["dso_saref.ke", *(f"dso_saref.ke.{m}" for m in MODULES)])
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=isort_style)
    for exported in module.__all__:
        assert hasattr(module, exported), exported


def test_package_exports_every_error_result_and_transport() -> None:
    expected = {
        name
        for module in (errors, results, transport)
        for name in module.__all__
        if inspect.isclass(getattr(module, name)) and getattr(module, name).__module__ == module.__name__
        and name not in ("RequestHandler",)
    }
    assert expected <= set(ke.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_docstrings(name: str) -> None:
    module = importlib.import_module(f"dso_saref.ke.{name}")
    assert module.__doc__
    for exported in module.__all__:
        value = getattr(module, exported)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{exported}"
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                routine = inspect.isfunction(member) or isinstance(member, classmethod | property)
                if routine and not attr.startswith("_"):
                    assert inspect.getdoc(member), f"{name}.{exported}.{attr}"
