"""Metering aggregation in the database (issue 14), run on demand: a zone-day of 100,032 readings
(1,042 households x 96 quarter-hours) aggregated hourly into the zone's anonymised series, with 10M
readings stored (10 zones x 10 days), on PostgreSQL and on sqlite.

Loads the readings with :func:`ingest_metering` (not timed), then times, median and 95th percentile of
``--runs`` runs, the whole ``metering-request`` of an anonymised zone (the k-anonymity check, the SQL
aggregation, the registry of operations, the commit) at each granularity, and the bare aggregation of
one household's day::

    python bench/storage_aggregate.py --pg postgresql://dso@127.0.0.1:5432/postgres
    python bench/storage_aggregate.py --pg "$DSO_SAREF_TEST_PG" --zones 1 --no-sqlite   # 1M stored, quicker
    python bench/storage_aggregate.py --pg "$DSO_SAREF_TEST_PG" --no-sqlite --schema bench_10m  # kept, reused

Prints a table (wall-clock median and 95th percentile, and the median CPU time of this process; on
PostgreSQL also the bare hourly zone-day statement, its execution time on the server from ``EXPLAIN
(ANALYZE, TIMING OFF)`` and the CPU time of its server process, both from the quarter-hour rollup and,
for comparison, from the readings); removes its data (schemas, files) when done, except a ``--schema``
named: that one is kept, and a later run with the same name reuses its readings (brought up to the
current migrations when the library opens it) instead of loading them again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storage_data import DAY, add_households, cpu_ticks, drop, fresh_storage, write_readings

from dso_saref.backend import DsoBackend, ExchangeContext
from dso_saref.backend.aggregation import bucket_query
from dso_saref.backend.ingest import ingest_metering
from dso_saref.messages.data_sharing import Granularity, MeteringRequest

DAYS = 10
THIRD_PARTY = "https://third-party.example.org/kb"


def timed(function, runs: int) -> tuple[float, float, float]:
    """(median, 95th percentile) wall-clock milliseconds of ``runs`` calls after one warm-up call, and the
    median CPU milliseconds of this process per call."""
    function()
    times, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        function()
        times.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], statistics.median(cpu)


def load(name: str, storage, csv_path: Path, zones: int) -> list[str]:
    """The households of the bench, with their readings stored (loaded now unless a kept schema has them)."""
    clients = [r[0] for r in storage.query("SELECT id FROM clients WHERE id LIKE 'C%' ORDER BY id")]
    if clients and storage.query_one("SELECT 1 FROM meter_readings LIMIT 1") is not None:
        stored = storage.query_one("SELECT COUNT(*) FROM meter_readings")[0]
        print(f"# {name}: {stored:,} readings already stored (kept schema)", flush=True)
        return clients
    clients = clients or add_households(storage, zones)
    if not csv_path.exists():
        write_readings(csv_path, clients, start=DAY, days=DAYS)
    began = time.perf_counter()
    stored = ingest_metering(storage, [csv_path]).inserted
    with storage.transaction("statistics") as db:  # what autovacuum does after a bulk load
        db.execute("ANALYZE")
    print(f"# {name}: {stored:,} readings stored and analysed in {time.perf_counter() - began:.1f} s", flush=True)
    return clients


def server_time(storage, statement: str, params: list, runs: int) -> tuple[float, float | None]:
    """The median execution time (ms) on the PostgreSQL server of ``statement`` (``EXPLAIN (ANALYZE, TIMING
    OFF)``), and the CPU time (ms) its server process spent per run, read from ``/proc`` when the server runs
    on this machine (else ``None``): unlike times, CPU time hardly depends on what else the machine runs."""
    times = []
    with storage.transaction("bench") as db:  # one connection, so one server process
        pid = db.execute("SELECT pg_backend_pid()").fetchone()[0]
        began = cpu_ticks(pid)
        for _ in range(runs):
            [plan] = db.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {statement}", params).fetchone()[0]
            times.append(plan["Execution Time"] if isinstance(plan, dict) else json.loads(plan)["Execution Time"])
        ended = cpu_ticks(pid)
    cpu = None if began is None or ended is None else (ended - began) * 1000 / os.sysconf("SC_CLK_TCK") / runs
    return statistics.median(times), cpu


def bench(name: str, url: str, csv_path: Path, zones: int, runs: int, schema: str | None = None) -> None:
    began = time.perf_counter()
    storage = fresh_storage(url, schema=schema)  # a kept schema of an older version is migrated here
    print(f"# {name}: opened in {time.perf_counter() - began:.1f} s (schema version {storage.schema_version})",
          flush=True)
    try:
        clients = load(name, storage, csv_path, zones)
        backend = DsoBackend(storage)
        backend.parties.register_service_provider("TP001", knowledge_base_id=THIRD_PARTY)  # its agreement
        day = DAY + timedelta(days=DAYS // 2)
        handler = backend.handlers()["metering-request"]
        for granularity in Granularity:
            request = MeteringRequest(data_type="Anonymized", id="Z000", granularity=granularity, start=day,
                                      end=day + timedelta(days=1))
            [series] = handler(request, ExchangeContext(THIRD_PARTY, day)).root
            median, p95, cpu = timed(lambda request=request: handler(request, ExchangeContext(THIRD_PARTY, day)),
                                     runs)
            print(f"{name:<11} zone-day {granularity.name.lower():<15} {len(series.readings):>4} values "
                  f"{median:>9.1f} {p95:>9.1f} {cpu:>7.1f}", flush=True)
        zone, household = {"zone": "Z000", "k": 5}, {"client": clients[0]}
        rollup = storage.dialect.rollup
        bare_queries = []
        for granularity in Granularity:
            what = f"zone-day {granularity.name.lower().replace('_', '-')}"
            bare_queries.append((f"{what} (SQL)", granularity, zone, rollup))
            if rollup:  # the same statement over the readings, as it was before the rollup (migration 7)
                bare_queries.append((f"{what} (readings)", granularity, zone, False))
        bare_queries.append(("household-day hourly", Granularity.HOURLY, household, rollup))
        for what, granularity, who, source in bare_queries:
            statement, params = bucket_query(granularity, UTC, day, day + timedelta(days=1), rollup=source, **who)

            def bare(statement: str = statement, params: list = params) -> None:
                with storage.transaction("bench") as db:
                    db.execute(statement, params).fetchall()

            median, p95, cpu = timed(bare, runs)
            server = ""
            if storage.dialect.name == "postgresql":
                execution, server_cpu = server_time(storage, statement, params, runs)
                server = f" {execution:>9.1f}" + (f" {server_cpu:>10.1f}" if server_cpu is not None else "")
            print(f"{name:<11} {what:<36} {median:>9.1f} {p95:>9.1f} {cpu:>7.1f}{server}", flush=True)
    finally:
        if schema is None:
            drop(storage)
        else:
            storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("DSO_SAREF_TEST_PG"), help="a PostgreSQL server URL")
    parser.add_argument("--zones", type=int, default=10, help="zones of 1,042 households (10: 10M readings)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--schema", help="PostgreSQL: keep the data in this schema, and reuse it if it exists")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="# %(message)s")  # the progress of a migration
    print(f"# load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'database':<11} {'what':<30} {'values':>10} {'median ms':>9} {'p95 ms':>9} {'cpu ms':>7} {'server ms':>9} "
          f"{'server cpu':>10}")
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "readings.csv"
        if args.pg:
            bench("PostgreSQL", args.pg, csv_path, args.zones, args.runs, args.schema)
        if not args.no_sqlite:
            bench("sqlite", str(Path(folder) / "bench.sqlite"), csv_path, args.zones, args.runs)
    print(f"# load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
