"""The DSO on the Knowledge Engine stand-in under concurrent askers (issue 15, item 8), run on demand.

Three kinds of process on loopback, as in a deployment: the stand-in (``python -m
dso_saref.ke.standin``), the reference DSO (``serve`` with a seeded database: a sqlite file, or the
PostgreSQL server ``--db`` names) and this script, whose threads are the askers, each a knowledge base
of its own that POSTs ``flexibility-needs-request`` (or ``metering-request`` for an anonymised zone-day)
over its own connection, back to back. Every answer is checked (the open needs of the window, or 24
hourly values); a failed or wrong answer counts as a failure. For each number of workers of the DSO
(``--workers``; 1 is one exchange at a time, as before the pool) and each number of askers
(``--clients``) it prints requests, failures, exchanges/s, p50/p99/max latency, and the CPU time per
exchange of the DSO and of the stand-in, then the ratios of the last workers setting to the first. The
askers send a request again to a DSO whose queue at the KE was full, as the client does by default
(:class:`~dso_saref.ke.queue_retry.QueueRetry`): "re-sent" counts the replies that said so (each one
a pause and a send again; a request still crowded out after the last attempt is a failure);
``--no-retry`` shows the KE's answer as it is::

    python bench/adapter_load.py                                  # sqlite, workers 1 and 8 (about 2 minutes)
    python bench/adapter_load.py --db postgresql://dso@127.0.0.1:5432/postgres --workers 8
    python bench/adapter_load.py --exchange metering --clients 1,16
    python bench/adapter_load.py --workers 8 --clients 60 --no-retry     # a burst without the askers' retry
    python bench/adapter_load.py --ke-url http://127.0.0.1:8280/rest --workers 8   # a running KE instead

Issue 15's targets: 60 concurrent askers with 0 failures, >= 150 exchanges/s, p99 < 250 ms at 16.
Everything lives in a temporary directory, removed at the end; nothing is written elsewhere.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

import dso_saref
from dso_saref.ke import HTTPTransport, KnowledgeEngineClient, KnowledgeEngineError, QueueRetry, Timeouts
from dso_saref.ke.queue_retry import DEFAULT_QUEUE_RETRY

DSO_KB = "https://dso.example.org/kb"
WINDOW = (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
NEEDS = 3  # open needs published in the window
LONG = Timeouts(read=60, exchange=60, long_poll=60)


# -- the DSO process --------------------------------------------------------------------------------------


def asker_kb(c: int) -> str:
    """The knowledge base of asker ``c``: a service provider with an agreement with the DSO."""
    return f"https://asker{c}.example.org/kb"


def prepare(db: str, askers: int) -> None:
    """Seed the database, register ``askers`` service providers (an agreement each) and publish
    :data:`NEEDS` open needs in :data:`WINDOW` (safe to repeat)."""
    from dso_saref.app.seed import seed_world
    from dso_saref.backend import DsoBackend, Storage
    from dso_saref.messages.flexibility import FlexibilityNeed

    storage = Storage(db)
    try:
        backend = DsoBackend(storage)
        seed_world(backend)
        for c in range(askers):
            if backend.parties.provider_for(asker_kb(c)) is None:
                backend.parties.register_service_provider(f"BENCH{c}", knowledge_base_id=asker_kb(c), name=f"asker {c}")
        if not backend.market.needs(start=WINDOW[0], end=WINDOW[1], status="open"):
            backend.publish_needs([FlexibilityNeed(request_id=f"L{i}", needs=10.0 * (i + 1), unit="kW",
                                                   direction="Up", power_type="Active",
                                                   start=WINDOW[0] + timedelta(hours=6 * i),
                                                   end=WINDOW[0] + timedelta(hours=6 * i + 3),
                                                   eligible_clients=["M0001", "M0002"], zone_id="Z-SS01")
                                   for i in range(NEEDS)])
    finally:
        storage.close()


def run_dso(ke_url: str, db: str, workers: int, log_file: str) -> None:
    """``serve`` the DSO with ``workers`` handler threads until SIGTERM; logs every exchange to
    ``log_file`` as the CLI does to standard error; prints one line once it serves."""
    import logging

    from dso_saref.app.serve import ServeConfig, serve

    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("dso_saref").addHandler(handler)
    logging.getLogger("dso_saref").setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    backlog = 0 if workers == 1 else min(8 * workers, 90 - workers)
    outcome = serve(ServeConfig(ke_url=ke_url, db=db, kb_id=DSO_KB, workers=workers, backlog=backlog), stop,
                    ready=lambda line: print(line, flush=True))
    print(f"stopped: {outcome}", flush=True)


# -- the load ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One level: latencies (ms) of the good answers, failures by kind, wall time, CPU seconds used,
    replies that said the DSO's queue was full (each followed by a send again while attempts last)."""

    latencies: list[float]
    failures: dict[str, int]
    wall: float
    cpu_dso: float
    cpu_ke: float
    crowded: int = 0

    def percentile(self, p: float) -> float:
        """The ``p`` quantile of the latencies (ms)."""
        done = sorted(self.latencies)
        return done[min(len(done) - 1, int(p * len(done)))] if done else float("nan")

    def line(self, label: str) -> str:
        """The row of the printed table."""
        done = sorted(self.latencies)
        total = len(done) + sum(self.failures.values())
        rate = total / self.wall if self.wall else 0.0
        pct = self.percentile
        failed = sum(self.failures.values())
        why = f" ({', '.join(f'{k}: {v}' for k, v in sorted(self.failures.items()))})" if failed else ""
        return (f"| {label} | {total} | {failed}{why} | {self.crowded} | {rate:.1f} | {pct(0.5):.0f} | "
                f"{pct(0.99):.0f} | "
                f"{done[-1] if done else float('nan'):.0f} | {1000 * self.cpu_dso / max(total, 1):.1f} | "
                f"{1000 * self.cpu_ke / max(total, 1):.1f} |")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (``nan`` for a process not ours to look at)."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_for(exchange: str, i: int) -> tuple[str, list[dict[str, str]], Callable[[list[dict[str, str]]], bool]]:
    """The KI name, argument bindings and answer check of request ``i``."""
    if exchange == "needs":
        payload = {"start": WINDOW[0].isoformat().replace("+00:00", "Z"),
                   "end": WINDOW[1].isoformat().replace("+00:00", "Z")}
        rows = dso_saref.to_bindings("flexibility-needs-request", payload)["flexibility-needs-request"]
        return "flexibility-needs-request", rows, lambda result: len({r["request_id"] for r in result}) == NEEDS
    payload = {"data_type": "Anonymized", "id": "Z-SS01", "granularity": 2, "start": "2021-09-27T00:00:00Z",
               "end": "2021-09-28T00:00:00Z"}
    rows = dso_saref.to_bindings("metering-request", payload)["metering-request"]
    return "metering-request", rows, lambda result: len(result) == 24


class Crowding:
    """Sessions that count the replies saying a queue at the KE was full."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self._look)
        return session

    def _look(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if b"queue is full" in response.content:
            with self._lock:
                self.count += 1


def load(ke_url: str, exchange: str, clients: int, count: int, pids: tuple[int, int | None],
         ramp: float = 0.0, retry: QueueRetry | None = DEFAULT_QUEUE_RETRY) -> Result:
    """``clients`` askers, each its own knowledge base and connection, send ``count`` requests in all; all
    start at once, or spread over ``ramp`` seconds; a request crowded out at the KE is sent again as
    ``retry`` says."""
    from dso_saref.ke.roles import interactions_for

    spec = next(s for s in interactions_for("service-provider")
                if s.name == ("flexibility-needs-request" if exchange == "needs" else "metering-request"))
    name, rows, good = request_for(exchange, 0)
    askers = []
    crowding = Crowding()
    for c in range(clients):
        ke = KnowledgeEngineClient(transport=HTTPTransport(ke_url, session_factory=crowding.session), timeout=LONG,
                                   queue_retry=retry)
        kb = asker_kb(c)
        ke.register_knowledge_base(kb, f"asker {c}", "bench/adapter_load.py")
        ki = ke.register_post(kb, spec.argument_pattern or "", spec.result_pattern, name=name, prefixes=spec.prefixes)
        askers.append((ke, kb, ki))
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    go = threading.Barrier(clients + 1)
    share = [count // clients + (1 if c < count % clients else 0) for c in range(clients)]

    def asker(c: int) -> None:
        ke, kb, ki = askers[c]
        go.wait()
        if ramp:
            threading.Event().wait(ramp * c / clients)  # asker c starts c/clients of the ramp late
        for _ in range(share[c]):
            began = time.perf_counter()
            try:
                result = ke.post(kb, ki, rows, recipients=[DSO_KB])
                ok = [i for i in result.exchange_info if i.succeeded]
                why = None if ok and good(result.result_binding_set) else (
                    "failed: " + (result.exchange_info[0].failed_message or "?")[:60]
                    if result.exchange_info else "nobody answered")
            except KnowledgeEngineError as exc:
                why = type(exc).__name__
            took = 1000 * (time.perf_counter() - began)
            with lock:
                if why is None:
                    latencies.append(took)
                else:
                    failures[why] = failures.get(why, 0) + 1

    threads = [threading.Thread(target=asker, args=(c,), daemon=True) for c in range(clients)]
    for thread in threads:
        thread.start()
    cpu = [cpu_seconds(pid) for pid in pids]
    go.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    used = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu, strict=True)]
    for ke, kb, _ in askers:
        ke.delete_knowledge_base(kb)
        ke.close()
    return Result(latencies, failures, wall, used[0], used[1], crowding.count)


# -- processes --------------------------------------------------------------------------------------------


def start(args: list[str], pattern: str, errors: Path) -> tuple[subprocess.Popen, re.Match]:
    """Start ``python args...`` (standard error to the file ``errors``) and wait for the line matching
    ``pattern`` on its standard output."""
    with errors.open("w") as sink:
        process = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=sink, text=True)
    line = process.stdout.readline() if process.stdout else ""
    found = re.search(pattern, line)
    if not found:
        process.kill()
        process.communicate()
        raise RuntimeError(f"{args[:3]} did not start: {line!r} {errors.read_text()[-2000:]}")
    return process, found


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="postgresql://... (default: a new sqlite file)")
    parser.add_argument("--workers", default="1,8", help="handler threads of the DSO, comma-separated")
    parser.add_argument("--clients", default="1,4,8,16,60", help="concurrent askers, comma-separated")
    parser.add_argument("--requests", type=int, default=600, help="requests per level")
    parser.add_argument("--exchange", choices=["needs", "metering"], default="needs")
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds over which the askers start (0: at once)")
    parser.add_argument("--no-retry", action="store_true",
                        help="askers take the KE's 'queue is full' as the answer (no send again)")
    parser.add_argument("--ke-url", default=None,
                        help="the REST base of a running KE to use instead of starting the stand-in")
    parser.add_argument("--dso", nargs=4, metavar=("KE_URL", "DB", "WORKERS", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dso:
        run_dso(args.dso[0], args.dso[1], int(args.dso[2]), args.dso[3])
        return
    with tempfile.TemporaryDirectory(prefix="adapter-load-") as tmp:
        db = args.db or str(Path(tmp) / "dso.sqlite")
        prepare(db, max(int(c) for c in args.clients.split(",")))
        standin = None
        if args.ke_url:
            ke_url = args.ke_url
        else:
            standin, found = start(["-m", "dso_saref.ke.standin", "--port", "0", "--exchange-timeout", "30"],
                                   r"at (http://127\.0\.0\.1:\d+/rest)", Path(tmp) / "standin.err")
            ke_url = found.group(1)
        database = "PostgreSQL" if db.startswith("postgres") else "sqlite file"
        print(f"{'KE' if args.ke_url else 'stand-in'} {ke_url}; database {database}; "
              f"{os.cpu_count()} CPUs; exchange {args.exchange}; load average {os.getloadavg()[0]:.1f}")
        print("| DSO workers, askers | requests | failed | re-sent | exchanges/s | p50 ms | p99 ms | max ms | "
              f"DSO CPU ms/exchange | {'KE' if args.ke_url else 'stand-in'} CPU ms/exchange |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        table: dict[tuple[int, int], Result] = {}
        try:
            for workers in [int(w) for w in args.workers.split(",")]:
                log = Path(tmp) / f"dso-{workers}.log"
                dso, _ = start([__file__, "--dso", ke_url, db, str(workers), str(log)], r"^serving the DSO",
                               Path(tmp) / f"dso-{workers}.err")
                try:
                    for clients in [int(c) for c in args.clients.split(",")]:
                        result = load(ke_url, args.exchange, clients, max(args.requests, clients),
                                      (dso.pid, standin.pid if standin else None), args.ramp,
                                      None if args.no_retry else DEFAULT_QUEUE_RETRY)
                        table[workers, clients] = result
                        print(result.line(f"{workers}, {clients}"), flush=True)
                finally:
                    stop(dso)
        finally:
            if standin is not None:
                stop(standin)
    settings = sorted({w for w, _ in table})
    if len(settings) > 1:
        first, last = settings[0], settings[-1]
        for clients in sorted({c for _, c in table}):
            a, b = table.get((first, clients)), table.get((last, clients))
            if a and b and a.latencies and b.latencies:
                rate = (len(b.latencies) / b.wall) / (len(a.latencies) / a.wall)
                p99 = a.percentile(0.99) / b.percentile(0.99)
                print(f"{clients} askers: workers {last} vs {first}: {rate:.2f}x the exchanges/s, p99 {p99:.2f}x lower")


if __name__ == "__main__":
    main()
