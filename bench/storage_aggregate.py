"""Metering aggregation in the database (issue 14), run on demand: a zone-day of 100,032 readings
(1,042 households x 96 quarter-hours) aggregated hourly into the zone's anonymised series, with 10M
readings stored (10 zones x 10 days), on PostgreSQL and on sqlite.

Loads the readings with :func:`ingest_metering` (not timed), then times, median and 95th percentile of
``--runs`` runs, the whole ``metering-request`` of an anonymised zone (the k-anonymity check, the SQL
aggregation, the registry of operations, the commit) at each granularity, and the bare aggregation of
one household's day::

    python bench/storage_aggregate.py --pg postgresql://dso@127.0.0.1:5432/postgres
    python bench/storage_aggregate.py --pg "$DSO_SAREF_TEST_PG" --zones 1 --no-sqlite   # 1M stored, quicker

Prints a table; removes its data (schemas, files) when done.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storage_data import DAY, add_households, drop, fresh_storage, write_readings

from dso_saref.backend import DsoBackend, ExchangeContext
from dso_saref.backend.aggregation import bucket_query
from dso_saref.backend.ingest import ingest_metering
from dso_saref.messages.data_sharing import Granularity, MeteringRequest

DAYS = 10
THIRD_PARTY = "https://third-party.example.org/kb"


def timed(function, runs: int) -> tuple[float, float]:
    """(median, 95th percentile) milliseconds of ``runs`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def bench(name: str, url: str, csv_path: Path, zones: int, runs: int) -> None:
    storage = fresh_storage(url)
    try:
        clients = add_households(storage, zones)
        if not csv_path.exists():
            write_readings(csv_path, clients, start=DAY, days=DAYS)
        began = time.perf_counter()
        stored = ingest_metering(storage, [csv_path]).inserted
        with storage.transaction("statistics") as db:  # what autovacuum does after a bulk load
            db.execute("ANALYZE")
        print(f"# {name}: {stored:,} readings stored and analysed in {time.perf_counter() - began:.1f} s",
              flush=True)
        backend = DsoBackend(storage)
        backend.parties.register_service_provider("TP001", knowledge_base_id=THIRD_PARTY)  # its agreement
        day = DAY + timedelta(days=DAYS // 2)
        handler = backend.handlers()["metering-request"]
        for granularity in Granularity:
            request = MeteringRequest(data_type="Anonymized", id="Z000", granularity=granularity, start=day,
                                      end=day + timedelta(days=1))
            [series] = handler(request, ExchangeContext(THIRD_PARTY, day)).root
            median, p95 = timed(lambda request=request: handler(request, ExchangeContext(THIRD_PARTY, day)), runs)
            print(f"{name:<11} zone-day {granularity.name.lower():<15} {len(series.readings):>4} values "
                  f"{median:>9.1f} {p95:>9.1f}", flush=True)
        statement, params = bucket_query(Granularity.HOURLY, UTC, day, day + timedelta(days=1), client=clients[0])

        def household() -> None:
            with storage.transaction("bench") as db:
                db.execute(statement, params).fetchall()

        median, p95 = timed(household, runs)
        print(f"{name:<11} household-day hourly      24 values {median:>9.1f} {p95:>9.1f}", flush=True)
    finally:
        drop(storage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("DSO_SAREF_TEST_PG"), help="a PostgreSQL server URL")
    parser.add_argument("--zones", type=int, default=10, help="zones of 1,042 households (10: 10M readings)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    print(f"{'database':<11} {'what':<30} {'values':>10} {'median ms':>9} {'p95 ms':>9}")
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "readings.csv"
        if args.pg:
            bench("PostgreSQL", args.pg, csv_path, args.zones, args.runs)
        if not args.no_sqlite:
            bench("sqlite", str(Path(folder) / "bench.sqlite"), csv_path, args.zones, args.runs)


if __name__ == "__main__":
    main()
