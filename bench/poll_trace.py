"""Where the DSO's long-poll round trip goes under concurrent askers (issue 15 item 8), run on demand.

Runs ``bench/adapter_load.py`` once per level of ``--clients`` (a fresh stand-in and DSO each) with
timestamps on both sides of the long poll, then prints per level: the handle requests the stand-in
queued for the DSO, delivered, and cancelled because its queue of 50 was full; how long they waited
in it; the round trip of a poll that found work, split into the way in (the DSO's HTTP client, the
network, the stand-in's event loop until its app is called), the stand-in's app, and the way back;
the DSO's own time between two polls; whether its poller ever waited for room in its pool; the first
300 ms of the burst (requests queued and delivered every 25 ms); and when a request was first
cancelled, how many the DSO had taken by then. One clock (``time.monotonic``) serves
every process of the machine::

    python bench/poll_trace.py --clients 16,60          # about 40 s
    python bench/poll_trace.py --workers 2 --clients 60
    python bench/poll_trace.py --clients 60 --no-retry  # what the KE answers a burst, without the askers' retry

Diagnostics only: it wraps methods of the stand-in and of the DSO inside their processes; everything
lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import adapter_load  # the bench this one traces

Events = list[list[Any]]


def _keep(events: Events, path: str) -> None:
    import atexit

    atexit.register(lambda: Path(path).write_text(json.dumps(events)))


def run_standin(out: str, argv: list[str]) -> int:
    """The stand-in, recording the DSO's queued and delivered handle requests and its polls over HTTP."""
    from dso_saref.ke.emulator import KnowledgeEngineEmulator
    from dso_saref.ke.emulator_asgi import StandinApp
    from dso_saref.ke.standin import main

    events: Events = []
    _keep(events, out)
    enqueue, deliver, respond = KnowledgeEngineEmulator._enqueue, KnowledgeEngineEmulator._deliver, StandinApp._respond

    def traced_enqueue(self: KnowledgeEngineEmulator, kb: Any, handle: Any) -> None:
        full = len(kb.queue) >= self.config.queue_limit
        enqueue(self, kb, handle)
        if kb.id == adapter_load.DSO_KB:
            events.append(["queued", time.monotonic(), handle.id, full])

    def traced_deliver(self: KnowledgeEngineEmulator, kb: Any, handle: Any) -> Any:
        if kb.id == adapter_load.DSO_KB:
            events.append(["delivered", time.monotonic(), handle.id])
        return deliver(self, kb, handle)

    async def traced_respond(self: StandinApp, scope: Any, receive: Any) -> Any:
        began = time.monotonic()
        response = await respond(self, scope, receive)
        if scope["method"] == "GET" and scope["path"].endswith("/sc/handle"):
            events.append(["app", began, time.monotonic(), response.status_code])
        return response

    KnowledgeEngineEmulator._enqueue = traced_enqueue  # type: ignore[method-assign]
    KnowledgeEngineEmulator._deliver = traced_deliver  # type: ignore[method-assign]
    StandinApp._respond = traced_respond  # type: ignore[method-assign]
    return main(argv)


def run_dso(out: str, argv: list[str]) -> None:
    """The bench's DSO, recording each long poll and each wait for room in its pool."""
    from dso_saref.ke.client import KnowledgeEngineClient
    from dso_saref.ke.pool import HandlerPool

    events: Events = []
    _keep(events, out)
    poll, wait_for_room = KnowledgeEngineClient.poll, HandlerPool.wait_for_room

    def traced_poll(self: KnowledgeEngineClient, kb_id: str, *, timeout: float | None = None) -> Any:
        began = time.monotonic()
        request = poll(self, kb_id, timeout=timeout)
        events.append(["poll", began, time.monotonic(), None if request is None else request.handle_request_id])
        return request

    def traced_wait(self: HandlerPool, stopped: Any = lambda: False) -> bool:
        began, pending = time.monotonic(), self.pending
        room = wait_for_room(self, stopped)
        events.append(["room", began, time.monotonic(), pending])
        return room

    KnowledgeEngineClient.poll = traced_poll  # type: ignore[method-assign]
    HandlerPool.wait_for_room = traced_wait  # type: ignore[method-assign]
    adapter_load.run_dso(argv[0], argv[1], int(argv[2]), argv[3])


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    done = sorted(values)
    return (f"p50 {done[len(done) // 2]:.1f}, p90 {done[int(0.9 * len(done))]:.1f}, "
            f"p99 {done[int(0.99 * len(done))]:.1f}, max {done[-1]:.1f}")


def report(standin: Events, dso: Events) -> None:
    """Print what the two traces of one level say (times in ms)."""
    queued = {e[2]: e for e in standin if e[0] == "queued"}
    delivered = {e[2]: e[1] for e in standin if e[0] == "delivered"}
    cancelled = sum(1 for e in queued.values() if e[3])
    print(f"  stand-in: {len(queued)} queued for the DSO, {len(delivered)} delivered, "
          f"{cancelled} cancelled the oldest (queue full)")
    waits = [1000 * (delivered[i] - e[1]) for i, e in queued.items() if i in delivered]
    print(f"  wait in the stand-in's queue: {_spread(waits)}")
    polls = [e for e in dso if e[0] == "poll"]
    apps = [e for e in standin if e[0] == "app"]
    worked = [(p, a) for p, a in zip(polls, apps, strict=False) if p[3] is not None]
    print(f"  poll with work, whole round trip: {_spread([1000 * (p[2] - p[1]) for p, _ in worked])}")
    print(f"    way in (DSO client, network, stand-in loop): {_spread([1000 * (a[1] - p[1]) for p, a in worked])}")
    print(f"    stand-in app: {_spread([1000 * (a[2] - a[1]) for _, a in worked])}")
    print(f"    way back (stand-in loop, network, DSO client): {_spread([1000 * (p[2] - a[2]) for p, a in worked])}")
    print(f"  DSO between a poll's return and the next poll: "
          f"{_spread([1000 * (b[1] - a[2]) for a, b in itertools.pairwise(polls) if a[3] is not None])}")
    rooms = [e for e in dso if e[0] == "room"]
    if rooms:
        print(f"  DSO poller waiting for room in its pool: {_spread([1000 * (e[2] - e[1]) for e in rooms])}; "
              f"requests in the pool at a poll: max {max(e[3] for e in rooms)}")
    if queued:
        start = min(e[1] for e in queued.values())
        marks = [25 * k for k in range(1, 13)]
        print("  the burst, ms after the first request was queued: " + ", ".join(
            f"{m}: {sum(1 for e in queued.values() if e[1] < start + m / 1000)} queued / "
            f"{sum(1 for t in delivered.values() if t < start + m / 1000)} delivered" for m in marks))
    if cancelled:
        start = min(e[1] for e in queued.values())
        first = min(e[1] for e in queued.values() if e[3])
        print(f"  first cancellation {1000 * (first - start):.0f} ms after the first request was queued: by then "
              f"{sum(1 for e in queued.values() if e[1] < first)} queued, "
              f"{sum(1 for t in delivered.values() if t < first)} delivered to the DSO")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="8", help="handler threads of the DSO")
    parser.add_argument("--clients", default="16,60", help="concurrent askers, comma-separated")
    parser.add_argument("--requests", default="600", help="requests per level")
    parser.add_argument("--no-retry", action="store_true", help="askers do not send crowded-out requests again")
    parser.add_argument("--standin", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--dso", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin:
        sys.exit(run_standin(args.standin[0], args.standin[1:]))
    if args.dso:
        run_dso(args.dso[0], args.dso[1:])
        return
    start = adapter_load.start
    with tempfile.TemporaryDirectory(prefix="poll-trace-") as tmp:
        traces = {"standin": str(Path(tmp) / "standin.json"), "dso": str(Path(tmp) / "dso.json")}

        def traced_start(argv: list[str], pattern: str, errors: Path) -> Any:
            if argv[:2] == ["-m", "dso_saref.ke.standin"]:
                argv = [__file__, "--standin", traces["standin"], *argv[2:]]
            elif "--dso" in argv:
                argv = [__file__, "--dso", traces["dso"], *argv[argv.index("--dso") + 1:]]
            return start(argv, pattern, errors)

        adapter_load.start = traced_start
        for clients in args.clients.split(","):
            sys.argv = [adapter_load.__file__, "--workers", args.workers, "--clients", clients,
                        "--requests", args.requests, *(["--no-retry"] if args.no_retry else [])]
            print(f"== DSO workers {args.workers}, {clients} askers; load average {os.getloadavg()[0]:.1f}")
            adapter_load.main()
            report(json.loads(Path(traces["standin"]).read_text()), json.loads(Path(traces["dso"]).read_text()))


if __name__ == "__main__":
    main()
