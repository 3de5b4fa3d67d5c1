"""Issue 12: a REST process works on a bounded number of requests at once (``RestServer(threads=...)``,
``serve --rest-threads``); the others wait their turn. With anyio's 40 threads, 50
connections had threads taking the GIL and the database connection out of turn (POST p99 127-159 ms;
8 threads: 75-112 ms, median 82, docs/performance.md)."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dso_saref.app.rest_workers import RestWorkers
from dso_saref.config import DEFAULT_REST_THREADS
from dso_saref.rest.server import RestServer

WAIT = 10.0  # seconds a test waits for what must happen at once; never reached when it works


class Probe:
    """A blocking endpoint that notes who is inside it, and the order requests arrived in the server."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.arrived: list[str] = []
        self.entered: list[str] = []
        self.inside = 0
        self.most = 0
        self.release = threading.Event()

    def app(self) -> Any:
        def block(request: Request) -> JSONResponse:  # sync: Starlette runs it in the loop's thread pool
            name = request.path_params["name"]
            with self.changed:
                self.entered.append(name)
                self.inside += 1
                self.most = max(self.most, self.inside)
                self.changed.notify_all()
            self.release.wait(WAIT)
            with self.changed:
                self.inside -= 1
            return JSONResponse({"name": name})

        async def tokens(request: Request) -> JSONResponse:
            return JSONResponse({"tokens": to_thread.current_default_thread_limiter().total_tokens})

        inner = Starlette(routes=[Route("/block/{name}", block), Route("/tokens", tokens)])

        async def arrivals(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/block/"):
                with self.changed:
                    self.arrived.append(scope["path"].rpartition("/")[2])
                    self.changed.notify_all()
            await inner(scope, receive, send)

        return arrivals

    def wait_for(self, predicate: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, WAIT), (self.arrived, self.entered, self.inside)


def get(server: RestServer, path: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        assert reply.status == 200
        return json.loads(reply.read())
    finally:
        connection.close()


@pytest.mark.parametrize("threads", [1, 3, DEFAULT_REST_THREADS])
def test_the_server_lends_its_requests_the_threads_it_was_given(threads: int) -> None:
    with RestServer(Probe().app(), threads=threads) as server:
        assert get(server, "/tokens") == {"tokens": threads}


def test_requests_beyond_the_threads_wait_their_turn() -> None:
    probe = Probe()
    names = [f"r{i}" for i in range(6)]
    answers: dict[str, dict[str, Any]] = {}
    with RestServer(probe.app(), threads=2) as server:
        senders = []
        for name in names:  # one at a time into the server
            sender = threading.Thread(target=lambda n=name: answers.__setitem__(n, get(server, f"/block/{n}")))
            sender.start()
            senders.append(sender)
            probe.wait_for(lambda n=name: n in probe.arrived)
        probe.wait_for(lambda: probe.inside == 2)
        assert probe.entered == names[:2]  # six arrived, two are worked on, four wait
        probe.release.set()
        for sender in senders:
            sender.join(WAIT)
    assert answers == {name: {"name": name} for name in names}
    assert probe.most == 2
    assert sorted(probe.entered) == probe.arrived == names


@pytest.mark.parametrize("threads", [0, -1, True, 1.5, "8"])
def test_threads_must_be_a_positive_integer(threads: Any) -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        RestServer(Probe().app(), threads=threads)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        RestWorkers("dso.sqlite", "127.0.0.1:0", 2, threads=threads)
