"""Issue 15: how the environment's proxy and CA-bundle settings reach the KE client's HTTP transport.

``HTTPTransport`` reads them once per session (``requests`` would read the whole environment on every
call) and then stops trusting the environment: ``HTTP_PROXY``/``NO_PROXY`` decide whether requests to
the KE go through a forward proxy (checked with a real proxy on loopback in front of the stand-in),
``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) becomes the session's ``verify``."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from dso_saref.ke import EmulatorServer, HTTPTransport, KnowledgeEngineClient

#: How the proxy itself fetches: never through the proxy the environment names (itself).
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class _Forward(BaseHTTPRequestHandler):
    """A forward proxy: takes ``GET http://host/...`` and fetches it, recording what it was asked."""

    server: _ForwardProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "knowledge-base-id")}
        try:
            with DIRECT.open(urllib.request.Request(self.path, headers=headers), timeout=30) as reply:
                status, data = reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _ForwardProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy or CA setting in the environment, in either case (urllib reads both)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def forward_proxy() -> Iterator[_ForwardProxy]:
    with _ForwardProxy() as proxy:  # closes the socket on the way out
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        yield proxy
        proxy.shutdown()  # returns once serve_forever has ended


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0) as running:
        yield running


def recording_sessions() -> tuple[list[requests.Session], Any]:
    """A session factory for ``HTTPTransport`` that keeps the sessions it makes."""
    made: list[requests.Session] = []

    def factory() -> requests.Session:
        made.append(requests.Session())
        return made[-1]

    return made, factory


def test_http_proxy_from_the_environment_carries_every_request(
        clean_environment: pytest.MonkeyPatch, forward_proxy: _ForwardProxy, server: EmulatorServer) -> None:
    clean_environment.setenv("HTTP_PROXY", forward_proxy.url)
    made, factory = recording_sessions()
    with KnowledgeEngineClient(transport=HTTPTransport(server.base_url, session_factory=factory)) as ke:
        assert ke.version() == server.emulator.config.version
        assert ke.list_knowledge_bases() == []
    assert forward_proxy.seen == [server.base_url + "/version", server.base_url + "/sc"]
    [session] = made
    assert session.proxies["http"] == forward_proxy.url
    assert session.trust_env is False, "the environment is read once, not on every call"


def test_no_proxy_sends_the_requests_straight_to_the_ke(
        clean_environment: pytest.MonkeyPatch, forward_proxy: _ForwardProxy, server: EmulatorServer) -> None:
    clean_environment.setenv("HTTP_PROXY", forward_proxy.url)
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    with KnowledgeEngineClient(server.base_url) as ke:
        assert ke.version() == server.emulator.config.version
    assert forward_proxy.seen == []


def test_a_proxy_set_after_the_first_call_is_not_taken_up_by_that_thread(
        clean_environment: pytest.MonkeyPatch, forward_proxy: _ForwardProxy, server: EmulatorServer) -> None:
    with KnowledgeEngineClient(server.base_url) as ke:
        ke.version()
        clean_environment.setenv("HTTP_PROXY", forward_proxy.url)
        ke.version()
    assert forward_proxy.seen == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_from_the_environment_is_what_the_session_verifies_with(
        clean_environment: pytest.MonkeyPatch, server: EmulatorServer, tmp_path: Path, variable: str) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    clean_environment.setenv(variable, str(bundle))
    made, factory = recording_sessions()
    with KnowledgeEngineClient(transport=HTTPTransport(server.base_url, session_factory=factory)) as ke:
        ke.version()
    [session] = made
    assert session.verify == str(bundle)


def test_without_a_ca_bundle_the_system_store_is_used_and_an_explicit_verify_is_kept(
        clean_environment: pytest.MonkeyPatch, server: EmulatorServer, tmp_path: Path) -> None:
    made, factory = recording_sessions()
    with KnowledgeEngineClient(transport=HTTPTransport(server.base_url, session_factory=factory)) as ke:
        ke.version()
    assert made[0].verify is True
    clean_environment.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))

    def pinned() -> requests.Session:
        session = requests.Session()
        session.verify = "/etc/ssl/private-ke.pem"
        made.append(session)
        return session

    with KnowledgeEngineClient(transport=HTTPTransport(server.base_url, session_factory=pinned)) as ke:
        ke.version()
    assert made[1].verify == "/etc/ssl/private-ke.pem", "a session's own verify wins over the environment"
