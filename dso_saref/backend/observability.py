"""Grid observability with end-user data (HLUC 11 PUC 1 and 3): HEMS status and voltage, abnormal-voltage
detection, flexibility opportunities by zip code, disaggregated data. Fault location is in
:mod:`dso_saref.backend.faults`.

- **HEMS status and voltage** (3.2.3.2.1.4-5): the DSO asks the provider of a HEMS
  (:meth:`Observability.hems_status_request`, :meth:`~Observability.hems_voltage_request`) and records
  the answers. A voltage reading is **abnormal** outside ``BackendSettings.voltage_band`` (EN 50160:
  230 V +/- 10 % by default); a status entry is abnormal when the provider says so.
- **Opportunities** (3.2.3.1.1.1.2): for each zip code asked (a prefix such as ``4200`` or a full postal
  code), every known postal code it matches gets the DSO's needs that are not over yet and that its
  clients can serve: a need is *in the area* when one of its eligible meters is there, *nearby* when an
  eligible meter hangs on the same feeder (SS feeder for LV, PS feeder for MV) as a client there (grid
  topology, Table 19), or when the need names the zone of a client there and no meter. A zip code that
  matches no known postal code gets an empty list of messages.
- **Disaggregated data** (3.2.3.3.1.1): the DSO asks a data service provider for per-load consumption of
  customers and stores the series it gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dso_saref.backend.errors import NotFound, StateError
from dso_saref.backend.parties import Parties
from dso_saref.backend.policy import AccessPolicy
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.backend.settings import BackendSettings
from dso_saref.backend.storage import Storage, from_db_time, to_db_time
from dso_saref.exchange import Outgoing
from dso_saref.messages.observability import (
    DisaggregatedData,
    DisaggregatedDataRequest,
    HemsStatus,
    HemsStatusRequest,
    HemsVoltage,
    HemsVoltageRequest,
    Opportunities,
    OpportunitiesRequest,
    Opportunity,
)

__all__ = ["HemsRecord", "Observability", "VoltageAlarm"]

DSO = "DSO"
_DIRECTION_WORDS = {"Up": "upward (more generation or less consumption)",
                    "Down": "downward (less generation or more consumption)"}


@dataclass(frozen=True)
class HemsRecord:
    """A HEMS the DSO knows: its provider, postal code and (optionally) client connection."""

    id: str
    provider_id: str
    postal_code: str
    client_id: str | None


@dataclass(frozen=True)
class VoltageAlarm:
    """An abnormal voltage at a HEMS: measured (``voltage`` in V) or flagged by its provider (``None``)."""

    hems_id: str
    postal_code: str
    timestamp: datetime
    voltage: float | None
    source: str


class Observability:
    """HEMS, voltage records, opportunities and disaggregated data of one :class:`Storage`."""

    def __init__(self, storage: Storage, parties: Parties, policy: AccessPolicy, registry: OperationsRegistry,
                 settings: BackendSettings) -> None:
        self._storage = storage
        self._parties = parties
        self._policy = policy
        self._registry = registry
        self._settings = settings

    # -- HEMS ------------------------------------------------------------------------------------------

    def register_hems(self, hems_id: str, *, provider_id: str, postal_code: str,
                      client_id: str | None = None) -> HemsRecord:
        """Record (or update) a HEMS managed by ``provider_id``."""
        with self._storage.transaction("register HEMS") as db:
            db.execute("INSERT INTO hems (id, provider_id, client_id, postal_code) VALUES (?, ?, ?, ?) ON CONFLICT "
                       "(id) DO UPDATE SET provider_id = excluded.provider_id, client_id = excluded.client_id, "
                       "postal_code = excluded.postal_code", (hems_id, provider_id, client_id, postal_code))
        return HemsRecord(hems_id, provider_id, postal_code, client_id)

    def hems(self, hems_id: str) -> HemsRecord:
        """The HEMS ``hems_id``; raises :class:`NotFound`."""
        row = self._storage.query_one("SELECT * FROM hems WHERE id = ?", (hems_id,))
        if row is None:
            raise NotFound(f"unknown HEMS {hems_id!r}")
        return HemsRecord(row["id"], row["provider_id"], row["postal_code"], row["client_id"])

    def hems_list(self, *, provider_id: str | None = None, postal_code: str | None = None) -> list[HemsRecord]:
        """HEMS (of a provider, in a postal code), by id."""
        clauses, params = [], []
        for column, value in (("provider_id", provider_id), ("postal_code", postal_code)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._storage.query(f"SELECT * FROM hems{where} ORDER BY id", params)
        return [HemsRecord(r["id"], r["provider_id"], r["postal_code"], r["client_id"]) for r in rows]

    def hems_status_request(self, hems_id: str, *, with_postal_code: bool = False) -> Outgoing[HemsStatusRequest]:
        """The question for a HEMS's status, addressed to its provider; raises :class:`NotFound`."""
        hems = self.hems(hems_id)
        message = HemsStatusRequest(Hems_ID=hems_id, Postal_Code=hems.postal_code if with_postal_code else None)
        return Outgoing(message, recipient=self._parties.provider(hems.provider_id).knowledge_base_id,
                        reference=hems_id)

    def hems_voltage_request(self, hems_id: str) -> Outgoing[HemsVoltageRequest]:
        """The question for a HEMS's last voltage reading, addressed to its provider."""
        hems = self.hems(hems_id)
        return Outgoing(HemsVoltageRequest(Hems_ID=hems_id),
                        recipient=self._parties.provider(hems.provider_id).knowledge_base_id, reference=hems_id)

    def record_hems_status(self, status: HemsStatus, *, provider_id: str, now: datetime) -> list[VoltageAlarm]:
        """Store a provider's status answer; returns the entries flagged abnormal. Raises
        :class:`StateError` for a HEMS that is not that provider's."""
        alarms = []
        with self._storage.transaction("hems-status") as db:
            for entry in status.Voltage_Monitoring:
                hems = self._own(provider_id, entry.Hems_ID)
                db.execute("INSERT INTO hems_status VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hems_id, timestamp) DO "
                           "UPDATE SET status = excluded.status, abnormal_voltage = excluded.abnormal_voltage, "
                           "received_at = excluded.received_at",
                           (entry.Hems_ID, to_db_time(entry.timestamp), entry.Status.value if entry.Status else None,
                            int(entry.Abnormal_Voltage), provider_id, to_db_time(now)))
                if entry.Abnormal_Voltage:
                    alarms.append(VoltageAlarm(entry.Hems_ID, hems.postal_code, entry.timestamp, None, "hems-status"))
            self._registry.write(db, at=now, actor=provider_id, operation="hems-status", outcome=Outcome.RECORDED,
                                 subject=", ".join(e.Hems_ID for e in status.Voltage_Monitoring),
                                 reason=f"{len(alarms)} abnormal")
        return alarms

    def record_hems_voltage(self, voltage: HemsVoltage, *, provider_id: str, now: datetime) -> list[VoltageAlarm]:
        """Store a provider's voltage answer; returns the readings outside the voltage band."""
        band = self._settings.voltage_band
        alarms = []
        with self._storage.transaction("hems-voltage") as db:
            for reading in voltage.Voltage_Monitoring:
                hems = self._own(provider_id, reading.Hems_ID)
                abnormal = band.is_abnormal(reading.Voltage_from_Hems)
                db.execute("INSERT INTO hems_voltage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hems_id, timestamp) DO "
                           "UPDATE SET voltage = excluded.voltage, abnormal = excluded.abnormal, "
                           "received_at = excluded.received_at",
                           (reading.Hems_ID, to_db_time(reading.timestamp), reading.Voltage_from_Hems, int(abnormal),
                            provider_id, to_db_time(now)))
                if abnormal:
                    alarms.append(VoltageAlarm(reading.Hems_ID, hems.postal_code, reading.timestamp,
                                               reading.Voltage_from_Hems, "hems-voltage"))
            self._registry.write(db, at=now, actor=provider_id, operation="hems-voltage", outcome=Outcome.RECORDED,
                                 subject=", ".join(r.Hems_ID for r in voltage.Voltage_Monitoring),
                                 reason=f"{len(alarms)} outside {band.lower:g}-{band.upper:g} V")
        return alarms

    def abnormal_voltages(self, *, since: datetime | None = None) -> list[VoltageAlarm]:
        """Every abnormal voltage recorded (measured or flagged), by time then HEMS."""
        since_clause = "" if since is None else " AND {}.timestamp >= ?"
        params = () if since is None else (to_db_time(since),) * 2
        rows = self._storage.query(
            "SELECT v.hems_id, h.postal_code, v.timestamp, v.voltage, 'hems-voltage' AS source FROM hems_voltage v "
            f"JOIN hems h ON h.id = v.hems_id WHERE v.abnormal = 1{since_clause.format('v')} UNION ALL "
            "SELECT s.hems_id, h.postal_code, s.timestamp, NULL, 'hems-status' FROM hems_status s "
            f"JOIN hems h ON h.id = s.hems_id WHERE s.abnormal_voltage = 1{since_clause.format('s')} "
            "ORDER BY 3, 1, 5", params)
        return [VoltageAlarm(r[0], r[1], from_db_time(r[2]), r[3], r[4]) for r in rows]

    def _own(self, provider_id: str, hems_id: str) -> HemsRecord:
        try:
            hems = self.hems(hems_id)
        except NotFound as exc:
            raise StateError(f"HEMS {hems_id!r} is unknown") from exc
        if hems.provider_id != provider_id:
            raise StateError(f"HEMS {hems_id!r} is not managed by {provider_id}")
        return hems

    # -- opportunities -------------------------------------------------------------------------------------

    def opportunities(self, request: OpportunitiesRequest, *, requester: str, now: datetime) -> Opportunities:
        """Flexibility opportunities around the zip codes asked (see the module doc), logged."""
        known = sorted({r[0] for r in self._storage.query(
            "SELECT postal_code FROM clients WHERE postal_code IS NOT NULL UNION "
            "SELECT postal_code FROM hems UNION SELECT postal_code FROM secondary_substations "
            "WHERE postal_code IS NOT NULL")})
        entries: dict[str, list[str]] = {}
        for zip_code in request.zip_codes:
            matches = [code for code in known if code.startswith(zip_code)]
            if not matches:
                entries.setdefault(zip_code, [])
            for code in matches:
                entries.setdefault(code, self._messages_for(code, now))
        self._registry.log(at=now, actor=self._policy.requester(requester).actor, operation="opportunities-request",
                           subject=", ".join(request.zip_codes), outcome=Outcome.SERVED,
                           reason=f"{sum(len(m) for m in entries.values())} messages")
        return Opportunities(opportunities=[Opportunity(zip_code=z, message=m) for z, m in entries.items()])

    def _messages_for(self, postal_code: str, now: datetime) -> list[str]:
        local = self._storage.query(
            "SELECT c.meter_id, c.zone_id, t.ss_feeder, t.ps_feeder, c.voltage_level FROM clients c LEFT JOIN "
            "grid_topology t ON t.client_id = c.id WHERE c.postal_code = ?", (postal_code,))
        meters = {r["meter_id"] for r in local}
        zones = {r["zone_id"] for r in local if r["zone_id"]}
        feeders = {(r["ss_feeder"] if r["voltage_level"] == "LV" else r["ps_feeder"]) for r in local} - {None}
        needs = self._storage.query('SELECT * FROM flexibility_needs WHERE "end" > ? ORDER BY start, request_id',
                                    (to_db_time(now),))
        messages = []
        for need in needs:
            eligible = self._storage.query(
                "SELECT m.meter_id, t.ss_feeder, t.ps_feeder, c.voltage_level FROM need_eligible_meters m JOIN "
                "clients c ON c.meter_id = m.meter_id LEFT JOIN grid_topology t ON t.client_id = c.id "
                "WHERE m.request_id = ?", (need["request_id"],))
            here = sum(1 for e in eligible if e["meter_id"] in meters)
            near = sum(1 for e in eligible if e["meter_id"] not in meters
                       and (e["ss_feeder"] if e["voltage_level"] == "LV" else e["ps_feeder"]) in feeders)
            by_zone = not eligible and need["zone_id"] in zones
            if here or near or by_zone:
                messages.append(self._describe(need, here, near))
        return messages or ["No flexibility needs in this area."]

    def _describe(self, need, here: int, near: int) -> str:
        tz = self._settings.timezone
        start, end = from_db_time(need["start"]).astimezone(tz), from_db_time(need["end"]).astimezone(tz)
        where = []
        if here:
            where.append(f"{here} eligible client{'s' if here > 1 else ''} in this area")
        if near:
            where.append(f"{near} on the same feeders nearby")
        return (f"Flexibility of {need['quantity']:g} {need['unit']} {_DIRECTION_WORDS[need['direction']]} "
                f"({need['power_type'].lower()} power) is needed between {start:%H:%M} and {end:%H:%M} on "
                f"{start:%Y-%m-%d} ({start:%Z}), need {need['request_id']}"
                + (f": {', '.join(where)}." if where else " in this zone."))

    # -- disaggregated data -------------------------------------------------------------------------------

    def disaggregated_data_request(self, provider_id: str, customer_ids: Sequence[str], *,
                                   now: datetime) -> Outgoing[DisaggregatedDataRequest]:
        """Ask a data service provider for the disaggregated consumption of ``customer_ids``; raises
        :class:`~dso_saref.backend.errors.Refused` (registered) for a provider without an agreement."""
        provider = self._policy.recipient("disaggregated-data-request", provider_id, now)
        message = DisaggregatedDataRequest(customers_ids=list(customer_ids))
        with self._storage.transaction("disaggregated-data-request") as db:
            request_id = db.execute("INSERT INTO disaggregated_requests (provider_id, customer_ids, sent_at) "
                                    "VALUES (?, ?, ?) RETURNING id", (provider.id, ",".join(customer_ids),
                                                                       to_db_time(now))).fetchone()[0]
            self._registry.write(db, at=now, actor=DSO, operation="disaggregated-data-request", subject=provider.id,
                                 outcome=Outcome.SENT, reason=", ".join(customer_ids))
        return Outgoing(message, recipient=provider.knowledge_base_id, reference=str(request_id))

    def record_disaggregated_data(self, data: DisaggregatedData, *, provider_id: str, now: datetime) -> int:
        """Store a data service provider's series (one row per customer, load type and time); returns
        how many values were stored."""
        rows = [(provider_id, c.customer_id, load.load_type, to_db_time(p.timestamp), p.consumption, load.unit,
                 to_db_time(now)) for c in data.customers for load in c.loads for p in load.series]
        with self._storage.transaction("disaggregated-data") as db:
            db.executemany("INSERT INTO disaggregated_data VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider_id, "
                           "customer_id, load_type, timestamp) DO UPDATE SET value = excluded.value, "
                           "unit = excluded.unit, received_at = excluded.received_at", rows)
            self._registry.write(db, at=now, actor=provider_id, operation="disaggregated-data",
                                 subject=", ".join(c.customer_id for c in data.customers), outcome=Outcome.RECORDED,
                                 reason=f"{len(rows)} values")
        return len(rows)

    def disaggregated_series(self, customer_id: str) -> dict[str, list[tuple[datetime, float, str]]]:
        """The stored series of a customer: ``{load_type: [(time, value, unit), ...]}``."""
        out: dict[str, list[tuple[datetime, float, str]]] = {}
        for r in self._storage.query("SELECT * FROM disaggregated_data WHERE customer_id = ? ORDER BY load_type, "
                                     "timestamp", (customer_id,)):
            out.setdefault(r["load_type"], []).append((from_db_time(r["timestamp"]), r["value"], r["unit"]))
        return out
