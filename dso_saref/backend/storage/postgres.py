"""The production database: PostgreSQL 15+ through psycopg 3, a pool of connections per process.

``PostgresStorage("postgresql://dso@127.0.0.1:5432/dso")`` (any libpq URL; ``options=-csearch_path=x``
selects a schema). Each transaction takes a connection of the pool for its duration, so the threads of a
process, and any number of processes, write concurrently; a query made inside a transaction of the same
thread runs in it. Transactions run at READ COMMITTED with the explicit locks the backend takes (row
locks and :meth:`Transaction.lock`, an advisory lock). Every connection uses UTC and
``synchronous_commit = on`` (a commit returns once it is on disk), waits at most ``timeout`` seconds
for a lock, has a ``work_mem`` of 64 MB (a zone-day is aggregated in memory) and a ``random_page_cost``
of 1.1 (data in memory or on SSD).

The tables of readings are partitioned by UTC day on their ``timestamp``; :meth:`PostgresStorage.
prepare_days` creates missing partitions (``CREATE TABLE ... (LIKE ...)`` then ``ATTACH PARTITION``,
which unlike ``CREATE TABLE ... PARTITION OF`` does not block the readers of the table) in short
transactions of their own, those of the quarter-hour rollup (``meter_quarters``, migration 7) with those of
the client readings it sums. :meth:`Transaction.copy` is ``COPY ... FROM STDIN``. The server's INFO
messages (the progress of a long migration) are logged at INFO by the ``dso_saref.backend.storage`` logger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from dso_saref.backend.errors import ConstraintError, StorageError
from dso_saref.backend.storage.base import FaultHook, Params, Row, Storage, Transaction
from dso_saref.backend.storage.dialect import POSTGRESQL
from dso_saref.backend.storage.schema import MIGRATIONS, ROLLUP, ROLLUP_SOURCES, Migration

try:
    import psycopg
    from psycopg import sql
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError:  # pragma: no cover - the sqlite backend needs none of this
    psycopg = None

__all__ = ["PostgresRow", "PostgresStorage"]

log = logging.getLogger("dso_saref.backend.storage")

_LOCK = "SELECT pg_advisory_xact_lock{}(hashtextextended(current_schema() || ' ' || %s, 0))"


class PostgresRow(tuple):
    """A result row read by column name or position, like :class:`sqlite3.Row`."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[PostgresRow]:
    return type("Row", (PostgresRow,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """psycopg's row factory: every row of a result as a :class:`PostgresRow` of its columns."""
    if cursor.description is None:
        return tuple
    return _row_class(tuple(column.name for column in cursor.description))


def _error(context: str, exc: Exception) -> StorageError:
    kind = ConstraintError if isinstance(exc, psycopg.IntegrityError) else StorageError
    return kind(f"{context}: {str(exc).strip()}")


class _PostgresTransaction(Transaction):
    def __init__(self, connection: Any, operation: str) -> None:
        self.connection = connection
        self._operation = operation

    def execute(self, sql_text: str, params: Params = ()) -> Any:
        try:
            if params:
                return self.connection.execute(POSTGRESQL.translate(sql_text), params)
            return self.connection.execute(sql_text)
        except psycopg.Error as exc:
            raise _error(self._operation, exc) from exc

    def executemany(self, sql_text: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self.connection.cursor() as cursor:
                cursor.executemany(POSTGRESQL.translate(sql_text), rows)
        except psycopg.Error as exc:
            raise _error(self._operation, exc) from exc

    def lock(self, *key: str, shared: bool = False) -> None:
        self.execute(_LOCK.format("_shared" if shared else "").replace("%s", "?"), ("\x1f".join(key),))

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        # in binary: half the server's work of the text format (which parses every time and number) and less
        # of the client's; the types are the table's, the times as the backend passes them (to_db_time) parsed
        # once per distinct text
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
        count = 0
        try:
            types = dict(self.connection.execute(
                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0",
                (table,)).fetchall())
            oids = [types[c] for c in columns]
            times = [i for i, oid in enumerate(oids) if oid == _TIMESTAMPTZ]
            parsed: dict[str, datetime] = {}
            with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types(oids)
                for row in rows:
                    if times:
                        row = list(row)
                        for i in times:
                            if isinstance(row[i], str):
                                row[i] = parsed.get(row[i]) or parsed.setdefault(row[i], _time(row[i]))
                    copy.write_row(row)
                    count += 1
        except psycopg.Error as exc:
            raise _error(self._operation, exc) from exc
        except (KeyError, ValueError) as exc:
            raise StorageError(f"{self._operation}: cannot copy into {table}: {exc}") from exc
        return count

    def scratch_table(self, name: str, columns: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self.execute(f"CREATE TEMP TABLE {name} ({POSTGRESQL.render(columns)}) ON COMMIT DROP")


class PostgresStorage(Storage):
    """The backend's PostgreSQL database at ``url``; ``pool_size`` connections at most per instance."""

    schemes = ("postgresql", "postgres")

    dialect = POSTGRESQL

    def __init__(self, url: str | Path = "", *, fault_hook: FaultHook | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS, timeout: float = 10.0, pool_size: int = 10) -> None:
        if psycopg is None:
            raise StorageError("PostgreSQL needs the psycopg driver: pip install 'dso-saref[postgres]'")
        self.url = str(url)
        self._fault_hook = fault_hook
        self._timeout = timeout
        self._local = threading.local()
        self._partitions: set[tuple[str, date]] = set()
        try:  # a direct connection first, for a clear error when the server cannot be reached
            psycopg.connect(self.url, connect_timeout=max(1, int(timeout))).close()
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the backend database {_redacted(self.url)}: {str(exc).strip()}") from exc
        self._pool = ConnectionPool(self.url, min_size=1, max_size=pool_size, timeout=timeout, open=False,
                                    kwargs={"autocommit": True, "row_factory": _rows}, configure=self._configure,
                                    check=ConnectionPool.check_connection, name="dso-saref")
        try:
            self._pool.open(wait=True, timeout=timeout)
            self._migrate(tuple(migrations))
        except PoolTimeout as exc:
            self._pool.close()
            raise StorageError(f"cannot open the backend database {_redacted(self.url)}: {exc}") from exc
        except BaseException:
            self._pool.close()
            raise

    def _configure(self, connection: Any) -> None:
        connection.add_notice_handler(_log_notice)
        connection.execute("SET TIME ZONE 'UTC'")
        connection.execute(f"SET lock_timeout = {int(self._timeout * 1000)}")
        connection.execute("SET work_mem = '64MB'")  # aggregating a zone-day (100k readings) in memory
        # what the backend reads is in memory or on SSD: a zone-day is read client by client through the index
        # (at the default 4.0 the planner reads the whole day partition for a zone-day of quarter-hours)
        connection.execute("SET random_page_cost = 1.1")
        if connection.execute("SHOW synchronous_commit").fetchone()[0] in ("off", "local"):
            connection.execute("SET synchronous_commit = on")  # acknowledged means on disk

    # -- transactions and queries -------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str, *, hook: bool = True) -> Iterator[Transaction]:
        current: _PostgresTransaction | None = getattr(self._local, "current", None)
        if current is not None:
            try:
                with current.connection.transaction():  # a savepoint
                    yield _PostgresTransaction(current.connection, operation)
            except psycopg.Error as exc:
                raise _error(operation, exc) from exc
            return
        try:
            with self._pool.connection() as connection:
                tx = _PostgresTransaction(connection, operation)
                self._local.current = tx
                try:
                    with connection.transaction():
                        yield tx
                        if hook and self._fault_hook is not None:
                            self._fault_hook(operation)
                finally:
                    self._local.current = None
        except psycopg.Error as exc:
            raise _error(operation, exc) from exc
        except PoolTimeout as exc:
            raise StorageError(f"{operation}: no database connection free: {exc}") from exc

    def query(self, sql_text: str, params: Params = ()) -> list[Row]:
        current: _PostgresTransaction | None = getattr(self._local, "current", None)
        if current is not None:
            return current.execute(sql_text, params).fetchall()
        try:
            with self._pool.connection() as connection:
                return _PostgresTransaction(connection, "query failed").execute(sql_text, params).fetchall()
        except PoolTimeout as exc:
            raise StorageError(f"query failed: no database connection free: {exc}") from exc

    def tables(self) -> list[str]:
        rows = self.query("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                          "ORDER BY 1")
        return [r[0] for r in rows]

    def partitions(self, table: str) -> list[str]:
        """The partitions of ``table``, by name (one per day: ``lv_client_readings_20210927``)."""
        rows = self.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                          "WHERE i.inhparent = to_regclass(?) ORDER BY 1", (table,))
        return [r[0] for r in rows]

    def prepare_days(self, table: str, days: Iterable[date]) -> None:
        days = sorted(set(days))
        for name in (table, ROLLUP) if table in ROLLUP_SOURCES else (table,):
            self._prepare_days(name, days)

    def _prepare_days(self, table: str, days: list[date]) -> None:
        for day in days:
            if (table, day) in self._partitions:
                continue
            name = f"{table}_{day:%Y%m%d}"
            start: str | int = datetime.combine(day, time(0)).strftime("%Y-%m-%d 00:00:00+00")
            end: str | int = datetime.combine(day + timedelta(days=1), time(0)).strftime("%Y-%m-%d 00:00:00+00")
            if table == ROLLUP:  # partitioned by its quarter-hours in epoch seconds
                start, end = (int(datetime.combine(d, time(0), tzinfo=UTC).timestamp())
                              for d in (day, day + timedelta(days=1)))
            try:
                with self._pool.connection() as connection, connection.transaction():
                    connection.execute(_LOCK.format(""), (f"partition {name}",))
                    if connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                        continue  # the rollup of a database not migrated to it yet
                    if connection.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
                        connection.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                                           .format(sql.Identifier(name), sql.Identifier(table)))
                        connection.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})")
                                           .format(sql.Identifier(table), sql.Identifier(name), sql.Literal(start),
                                                   sql.Literal(end)))
            except psycopg.Error as exc:
                raise _error(f"partition {name}", exc) from exc
            self._partitions.add((table, day))

    # -- life cycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()


_TIMESTAMPTZ = 1184  # the type oid of timestamptz


def _time(text: str) -> datetime:
    """A time as the backend passes it to the database (:func:`to_db_time`), as an aware datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment


def _log_notice(notice: Any) -> None:
    """Log a message of the server: INFO ones (the progress a long migration reports) at INFO, notices
    ("already exists, skipping") at DEBUG."""
    info = notice.severity_nonlocalized == "INFO"
    log.log(logging.INFO if info else logging.DEBUG, "%s", notice.message_primary)


def _redacted(url: str) -> str:
    """``url`` without its password, for error messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(unreadable URL)"
    info.pop("password", None)
    return repr(psycopg.conninfo.make_conninfo(**info))
