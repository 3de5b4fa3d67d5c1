"""Fixtures of the Knowledge Engine tests: emulators on ephemeral loopback ports and clients whose
HTTP traffic is recorded as it went over the wire."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from ke_support import EXCHANGE_TIMEOUT, HANDLE_TIMEOUT, WAIT, Traffic

from dso_saref.ke import (
    EmulatorConfig,
    EmulatorServer,
    HTTPTransport,
    KnowledgeEngineClient,
    KnowledgeEngineEmulator,
    Timeouts,
)
from tests.conftest import Closing


@pytest.fixture
def make_server(closing: Closing) -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators on free loopback ports; all are closed after the test (in the background)."""
    servers: list[EmulatorServer] = []

    def make(**config: object) -> EmulatorServer:
        settings = {"handle_timeout": HANDLE_TIMEOUT, "exchange_timeout": EXCHANGE_TIMEOUT, **config}
        server = EmulatorServer(KnowledgeEngineEmulator(EmulatorConfig(**settings)), port=0).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    closing.later(*(server.close for server in servers))


@pytest.fixture
def server(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    """One emulator over HTTP with short test timeouts."""
    return make_server()


@pytest.fixture
def traffic() -> Traffic:
    """The recorded HTTP traffic of the ``client`` fixture."""
    return Traffic()


@pytest.fixture
def client(server: EmulatorServer, traffic: Traffic) -> Iterator[KnowledgeEngineClient]:
    """Our client talking to ``server`` over real HTTP, its traffic recorded in ``traffic``."""
    transport = HTTPTransport(server.base_url, session_factory=traffic.session)
    with KnowledgeEngineClient(transport=transport, timeout=Timeouts(read=WAIT, exchange=WAIT, long_poll=WAIT)) as ke:
        yield ke

