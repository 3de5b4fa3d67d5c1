"""Data for the storage benchmarks, made on the fly: zones of households and their quarter-hourly
readings as the CSV that ``dso-saref ingest metering`` reads. Nothing is committed or downloaded.

A zone has 1,042 households, so that a zone-day is 100,032 readings (the "zone-day of 100k readings" of
issue 14)::

    storage = fresh_storage("postgresql://dso@127.0.0.1/postgres")   # a new schema; or a sqlite path
    clients = add_households(storage, zones=10)
    write_readings(path, clients, start=DAY, days=10)               # 10,420 x 960 = 10,003,200 readings
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dso_saref.backend import Storage
from dso_saref.backend.grid import GridData

HOUSEHOLDS = 1042
DAY = datetime(2021, 9, 27, tzinfo=UTC)


def fresh_storage(url: str, *, schema: str | None = None) -> Storage:
    """A new, empty database: a new schema of the PostgreSQL server at ``url``, or the sqlite file ``url``
    (removed first). ``schema`` names the PostgreSQL schema instead (opened as it is if it exists: the
    data of an earlier run, brought up to the current migrations)."""
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        if schema is not None and not schema.isidentifier():
            raise ValueError(f"schema {schema!r}: letters, digits and underscores only")
        schema = schema or f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        parts = urlsplit(url)
        query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
        return Storage(urlunsplit(parts._replace(query=urlencode(query))))
    Path(url).unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(url + suffix).unlink(missing_ok=True)
    return Storage(url)


def drop(storage: Storage) -> None:
    """Close ``storage`` and remove what :func:`fresh_storage` made."""
    url = storage.url
    storage.close()
    if storage.dialect.name == "postgresql":
        import psycopg

        schema = dict(parse_qsl(urlsplit(url).query))["options"].split("=", 1)[1]
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)


def cpu_ticks(pid: int) -> int | None:
    """User and system CPU clock ticks of process ``pid`` (``None`` if it is not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def add_households(storage: Storage, zones: int) -> list[str]:
    """``zones`` zones ``Z000``... of :data:`HOUSEHOLDS` LV clients each; returns the client ids."""
    grid = GridData(storage)
    clients = []
    with storage.transaction("bench households") as db:
        for z in range(zones):
            grid.add_zone(f"Z{z:03d}")
            rows = [(f"C{z:03d}{h:04d}", "LV", f"M{z:03d}{h:04d}", f"Z{z:03d}") for h in range(HOUSEHOLDS)]
            db.executemany("INSERT INTO clients (id, voltage_level, meter_id, zone_id) VALUES (?, ?, ?, ?)", rows)
            clients += [r[0] for r in rows]
    return clients


def write_readings(path: Path, clients: list[str], *, start: datetime = DAY, days: int = 1, seed: int = 7) -> int:
    """Write a CSV of one reading per client and quarter-hour over ``days`` days; returns how many."""
    rng = random.Random(seed)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("id,time,measurement,unit\n")
        for q in range(96 * days):
            stamp = (start + timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.writelines(f"{c},{stamp},{rng.uniform(-3.0, 6.0):.3f},kW\n" for c in clients)
            count += len(clients)
    return count
