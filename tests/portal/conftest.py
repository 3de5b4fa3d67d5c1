"""Fixtures of the portal tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.portal.support import Served, serving


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A seeded DSO (sqlite in memory) served with its portal, shared by a module's tests."""
    with serving() as dso:
        yield dso
