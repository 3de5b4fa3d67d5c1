"""Shared fixtures: the catalog, its names, and the location of ../shared reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

import dso_saref

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

NAMES = sorted(dso_saref.catalog)


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear reason when the clone has none."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (only CI and developers have ../shared)")
    return path
