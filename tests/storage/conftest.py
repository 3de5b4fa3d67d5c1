"""Fixtures of the storage tests: a fresh database of each kind (sqlite file, PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.database import KINDS, Database, test_database


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A new database that several storages (and processes) can open: a sqlite file or a PostgreSQL schema."""
    with test_database(request.param, tmp_path, file=True) as db:
        yield db
