"""Issue 15, item 3: the stand-in's HTTP layer holds against what the adversarial run threw at it
(rows 2.1-2.13), over real loopback sockets: bad Content-Length and HTTP/0.9 get 400, 10^5-deep JSON
400, unknown methods 405, unknown paths 404, oversized bodies 413 without being read, half-sent
requests 408 after the read timeout while others are served, 50 concurrent clients all served, and
every error in the KE's format with no traceback in the log."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from ke_support import KB_A, KB_B, PREFIXES, WAIT, serve
from standin_support import closed_by_peer, connect, exchange, read_response, request, send_until_answered

from dso_saref.ke import (
    EmulatorConfig,
    EmulatorServer,
    HandleRequest,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    Timeouts,
)
from dso_saref.ke.emulator_http import ServerLimits

MiB = 2**20


@contextmanager
def standin(limits: ServerLimits | None = None, **config: object) -> Iterator[EmulatorServer]:
    settings = {"handle_timeout": 0.5, "exchange_timeout": 5.0, **config}
    with EmulatorServer(KnowledgeEngineEmulator(EmulatorConfig(**settings)), port=0,  # type: ignore[arg-type]
                        limits=limits) as server:
        yield server


@pytest.fixture
def quiet_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The log of the test, which must hold no traceback (client errors are not the server's)."""
    with caplog.at_level(logging.INFO):
        yield caplog
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "Traceback" not in caplog.text


def still_serving(port: int) -> None:
    assert exchange(port, request("GET", "/rest/sc")).status == 200


@pytest.mark.parametrize("head", [
    b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"GET /rest/version\r\n\r\n",
    b"GET /rest/version HTTP/1.1\r\n" + b"X-Filler: " + b"x" * 100_000 + b"\r\n\r\n",
], ids=["length-abc", "length-negative", "two-lengths", "bad-chunk", "http-0.9", "100kB-header"])
def test_requests_that_are_not_http_get_400_in_ke_format(server: EmulatorServer, quiet_log: object,
                                                        head: bytes) -> None:
    with connect(server.port) as sock:
        sock.sendall(head)
        response = read_response(sock)
        assert closed_by_peer(sock)
    assert response.status == 400 and response.is_ke_error(), response
    assert "not valid HTTP/1.1" in response.json["message"]  # type: ignore[index]
    still_serving(server.port)


@pytest.mark.parametrize("path", ["/rest/sc", "/rest/sc/ki"])
@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                  b"[" * 33 + b"]" * 33], ids=["arrays-1e5", "objects-1e5", "arrays-33"])
def test_deeply_nested_json_gets_400(server: EmulatorServer, quiet_log: object, path: str, body: bytes) -> None:
    response = exchange(server.port, request("POST", path, body, {"Knowledge-Base-Id": KB_A}))
    assert response.status == 400 and response.is_ke_error()
    assert "nested deeper than 32 arrays and objects" in response.json["message"]  # type: ignore[index]
    still_serving(server.port)


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE", "PUT", "BREW"])
def test_unknown_methods_get_405_in_ke_format_with_allow(server: EmulatorServer, quiet_log: object,
                                                         method: str) -> None:
    response = exchange(server.port, request(method, "/rest/sc"))
    assert response.status == 405 and response.is_ke_error()
    assert response.headers["allow"] == "DELETE, GET, POST"


@pytest.mark.parametrize("path", ["/", "/rest2/sc", "/rest/nothing", "/smartconnector/nothing", "/index.html"])
def test_unknown_paths_get_404_in_ke_format(server: EmulatorServer, quiet_log: object, path: str) -> None:
    response = exchange(server.port, request("GET", path))
    assert response.status == 404 and response.is_ke_error()


def test_a_300_mb_body_is_refused_with_413_without_being_read(quiet_log: object) -> None:
    with standin(ServerLimits(max_body=MiB)) as server:
        declared = b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n"
        status, sent = send_until_answered(server.port, declared, b"x" * 65536, 300_000_000)
        assert status == 413 and sent < 50 * MiB
        chunked = b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, sent = send_until_answered(server.port, chunked, b"10000\r\n" + b"x" * 65536 + b"\r\n", 300_000_000)
        assert status == 413 and MiB <= sent < 100 * MiB
        still_serving(server.port)


def test_a_client_that_sends_its_whole_oversized_body_first_still_reads_the_413(quiet_log: object) -> None:
    # what requests, urllib and most clients do: send everything, then read (the server lingers meanwhile)
    with standin(ServerLimits(max_body=MiB)) as server, requests.Session() as session:
        response = session.post(f"{server.base_url}/sc", data=b"x" * (8 * MiB), timeout=WAIT)
        assert response.status_code == 413 and response.json()["messageType"] == "error"
        assert "larger than 1048576 bytes" in response.json()["message"]
        small = session.post(f"{server.base_url}/sc", json={"knowledgeBaseId": KB_A, "knowledgeBaseName": "a",
                                                             "knowledgeBaseDescription": "a"}, timeout=WAIT)
        assert small.status_code == 200


def test_half_sent_requests_get_408_after_the_read_timeout_and_others_are_served(quiet_log: object) -> None:
    with standin(ServerLimits(read_timeout=0.5)) as server:
        stalled = [connect(server.port) for _ in range(20)]
        try:
            for i, sock in enumerate(stalled):
                if i % 2:
                    sock.sendall(b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Len")  # headers cut short
                else:
                    sock.sendall(b"POST /rest/sc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")  # body cut short
            with KnowledgeEngineClient(server.base_url) as ke:
                assert ke.version()
                ke.register_knowledge_base(KB_A, "a", "served while others stall")
            for sock in stalled:
                response = read_response(sock)
                assert response.status == 408 and response.is_ke_error()
                assert closed_by_peer(sock)
        finally:
            for sock in stalled:
                sock.close()
        still_serving(server.port)


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(quiet_log: object) -> None:
    with standin(ServerLimits(keep_alive=0.3)) as server, connect(server.port) as sock:
        for _ in range(3):
            sock.sendall(b"GET /rest/version HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).status == 200
        assert closed_by_peer(sock)


def test_fifty_concurrent_asks_are_all_answered(quiet_log: object) -> None:
    clients = 50
    with standin(exchange_timeout=WAIT) as server:
        timeouts = Timeouts(read=WAIT, exchange=WAIT, long_poll=WAIT)
        with KnowledgeEngineClient(server.base_url, timeout=timeouts) as setup:
            setup.register_knowledge_base(KB_A, "A", "asks")
            setup.register_knowledge_base(KB_B, "B", "answers")
            ask = setup.register_ask(KB_A, "?s ex:p ?o .", prefixes=PREFIXES)
            setup.register_answer(KB_B, "?s ex:p ?o .", prefixes=PREFIXES)

            def answer(request: HandleRequest) -> list[dict[str, str]]:
                return [{"s": "<http://example.org/s>", "o": f'"{request.handle_request_id}"'}]

            answering = serve(setup, KB_B, answer, count=clients)
            go = threading.Barrier(clients)
            results: list[object] = [None] * clients

            def asker(i: int) -> None:
                with KnowledgeEngineClient(server.base_url, timeout=timeouts) as ke:
                    go.wait(WAIT)
                    try:
                        results[i] = ke.ask(KB_A, ask)
                    except Exception as exc:  # collected and reported below
                        results[i] = exc

            threads = [threading.Thread(target=asker, args=(i,)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT)
            assert answering.result()
        failures = [r for r in results if isinstance(r, Exception) or r is None]
        assert failures == []
        assert sorted(len(r.binding_set) for r in results) == [1] * clients  # type: ignore[union-attr]


def test_fifty_clients_connecting_at_once_are_all_served(server: EmulatorServer, quiet_log: object) -> None:
    go = threading.Barrier(50)
    statuses: list[object] = []

    def one() -> None:
        go.wait(WAIT)
        try:
            statuses.append(exchange(server.port, request("GET", "/rest/sc")).status)
        except OSError as exc:
            statuses.append(exc)

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert statuses == [200] * 50


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the listen backlog")
def test_the_listen_backlog_is_at_least_128(server: EmulatorServer) -> None:
    listing = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, check=True)
    [line] = listing.stdout.splitlines()
    assert int(line.split()[2]) >= 128, line


def test_limits_are_checked() -> None:
    for bad in ({"max_body": 0}, {"read_timeout": -1}, {"backlog": 1.5}, {"workers": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServerLimits(**bad)  # type: ignore[arg-type]
