"""Ingestion of metering readings into the backend's database (issue 14), run on demand.

For 1M and 10M readings (zones of 1,042 households, 96 quarter-hours a day, 10 days), writes the CSV
that ``dso-saref ingest metering`` reads (not timed), then times :func:`ingest_metering` into a new
PostgreSQL schema (``COPY`` into day partitions) and into a new sqlite file, and the same file again
(which must insert nothing). JSON (the metering-data message, validated by its model) is timed up to
``--json-limit`` readings::

    python bench/storage_ingest.py --pg postgresql://dso@127.0.0.1:5432/postgres
    python bench/storage_ingest.py --pg "$DSO_SAREF_TEST_PG" --sizes 1000000 --no-sqlite

Prints a table; writes its data in a temporary directory and removes it (and the schemas and files).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storage_data import DAY, HOUSEHOLDS, add_households, drop, fresh_storage, write_readings

from dso_saref.backend.ingest import ingest_metering

DAYS = 10


def layout(size: int) -> int:
    """How many zones give about ``size`` readings over :data:`DAYS` days."""
    return max(1, round(size / (HOUSEHOLDS * 96 * DAYS)))


def write_json(path: Path, csv_path: Path) -> None:
    """The readings of a CSV file as a metering-data message (one series per client)."""
    series: dict[str, list[dict]] = {}
    with csv_path.open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            client, stamp, value, unit = line.rstrip("\n").split(",")
            series.setdefault(client, []).append({"time": stamp, "measurement": float(value), "unit": unit})
    path.write_text(json.dumps([{"id": c, "readings": r} for c, r in series.items()]), encoding="utf-8")


def measure(url: str, path: Path, zones: int) -> tuple[int, float, float]:
    """(readings, seconds of a first ingestion, seconds of the same file again) into a new database."""
    storage = fresh_storage(url)
    try:
        add_households(storage, zones)
        began = time.perf_counter()
        report = ingest_metering(storage, [path])
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = ingest_metering(storage, [path])
        second = time.perf_counter() - began
        assert report.inserted == report.readings and again.inserted == 0, (report, again)
        return report.readings, first, second
    finally:
        drop(storage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("DSO_SAREF_TEST_PG"), help="a PostgreSQL server URL")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--json-limit", type=int, default=1_000_000, help="time JSON files up to this size")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    targets = ([("PostgreSQL", args.pg)] if args.pg else []) + ([] if args.no_sqlite else [("sqlite", None)])
    print(f"{'database':<11} {'format':<6} {'readings':>11} {'seconds':>8} {'readings/s':>11} {'again (s)':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            zones = layout(size)
            csv_path = Path(folder) / "readings.csv"
            clients = [f"C{z:03d}{h:04d}" for z in range(zones) for h in range(HOUSEHOLDS)]
            write_readings(csv_path, clients, start=DAY, days=DAYS)
            files = [("csv", csv_path)]
            if size <= args.json_limit:
                write_json(Path(folder) / "readings.json", csv_path)
                files.append(("json", Path(folder) / "readings.json"))
            for name, url in targets:
                for kind, path in files:
                    target = url or str(Path(folder) / "bench.sqlite")
                    readings, first, second = measure(target, path, zones)
                    print(f"{name:<11} {kind:<6} {readings:>11,} {first:>8.2f} {readings / first:>11,.0f} "
                          f"{second:>10.2f}", flush=True)
            for _, path in files:
                path.unlink()


if __name__ == "__main__":
    main()
