"""The transport seam: HTTP (errors of ``requests`` converted at the boundary), the InterConnect
generic adapter's paths (over HTTP against an emulator serving them, and in process), and the
in-process transport; plus the client's own argument checks and status mapping."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from typing import ClassVar

import pytest
import requests
from ke_support import KB_A, KB_B, PREFIXES, WAIT, Traffic, serve

from dso_saref.ke import (
    BadRequest,
    Conflict,
    EmulatorServer,
    GenericAdapterTransport,
    Gone,
    HTTPTransport,
    InProcessTransport,
    KERequest,
    KEResponse,
    KnowledgeBaseNotFound,
    KnowledgeEngineClient,
    KnowledgeEngineError,
    KnowledgeEngineTimeout,
    KnowledgeEngineUnavailable,
    NotFound,
    ServerError,
    Timeouts,
    Transport,
    UnexpectedResponse,
    UnsupportedOperation,
)
from dso_saref.ke.errors import error_for_status
from dso_saref.ke.transport import GENERIC_ADAPTER_ROUTES, from_generic_adapter, to_generic_adapter

READING = '"7.5"^^<http://www.w3.org/2001/XMLSchema#double>'


def ask_and_post_through(asker: KnowledgeEngineClient, answerer: KnowledgeEngineClient) -> None:
    """A complete ASK/ANSWER and POST/REACT exchange between two clients."""
    for ke, kb in ((asker, KB_A), (answerer, KB_B)):
        ke.register_knowledge_base(kb, kb, "test")
    ask = asker.register_ask(KB_A, "?m ex:reading ?v .", prefixes=PREFIXES, name="readings")
    post = asker.register_post(KB_A, "?m ex:setpoint ?v .", "?m ex:accepted ?ok .", prefixes=PREFIXES)
    answerer.register_answer(KB_B, "?meter ex:reading ?value .", prefixes=PREFIXES, name="readings")
    react = answerer.register_react(KB_B, "?d ex:setpoint ?p .", "?d ex:accepted ?a .", prefixes=PREFIXES)
    assert {ki.name for ki in answerer.list_knowledge_interactions(KB_B)} == {"readings", None}

    def handler(request):  # type: ignore[no-untyped-def]
        if request.knowledge_interaction_id == react:
            return [{"d": row["d"], "a": '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'}
                    for row in request.binding_set]
        return [{"meter": "<http://example.org/m1>", "value": READING}]

    worker = serve(answerer, KB_B, handler, count=2)
    assert asker.ask(KB_A, ask).binding_set == [{"m": "<http://example.org/m1>", "v": READING}]
    result = asker.post(KB_A, post, [{"m": "<http://example.org/m1>", "v": READING}])
    assert result.result_binding_set == [
        {"m": "<http://example.org/m1>", "ok": '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'}]
    worker.result()
    answerer.delete_knowledge_interaction(KB_B, react)
    answerer.delete_knowledge_base(KB_B)
    assert [kb.id for kb in answerer.list_knowledge_bases()] == [KB_A]


def test_generic_adapter_transport_over_http(server: EmulatorServer, client: KnowledgeEngineClient) -> None:
    traffic = Traffic()
    inner = HTTPTransport(server.root_url, session_factory=traffic.session)
    with KnowledgeEngineClient(transport=GenericAdapterTransport(inner), timeout=Timeouts(long_poll=WAIT)) as ga:
        ask_and_post_through(client, ga)
        with pytest.raises(UnsupportedOperation):
            ga.renew_lease(KB_A)
        with pytest.raises(UnsupportedOperation):
            ga.version()
    paths = {r.request.path_url for r in traffic.responses}
    assert paths <= {ga_path for _, ga_path in GENERIC_ADAPTER_ROUTES.values()} | {
        "/smartconnector/ki/register-ask-answer", "/smartconnector/ki/register-post-react"}
    assert {"/smartconnector/create", "/smartconnector/handle/start", "/smartconnector/handle/send"} <= paths
    for response in traffic.responses:
        assert "Knowledge-Base-Id" not in response.request.headers
        if response.request.path_url not in ("/smartconnector/", "/smartconnector/create"):
            assert "KnowledgeBaseId" in response.request.headers


def test_generic_adapter_transport_in_process(server: EmulatorServer, client: KnowledgeEngineClient) -> None:
    ga = GenericAdapterTransport(InProcessTransport(server.emulator))
    with KnowledgeEngineClient(transport=ga, timeout=Timeouts(long_poll=WAIT)) as answerer:
        ask_and_post_through(client, answerer)


def test_generic_adapter_registration_path_must_fit_the_interaction_type(server: EmulatorServer) -> None:
    reply = requests.post(
        server.root_url + "/smartconnector/ki/register-ask-answer",
        json={"knowledgeInteractionType": "PostKnowledgeInteraction", "argumentGraphPattern": "?a ?b ?c ."},
        headers={"KnowledgeBaseId": KB_A}, timeout=WAIT,
    )
    assert reply.status_code == 400 and "register-ask-answer" in reply.json()["message"]


@pytest.mark.parametrize(("method", "path"), sorted(GENERIC_ADAPTER_ROUTES))
def test_generic_adapter_routes_translate_both_ways(method: str, path: str) -> None:
    request = KERequest(method, path, {"Knowledge-Base-Id": KB_A, "Knowledge-Interaction-Id": "ki"}, json=[])
    ga = to_generic_adapter(request)
    assert ga.path.startswith("/smartconnector")
    assert ga.headers == {"KnowledgeBaseId": KB_A, "KnowledgeInteractionId": "ki"}
    assert from_generic_adapter(ga) == request


def test_in_process_transport_needs_json_bodies() -> None:
    class Unreached:
        def handle(self, request: KERequest) -> KEResponse:
            raise AssertionError("a body that is not JSON must not reach the handler")

    with pytest.raises(KnowledgeEngineError, match="JSON"):
        InProcessTransport(Unreached()).handle(KERequest("POST", "/sc", json={"when": object()}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_ke_raises_unavailable_from_the_connection_error() -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/rest"
    with KnowledgeEngineClient(unreachable, timeout=Timeouts(connect=2)) as ke, pytest.raises(
        KnowledgeEngineUnavailable
    ) as caught:
        ke.version()
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert caught.value.status is None


def test_a_long_poll_beyond_the_client_timeout_raises_timeout(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(handle_timeout=WAIT)
    with KnowledgeEngineClient(server.base_url, timeout=Timeouts(long_poll=0.3)) as ke:
        ke.register_knowledge_base(KB_A, "A", "test")
        with pytest.raises(KnowledgeEngineTimeout) as caught:
            ke.poll(KB_A)
    assert isinstance(caught.value.__cause__, requests.Timeout)


class _StoppingInstance(http.server.BaseHTTPRequestHandler):
    """A KE instance that stops: the connection already open gets ``stopping`` (410 or 503) on every
    request, kept alive; a new connection (the KE restarted behind the same address) gets 202."""

    protocol_version = "HTTP/1.1"
    stopping: ClassVar[int]
    first: ClassVar[list[tuple[str, int]]]

    def do_GET(self) -> None:
        if not self.first:
            self.first.append(self.client_address)
        self.send_response(self.stopping if self.client_address == self.first[0] else 202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [410, 503])
def test_a_stopping_ke_s_connection_is_not_reused(status: int) -> None:
    handler = type("Stopping", (_StoppingInstance,), {"stopping": status, "first": []})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with HTTPTransport(f"http://127.0.0.1:{server.server_port}/rest") as transport:
                replies = [transport.handle(KERequest("GET", "/sc/handle")).status for _ in range(3)]
        finally:
            server.shutdown()
    assert replies == [status, 202, 202]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.ConnectionError("refused"), KnowledgeEngineUnavailable),
        (requests.ConnectTimeout("slow"), KnowledgeEngineTimeout),
        (requests.ReadTimeout("slow"), KnowledgeEngineTimeout),
        (requests.exceptions.SSLError("bad cert"), KnowledgeEngineUnavailable),
        (requests.exceptions.ChunkedEncodingError("cut"), KnowledgeEngineError),
        (requests.TooManyRedirects("loop"), KnowledgeEngineError),
        (requests.exceptions.InvalidURL("bad"), KnowledgeEngineError),
        (requests.RequestException("other"), KnowledgeEngineError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_every_requests_error_is_converted_at_the_boundary(error: Exception, expected: type[Exception]) -> None:
    class Failing(requests.Session):
        def request(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
            raise error

    transport = HTTPTransport("http://127.0.0.1:9/rest", session_factory=Failing)
    with transport, pytest.raises(expected) as caught:
        transport.handle(KERequest("GET", "/version"))
    assert caught.value.__cause__ is error


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, BadRequest), (404, NotFound), (409, Conflict), (410, Gone), (500, ServerError), (503, ServerError),
     (418, UnexpectedResponse)],
)
def test_statuses_map_to_typed_errors(status: int, expected: type[KnowledgeEngineError]) -> None:
    error = error_for_status(status, {"messageType": "error", "message": "why"}, operation="GET /sc")
    assert type(error) is expected and error.status == status and "why" in str(error)
    plain = error_for_status(status, "plain text reason", operation="GET /sc", not_found=KnowledgeBaseNotFound)
    assert "plain text reason" in str(plain)
    if status == 404:
        assert type(plain) is KnowledgeBaseNotFound


def test_client_and_transport_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        KnowledgeEngineClient()
    with pytest.raises(ValueError, match="exactly one"):
        KnowledgeEngineClient("http://x/rest", transport=InProcessTransport(None))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reasoner_level"):
        KnowledgeEngineClient("http://127.0.0.1/rest", reasoner_level=6)
    with pytest.raises(ValueError, match=r"Timeouts\.long_poll"):
        Timeouts(long_poll=0)
    with pytest.raises(ValueError, match="base_url"):
        HTTPTransport("ftp://127.0.0.1/rest")
    transport = HTTPTransport("http://127.0.0.1:9/rest")
    transport.close()
    with pytest.raises(KnowledgeEngineError, match="closed"):
        transport.handle(KERequest("GET", "/version"))


def test_a_reply_without_the_expected_shape_is_unexpected() -> None:
    class Odd(Transport):
        def handle(self, request: KERequest) -> KEResponse:
            return KEResponse(200, {"bindingSet": [{"a": 1}], "exchangeInfo": []})

    with KnowledgeEngineClient(transport=Odd()) as ke, pytest.raises(UnexpectedResponse, match=r"bindingSet\[0\]"):
        ke.ask(KB_A, "ki")
