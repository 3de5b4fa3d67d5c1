"""The databases the storage and backend tests run against: sqlite, and PostgreSQL when
``DSO_SAREF_TEST_PG`` names a server (``.ci/run`` starts one and sets it).

Each PostgreSQL test gets a schema of its own (``search_path`` in the URL), dropped afterwards, so
tests never see each other's rows and need no database of their own::

    with test_database("postgresql", tmp_path) as database:
        storage = database.open()          # closed when the block ends
        other = database.open()            # the same database, another connection pool
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from dso_saref.backend import Storage

#: The environment variable naming the PostgreSQL server of the tests.
PG_ENV = "DSO_SAREF_TEST_PG"
#: The kinds of database every parametrized test runs on.
KINDS = ("sqlite", "postgresql")
SKIP_REASON = (f"PostgreSQL tests need a server: set {PG_ENV}=postgresql://USER@HOST:PORT/DB "
               "(.ci/run installs and starts a throw-away one)")


def postgres_url() -> str | None:
    """The server of the tests, or ``None``."""
    return os.environ.get(PG_ENV) or None


def require_postgres() -> str:
    """The server of the tests; skips the test when there is none."""
    url = postgres_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    return url


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '30s'")
        connection.execute(statement)


@dataclass
class Database:
    """A database for one test: its ``kind`` and ``url``; :meth:`open` gives storages closed at the end."""

    kind: str
    url: str
    opened: list[Storage] = field(default_factory=list)

    def open(self, **options: Any) -> Storage:
        """A :class:`Storage` on this database (``fault_hook``, ``migrations``, ...)."""
        storage = Storage(self.url, **options)
        self.opened.append(storage)
        return storage

    def close(self) -> None:
        for storage in self.opened:
            with contextlib.suppress(Exception):  # already closed by the test
                storage.close()


@contextmanager
def test_database(kind: str, tmp_path: Path, *, file: bool = False) -> Iterator[Database]:
    """A fresh database of ``kind``: sqlite in memory (a file with ``file=True``, which several
    storages and processes can share), or a new schema of the PostgreSQL server (skips without one)."""
    if kind == "sqlite":
        database = Database(kind, str(tmp_path / f"dso-{uuid.uuid4().hex[:8]}.sqlite") if file else ":memory:")
        try:
            yield database
        finally:
            database.close()
        return
    server = require_postgres()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    _admin(server, f"CREATE SCHEMA {schema}")
    database = Database(kind, with_schema(server, schema))
    try:
        yield database
    finally:
        database.close()
        _admin(server, f"DROP SCHEMA {schema} CASCADE")
