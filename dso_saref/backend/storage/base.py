"""The interface of the backend's database, common to sqlite and PostgreSQL.

:class:`Storage` is opened from a URL and gives every implementation the same contract: ordered,
idempotent migrations under an exclusive lock; one transaction per state change, committed when its
block ends (*acknowledged means committed*); read-your-writes for queries made inside a transaction of
the same thread; errors of the driver converted to :class:`~dso_saref.backend.errors.StorageError`
(:class:`~dso_saref.backend.errors.ConstraintError` when a constraint refused a write)::

    storage = Storage("dso.sqlite")                         # or ":memory:", "sqlite:///dso.sqlite",
    storage = Storage("postgresql://dso@127.0.0.1/dso")     # PostgreSQL 15+
    with storage.transaction("flexibility-offers") as db:
        db.execute("SELECT 1 FROM flexibility_needs WHERE request_id = ? FOR UPDATE", ("1",))
        db.execute("INSERT INTO flexibility_offers ...", (...))
    rows = storage.query("SELECT * FROM flexibility_offers WHERE request_id = ?", ("1",))

**Concurrency.** sqlite runs one writer at a time (``BEGIN IMMEDIATE``): every transaction is
serializable. PostgreSQL runs transactions at READ COMMITTED, concurrently; the backend takes explicit
locks where a decision depends on what it read: row locks (``SELECT ... FOR UPDATE`` / ``FOR SHARE``,
dropped on sqlite) and :meth:`Transaction.lock` for keys that have no row yet. A lock is held until the
end of the transaction. Take locks in a fixed order (sorted keys) so that transactions cannot deadlock.

A ``fault_hook`` (a callable taking the operation name) runs inside every outermost transaction after its
statements and before ``COMMIT``: tests make it raise (the transaction rolls back, nothing is
acknowledged), wait (to hold the transaction's locks) or kill the process.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from dso_saref.backend.errors import StorageError
from dso_saref.backend.storage.dialect import Dialect
from dso_saref.backend.storage.schema import MIGRATIONS, Migration

__all__ = ["Cursor", "FaultHook", "Params", "Row", "Storage", "Transaction", "from_db_time", "to_db_time"]

FaultHook = Callable[[str], None]
"""Called with the operation name between the writes of a transaction and its ``COMMIT``."""

Params = Sequence[Any] | dict[str, Any]
"""The parameters of a statement (``?`` placeholders, in order)."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def to_db_time(value: datetime) -> str:
    """A timestamp as the backend passes it to the database: UTC, microseconds, fixed width, so that
    text order is time order (sqlite stores this text; PostgreSQL reads it into ``timestamptz``).

    Raises :class:`ValueError` for a naive datetime (every time in the backend is aware)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the backend stores aware times only")
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


def from_db_time(value: str | datetime) -> datetime:
    """The aware UTC datetime of a stored timestamp: the text of :func:`to_db_time` (sqlite) or the
    ``timestamptz`` value (PostgreSQL)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).astimezone(UTC)  # the text ends with Z: UTC already (5x strptime's speed)


class Row(Protocol):
    """A result row: by column name (``row["id"]``) or position (``row[0]``); ``dict(row)`` works."""

    def __getitem__(self, key: str | int) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """The result of :meth:`Transaction.execute`."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Transaction(ABC):
    """The statements of one open transaction (what ``with storage.transaction(...) as db`` gives).

    Statements use ``?`` placeholders and the SQL both databases understand (see
    :mod:`dso_saref.backend.storage.dialect`); a driver error raises :class:`StorageError` (the
    transaction is then rolled back when its block ends)."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        """Run one statement; its cursor gives the rows of a ``SELECT`` or a ``RETURNING`` clause."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row."""

    @abstractmethod
    def lock(self, *key: str, shared: bool = False) -> None:
        """Hold a lock named by ``key`` until the end of the transaction, waiting for it if another
        transaction holds it (``shared`` locks exclude only exclusive ones). For keys without a row to
        lock, such as "the consents of this end user"; a no-op on sqlite, where a transaction already
        excludes every other writer."""

    @abstractmethod
    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Bulk-load ``rows`` into ``table`` (``COPY`` on PostgreSQL); returns how many. ``table`` and
        ``columns`` are names written in the code, never taken from a payload."""

    @abstractmethod
    def scratch_table(self, name: str, columns: str) -> None:
        """Create the temporary table ``name`` (columns as in ``CREATE TABLE``, ``{time}``/``{real}``
        placeholders allowed), dropped when the transaction ends; replaces one left by an earlier one."""


class Storage(ABC):
    """The backend's database, chosen by URL; safe to share between the threads of a process.

    ``Storage(url)`` opens the implementation the URL names (like :class:`pathlib.Path`, the class is
    the factory): ``postgresql://...`` (or ``postgres://``) is PostgreSQL; ``:memory:``,
    ``sqlite://``, ``sqlite:///PATH`` or a plain path is sqlite. Every implementation takes
    ``fault_hook``, ``migrations`` and ``timeout`` (seconds to wait for a lock or a connection).
    Raises :class:`StorageError` when the database cannot be opened or was written by a newer schema.
    """

    dialect: ClassVar[Dialect]
    #: the URL schemes an implementation opens (each registers itself under them)
    schemes: ClassVar[tuple[str, ...]] = ()
    _implementations: ClassVar[dict[str, type[Storage]]] = {}
    url: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            Storage._implementations[scheme] = cls

    def __new__(cls, url: str | Path = ":memory:", **options: Any) -> Storage:
        if cls is Storage:
            cls = implementation(str(url))
        return super().__new__(cls)

    @abstractmethod
    def __init__(self, url: str | Path = ":memory:", *, fault_hook: FaultHook | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS, timeout: float = 10.0) -> None:
        """Open the database and bring its schema up to ``migrations``."""

    # -- transactions and queries -------------------------------------------------------------------

    @abstractmethod
    def transaction(self, operation: str, *, hook: bool = True) -> AbstractContextManager[Transaction]:
        """A write transaction named ``operation``: committed when the block ends, rolled back if it
        raises (the exception propagates; a driver error becomes :class:`StorageError`).

        A transaction opened inside another of the same thread is a savepoint of it (rolled back alone if
        its block raises); only the outermost one calls the fault hook and commits."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a read-only statement (inside this thread's open transaction, if any); raises
        :class:`StorageError`."""

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a read-only statement, or ``None``; raises :class:`StorageError`."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables of the schema (not partitions, not views), sorted."""

    def prepare_days(self, table: str, days: Iterable[date]) -> None:
        """Make ``table`` (a table of readings) ready to take rows of the UTC ``days``: PostgreSQL creates
        the missing day partitions, each in a short transaction of its own; nothing to do on sqlite.
        Call it before the transaction that writes the rows."""
        return

    # -- schema ----------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The highest migration applied to the database (0 for a new one)."""
        row = self.query_one("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row is not None and row["v"] is not None else 0

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the missing ``migrations``, each in its own transaction under the exclusive migration lock,
        reading the version inside the lock: several processes opening a new database at once apply each
        migration exactly once."""
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise StorageError(f"migrations must have strictly increasing versions, got {versions}")
        known = versions[-1] if versions else 0
        for migration in (None, *migrations):
            with self.transaction("migration", hook=False) as db:
                db.lock("schema migration")
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                           f"description TEXT NOT NULL, applied_at {self.dialect.placeholders['time']} NOT NULL)")
                row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
                current = int(row[0]) if row[0] is not None else 0
                if current > known:
                    raise StorageError(f"database {self.url!r} has schema version {current}, newer than this "
                                       f"library's {known}: upgrade dso-saref")
                if migration is None or migration.version <= current:
                    continue
                for statement in migration.statements:
                    text = self.dialect.render(statement)
                    if text is not None:
                        db.execute(text)
                db.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                           (migration.version, migration.description, to_db_time(datetime.now(UTC))))

    # -- life cycle -----------------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Close the database connection(s)."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def implementation(url: str) -> type[Storage]:
    """The :class:`Storage` class for ``url``; raises :class:`StorageError` for an unknown scheme."""
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else "sqlite"
    found = Storage._implementations.get(scheme)
    if found is None:
        raise StorageError(f"unsupported database URL scheme {scheme!r}: use a sqlite path or postgresql://...")
    return found
