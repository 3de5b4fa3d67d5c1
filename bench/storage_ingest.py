"""Ingestion of metering readings into the backend's database (issue 14), run on demand.

For 1M and 10M readings (zones of 1,042 households, 96 quarter-hours a day, 10 days), writes the CSV
that ``dso-saref ingest metering`` reads (not timed), then times :func:`ingest_metering` into a new
PostgreSQL schema (``COPY`` into day partitions) and into a new sqlite file, and the same file again
(which must insert nothing), with the CPU time of this process (the client) and of the server's processes
(PostgreSQL on this machine, read from ``/proc``; unlike the wall clock it hardly depends on what else
the machine runs). JSON (the metering-data message, validated by its model) is timed up to
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from storage_data import DAY, HOUSEHOLDS, add_households, cpu_ticks, drop, fresh_storage, write_readings

from dso_saref.backend import Storage
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


@dataclass
class Run:
    """One file into a new database: readings, wall-clock seconds of the first ingestion and of the same file
    again, the CPU seconds of this process (the client: reading and validating the file) and of the
    database's server processes (PostgreSQL on this machine, else ``None``) for each."""

    readings: int
    seconds: float
    again: float
    client_cpu: float
    server_cpu: float | None
    again_client_cpu: float
    again_server_cpu: float | None


def measure(url: str, path: Path, zones: int) -> Run:
    """Ingest ``path`` into a new database, then again."""
    tag = f"bench_ingest_{os.getpid()}_{time.monotonic_ns()}"
    if url.startswith(("postgresql://", "postgres://")):  # its connections told apart from other sessions'
        url += ("&" if "?" in url else "?") + f"application_name={tag}"
    storage = fresh_storage(url)
    try:
        add_households(storage, zones)
        server = _server_cpu(storage, tag)
        began, began_cpu = time.perf_counter(), time.process_time()
        report = ingest_metering(storage, [path])
        first, first_cpu, first_server = time.perf_counter() - began, time.process_time() - began_cpu, server()
        began, began_cpu = time.perf_counter(), time.process_time()
        again = ingest_metering(storage, [path])
        second, second_cpu, second_server = time.perf_counter() - began, time.process_time() - began_cpu, server()
        assert report.inserted == report.readings and again.inserted == 0, (report, again)
        return Run(report.readings, first, second, first_cpu, first_server, second_cpu, second_server)
    finally:
        drop(storage)


def _server_cpu(storage: Storage, tag: str) -> Callable[[], float | None]:
    """A function giving the CPU seconds the server processes of ``storage`` (its connections, named ``tag``)
    spent since its last call (``None`` for sqlite, or a server on another machine)."""
    if storage.dialect.name != "postgresql":
        return lambda: None
    ticks: dict[int, int] = {}

    def spent() -> float | None:
        pids = [r[0] for r in storage.query("SELECT pid FROM pg_stat_activity WHERE application_name = ?", (tag,))]
        now = {pid: cpu_ticks(pid) for pid in pids}
        if any(t is None for t in now.values()):
            return None
        delta = sum(t - ticks.get(pid, 0) for pid, t in now.items())
        ticks.update(now)
        return delta / os.sysconf("SC_CLK_TCK")

    spent()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("DSO_SAREF_TEST_PG"), help="a PostgreSQL server URL")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--json-limit", type=int, default=1_000_000, help="time JSON files up to this size")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    targets = ([("PostgreSQL", args.pg)] if args.pg else []) + ([] if args.no_sqlite else [("sqlite", None)])
    print(f"{'database':<11} {'format':<6} {'readings':>11} {'seconds':>8} {'readings/s':>11} {'client cpu':>10} "
          f"{'server cpu':>10} {'again (s)':>10} {'client cpu':>10} {'server cpu':>10}")
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
                    run = measure(target, path, zones)
                    print(f"{name:<11} {kind:<6} {run.readings:>11,} {run.seconds:>8.2f} "
                          f"{run.readings / run.seconds:>11,.0f} {run.client_cpu:>10.2f} {_seconds(run.server_cpu)} "
                          f"{run.again:>10.2f} {run.again_client_cpu:>10.2f} {_seconds(run.again_server_cpu)}",
                          flush=True)
            for _, path in files:
                path.unlink()


def _seconds(value: float | None) -> str:
    return f"{value:>10.2f}" if value is not None else f"{'-':>10}"


if __name__ == "__main__":
    main()
