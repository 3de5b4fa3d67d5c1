"""A bounded load on the DSO's REST API on loopback (issue 12), run on demand: GET needs and POST offers at
1, 10 and 50 connections, requests/s and p50/p99 latency, and nothing lost (every 201 is in the database).

The server runs in a process of its own (``serve`` below: the seeded reference DSO on a sqlite file or, with
``--pg URL``, in a fresh schema of a PostgreSQL server; its REST API on 127.0.0.1 from ``--workers N``
processes; a party's key); the load comes from ``wrk`` (Debian's package, installed by this
script when absent and allowed: ``--client wrk``) or from a bounded Python client (threads, one kept-alive
connection each: ``--client python``). Each level runs for ``--seconds`` (and the Python client at most
``--requests`` requests), then the database is read to check that every offer answered 201 is stored::

    python bench/rest_load.py                          # wrk when it can be had, else the Python client
    python bench/rest_load.py --client python --seconds 10 --levels 1,10,50
    python bench/rest_load.py --pg postgresql://dso@127.0.0.1:5432/postgres --workers 4 --levels 50

Prints a table; the database lives in a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dso_saref.config import DEFAULT_REST_THREADS

NEED = "B1"
METERS = [f"M{n:04d}" for n in range(1, 15)]
START = datetime(2030, 1, 1, 18, tzinfo=UTC)


# -- the server process -------------------------------------------------------------------------------------


def serve(db: str, workers: int, threads: int) -> None:
    """The seeded DSO's REST API on 127.0.0.1 (a free port), from ``workers`` processes when more than
    one, each working on ``threads`` requests at once; prints one JSON line (url, key) then serves until
    standard input closes."""
    from dso_saref.app.rest_workers import RestWorkers
    from dso_saref.app.seed import seed_world
    from dso_saref.backend import DsoBackend, Storage
    from dso_saref.backend.credentials import Credentials
    from dso_saref.messages.flexibility import FlexibilityNeed
    from dso_saref.rest.app import create_app
    from dso_saref.rest.server import RestServer

    storage = Storage(db)
    backend = DsoBackend(storage)
    seed_world(backend)
    backend.publish_needs([FlexibilityNeed(request_id=f"{NEED}" if i == 0 else f"B{i + 1}", needs=100.0, unit="kW",
                                           direction="Up", power_type="Active", start=START + timedelta(days=i),
                                           end=START + timedelta(days=i, hours=3), eligible_clients=METERS,
                                           zone_id="Z-SS01") for i in range(5)])
    key = Credentials(storage).add_party("SP001", "service-provider", now=backend.now()).token
    if workers > 1:
        server: Any = RestWorkers(db, "127.0.0.1:0", workers, threads=threads)
    else:
        server = RestServer(create_app(backend), "127.0.0.1:0", limit_concurrency=2000, threads=threads)
    with server:
        print(json.dumps({"url": server.base_url, "key": key}), flush=True)
        sys.stdin.read()
    storage.close()


def stored_offers(db: str) -> set[str]:
    """The ids of the offers the database holds for the bench's need."""
    from dso_saref.backend import DsoBackend, Storage

    storage = Storage(db)
    try:
        return {record.offer.offer_id for record in DsoBackend(storage).market.offers(NEED)}
    finally:
        storage.close()


def fresh_schema(url: str) -> tuple[str, str]:
    """A new schema on the PostgreSQL server ``url``: its name, and ``url`` with it as the search path."""
    import uuid
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return schema, urlunsplit(parts._replace(query=urlencode(query)))


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


# -- the loads -------------------------------------------------------------------------------------------------

NEEDS_TARGET = "/v1/flexibility/needs?start=2030-01-01T00:00:00Z&end=2030-01-31T00:00:00Z"


def offer_body(tag: str) -> bytes:
    return json.dumps([{"request_id": NEED, "offer_id": tag, "offer": 1.0, "unit": "kW", "price": 0.1,
                        "start": START.isoformat(), "end": (START + timedelta(hours=3)).isoformat(),
                        "meter_ids": ["M0001"]}]).encode()


def python_load(url: str, key: str, kind: str, connections: int, seconds: float, limit: int,
                run: str) -> dict[str, float]:
    """Closed loop: ``connections`` threads, each one kept-alive connection, until ``seconds`` or ``limit``
    requests in all."""
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
    latencies: list[float] = []
    acknowledged: list[str] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(limit))
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine, codes, acked = [], {}, []
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            began = time.perf_counter()
            if kind == "get":
                conn.request("GET", NEEDS_TARGET, headers=headers)
            else:
                conn.request("POST", "/v1/flexibility/offers", body=offer_body(f"{run}-{n}"), headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            mine.append(time.perf_counter() - began)
            codes[reply.status] = codes.get(reply.status, 0) + 1
            if reply.status == 201:
                acked.append(json.loads(body)["reference"])
        conn.close()
        with lock:
            latencies.extend(mine)
            acknowledged.extend(acked)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0  # noqa: E731
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pick(0.50), "p99": pick(0.99),
            "created": statuses.get(201, 0), "errors": sum(c for s, c in statuses.items() if s >= 400),
            "acked": acknowledged}


_WRK_SCRIPT = """
n = 0
created, errors = 0, 0
threads = {}
local tag = "%(run)s"
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  headers = { ["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json" }
  acked = io.open("%(acked)s-" .. id, "w")
end
function request()
  n = n + 1
  if "%(kind)s" == "get" then
    return wrk.format("GET", "%(target)s", headers)
  end
  local body = string.format('[{"request_id":"%(need)s","offer_id":"%%s-%%d-%%d","offer":1.0,"unit":"kW","price":0.1,'
    .. '"start":"%(start)s","end":"%(end)s","meter_ids":["M0001"]}]', tag, id, n)
  return wrk.format("POST", "/v1/flexibility/offers", headers, body)
end
function response(status, headers, body)
  if status == 201 then
    created = created + 1
    acked:write(string.match(body, '"reference":"([^"]+)"') or "?", "\\n")
    acked:flush()
  end
  if status >= 400 then errors = errors + 1 end
end
function done(summary, latency, requests)
  local c, e = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); e = e + t:get("errors") end
  io.write(string.format("RESULT %%d %%f %%f %%f %%d %%d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, c, e))
end
"""


def wrk_load(url: str, key: str, kind: str, connections: int, seconds: float, run: str,
             workdir: Path) -> dict[str, float]:
    """``wrk`` with a Lua script (distinct offer ids per request; counts 201s and errors)."""
    script = workdir / f"{run}.lua"
    script.write_text(_WRK_SCRIPT % {"run": run, "key": key, "acked": str(workdir / f"acked-{run}"), "kind": kind,
                                     "target": NEEDS_TARGET, "need": NEED, "start": START.isoformat(),
                                     "end": (START + timedelta(hours=3)).isoformat()})
    threads = min(connections, 2)
    out: Any = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                          "-s", str(script), url], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"wrk failed: {out.stderr or out.stdout}")
    out = out.stdout
    line = next((line for line in out.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        sys.exit(f"wrk gave no result:\n{out}")
    requests, duration, p50, p99, created, errors = line.split()[1:]
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        print(f"  wrk: socket errors {socket_errors.group(1)}", file=sys.stderr)
    acked = [line for f in sorted(workdir.glob(f"acked-{run}-*")) for line in f.read_text().split()]
    return {"requests": int(requests), "rps": int(requests) / float(duration), "p50": float(p50), "p99": float(p99),
            "created": int(created), "errors": int(errors), "acked": acked}


def process_cpu(pid: int) -> float:
    """The CPU seconds (user and system) the process ``pid`` and its live descendants have used (Linux
    ``/proc``; 0 where it cannot be read): the server's own cost, whatever the load generator takes."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(cpu for p, (_, cpu) in stats.items() if p in family)


def have_wrk(install: bool) -> bool:
    """Whether ``wrk`` is on PATH, installing Debian's package when allowed and absent."""
    if shutil.which("wrk"):
        return True
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk") is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="load", choices=["load", "serve"])
    parser.add_argument("--db", help="(serve) the database: a sqlite file or a postgresql:// URL")
    parser.add_argument("--pg", default=None, metavar="URL",
                        help="a PostgreSQL server (postgresql://USER@HOST:PORT/DB): the bench runs in a schema of "
                             "its own there, dropped afterwards, instead of a sqlite file")
    parser.add_argument("--workers", type=int, default=1, help="REST worker processes (serve --rest-workers)")
    parser.add_argument("--threads", type=int, default=DEFAULT_REST_THREADS,
                        help="requests each process works on at once (serve --rest-threads)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--levels", default="1,10,50", help="connections, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="per level and kind")
    parser.add_argument("--requests", type=int, default=200_000, help="(python client) at most, per level")
    parser.add_argument("--dir", default=None, help="where the sqlite file goes (default: a temporary directory; "
                        "/dev/shm takes the disk's fsync out)")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.db, args.workers, args.threads)
        return
    client = args.client
    if client in ("auto", "wrk"):
        if have_wrk(install=True):
            client = "wrk"
        elif client == "wrk":
            sys.exit("wrk is not installed and cannot be (apt-get as root)")
        else:
            client = "python"
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        schema, db = fresh_schema(args.pg) if args.pg else (None, str(Path(tmp) / "dso.sqlite"))
        server = subprocess.Popen([sys.executable, __file__, "serve", "--db", db, "--workers", str(args.workers),
                                   "--threads", str(args.threads)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            ready = json.loads(server.stdout.readline())  # type: ignore[union-attr]
            url, key = ready["url"], ready["key"]
            print(f"server {url} (pid {server.pid}, {args.workers} worker(s), "
                  f"{'PostgreSQL' if args.pg else 'sqlite'}), client {client}, {args.seconds:g} s per level")
            print(f"{'load':27} {'conns':>5} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'201s':>7} {'errors':>6} {'srv CPU ms/req':>14}")
            acked: list[str] = []
            for kind in ("get", "post"):
                for connections in levels:
                    run = f"{kind}{connections}"
                    cpu = process_cpu(server.pid)
                    if client == "wrk":
                        result = wrk_load(url, key, kind, connections, args.seconds, run, Path(tmp))
                    else:
                        result = python_load(url, key, kind, connections, args.seconds, args.requests, run)
                    cpu = process_cpu(server.pid) - cpu
                    acked += result["acked"]
                    label = "GET /v1/flexibility/needs" if kind == "get" else "POST /v1/flexibility/offers"
                    print(f"{label:27} {connections:5d} {int(result['requests']):9d} {result['rps']:8.0f} "
                          f"{result['p50']:8.1f} {result['p99']:8.1f} {int(result['created']):7d} "
                          f"{int(result['errors']):6d} {cpu * 1000 / max(1, result['requests']):14.2f}", flush=True)
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(60)
        stored = stored_offers(db)
        if schema is not None:
            drop_schema(args.pg, schema)
        lost = sorted(set(acked) - stored)
        print(f"offers answered 201: {len(acked)} ({len(set(acked))} distinct ids); in the database: {len(stored)} "
              f"(the rest were cut off by the end of a run before their answer); "
              f"{'nothing lost' if not lost and len(set(acked)) == len(acked) else f'LOST {lost[:10]}'}")


if __name__ == "__main__":
    main()
