"""Fixtures of the backend tests: a controllable clock, a seeded DSO on each kind of database (sqlite in
memory, PostgreSQL when ``DSO_SAREF_TEST_PG`` names a server), and exchange contexts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from dso_saref.app.seed import SP001, SP002, SeedSummary, example_needs, seed
from dso_saref.backend import BackendSettings, DsoBackend, ExchangeContext
from tests.storage.database import KINDS, Database, test_database

#: When the tests "are": the day after the seed's day of readings.
NOW = datetime(2021, 9, 28, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> BackendSettings:
    return BackendSettings()


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A new database of each kind (sqlite in memory; PostgreSQL skips without a server)."""
    with test_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def backend(clock: Clock, settings: BackendSettings, database: Database) -> DsoBackend:
    return DsoBackend(database.open(), settings=settings, clock=clock)


@pytest.fixture
def summary(backend: DsoBackend) -> SeedSummary:
    return seed(backend)


@pytest.fixture
def sp1(clock: Clock):
    """The context of an exchange started by SP001 now."""
    return lambda: ExchangeContext(SP001, clock())


@pytest.fixture
def sp2(clock: Clock):
    """The context of an exchange started by SP002 now."""
    return lambda: ExchangeContext(SP002, clock())


@pytest.fixture
def needs(backend: DsoBackend, summary: SeedSummary):
    """The seed's two example needs, published."""
    return backend.publish_needs(example_needs(summary)).message


@pytest.fixture
def evening(summary: SeedSummary) -> tuple[datetime, datetime]:
    """18:00-21:00 of the seed's day (need 1's window)."""
    return summary.start + timedelta(hours=18), summary.start + timedelta(hours=21)


@pytest.fixture(params=KINDS)
def shared_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """A new database that several storages, threads and processes open at once: a sqlite file (WAL) or a
    PostgreSQL schema."""
    with test_database(request.param, tmp_path, file=True) as db:
        yield db
