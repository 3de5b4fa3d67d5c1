"""The DSO data layer (spec 4.2): substations, zones, clients, grid topology (Table 19) and the readings
of LV clients (Table 15), MV clients (Table 16), secondary (Table 17) and primary substations (Table 18).

The DSO's operational systems feed it (:meth:`GridData.record_readings`, :meth:`GridData.record_topology`);
lookups answer with the typed messages of :mod:`dso_saref.messages.grid_data`. Readings are kept in
their units of the tables (kW, kVAr, V; MW, MVAr, A, kV), keyed by (id, timestamp); a reading sent again
for the same key replaces the stored one (a correction)::

    grid = GridData(storage)
    grid.add_primary_substation("PS01")
    grid.add_secondary_substation("SS01", postal_code="4405-123")
    grid.add_client("LV0001", voltage_level="LV", meter_id="M0001", postal_code="4405-123", zone_id="Z1")
    grid.record_topology(GridTopology.model_validate([...]))
    grid.record_readings([LvClientReading(...), ...])
    grid.readings("lv-client-reading", id="LV0001", start=t0, end=t1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from dso_saref.backend.errors import ConstraintError, NotFound, StateError
from dso_saref.backend.storage import Storage, from_db_time, to_db_time
from dso_saref.messages.grid_data import (
    GridTopology,
    GridTopologyEntry,
    LvClientReading,
    MvClientReading,
    PrimarySubstationReading,
    SecondarySubstationReading,
)

__all__ = ["READING_KINDS", "Client", "GridData", "ReadingKind"]


@dataclass(frozen=True)
class ReadingKind:
    """Where one kind of reading lives: its catalog name, model, table and measure columns."""

    name: str
    model: type[BaseModel]
    table: str
    columns: tuple[str, ...]


_LOW_VOLTAGE = ("active_power_injected", "active_power_withdrawn", "reactive_power_injected",
                "reactive_power_withdrawn", "voltage")

#: The four kinds of readings of spec 4.2, by catalog name.
READING_KINDS: dict[str, ReadingKind] = {
    kind.name: kind
    for kind in (
        ReadingKind("lv-client-reading", LvClientReading, "lv_client_readings", _LOW_VOLTAGE),
        ReadingKind("mv-client-reading", MvClientReading, "mv_client_readings",
                    ("active_power_withdrawn", "reactive_power_injected", "reactive_power_withdrawn")),
        ReadingKind("secondary-substation-reading", SecondarySubstationReading, "secondary_substation_readings",
                    _LOW_VOLTAGE),
        ReadingKind("primary-substation-reading", PrimarySubstationReading, "primary_substation_readings",
                    ("active_power", "reactive_power", "current", "voltage", "tap_position")),
    )
}

_KIND_OF_MODEL = {kind.model: kind for kind in READING_KINDS.values()}

#: The columns of the topology that name a grid asset serving the entry's client.
_ASSET_COLUMNS = ("secondary_substation", "ss_feeder", "primary_substation", "ps_feeder")


@dataclass(frozen=True)
class Client:
    """A client connection: LV or MV, its meter, postal code and anonymisation zone."""

    id: str
    voltage_level: str
    meter_id: str
    postal_code: str | None
    zone_id: str | None


class GridData:
    """Grid assets, clients, topology and readings of one :class:`Storage`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def storage(self) -> Storage:
        """The database the grid data lives in."""
        return self._storage

    # -- assets and clients ------------------------------------------------------------------------

    def add_primary_substation(self, substation_id: str) -> None:
        """Record a primary (HV/MV) substation (no-op if known)."""
        with self._storage.transaction("add primary substation") as db:
            db.execute("INSERT INTO primary_substations (id) VALUES (?) ON CONFLICT DO NOTHING", (substation_id,))

    def add_secondary_substation(self, substation_id: str, *, postal_code: str | None = None) -> None:
        """Record (or update) a secondary (MV/LV) substation."""
        with self._storage.transaction("add secondary substation") as db:
            db.execute("INSERT INTO secondary_substations (id, postal_code) VALUES (?, ?) ON CONFLICT (id) "
                       "DO UPDATE SET postal_code = excluded.postal_code", (substation_id, postal_code))

    def add_zone(self, zone_id: str, *, description: str = "") -> None:
        """Record (or update) an anonymisation zone."""
        with self._storage.transaction("add zone") as db:
            db.execute("INSERT INTO zones (id, description) VALUES (?, ?) ON CONFLICT (id) "
                       "DO UPDATE SET description = excluded.description", (zone_id, description))

    def add_client(self, client_id: str, *, voltage_level: str, meter_id: str, postal_code: str | None = None,
                   zone_id: str | None = None) -> Client:
        """Record (or update) a client connection; raises :class:`StateError` for an unknown zone or a
        meter id already used by another client."""
        if voltage_level not in ("LV", "MV"):
            raise StateError(f"voltage level {voltage_level!r} is neither LV nor MV")
        try:
            with self._storage.transaction("add client") as db:
                known = db.execute("SELECT 1 FROM zones WHERE id = ?", (zone_id,)).fetchone()
                if zone_id is not None and known is None:
                    raise StateError(f"unknown zone {zone_id!r}")
                db.execute("INSERT INTO clients (id, voltage_level, meter_id, postal_code, zone_id) VALUES "
                           "(?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET voltage_level = excluded.voltage_level, "
                           "meter_id = excluded.meter_id, postal_code = excluded.postal_code, "
                           "zone_id = excluded.zone_id", (client_id, voltage_level, meter_id, postal_code, zone_id))
        except ConstraintError as exc:
            raise StateError(f"meter {meter_id!r} already belongs to another client") from exc
        return Client(client_id, voltage_level, meter_id, postal_code, zone_id)

    def client(self, client_id: str) -> Client:
        """The client ``client_id``; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT * FROM clients WHERE id = ?", (client_id,))
        if row is None:
            raise NotFound(f"unknown client {client_id!r}")
        return Client(row["id"], row["voltage_level"], row["meter_id"], row["postal_code"], row["zone_id"])

    def clients(self, *, zone_id: str | None = None, voltage_level: str | None = None) -> list[Client]:
        """Clients (of a zone, of a voltage level), by id."""
        clauses, params = [], []
        for column, value in (("zone_id", zone_id), ("voltage_level", voltage_level)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM clients{where} ORDER BY id", params)
        return [Client(r["id"], r["voltage_level"], r["meter_id"], r["postal_code"], r["zone_id"]) for r in rows]

    def known_meters(self, meter_ids: Iterable[str]) -> set[str]:
        """The subset of ``meter_ids`` that belong to a known client."""
        wanted = sorted(set(meter_ids))
        if not wanted:
            return set()
        marks = ", ".join("?" for _ in wanted)
        rows = self._storage.query(f"SELECT meter_id FROM clients WHERE meter_id IN ({marks})", wanted)
        return {r["meter_id"] for r in rows}

    # -- topology ------------------------------------------------------------------------------------

    def record_topology(self, topology: GridTopology) -> None:
        """Record where each client sits (Table 19), creating the substations it names; raises
        :class:`StateError` for a client that is not known or whose voltage level differs."""
        with self._storage.transaction("grid-topology") as db:
            for entry in topology.root:
                row = db.execute("SELECT voltage_level FROM clients WHERE id = ?", (entry.client_id,)).fetchone()
                if row is None:
                    raise StateError(f"topology names unknown client {entry.client_id!r}")
                if row["voltage_level"] != entry.voltage_level.value:
                    raise StateError(f"client {entry.client_id!r} is {row['voltage_level']}, "
                                     f"topology says {entry.voltage_level.value}")
                db.execute("INSERT INTO primary_substations (id) VALUES (?) ON CONFLICT DO NOTHING",
                           (entry.primary_substation,))
                if entry.secondary_substation is not None:
                    db.execute("INSERT INTO secondary_substations (id) VALUES (?) ON CONFLICT DO NOTHING",
                               (entry.secondary_substation,))
                db.execute("INSERT INTO grid_topology VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE "
                           "SET voltage_level = excluded.voltage_level, secondary_substation = "
                           "excluded.secondary_substation, ss_feeder = excluded.ss_feeder, primary_substation = "
                           "excluded.primary_substation, ps_feeder = excluded.ps_feeder",
                           (entry.client_id, entry.voltage_level.value, entry.secondary_substation,
                            entry.ss_feeder, entry.primary_substation, entry.ps_feeder))

    def topology(self, *, client_id: str | None = None, voltage_level: str | None = None,
                 secondary_substation: str | None = None, primary_substation: str | None = None) -> GridTopology:
        """The topology entries matching every given key, by client id."""
        clauses, params = [], []
        for column, value in (("client_id", client_id), ("voltage_level", voltage_level),
                              ("secondary_substation", secondary_substation),
                              ("primary_substation", primary_substation)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM grid_topology{where} ORDER BY client_id", params)
        return GridTopology([GridTopologyEntry(**dict(r)) for r in rows])

    def customers_served(self, asset_ids: Iterable[str]) -> dict[str, int]:
        """How many clients (LV and MV) each grid asset of ``asset_ids`` serves according to the topology:
        a secondary or primary substation, or an SS or PS feeder, by id. An id the topology does not name
        serves 0."""
        wanted = sorted(set(asset_ids))
        counts = dict.fromkeys(wanted, 0)
        if not wanted:
            return counts
        marks = ", ".join("?" for _ in wanted)
        served = " UNION ".join(f"SELECT {column} AS asset, client_id FROM grid_topology WHERE {column} IN ({marks})"
                                for column in _ASSET_COLUMNS)
        rows = self._storage.query(f"SELECT asset, COUNT(DISTINCT client_id) AS n FROM ({served}) s GROUP BY asset",
                                   wanted * len(_ASSET_COLUMNS))
        counts.update({r["asset"]: int(r["n"]) for r in rows})
        return counts

    # -- readings --------------------------------------------------------------------------------------

    def record_readings(self, readings: Iterable[BaseModel]) -> int:
        """Store readings of any of the four kinds in one transaction (all or nothing); returns how many.
        Raises :class:`StateError` for a reading of an unknown client or substation."""
        by_kind: dict[ReadingKind, list[BaseModel]] = {}
        count = 0
        for reading in readings:
            kind = _KIND_OF_MODEL.get(type(reading))
            if kind is None:
                raise StateError(f"{type(reading).__name__} is not a reading of spec 4.2")
            by_kind.setdefault(kind, []).append(reading)
            count += 1
        for kind, rows in by_kind.items():
            self._storage.prepare_days(kind.table, {r.timestamp.astimezone(UTC).date() for r in rows})
        try:
            with self._storage.transaction("record readings") as db:
                for kind, rows in by_kind.items():
                    columns = ", ".join(kind.columns)
                    updates = ", ".join(f"{c} = excluded.{c}" for c in kind.columns)
                    marks = ", ".join("?" for _ in range(len(kind.columns) + 2))
                    db.executemany(f"INSERT INTO {kind.table} (id, timestamp, {columns}) VALUES ({marks}) "
                                   f"ON CONFLICT (id, timestamp) DO UPDATE SET {updates}",
                                   [(r.id, to_db_time(r.timestamp), *(getattr(r, c) for c in kind.columns))
                                    for r in rows])
        except ConstraintError as exc:
            raise StateError(f"a reading names an unknown client or substation ({exc})") from exc
        return count

    def readings(self, name: str, *, id: str | None = None, timestamp: datetime | None = None,
                 start: datetime | None = None, end: datetime | None = None) -> list[Any]:
        """Readings of the kind ``name`` (a catalog name such as ``lv-client-reading``) matching the
        given id, exact timestamp and window ``[start, end)``, ordered by id then time."""
        kind = READING_KINDS.get(name)
        if kind is None:
            raise NotFound(f"{name!r} is not a kind of reading (one of {', '.join(READING_KINDS)})")
        rows = self._select(kind, id=id, timestamp=timestamp, start=start, end=end)
        return [kind.model(id=r["id"], timestamp=from_db_time(r["timestamp"]), **{c: r[c] for c in kind.columns})
                for r in rows]

    def series(self, name: str, ids: Sequence[str], *, start: datetime, end: datetime,
               columns: Sequence[str]) -> dict[str, list[tuple[datetime, tuple[float, ...]]]]:
        """Raw time series of some measure columns for several ids over ``[start, end)``, without
        building messages (for aggregation): ``{id: [(timestamp, (values...)), ...]}`` in time order."""
        kind = READING_KINDS[name]
        unknown = set(columns) - set(kind.columns)
        if unknown:
            raise NotFound(f"{name} has no column {sorted(unknown)}")
        out: dict[str, list[tuple[datetime, tuple[float, ...]]]] = {i: [] for i in ids}
        if not ids:
            return out
        marks = ", ".join("?" for _ in ids)
        selected = ", ".join(columns)
        rows = self._storage.query(
            f"SELECT id, timestamp, {selected} FROM {kind.table} WHERE id IN ({marks}) AND timestamp >= ? "
            f"AND timestamp < ? ORDER BY id, timestamp", (*ids, to_db_time(start), to_db_time(end)))
        for r in rows:
            out[r["id"]].append((from_db_time(r["timestamp"]), tuple(r[c] for c in columns)))
        return out

    def _select(self, kind: ReadingKind, *, id: str | None, timestamp: datetime | None,
                start: datetime | None, end: datetime | None) -> list[Any]:
        clauses, params = [], []
        if id is not None:
            clauses.append("id = ?")
            params.append(id)
        if timestamp is not None:
            clauses.append("timestamp = ?")
            params.append(to_db_time(timestamp))
        if start is not None:
            clauses.append("timestamp >= ?")
            params.append(to_db_time(start))
        if end is not None:
            clauses.append("timestamp < ?")
            params.append(to_db_time(end))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._storage.query(f"SELECT * FROM {kind.table}{where} ORDER BY id, timestamp", params)
