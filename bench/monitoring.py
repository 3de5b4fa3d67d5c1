"""What monitoring costs (issue 12 item 8), run on demand: the per-request cost of the metrics and the
access log, a scrape of ``/metrics``, the status page, the portal's build, a Knowledge Engine exchange served
by the backend's handler bare and observed (:func:`~dso_saref.monitoring.observed.observed_handlers`), and GET
needs on loopback with and without monitoring (one kept-alive connection, sequential requests: latency, not
throughput)::

    python bench/monitoring.py                   # defaults: 100,000 records, 2,000 requests per server
    python bench/monitoring.py --records 20000 --requests 500

Prints a table of medians (and p99 for the loopback requests).
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dso_saref.app.rest_api import dso_api
from dso_saref.app.seed import SP001, seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.exchange import ExchangeContext
from dso_saref.messages.flexibility import FlexibilityNeedsRequest
from dso_saref.monitoring.exchanges import ExchangeRecord
from dso_saref.monitoring.history import Activity, History
from dso_saref.monitoring.logs import access_log, exchange_log, json_lines_handler
from dso_saref.monitoring.metrics import Metrics
from dso_saref.monitoring.observed import observed_handlers
from dso_saref.monitoring.shared_history import SharedHistory
from dso_saref.portal.site import Site
from dso_saref.portal.status import status_view
from dso_saref.rest.app import create_app
from dso_saref.rest.gate import RequestRecord
from dso_saref.rest.operations import DSO_OPERATIONS
from dso_saref.rest.server import RestServer

NEEDS = "/v1/flexibility/needs?start=2021-09-28T00:00:00Z&end=2021-09-29T00:00:00Z"


def per_call(fn: Callable[[], Any], count: int) -> float:
    """Median of 5 runs of ``count`` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        runs.append((time.perf_counter() - started) / count * 1e6)
    return statistics.median(runs)


def timed(fn: Callable[[], Any], runs: int = 5) -> float:
    """Median milliseconds of ``runs`` calls."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return statistics.median(out)


def records(count: int) -> None:
    metrics = Metrics()
    ops = list(DSO_OPERATIONS)
    sample = [RequestRecord("r", op.method, op.path, op.exchange, status, 0.003, "SP001", None)
              for op in ops for status in (200, 400, 403)]
    cycle = itertools.cycle(sample)
    print(f"| Metrics.observe (per request) | {per_call(lambda: metrics.observe(next(cycle)), count):.1f} us |")
    logger = logging.getLogger("bench.access")
    logger.propagate = False
    logger.addHandler(json_lines_handler(io.StringIO()))
    logger.setLevel(logging.INFO)
    log = access_log(logger)
    cycle = itertools.cycle(sample)
    print(f"| access_log, one JSON line (per request) | {per_call(lambda: log(next(cycle)), count):.1f} us |")
    print(f"| /metrics exposition ({len(ops)} routes x 3 statuses) | {timed(metrics.exposition):.2f} ms |")


def status_page() -> None:
    now = time.time()
    site = Site()
    site.pages()
    with tempfile.TemporaryDirectory() as directory:
        workers = [SharedHistory(directory, pid=pid) for pid in (1, 2)]  # two workers' files
        for kind, history in (("in memory", History()), ("shared, 2 workers' files", workers[0])):
            writers: list[Activity] = [history] if kind == "in memory" else list(workers)
            cycle = itertools.cycle([0.002, 0.004, 0.008])
            print(f"| {type(history).__name__}.request (per request) | "
                  f"{per_call(lambda h=history, c=cycle: h.request(next(c)), 100_000):.2f} us |")
            for minute in range(24 * 60):
                for n in range(20):
                    writers[n % len(writers)].request(0.001 * (n + 1), refusal="no-key" if n == 0 else None,
                                                      at=now - minute * 60)
                writers[0].exchange("answered", at=now - minute * 60)
            for hours in (1, 6, 24):
                ms = timed(lambda h=hours, hist=history: site.status(status_view(hist, hours=h, now=now)))
                print(f"| status page, {hours} h window (full history, {kind}) | {ms:.1f} ms |")
        for history in workers:
            history.close()
    print(f"| portal build (every page, in memory) | {timed(lambda: Site().pages(), runs=3):.0f} ms |")


def served(count: int) -> None:
    storage = Storage(":memory:")
    backend = DsoBackend(storage)
    summary = seed_world(backend)
    metrics = Metrics()
    logger = logging.getLogger("bench.exchanges")
    logger.propagate = False
    logger.addHandler(json_lines_handler(io.StringIO()))
    logger.setLevel(logging.INFO)
    seen: list[ExchangeRecord] = []
    bare = backend.handlers()["flexibility-needs-request"]
    observed = observed_handlers(backend.handlers(), [metrics.exchange, exchange_log(logger),
                                                      seen.append])["flexibility-needs-request"]
    request = FlexibilityNeedsRequest(start=summary.start, end=summary.end)
    context = ExchangeContext(SP001, datetime.now().astimezone(),
                              "flexibility-needs-request", "ke", "bench")
    for name, handler in (("bare", bare), ("observed: metrics, JSON line, request scope", observed)):
        print(f"| needs request served, {name} | {per_call(lambda h=handler: h(request, context), count):.0f} us |")
    if not seen or seen[-1].outcome != "answered":
        raise SystemExit("the observed handler recorded no answered exchange")
    storage.close()


def loopback(requests: int) -> None:
    for name in ("create_app (no monitoring)", "dso_api (metrics, access log, portal)"):
        storage = Storage(":memory:")
        backend = DsoBackend(storage)
        seed_world(backend)
        logging.getLogger("dso_saref").setLevel(logging.WARNING)  # access lines are INFO: skipped
        app = create_app(backend) if name.startswith("create_app") else dso_api(backend).app
        key = app.state.credentials.add_party("SP001", "service-provider",
                                              now=backend.now() - timedelta(days=1)).token
        with RestServer(app) as server:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
            latencies = []
            for n in range(requests + 50):
                started = time.perf_counter()
                connection.request("GET", NEEDS, headers={"Authorization": f"Bearer {key}"})
                reply = connection.getresponse()
                reply.read()
                if n >= 50:  # warm-up
                    latencies.append((time.perf_counter() - started) * 1000)
                if reply.status != 200:
                    raise SystemExit(f"GET needs answered {reply.status}")
            connection.close()
        storage.close()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"| GET needs, {name} | p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    print("| what | median |")
    print("|---|---|")
    records(args.records)
    status_page()
    served(max(args.records // 100, 100))
    loopback(args.requests)


if __name__ == "__main__":
    main()
