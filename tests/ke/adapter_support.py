"""Helpers of the adapter tests: a stand-in over HTTP on loopback and the authorization exchange whose
answer names what was asked (so that each answer can be matched to its request); adapters serve
through ``tests.support.reference_dso.serving``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dso_saref.exchange import ExchangeContext
from dso_saref.ke import EmulatorConfig, EmulatorServer, KnowledgeEngineClient, KnowledgeEngineEmulator, Timeouts
from dso_saref.ke.adapter import Adapter, Backoff
from dso_saref.ke.registration import Probe
from dso_saref.messages.data_sharing import AuthorizationRequest, AuthorizationResponse

#: Generous bound for waiting on threads and the stand-in; reached only when something is broken.
WAIT = 15.0
FAST = Backoff(initial=0.05, cap=0.2, attempts=3)
#: Probing a registered id against the stand-in, which holds a long poll 0.5 s (the KE: 29 s).
PROBE = Probe(window=0.3, hold=1.0)
DSO = "https://test.example.org/kb/dso"
WINDOW = {"start": "2021-09-27T10:00:00Z", "end": "2021-09-27T11:00:00Z"}


def standin(**config: Any) -> EmulatorServer:
    """A started stand-in on a free loopback port with short waits (``config`` overrides them)."""
    settings = {"handle_timeout": 0.5, "exchange_timeout": WAIT, **config}
    return EmulatorServer(KnowledgeEngineEmulator(EmulatorConfig(**settings)), port=0).start()


def client(server: EmulatorServer) -> KnowledgeEngineClient:
    """A client of ``server`` whose waits stay above the stand-in's."""
    return KnowledgeEngineClient(server.base_url, timeout=Timeouts(read=WAIT, exchange=WAIT + 5, long_poll=WAIT))


def authorization(end_user: str) -> dict[str, Any]:
    """An authorization request for ``end_user`` (JSON)."""
    return {"end_user": end_user, "service_provider": "SP001", **WINDOW}


def token_of(end_user: str) -> str:
    """The token :func:`granting` answers for ``end_user``."""
    return f"token-of-{end_user}"


def granting(seen: list[str] | None = None, lock: threading.Lock | None = None,
             before: Callable[[AuthorizationRequest], None] | None = None
             ) -> Callable[[AuthorizationRequest, ExchangeContext], AuthorizationResponse]:
    """A DSO handler that grants every request with a token naming its end user; records each end user
    in ``seen`` and calls ``before`` (which may block or raise) first."""
    lock = lock or threading.Lock()

    def grant(message: AuthorizationRequest, context: ExchangeContext) -> AuthorizationResponse:
        if before is not None:
            before(message)
        if seen is not None:
            with lock:
                seen.append(message.end_user)
        return AuthorizationResponse(end_user=message.end_user, service_provider=message.service_provider,
                                     granted=True, authorization_token=token_of(message.end_user),
                                     start=message.start, end=message.end)

    return grant


def dso_adapter(server: EmulatorServer, handler: Callable[..., Any], **options: Any) -> Adapter:
    """The DSO role serving ``authorization-request`` with ``handler``, registered."""
    options = {"kb_id": DSO, "probe": PROBE, **options}
    adapter = Adapter(client(server), "dso", handlers={"authorization-request": handler}, backoff=FAST, **options)
    adapter.register()
    return adapter


def provider(server: EmulatorServer, name: str, **options: Any) -> Adapter:
    """A service provider that addresses the test DSO, registered."""
    adapter = Adapter(client(server), "service-provider", kb_id=f"https://test.example.org/kb/{name}",
                      peers={"dso": [DSO]}, backoff=FAST, **options)
    adapter.register()
    return adapter
