"""The embedded database: one sqlite3 connection per :class:`SqliteStorage`, the default of the backend.

``SqliteStorage(":memory:")`` for tests, ``SqliteStorage("dso.sqlite")`` (or ``sqlite:///dso.sqlite``) for
a file: WAL journal, and a transaction is durable (it survives a crash or a power cut) before
:meth:`~SqliteStorage.transaction` returns: the WAL is written at commit (``synchronous=NORMAL``) and
synced by a group commit (:class:`GroupCommit`): the threads that commit at once share one ``fdatasync``
of the WAL instead of one each (``synchronous=FULL``), so nothing acknowledged can be lost. A sync
covers every commit written before it, so a request that reads and then commits (every access the
registry of operations logs before the data leaves) returns after what it read is durable too; a bare
query may see another thread's (or process's) commit up to one sync before it is durable, never before
that commit is acknowledged. Where the journal cannot be WAL, ``synchronous=FULL`` syncs every commit.
Every transaction starts with ``BEGIN IMMEDIATE``: it holds the one write lock of the database from
its first statement, so transactions are serializable, also between processes sharing the file (a
second process waits up to ``timeout`` seconds for the lock). The threads of a process share the
connection, one at a time.

Waiting for another process: sqlite's busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between its tries
of a locked database, so the writer that loses a race waits far longer than the winner holds the lock
(the REST workers' p99, docs/performance.md). On a WAL file the connection has no busy handler; a
statement that finds the database locked (``BEGIN IMMEDIATE`` while another process writes, a read while
another recovers the WAL) is tried again after 0.2 ms, the pause doubling up to 2 ms, until ``timeout``
(:meth:`SqliteStorage._when_free`). Other programs on the same file (the ``sqlite3`` shell, an older
version) are excluded by sqlite's lock as before. A rollback-journal file keeps sqlite's busy handler:
its ``COMMIT`` waits for readers too.
"""

from __future__ import annotations

import os
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

__all__ = ["GroupCommit", "SqliteStorage", "sqlite_path"]

#: The pause after a try that found the database locked, doubled after each try up to the longest.
FIRST_PAUSE, LONGEST_PAUSE = 0.0002, 0.002


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
        if name not in self.scratch:
            self.scratch.append(name)


def _durable(group: GroupCommit, written: int, operation: str) -> None:
    try:
        group.wait(written)
    except OSError as exc:
        raise StorageError(f"{operation}: the commit could not be made durable: {exc}") from exc


class GroupCommit:
    """Durability shared by the commits of the threads of a process: each commit written to the WAL gets
    a number (:meth:`written`, called right after ``COMMIT``, under the connection's lock), and
    :meth:`wait` returns once a sync of the WAL has covered it. A thread whose commit is not covered
    yet syncs the WAL itself (covering every commit written before the sync starts) or, when a sync is
    under way, waits for it and then for the next one: one sync for however many commits came meanwhile.
    ``syncs`` counts the syncs. Raises OSError when the WAL cannot be synced (the commit is then not
    acknowledged, although it may survive)."""

    def __init__(self, wal: str) -> None:
        self.wal = wal
        self.syncs = 0
        self._fd: int | None = None
        self._written = 0
        self._durable = 0
        self._syncing = False
        self._changed = threading.Condition()

    @property
    def pending(self) -> int:
        """The number of the last commit written."""
        return self._written

    @property
    def durable(self) -> int:
        """The number of the last commit known durable (every one before it is too)."""
        return self._durable

    def written(self) -> int:
        """Count a commit written to the WAL; its number, for :meth:`wait`."""
        with self._changed:
            self._written += 1
            return self._written

    def wait(self, commit: int) -> None:
        """Return once commit number ``commit`` (and every one before it) is durable."""
        with self._changed:
            while self._durable < commit:
                if self._syncing:
                    self._changed.wait()
                    continue
                self._syncing, covered, synced = True, self._written, False
                self._changed.release()
                try:
                    self._sync()
                    synced = True
                finally:
                    self._changed.acquire()
                    self._syncing = False
                    if synced:
                        self._durable = max(self._durable, covered)
                        self.syncs += 1
                    self._changed.notify_all()

    def _sync(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.wal, os.O_RDONLY)
        os.fdatasync(self._fd)

    def close(self) -> None:
        """Close the WAL's file descriptor."""
        with self._changed:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class SqliteStorage(Storage):
    """The backend's sqlite3 database (a file path, a ``sqlite://`` URL or ``":memory:"``); a file's
    commits are synced by a :class:`GroupCommit` unless ``group_commit`` is false (then each commit is
    synced by sqlite, ``synchronous=FULL``). A WAL file's statements that find it locked are tried again
    after short pauses (:meth:`_when_free`) unless ``busy_handler`` is true (then sqlite's busy handler
    waits, as a rollback-journal file always does); either way at most ``timeout`` seconds."""

    schemes = ("sqlite",)

    dialect = SQLITE

    def __init__(self, url: str | Path = ":memory:", *, fault_hook: FaultHook | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS, timeout: float = 10.0,
                 group_commit: bool = True, busy_handler: bool = False) -> None:
        self.url = str(url)
        self.path = sqlite_path(self.url)
        self.timeout = timeout
        self._fault_hook = fault_hook
        self._lock = threading.RLock()
        self._open: list[_SqliteTransaction] = []
        self.group: GroupCommit | None = None
        self.waits_itself = False  # whether a locked statement is tried again by _when_free (no busy handler)
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:" and not self.path.startswith("file::memory:"):
                wal = str(self._when_free("PRAGMA journal_mode = WAL").fetchone()[0]).lower() == "wal"
                if wal and not busy_handler:
                    self._db.execute("PRAGMA busy_timeout = 0")
                    self.waits_itself = True
                if wal and group_commit:
                    self._db.execute("PRAGMA synchronous = NORMAL")
                    self.group = GroupCommit(self.path + "-wal")
                else:
                    self._db.execute("PRAGMA synchronous = FULL")
            self._migrate(tuple(migrations))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the backend database {self.path!r}: {exc}") from exc

    def _when_free(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """Run ``sql``, trying again while the database is locked (``SQLITE_BUSY``), after a pause of
        ``FIRST_PAUSE`` doubling up to ``LONGEST_PAUSE``, until ``timeout`` seconds have passed; then
        raises the last sqlite3.OperationalError ("database is locked"). A new file's switch to WAL is
        retried so too (sqlite answers "locked" at once while another process switches it)."""
        deadline, pause = time.monotonic() + self.timeout, FIRST_PAUSE
        while True:
            try:
                return self._db.execute(sql, params)
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, LONGEST_PAUSE)

    # -- transactions and queries -------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str, *, hook: bool = True) -> Iterator[Transaction]:
        written = None
        with self._lock:
            if self._open:
                yield from self._savepoint(operation)
                return
            tx = _SqliteTransaction(self._db, operation)
            self._open.append(tx)
            try:
                self._when_free("BEGIN IMMEDIATE")
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
                written = self.group.written() if self.group is not None else None
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise _error(operation, exc) from exc
            finally:
                self._open.clear()
        if self.group is not None and written is not None:  # the lock is free: others' commits join this sync
            _durable(self.group, written, operation)

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
                return self._when_free(SQLITE.translate(sql), params).fetchall()
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
            if self.group is not None:
                self.group.close()
