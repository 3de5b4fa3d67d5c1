"""The schema of the reference DSO's database: ordered migrations, written once for both dialects.

Each :class:`Migration` is a list of statements. A statement is either one text for every dialect,
with a few placeholders for what the dialects spell differently (rendered by
:meth:`dso_saref.backend.storage.dialect.Dialect.render`), or a :class:`Variant` with one text per
dialect (``None``: nothing to do in that dialect)::

    {time}     a point in time        sqlite: TEXT (see to_db_time)   PostgreSQL: TIMESTAMPTZ
    {real}     a floating point value sqlite: REAL                    PostgreSQL: DOUBLE PRECISION
    {serial}   an integer key given by the database, in insertion order (AUTOINCREMENT / IDENTITY)
    {keyed}    a table stored in primary-key order (sqlite WITHOUT ROWID)
    {by_day}   a table of readings: sqlite WITHOUT ROWID, PostgreSQL partitioned by day on "timestamp"
    {rowid}    sqlite's implicit insertion order, an explicit identity column ``rowid`` on PostgreSQL

The sqlite rendering of migrations 1 to 4 is exactly the text they shipped with.

The data model is spec 4.2's (clients, substations, readings, topology) plus the tables of the running
modules (consents and tokens, registry of operations, flexibility market, observability, incentives,
elasticity), and since migration 5 the metering readings loaded in bulk (:mod:`dso_saref.backend.ingest`),
the net active power of every client as one view, and the idempotency keys of retried requests; since
migration 6 the parties of the REST API with their hashed API keys, and the request id of each operation;
since migration 7, on PostgreSQL, ``meter_quarters``: every client's readings summed per UTC quarter-hour,
kept by the database itself (see :data:`ROLLUP_SOURCES`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "ROLLUP", "ROLLUP_SOURCES", "Migration", "Statement", "Variant"]


@dataclass(frozen=True)
class Variant:
    """A statement that differs between the dialects: its text for each (``None``: skipped there)."""

    sqlite: str | None = None
    postgresql: str | None = None


Statement = str | Variant
"""One statement of a migration: a template for every dialect, or a :class:`Variant`."""


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version number, what it adds, and its statements."""

    version: int
    description: str
    statements: tuple[Statement, ...]


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
        timestamp {time} NOT NULL,
        active_power_injected {real} NOT NULL,
        active_power_withdrawn {real} NOT NULL,
        reactive_power_injected {real} NOT NULL,
        reactive_power_withdrawn {real} NOT NULL,
        voltage {real} NOT NULL,
        PRIMARY KEY (id, timestamp)){by_day}""",
    """CREATE TABLE mv_client_readings (
        id TEXT NOT NULL REFERENCES clients(id),
        timestamp {time} NOT NULL,
        active_power_withdrawn {real} NOT NULL,
        reactive_power_injected {real} NOT NULL,
        reactive_power_withdrawn {real} NOT NULL,
        PRIMARY KEY (id, timestamp)){by_day}""",
    """CREATE TABLE secondary_substation_readings (
        id TEXT NOT NULL REFERENCES secondary_substations(id),
        timestamp {time} NOT NULL,
        active_power_injected {real} NOT NULL,
        active_power_withdrawn {real} NOT NULL,
        reactive_power_injected {real} NOT NULL,
        reactive_power_withdrawn {real} NOT NULL,
        voltage {real} NOT NULL,
        PRIMARY KEY (id, timestamp)){by_day}""",
    """CREATE TABLE primary_substation_readings (
        id TEXT NOT NULL REFERENCES primary_substations(id),
        timestamp {time} NOT NULL,
        active_power {real} NOT NULL,
        reactive_power {real} NOT NULL,
        current {real} NOT NULL,
        voltage {real} NOT NULL,
        tap_position INTEGER NOT NULL,
        PRIMARY KEY (id, timestamp)){by_day}""",
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
        start {time} NOT NULL,
        "end" {time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'granted', 'refused', 'revoked')),
        requested_at {time} NOT NULL,
        decided_at {time},
        revoked_at {time},
        token TEXT UNIQUE,
        expires_at {time},
        reason TEXT,{rowid}
        CHECK ((status IN ('granted', 'revoked')) = (token IS NOT NULL)))""",
    """CREATE INDEX consents_by_request ON consents (end_user, service_provider, start, "end")""",
    """CREATE TABLE operations (
        id {serial},
        at {time} NOT NULL,
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
        contracted_power {real} NOT NULL,
        contracted_power_unit TEXT NOT NULL,
        incentive {real} NOT NULL,
        incentive_unit TEXT NOT NULL,
        start {time} NOT NULL,
        "end" {time} NOT NULL,
        sent_at {time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'accepted', 'declined')),
        responded_at {time})""",
    """CREATE TABLE user_preferences (
        end_user TEXT PRIMARY KEY REFERENCES end_users(id),
        contracted_power {real},
        contracted_power_unit TEXT,
        accepts_incentives INTEGER NOT NULL,
        last_offer_id TEXT,
        updated_at {time} NOT NULL)""",
)

_FLEXIBILITY = (
    # HLUC 10: needs, offers, allocations of the clearing, activation plans.
    """CREATE TABLE flexibility_needs (
        request_id TEXT PRIMARY KEY,
        quantity {real} NOT NULL CHECK (quantity >= 0),
        unit TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('Up', 'Down')),
        power_type TEXT NOT NULL CHECK (power_type IN ('Active', 'Reactive')),
        start {time} NOT NULL,
        "end" {time} NOT NULL,
        zone_id TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('day-ahead', 'intraday')),
        status TEXT NOT NULL CHECK (status IN ('open', 'cleared')),
        version INTEGER NOT NULL DEFAULT 1,
        published_at {time} NOT NULL,
        updated_at {time} NOT NULL,
        CHECK (start < "end"))""",
    """CREATE TABLE need_eligible_meters (
        request_id TEXT NOT NULL REFERENCES flexibility_needs(request_id),
        meter_id TEXT NOT NULL,
        PRIMARY KEY (request_id, meter_id)){keyed}""",
    """CREATE TABLE flexibility_offers (
        request_id TEXT NOT NULL REFERENCES flexibility_needs(request_id),
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        offer_id TEXT NOT NULL,
        quantity {real} NOT NULL CHECK (quantity >= 0),
        unit TEXT NOT NULL,
        price {real} NOT NULL,
        start {time} NOT NULL,
        "end" {time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('received', 'accepted', 'rejected', 'activated')),
        received_at {time} NOT NULL,
        PRIMARY KEY (request_id, provider_id, offer_id))""",
    """CREATE TABLE offer_meters (
        request_id TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        meter_id TEXT NOT NULL,
        PRIMARY KEY (request_id, provider_id, offer_id, meter_id),
        FOREIGN KEY (request_id, provider_id, offer_id)
            REFERENCES flexibility_offers(request_id, provider_id, offer_id)){keyed}""",
    """CREATE TABLE allocations (
        request_id TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        start {time} NOT NULL,
        "end" {time} NOT NULL,
        quantity {real} NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (request_id, provider_id, offer_id, start),
        FOREIGN KEY (request_id, provider_id, offer_id)
            REFERENCES flexibility_offers(request_id, provider_id, offer_id)){keyed}""",
    """CREATE TABLE activation_plans (
        id {serial},
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        created_at {time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'acknowledged', 'refused')),
        reason TEXT NOT NULL DEFAULT '',
        acknowledged_at {time})""",
    """CREATE TABLE activation_plan_entries (
        plan_id INTEGER NOT NULL REFERENCES activation_plans(id),
        request_id TEXT NOT NULL,
        offer_id TEXT NOT NULL,
        activation INTEGER NOT NULL,
        quantity {real} NOT NULL,
        unit TEXT NOT NULL,
        start {time} NOT NULL,
        "end" {time} NOT NULL,
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
        min_elapsed_seconds {real},
        subscription TEXT NOT NULL DEFAULT 'none'
            CHECK (subscription IN ('none', 'pending', 'accepted', 'denied')),
        reason TEXT NOT NULL DEFAULT '',
        updated_at {time} NOT NULL,
        PRIMARY KEY (provider_id, postal_code))""",
    """CREATE TABLE fault_notifications (
        id {serial},
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        fault_location_id TEXT,
        postal_code TEXT NOT NULL,
        faulty_hems INTEGER,
        observed_at {time},
        received_at {time} NOT NULL,
        outcome TEXT NOT NULL)""",
    """CREATE TABLE fault_events (
        id {serial},
        postal_code TEXT NOT NULL,
        provider_id TEXT NOT NULL REFERENCES service_providers(id),
        fault_location_id TEXT,
        started_at {time} NOT NULL,
        raised_at {time} NOT NULL,
        faulty_hems INTEGER,
        status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
        resolved_at {time})""",
    """CREATE TABLE hems_status (
        hems_id TEXT NOT NULL,
        timestamp {time} NOT NULL,
        status TEXT,
        abnormal_voltage INTEGER NOT NULL,
        provider_id TEXT NOT NULL,
        received_at {time} NOT NULL,
        PRIMARY KEY (hems_id, timestamp)){keyed}""",
    """CREATE TABLE hems_voltage (
        hems_id TEXT NOT NULL,
        timestamp {time} NOT NULL,
        voltage {real} NOT NULL,
        abnormal INTEGER NOT NULL,
        provider_id TEXT NOT NULL,
        received_at {time} NOT NULL,
        PRIMARY KEY (hems_id, timestamp)){keyed}""",
    """CREATE TABLE disaggregated_requests (
        id {serial},
        provider_id TEXT NOT NULL,
        customer_ids TEXT NOT NULL,
        sent_at {time} NOT NULL)""",
    """CREATE TABLE disaggregated_data (
        provider_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        load_type TEXT NOT NULL,
        timestamp {time} NOT NULL,
        value {real} NOT NULL,
        unit TEXT NOT NULL,
        received_at {time} NOT NULL,
        PRIMARY KEY (provider_id, customer_id, load_type, timestamp)){keyed}""",
    # HLUC 11 PUC 2: every elasticity computation, input size and result.
    """CREATE TABLE elasticity_runs (
        id {serial},
        requester TEXT NOT NULL,
        user_id TEXT NOT NULL,
        received_at {time} NOT NULL,
        observations INTEGER NOT NULL,
        method TEXT NOT NULL,
        output TEXT NOT NULL)""",
)

_VOLUME = (
    # Issue 14: metering readings at DSO volume (bulk ingestion, partitioned by day on PostgreSQL), one view
    # of every client's net active power for aggregation, idempotency keys of retried requests.
    # no foreign key: a bulk load checks its ids once (dso_saref.backend.ingest) instead of row by row
    """CREATE TABLE meter_readings (
        client_id TEXT NOT NULL,
        timestamp {time} NOT NULL,
        active_power {real} NOT NULL,
        PRIMARY KEY (client_id, timestamp)){by_day}""",
    """CREATE VIEW net_active_power (client_id, timestamp, active_power) AS
        SELECT id, timestamp, active_power_withdrawn - active_power_injected FROM lv_client_readings
        UNION ALL SELECT id, timestamp, active_power_withdrawn FROM mv_client_readings
        UNION ALL SELECT client_id, timestamp, active_power FROM meter_readings""",
    """CREATE TABLE idempotency_keys (
        requester TEXT NOT NULL,
        key TEXT NOT NULL,
        operation TEXT NOT NULL,
        digest TEXT NOT NULL,
        answer TEXT NOT NULL,
        created_at {time} NOT NULL,
        PRIMARY KEY (requester, key))""",
    # sqlite has unixepoch() built in (3.38+); the same name on PostgreSQL, inlined by the planner (which it
    # is only when declared no more stable than date_part: STABLE; an IMMUTABLE one is 10 times slower)
    Variant(postgresql="""CREATE FUNCTION unixepoch(timestamptz) RETURNS bigint LANGUAGE sql STABLE
        PARALLEL SAFE AS $$ SELECT floor(date_part('epoch', $1))::bigint $$"""),
)

_REST = (
    # Issue 12: the parties the operator issues API keys to (a service or data service provider is one of the
    # service providers; a third party or aggregator may name the knowledge base it also speaks from), their
    # keys (only the SHA-256 of the secret is kept), and the request id that each operation was part of.
    """CREATE TABLE api_parties (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('service-provider', 'data-service-provider', 'third-party', 'aggregator')),
        provider_id TEXT REFERENCES service_providers(id),
        knowledge_base_id TEXT,
        created_at {time} NOT NULL,
        CHECK ((role IN ('service-provider', 'data-service-provider')) = (provider_id IS NOT NULL)))""",
    """CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        party TEXT NOT NULL REFERENCES api_parties(name),
        digest TEXT NOT NULL,
        created_at {time} NOT NULL,
        expires_at {time},
        revoked_at {time},
        CHECK (expires_at IS NULL OR expires_at > created_at))""",
    """CREATE INDEX api_keys_by_party ON api_keys (party)""",
    """ALTER TABLE operations ADD COLUMN request_id TEXT""",
)

#: The table of the quarter-hour rollup (migration 7, PostgreSQL only).
ROLLUP = "meter_quarters"

#: The tables of client readings that :data:`ROLLUP` sums, with the column naming the client and the net active
#: power of a row: the three branches of the ``net_active_power`` view (migration 5).
ROLLUP_SOURCES: dict[str, tuple[str, str]] = {
    "lv_client_readings": ("id", "active_power_withdrawn - active_power_injected"),
    "mv_client_readings": ("id", "active_power_withdrawn"),
    "meter_readings": ("client_id", "active_power"),
}

#: The quarter-hour of a time, as the aggregation computes it: its start in epoch seconds (an integer, which the
#: aggregation's arithmetic takes as it is).
_QUARTER = "unixepoch({}) / 900 * 900"
_INSERT = f"INSERT INTO {ROLLUP} AS m (client_id, quarter, total, readings) {{}} ORDER BY 1, 2"
_ADD = (_INSERT + " ON CONFLICT (client_id, quarter) DO UPDATE SET total = m.total + excluded.total, "
        "readings = m.readings + excluded.readings;")


def _keeper(table: str) -> str:
    """The trigger function keeping :data:`ROLLUP` in step with the writes of one statement on ``table``: the
    rows it inserted (``added``) counted in, those it deleted (``removed``) counted out, an update both; a
    quarter left without readings is deleted. Deltas in key order, so that concurrent writers add to the same
    quarter one after the other, without deadlock. A statement of 1,000 rows or more first tries a plain
    insert (a bulk load of new quarter-hours, the usual case), in a subtransaction rolled back if a quarter-hour
    is there already; smaller ones go straight to the upsert (no subtransaction a row)."""
    client, power = ROLLUP_SOURCES[table]

    def rows(source: str, sign: str) -> str:
        return (f"SELECT {client} AS client_id, {_QUARTER.format('timestamp')} AS quarter, "
                f"{sign}({power}) AS total, {sign}1 AS readings FROM {source}")

    grouped = "SELECT client_id, quarter, SUM(total), SUM(readings) FROM ({}) d GROUP BY 1, 2"
    emptied = (f"DELETE FROM {ROLLUP} m USING (SELECT DISTINCT {client} AS client_id, {_QUARTER.format('timestamp')} "
               "AS quarter FROM removed) r WHERE m.client_id = r.client_id AND m.quarter = r.quarter "
               "AND m.readings = 0;")
    changed = grouped.format(f"{rows('added', '')} UNION ALL {rows('removed', '-')}")
    # grouped by sorting, not hashing: a bulk load's rows come sorted by client and time, which a sort finds
    # at once (a hash table of a million quarter-hours cost a fifth more of the server's time)
    return f"""CREATE FUNCTION {ROLLUP}_of_{table}() RETURNS trigger LANGUAGE plpgsql SET enable_hashagg = off AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF EXISTS (SELECT 1 FROM added OFFSET 999) THEN
                    BEGIN  -- a bulk load: first as new quarter-hours, without the checks of an upsert
                        {_INSERT.format(grouped.format(rows('added', '')))};
                    EXCEPTION WHEN unique_violation THEN
                        {_ADD.format(grouped.format(rows('added', '')))}
                    END;
                ELSE
                    {_ADD.format(grouped.format(rows('added', '')))}
                END IF;
            ELSIF TG_OP = 'DELETE' THEN
                {_ADD.format(grouped.format(rows('removed', '-')))}
                {emptied}
            ELSE
                {_ADD.format(changed + ' HAVING SUM(readings) <> 0 OR SUM(total) <> 0')}
                {emptied}
            END IF;
            RETURN NULL;
        END $$"""


def _triggers(table: str) -> tuple[str, ...]:
    keeper = f"EXECUTE FUNCTION {ROLLUP}_of_{table}()"
    return (f"CREATE TRIGGER {table}_added AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
            f"FOR EACH STATEMENT {keeper}",
            f"CREATE TRIGGER {table}_removed AFTER DELETE ON {table} REFERENCING OLD TABLE AS removed "
            f"FOR EACH STATEMENT {keeper}",
            f"CREATE TRIGGER {table}_changed AFTER UPDATE ON {table} REFERENCING OLD TABLE AS removed "
            f"NEW TABLE AS added FOR EACH STATEMENT {keeper}",
            f"CREATE TRIGGER {table}_truncated AFTER TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {ROLLUP}_rebuilt()")


#: Every client's quarters from the ``net_active_power`` view, in key order (``{where}``: which readings).
_FROM_READINGS = (f"INSERT INTO {ROLLUP} (client_id, quarter, total, readings) SELECT client_id, "
                  f"{_QUARTER.format('timestamp')}, SUM(active_power), COUNT(*) FROM net_active_power {{where}} "
                  "GROUP BY 1, 2 ORDER BY 1, 2")

_SOURCE_OIDS = ", ".join(f"'{t}'::regclass" for t in ROLLUP_SOURCES)
_BACKFILL = rf"""DO $$
        DECLARE
            days date[] := ARRAY(SELECT DISTINCT (substring(pg_get_expr(c.relpartbound, c.oid)
                                 FROM $r$FROM \('([^']+)'\)$r$)::timestamptz AT TIME ZONE 'UTC')::date
                                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                 WHERE i.inhparent IN ({_SOURCE_OIDS}) ORDER BY 1);
            day date;
            day_start timestamptz;
            day_end timestamptz;
            done integer := 0;
            quarters bigint;
        BEGIN
            FOREACH day IN ARRAY days LOOP
                day_start := day::timestamp AT TIME ZONE 'UTC';
                day_end := (day + 1)::timestamp AT TIME ZONE 'UTC';
                EXECUTE format('CREATE TABLE %I PARTITION OF {ROLLUP} FOR VALUES FROM (%s) TO (%s)',
                               '{ROLLUP}_' || to_char(day, 'YYYYMMDD'), unixepoch(day_start), unixepoch(day_end));
                {_FROM_READINGS.format(where="WHERE timestamp >= day_start AND timestamp < day_end")};
                GET DIAGNOSTICS quarters = ROW_COUNT;
                done := done + 1;
                RAISE INFO 'migration 7: {ROLLUP} of % (day % of %): % quarter-hours', day, done,
                    cardinality(days), quarters;
            END LOOP;
        END $$"""

_ROLLUP = (
    # Issue 14: the zone-day aggregation reads each client's quarter-hours here instead of grouping its readings.
    # Kept by the database in the transaction of every write to the readings (statement-level triggers with
    # transition tables, which see exactly the rows a statement inserted, deleted or changed: a re-run that
    # inserts nothing adds nothing). A write straight into a day partition, or dropping one, bypasses them:
    # write through the parent tables. sqlite aggregates its readings directly (no rollup).
    Variant(postgresql=f"""CREATE TABLE {ROLLUP} (
        client_id TEXT COLLATE "C" NOT NULL,
        quarter BIGINT NOT NULL,
        total DOUBLE PRECISION NOT NULL,
        readings INTEGER NOT NULL,
        PRIMARY KEY (client_id, quarter)) PARTITION BY RANGE (quarter)"""),
    *(Variant(postgresql=_keeper(table)) for table in ROLLUP_SOURCES),
    Variant(postgresql=f"""CREATE FUNCTION {ROLLUP}_rebuilt() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM {ROLLUP};
            {_FROM_READINGS.format(where='')};
            RETURN NULL;
        END $$"""),
    *(Variant(postgresql=trigger) for table in ROLLUP_SOURCES for trigger in _triggers(table)),
    # the backfill, a day partition at a time (one per day partition of the readings), each day reported as a
    # message of severity INFO (logged by the storage); part of the migration's transaction, so it is applied
    # whole or not at all
    Variant(postgresql=_BACKFILL),
)

#: The schema, in order. Append a migration to change it; never edit one that has shipped.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "data layer of spec 4.2: substations, zones, clients, topology, readings", _DATA_LAYER),
    Migration(2, "data sharing: providers, end users, consents, registry of operations, incentives",
              _DATA_SHARING),
    Migration(3, "flexibility market: needs, offers, allocations, activation plans", _FLEXIBILITY),
    Migration(4, "observability and elasticity: HEMS, fault location, voltage, disaggregated data, runs",
              _OBSERVABILITY),
    Migration(5, "metering at volume: meter readings, net active power view, idempotency keys", _VOLUME),
    Migration(6, "REST API: parties and their hashed API keys, request id of each operation", _REST),
    Migration(7, "quarter-hour rollup of the clients' readings, kept by the database (PostgreSQL)", _ROLLUP),
)
