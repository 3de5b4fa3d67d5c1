"""Shared fixtures: the catalog, its names, the location of ../shared reference data, and a
configuration-free environment (no ``DSO_SAREF_*`` setting nor user configuration file leaks in)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import dso_saref
from dso_saref.config import CONFIG_ENV, KEYS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

NAMES = sorted(dso_saref.catalog)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear reason when the clone has none."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (only CI and developers have ../shared)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _no_user_configuration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test (and every process it starts) sees the defaults: the developer's ``DSO_SAREF_*``
    variables and ``~/.config/dso-saref/config.toml`` are hidden (``DSO_SAREF_TEST_PG`` is kept)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (CONFIG_ENV, *(key.env for key in KEYS)):
            if name in os.environ:
                patch.delenv(name)
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        yield
