"""The KE stand-in under concurrent clients and at shutdown (issue 15, items 3 and 5), on loopback.

1. 50 clients ASK at once (each its own connection), one knowledge base answers them all: how many
   succeed, latency percentiles, wall time (the old stand-in: 18-22 of 50 got connection resets).
2. 50 clients connect at once and ``GET /rest/sc``: how many are served.
3. 200 knowledge bases long-poll at once and answer one ASK that reaches them all.
4. SIGTERM of a ``python -m dso_saref.ke.standin`` process with a long poll and 10 half-sent
   requests open: seconds until it has exited.
5. 60 askers (service providers) each POST ``flexibility-needs-request`` to a DSO that registered its
   whole role, in process (no HTTP; the DSO does not answer, so only the stand-in's own work counts):
   its CPU time per POST, for each asker's first POST (the matching of a new interaction) and the next.

::

    python bench/standin_load.py              # prints the figures (about half a minute)
    python bench/standin_load.py --runs 5
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import dso_saref
from dso_saref.ke import (
    EmulatorConfig,
    EmulatorServer,
    InProcessTransport,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    KnowledgeEngineError,
    Timeouts,
)

PREFIXES = {"ex": "http://example.org/ns#"}
PATTERN = "?s ex:p ?o ."
LONG = Timeouts(read=60, exchange=60, long_poll=60)


def together(count: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` in ``count`` threads released at once; each result or exception."""
    go = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        go.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # counted by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def answering(ke: KnowledgeEngineClient, kb: str, count: int) -> threading.Thread:
    def loop() -> None:
        done = 0
        while done < count:
            request = ke.poll(kb)
            if request is not None:
                ke.respond(kb, request.knowledge_interaction_id, request.handle_request_id,
                           [{"s": "<http://example.org/s>", "o": f'"{request.handle_request_id}"'}])
                done += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def concurrent_asks(clients: int) -> str:
    config = EmulatorConfig(handle_timeout=5.0, exchange_timeout=30.0)
    with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as server, \
            KnowledgeEngineClient(server.base_url, timeout=LONG) as setup:
        setup.register_knowledge_base("http://kb.example/a", "a", "asks")
        setup.register_knowledge_base("http://kb.example/b", "b", "answers")
        ask = setup.register_ask("http://kb.example/a", PATTERN, prefixes=PREFIXES)
        setup.register_answer("http://kb.example/b", PATTERN, prefixes=PREFIXES)
        answerer = answering(setup, "http://kb.example/b", clients)

        def one(i: int) -> float:
            with KnowledgeEngineClient(server.base_url, timeout=LONG) as ke:
                began = time.perf_counter()
                result = ke.ask("http://kb.example/a", ask)
                if len(result.binding_set) != 1:
                    raise AssertionError(result)
                return 1000 * (time.perf_counter() - began)

        began = time.perf_counter()
        results = together(clients, one)
        wall = time.perf_counter() - began
        answerer.join(10)
    latencies = sorted(r for r in results if isinstance(r, float))
    failed = [r for r in results if not isinstance(r, float)]
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan")
    return (f"{len(latencies)}/{clients} answered, {len(failed)} failed "
            f"({', '.join(sorted({type(f).__name__ for f in failed})) or 'none'}); p50 "
            f"{statistics.median(latencies):.0f} ms, p99 {p99:.0f} ms, wall {wall:.2f} s")


def concurrent_connections(clients: int) -> str:
    with EmulatorServer(port=0) as server:
        def one(i: int) -> bytes:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(b"GET /rest/sc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return sock.recv(12)

        results = together(clients, one)
    served = sum(r == b"HTTP/1.1 200" for r in results)
    errors = sorted({type(r).__name__ for r in results if isinstance(r, Exception)})
    return f"{served}/{clients} served ({', '.join(errors) or 'no errors'})"


def many_pollers(count: int) -> str:
    config = EmulatorConfig(handle_timeout=29.0, exchange_timeout=60.0)
    with EmulatorServer(KnowledgeEngineEmulator(config), port=0) as server, \
            KnowledgeEngineClient(server.base_url, timeout=LONG) as ke:
        ke.register_knowledge_base("http://kb.example/a", "a", "asks")
        ask = ke.register_ask("http://kb.example/a", PATTERN, prefixes=PREFIXES)
        threads = []
        for i in range(count):
            kb = f"http://kb.example/b{i}"
            ke.register_knowledge_base(kb, "b", "answers")
            ke.register_answer(kb, PATTERN, prefixes=PREFIXES)
            threads.append(answering(KnowledgeEngineClient(server.base_url, timeout=LONG), kb, 1))
        for i in range(count):
            server.emulator.wait_for_poll(f"http://kb.example/b{i}", 30)
        began = time.perf_counter()
        result = ke.ask("http://kb.example/a", ask)
        took = time.perf_counter() - began
        for thread in threads:
            thread.join(10)
    succeeded = sum(info.succeeded for info in result.exchange_info)
    return f"{count} polling knowledge bases: {succeeded} answered one ASK in {took:.2f} s"


def shutdown_seconds() -> float:
    process = subprocess.Popen([sys.executable, "-m", "dso_saref.ke.standin", "--port", "0", "--read-timeout", "120",
                                "--handle-timeout", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline() if process.stdout else ""
        found = re.search(r"at (http://127\.0\.0\.1:(\d+)/rest)", banner)
        if not found:
            raise RuntimeError(banner)
        base_url, port = found.group(1), int(found.group(2))
        ke = KnowledgeEngineClient(base_url, timeout=Timeouts(read=30, long_poll=180))
        ke.register_knowledge_base("http://kb.example/a", "a", "polls")
        polled = threading.Event()

        def poll() -> None:
            polled.set()
            with contextlib.suppress(KnowledgeEngineError):  # 410 when the stand-in stops
                ke.poll("http://kb.example/a")

        threading.Thread(target=poll, daemon=True).start()
        polled.wait()
        stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        for i, sock in enumerate(stalled):
            sock.sendall(b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n\r\n{" if i % 2 else
                         b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Le")
        began = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        took = time.perf_counter() - began
        for sock in stalled:
            sock.close()
        return took
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def crowd_of_askers(askers: int) -> str:
    """The stand-in's CPU time per POST of ``askers`` new askers to a DSO with its whole role."""
    from dso_saref.ke.roles import interactions_for

    emulator = KnowledgeEngineEmulator(EmulatorConfig(exchange_timeout=0.001))
    ke = KnowledgeEngineClient(transport=InProcessTransport(emulator), queue_retry=None)
    dso = "https://dso.example.org/kb"
    ke.register_knowledge_base(dso, "DSO", "serves the whole role")
    served = [s for s in interactions_for("dso") if not s.initiates]
    for s in served:
        if s.argument_pattern is not None:
            ke.register_react(dso, s.argument_pattern, s.result_pattern, name=s.name, prefixes=s.prefixes)
        else:
            ke.register_answer(dso, s.graph_pattern or "", name=s.name, prefixes=s.prefixes)
    spec = next(s for s in interactions_for("service-provider") if s.name == "flexibility-needs-request")
    rows = dso_saref.to_bindings("flexibility-needs-request", {"start": "2030-01-01T00:00:00Z",
                                                               "end": "2030-01-02T00:00:00Z"})[spec.name]
    kis = []
    for c in range(askers):
        kb = f"https://asker{c}.example.org/kb"
        ke.register_knowledge_base(kb, f"asker {c}", "posts")
        kis.append((kb, ke.register_post(kb, spec.argument_pattern or "", spec.result_pattern, name=spec.name,
                                         prefixes=spec.prefixes)))
    spent = []
    for _ in ("first", "next"):
        began = time.process_time()
        for kb, ki in kis:
            ke.post(kb, ki, rows, recipients=[dso])
        spent.append(1000 * (time.process_time() - began) / askers)
    emulator.close()
    return (f"{askers} askers POST to a DSO serving {len(served)} interactions: stand-in CPU per POST "
            f"{spent[0]:.2f} ms (each asker's first), {spent[1]:.2f} ms (the next)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(args.runs):
        print(f"1. 50 concurrent asks (run {run + 1}): {concurrent_asks(50)}")
    for run in range(args.runs):
        print(f"2. 50 concurrent connections (run {run + 1}): {concurrent_connections(50)}")
    print(f"3. {many_pollers(200)}")
    times = [shutdown_seconds() for _ in range(args.runs)]
    print(f"4. SIGTERM with a long poll and 10 half-sent requests open: exited in "
          f"{', '.join(f'{t:.2f}' for t in times)} s")
    print(f"5. {crowd_of_askers(60)}")


if __name__ == "__main__":
    main()
