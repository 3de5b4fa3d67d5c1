"""The reference DSO's database: one sqlite3 connection, ordered schema migrations, one transaction per
state change.

``Storage(":memory:")`` for tests, ``Storage("dso.sqlite")`` for a file (WAL journal, ``synchronous=FULL``
so that a committed transaction survives a crash or a power cut). Every state change of the backend runs
in :meth:`Storage.transaction`; the backend acknowledges a message only after that transaction has
committed, so *acknowledged means committed*::

    storage = Storage("dso.sqlite")
    with storage.transaction("flexibility-offers") as db:
        db.execute("INSERT INTO flexibility_offers ...", (...))
    rows = storage.query("SELECT * FROM flexibility_offers WHERE request_id = ?", ("1",))

A ``fault_hook`` (a callable taking the operation name) runs inside every outermost transaction after its
statements and before ``COMMIT``: tests make it raise (the transaction rolls back, nothing is
acknowledged) or kill the process (the database must reopen with nothing half-written).

The schema is the data model of spec 4.2 (clients, substations, readings, topology) plus the tables of
the running modules (consents and tokens, registry of operations, flexibility market, observability,
incentives, elasticity). It is versioned in ``schema_version`` and built by :data:`MIGRATIONS`, applied in
order, each in its own transaction; a database written by a newer version is refused.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dso_saref.backend.errors import StorageError

__all__ = ["MIGRATIONS", "FaultHook", "Migration", "Storage", "from_db_time", "to_db_time"]

FaultHook = Callable[[str], None]
"""Called with the operation name between the writes of a transaction and its ``COMMIT``."""


def to_db_time(value: datetime) -> str:
    """A timestamp as stored: UTC, microseconds, fixed width, so that text order is time order.

    Raises :class:`ValueError` for a naive datetime (every time in the backend is aware)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the backend stores aware times only")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str) -> datetime:
    """The aware UTC datetime of a stored timestamp (see :func:`to_db_time`)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version number, what it adds, and its SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


_DATA_LAYER = (
    # Spec 4.2: the grid assets, the clients and where they sit (Table 19), their readings (Tables 15-18).
    """CREATE TABLE primary_substations (id TEXT PRIMARY KEY)""",
    """CREATE TABLE secondary_substations (
        id TEXT PRIMARY KEY,
        postal_code TEXT)""",
    """CREATE TABLE zones (id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        voltage_level TEXT NOT NULL CHECK (voltage_level IN ('LV', 'MV')),
        meter_id TEXT NOT NULL UNIQUE,
        postal_code TEXT,
        zone_id TEXT REFERENCES zones(id))""",
    """CREATE TABLE grid_topology (
        client_id TEXT PRIMARY KEY REFERENCES clients(id),
        voltage_level TEXT NOT NULL CHECK (voltage_level IN ('LV', 'MV')),
        secondary_substation TEXT REFERENCES secondary_substations(id),
        ss_feeder TEXT,
        primary_substation TEXT NOT NULL REFERENCES primary_substations(id),
        ps_feeder TEXT NOT NULL,
        CHECK ((voltage_level = 'LV') = (secondary_substation IS NOT NULL AND ss_feeder IS NOT NULL)))""",
    """CREATE TABLE lv_client_readings (
        id TEXT NOT NULL REFERENCES clients(id),
        timestamp TEXT NOT NULL,
        active_power_injected REAL NOT NULL,
        active_power_withdrawn REAL NOT NULL,
        reactive_power_injected REAL NOT NULL,
        reactive_power_withdrawn REAL NOT NULL,
        voltage REAL NOT NULL,
        PRIMARY KEY (id, timestamp)) WITHOUT ROWID""",
    """CREATE TABLE mv_client_readings (
        id TEXT NOT NULL REFERENCES clients(id),
        timestamp TEXT NOT NULL,
        active_power_withdrawn REAL NOT NULL,
        reactive_power_injected REAL NOT NULL,
        reactive_power_withdrawn REAL NOT NULL,
        PRIMARY KEY (id, timestamp)) WITHOUT ROWID""",
    """CREATE TABLE secondary_substation_readings (
        id TEXT NOT NULL REFERENCES secondary_substations(id),
        timestamp TEXT NOT NULL,
        active_power_injected REAL NOT NULL,
        active_power_withdrawn REAL NOT NULL,
        reactive_power_injected REAL NOT NULL,
        reactive_power_withdrawn REAL NOT NULL,
        voltage REAL NOT NULL,
        PRIMARY KEY (id, timestamp)) WITHOUT ROWID""",
    """CREATE TABLE primary_substation_readings (
        id TEXT NOT NULL REFERENCES primary_substations(id),
        timestamp TEXT NOT NULL,
        active_power REAL NOT NULL,
        reactive_power REAL NOT NULL,
        current REAL NOT NULL,
        voltage REAL NOT NULL,
        tap_position INTEGER NOT NULL,
        PRIMARY KEY (id, timestamp)) WITHOUT ROWID""",
)

_DATA_SHARING = (
    # HLUC 5: actors, consents and their tokens, the registry of operations (spec 3.5, Table 11).
    """CREATE TABLE service_providers (
        id TEXT PRIMARY KEY,
        knowledge_base_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE end_users (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE REFERENCES clients(id))""",
    """CREATE TABLE consents (
        id TEXT PRIMARY KEY,
        end_user TEXT NOT NULL REFERENCES end_users(id),
        service_provider TEXT NOT NULL REFERENCES service_providers(id),
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'granted', 'refused', 'revoked')),
        requested_at TEXT NOT NULL,
        decided_at TEXT,
        revoked_at TEXT,
        token TEXT UNIQUE,
        expires_at TEXT,
        reason TEXT,
        CHECK ((status IN ('granted', 'revoked')) = (token IS NOT NULL)))""",
    """CREATE INDEX consents_by_request ON consents (end_user, service_provider, start, "end")""",
    """CREATE TABLE operations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        operation TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        token TEXT,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '')""",
    """CREATE INDEX operations_by_subject ON operations (subject, at)""",
    """CREATE TABLE incentive_offers (
        offer_id TEXT PRIMARY KEY,
        end_user TEXT NOT NULL REFERENCES end_users(id),
        recipient TEXT NOT NULL,
        contracted_power REAL NOT NULL,
        contracted_power_unit TEXT NOT NULL,
        incentive REAL NOT NULL,
        incentive_unit TEXT NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'accepted', 'declined')),
        responded_at TEXT)""",
    """CREATE TABLE user_preferences (
        end_user TEXT PRIMARY KEY REFERENCES end_users(id),
        contracted_power REAL,
        contracted_power_unit TEXT,
        accepts_incentives INTEGER NOT NULL,
        last_offer_id TEXT,
        updated_at TEXT NOT NULL)""",
)

_FLEXIBILITY = (
    # HLUC 10: needs, offers, allocations of the clearing, activation plans.
    """CREATE TABLE flexibility_needs (
        request_id TEXT PRIMARY KEY,
        quantity REAL NOT NULL CHECK (quantity >= 0),
        unit TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('Up', 'Down')),
        power_type TEXT NOT NULL CHECK (power_type IN ('Active', 'Reactive')),
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        zone_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('day-ahead', 'intraday')),
        status TEXT NOT NULL CHECK (status IN ('open', 'cleared')),
        version INTEGER NOT NULL DEFAULT 1,
        published_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK (start < "end"))""",
    """CREATE TABLE need_eligible_meters (
        request_id TEXT NOT NULL REFERENCES flexibility_needs(request_id),
        meter_id TEXT NOT NULL,
        PRIMARY KEY (request_id, meter_id)) WITHOUT ROWID""",
    """CREATE TABLE flexibility_offers (
        request_id TEXT NOT NULL REFERENCES flexibility_needs(request_id),
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        offer_id TEXT NOT NULL,
        quantity REAL NOT NULL CHECK (quantity >= 0),
        unit TEXT NOT NULL,
        price REAL NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('received', 'accepted', 'rejected', 'activated')),
        received_at TEXT NOT NULL,
        PRIMARY KEY (request_id, provider_id, offer_id))""",
    """CREATE TABLE offer_meters (
        request_id TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        meter_id TEXT NOT NULL,
        PRIMARY KEY (request_id, provider_id, offer_id, meter_id),
        FOREIGN KEY (request_id, provider_id, offer_id)
            REFERENCES flexibility_offers(request_id, provider_id, offer_id)) WITHOUT ROWID""",
    """CREATE TABLE allocations (
        request_id TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        quantity REAL NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (request_id, provider_id, offer_id, start),
        FOREIGN KEY (request_id, provider_id, offer_id)
            REFERENCES flexibility_offers(request_id, provider_id, offer_id)) WITHOUT ROWID""",
    """CREATE TABLE activation_plans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'acknowledged', 'refused')),
        reason TEXT NOT NULL DEFAULT '',
        acknowledged_at TEXT)""",
    """CREATE TABLE activation_plan_entries (
        plan_id INTEGER NOT NULL REFERENCES activation_plans(id),
        request_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        activation INTEGER NOT NULL,
        quantity REAL NOT NULL,
        unit TEXT NOT NULL,
        start TEXT NOT NULL,
        "end" TEXT NOT NULL,
        PRIMARY KEY (plan_id, request_id, offer_id, start))""",
)

_OBSERVABILITY = (
    # HLUC 11 PUC 1/3: HEMS, fault-location settings and subscriptions, notifications and events,
    # status and voltage records, disaggregated data.
    """CREATE TABLE hems (
        id TEXT PRIMARY KEY,
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        client_id TEXT REFERENCES clients(id),
        postal_code TEXT NOT NULL)""",
    """CREATE TABLE fault_location_settings (
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        postal_code TEXT NOT NULL,
        min_faulty_hems INTEGER,
        min_elapsed_seconds REAL,
        subscription TEXT NOT NULL DEFAULT 'none'
            CHECK (subscription IN ('none', 'pending', 'accepted', 'denied')),
        reason TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (provider_id, postal_code))""",
    """CREATE TABLE fault_notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        fault_location_id TEXT,
        postal_code TEXT NOT NULL,
        faulty_hems INTEGER,
        observed_at TEXT,
        received_at TEXT NOT NULL,
        outcome TEXT NOT NULL)""",
    """CREATE TABLE fault_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        postal_code TEXT NOT NULL,
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        fault_location_id TEXT,
        started_at TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        faulty_hems INTEGER,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        resolved_at TEXT)""",
    """CREATE TABLE hems_status (
        hems_id TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        status TEXT,
        abnormal_voltage INTEGER NOT NULL,
        provider_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (hems_id, timestamp)) WITHOUT ROWID""",
    """CREATE TABLE hems_voltage (
        hems_id TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        voltage REAL NOT NULL,
        abnormal INTEGER NOT NULL,
        provider_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (hems_id, timestamp)) WITHOUT ROWID""",
    """CREATE TABLE disaggregated_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider_id TEXT NOT NULL,
        customer_ids TEXT NOT NULL,
        sent_at TEXT NOT NULL)""",
    """CREATE TABLE disaggregated_data (
        provider_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        load_type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        value REAL NOT NULL,
        unit TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (provider_id, customer_id, load_type, timestamp)) WITHOUT ROWID""",
    # HLUC 11 PUC 2: every elasticity computation, input size and result.
    """CREATE TABLE elasticity_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        requester TEXT NOT NULL,
        user_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        observations INTEGER NOT NULL,
        method TEXT NOT NULL,
        output TEXT NOT NULL)""",
)

#: The schema, in order. Append a migration to change it; never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "data layer of spec 4.2: substations, zones, clients, topology, readings", _DATA_LAYER),
    Migration(2, "data sharing: providers, end users, consents, registry of operations, incentives",
              _DATA_SHARING),
    Migration(3, "flexibility market: needs, offers, allocations, activation plans", _FLEXIBILITY),
    Migration(4, "observability and elasticity: HEMS, fault location, voltage, disaggregated data, runs",
              _OBSERVABILITY),
)


class Storage:
    """The backend's sqlite3 database (a file path or ``":memory:"``), safe to share between threads.

    ``fault_hook`` is called with the operation name inside each outermost transaction, after its
    statements and before ``COMMIT`` (see the module docstring). Raises :class:`StorageError` when the
    database cannot be opened or was written by a newer schema.
    """

    def __init__(self, path: str | Path = ":memory:", *, fault_hook: FaultHook | None = None,
                 migrations: Sequence[Migration] = MIGRATIONS, timeout: float = 10.0) -> None:
        self.path = str(path)
        self._fault_hook = fault_hook
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:" and not self.path.startswith("file::memory:"):
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = FULL")
            self._migrate(tuple(migrations))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the backend database {self.path!r}: {exc}") from exc

    # -- schema ----------------------------------------------------------------------------------

    def _migrate(self, migrations: tuple[Migration, ...]) -> None:
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise StorageError(f"migrations must have strictly increasing versions, got {versions}")
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version "
                         "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        current = self.schema_version
        known = versions[-1] if versions else 0
        if current > known:
            raise StorageError(f"database {self.path!r} has schema version {current}, newer than this "
                               f"library's {known}: upgrade dso-saref")
        for migration in migrations:
            if migration.version <= current:
                continue
            with self.transaction(f"migration {migration.version}", hook=False) as db:
                for statement in migration.statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                           (migration.version, migration.description, to_db_time(datetime.now(UTC))))

    @property
    def schema_version(self) -> int:
        """The highest migration applied to the database (0 for a new one)."""
        row = self.query_one("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row is not None and row["v"] is not None else 0

    # -- transactions and queries -------------------------------------------------------------------

    @contextmanager
    def transaction(self, operation: str, *, hook: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction named ``operation``: committed when the block ends, rolled back if it
        raises (the exception propagates; an ``sqlite3.Error`` becomes :class:`StorageError`).

        A transaction opened inside another is a savepoint of it (rolled back alone if its block raises);
        only the outermost one calls the fault hook and commits. The connection is locked for the
        calling thread until the transaction ends.
        """
        with self._lock:
            if self._depth:
                savepoint = f"nested_{self._depth}"
                self._db.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield self._db
                except BaseException:
                    self._db.execute(f"ROLLBACK TO {savepoint}")
                    self._db.execute(f"RELEASE {savepoint}")
                    raise
                else:
                    self._db.execute(f"RELEASE {savepoint}")
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    if hook and self._fault_hook is not None:
                        self._fault_hook(operation)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"{operation}: {exc}") from exc
            finally:
                self._depth = 0

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Every row of a read-only statement; raises :class:`StorageError`."""
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"query failed: {exc}") from exc

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row of a read-only statement, or ``None``; raises :class:`StorageError`."""
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"query failed: {exc}") from exc

    def tables(self) -> list[str]:
        """Names of the tables of the schema, sorted."""
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return sorted(r["name"] for r in rows)

    # -- life cycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (a WAL file is checkpointed by sqlite on the last close)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
