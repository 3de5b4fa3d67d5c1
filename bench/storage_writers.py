"""Writers of several processes on one sqlite file (issue 12: the REST workers), waiting for each other in
sqlite's busy handler (sleeps of 1 to 100 ms) or by the storage's own tries (pauses of 0.2 to 2 ms,
``SqliteStorage._when_free``): each process runs threads that each commit one small row at a time after some Python work
of their own (a request's parsing, holding the GIL), on demand::

    python bench/storage_writers.py                        # 2 processes x 25 threads, 4 s, both ways
    python bench/storage_writers.py --processes 2 --threads 25 --seconds 8 --work-ms 1 --rounds 3

Prints, per way, commits/s, the latency of a transaction (waiting for the connection and the write lock,
the statements, the sync) p50/p99/max, and the CPU of the writers per commit. The ways alternate, so a
shared machine's noise hits both.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from dso_saref.backend.storage.sqlite import SqliteStorage


def writer(path: str, busy_handler: bool, threads: int, work_ms: float, seconds: float, tag: int,
           ready: Connection, go: Connection, out: Connection) -> None:
    """One process: ``threads`` threads committing until ``seconds`` have passed; sends the latencies."""
    storage = SqliteStorage(path, busy_handler=busy_handler)
    ready.send("ready")
    go.recv()
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(index: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            spin = time.perf_counter() + work_ms / 1000
            while time.perf_counter() < spin:  # a request's own Python work, holding the GIL
                pass
            began = time.perf_counter()
            with storage.transaction("mark") as db:
                db.execute("INSERT INTO marks (tag, n) VALUES (?, ?)", (f"{tag}-{index}", n))
            latencies[index].append(time.perf_counter() - began)
            n += 1

    cpu = time.process_time()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.send(([x for mine in latencies for x in mine], time.process_time() - cpu))
    storage.close()


def run(directory: str, busy_handler: bool, processes: int, threads: int, work_ms: float,
        seconds: float) -> dict[str, float]:
    """One run: commits/s, latency percentiles (ms), CPU ms per commit, and whether every row is stored."""
    path = str(Path(tempfile.mkdtemp(dir=directory)) / "bench.sqlite")
    with SqliteStorage(path) as storage, storage.transaction("setup") as db:
        db.execute("CREATE TABLE marks (tag TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tag, n))")
    context = multiprocessing.get_context("spawn")
    pipes = [(context.Pipe(duplex=False), context.Pipe(duplex=False), context.Pipe(duplex=False))
             for _ in range(processes)]
    procs = [context.Process(target=writer, args=(path, busy_handler, threads, work_ms, seconds, i, ready[1], go[0],
                                                  out[1]))
             for i, (ready, go, out) in enumerate(pipes)]
    for p in procs:
        p.start()
    for ready, _, _ in pipes:
        ready[0].recv()
    began = time.perf_counter()
    for _, go, _ in pipes:
        go[1].send("go")
    results = [out[0].recv() for _, _, out in pipes]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    cpu = sum(c for _, c in results)
    with SqliteStorage(path) as storage:
        stored = storage.query("SELECT COUNT(*) AS c FROM marks")[0]["c"]
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"commits": len(latencies), "rate": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99),
            "max": latencies[-1] * 1000, "cpu": cpu * 1000 / len(latencies), "stored": stored == len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=25, help="per process")
    parser.add_argument("--work-ms", type=float, default=1.0, help="Python work before each transaction")
    parser.add_argument("--seconds", type=float, default=4.0, help="per run")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each way, alternating")
    parser.add_argument("--dir", default=None, help="where the database goes (default: the temporary directory)")
    args = parser.parse_args()
    print(f"{args.processes} processes x {args.threads} threads, {args.work_ms:g} ms of work before each commit, "
          f"{args.seconds:g} s a run")
    print(f"{'wait':22} {'commits/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU ms/commit':>13} all stored")
    for _ in range(args.rounds):
        for busy_handler in (True, False):
            r = run(args.dir or tempfile.gettempdir(), busy_handler, args.processes, args.threads, args.work_ms,
                    args.seconds)
            label = "sqlite's busy handler" if busy_handler else "own tries, 0.2-2 ms"
            print(f"{label:22} {r['rate']:9.0f} {r['p50']:7.2f} {r['p99']:7.1f} {r['max']:7.1f} {r['cpu']:13.3f} "
                  f"{'yes' if r['stored'] else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
