"""The embedded database: one sqlite3 connection per :class:`SqliteStorage`, the default of the backend.

``SqliteStorage(":memory:")`` for tests, ``SqliteStorage("dso.sqlite")`` (or ``sqlite:///dso.sqlite``) for
a file: WAL journal and ``synchronous=FULL``, so that a committed transaction survives a crash or a power
cut. Every transaction starts with ``BEGIN IMMEDIATE``: it holds the one write lock of the database from
its first statement, so transactions are serializable, also between processes sharing the file (a
second process waits up to ``timeout`` seconds for the lock). The threads of a process share the
connection, one at a time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dso_saref.backend.errors import ConstraintError, StorageError
from dso_saref.backend.storage.base import FaultHook, Params, Row, Storage, Transaction
from dso_saref.backend.storage.dialect import SQLITE
from dso_saref.backend.storage.schema import MIGRATIONS, Migration

__all__ = ["SqliteStorage", "sqlite_path"]


def sqlite_path(url: str) -> str:
    """The file (or ``:memory:``) a sqlite URL names: ``sqlite://`` is in memory, ``sqlite:///dso.sqlite``
    a relative path, ``sqlite:////var/dso.sqlite`` an absolute one; anything else is a path already."""
    if url.lower().startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        return rest[1:] if rest.startswith("/") else rest or ":memory:"
    return url


def _error(context: str, exc: sqlite3.Error) -> StorageError:
    kind = ConstraintError if isinstance(exc, sqlite3.IntegrityError) else StorageError
    return kind(f"{context}: {exc}")


class _SqliteTransaction(Transaction):
    def __init__(self, db: sqlite3.Connection, operation: str) -> None:
        self._db = db
        self._operation = operation
        self.scratch: list[str] = []

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(SQLITE.translate(sql), params)
        except sqlite3.Error as exc:
            raise _error(self._operation, exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._db.executemany(SQLITE.translate(sql), rows)
        except sqlite3.Error as exc:
            raise _error(self._operation, exc) from exc

    def lock(self, *key: str, shared: bool = False) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already excludes every other writer."""

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0

        def counted() -> Iterator[Sequence[Any]]:
            nonlocal count
            for row in rows:
                count += 1
                yield row

        marks = ", ".join("?" for _ in columns)
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", counted())
        return count

    def scratch_table(self, name: str, columns: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS temp.{name}")
        self.execute(f"CREATE TEMP TABLE {name} ({SQLITE.render(columns)})")
        self.scratch.append(name)


class SqliteStorage(Storage):
    """The backend's sqlite3 database (a file path, a ``sqlite://`` URL or ``":memory:"``)."""

    schemes = ("sqlite",)

    dialect = SQLITE

    def __init__(self, url: str | Path = ":memory:", *, fault_hook: FaultHook | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS, timeout: float = 10.0) -> None:
        self.url = str(url)
        self.path = sqlite_path(self.url)
        self._fault_hook = fault_hook
        self._lock = threading.RLock()
        self._open: list[_SqliteTransaction] = []
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:" and not self.path.startswith("file::memory:"):
                self._journal(timeout)
                self._db.execute("PRAGMA synchronous = FULL")
            self._migrate(tuple(migrations))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the backend database {self.path!r}: {exc}") from exc

    def _journal(self, timeout: float) -> None:
        """Switch to WAL. On a new file another process may be switching at the same moment, and sqlite
        answers "locked" without waiting: retry until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    # -- transactions and queries -------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str, *, hook: bool = True) -> Iterator[Transaction]:
        with self._lock:
            if self._open:
                yield from self._savepoint(operation)
                return
            tx = _SqliteTransaction(self._db, operation)
            self._open.append(tx)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield tx
                    for name in tx.scratch:
                        self._db.execute(f"DROP TABLE IF EXISTS temp.{name}")
                    if hook and self._fault_hook is not None:
                        self._fault_hook(operation)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise _error(operation, exc) from exc
            finally:
                self._open.clear()

    def _savepoint(self, operation: str) -> Iterator[Transaction]:
        savepoint = f"nested_{len(self._open)}"
        tx = _SqliteTransaction(self._db, operation)
        tx.scratch = self._open[0].scratch
        self._db.execute(f"SAVEPOINT {savepoint}")
        self._open.append(tx)
        try:
            yield tx
        except BaseException:
            self._db.execute(f"ROLLBACK TO {savepoint}")
            self._db.execute(f"RELEASE {savepoint}")
            raise
        else:
            self._db.execute(f"RELEASE {savepoint}")
        finally:
            self._open.pop()

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock:
            try:
                return self._db.execute(SQLITE.translate(sql), params).fetchall()
            except sqlite3.Error as exc:
                raise _error("query failed", exc) from exc

    def tables(self) -> list[str]:
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return sorted(r["name"] for r in rows)

    # -- life cycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (a WAL file is checkpointed by sqlite on the last close)."""
        with self._lock:
            self._db.close()
