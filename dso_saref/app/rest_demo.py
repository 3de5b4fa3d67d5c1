"""The demo's parties over REST (``dso-saref demo --channel rest``): the DSO's API on the reference backend,
and each service provider's API (the endpoints the DSO calls) over its reference behaviour, all on
loopback; every party holds an API key the DSO's operator issued.

:class:`RestCarrier` carries an exchange the way the Knowledge Engine adapters do in
:class:`~dso_saref.app.demo.Network`, and returns the same :class:`~dso_saref.ke.adapter.Exchange`
(every answer as canonical JSON, every refusal's reason), so the scenarios run unchanged::

    carrier = RestCarrier(backend)
    for party in PARTIES:
        carrier.join(party, world.handlers(party))
    exchange = carrier.send("SP001", "flexibility-needs-request", payload)
    carrier.close()

:func:`reference_provider` builds the reference service provider of the demo's seed, for
``dso-saref serve --role service-provider --rest ...``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from dso_saref.app.counterparts import ServiceProviderRole
from dso_saref.app.scenarios import PARTIES, PartySpec, World
from dso_saref.app.seed import DSO_KB, seed_world
from dso_saref.backend import DsoBackend, Storage
from dso_saref.catalog import DEFAULT
from dso_saref.exchange import Handler
from dso_saref.ke.adapter import Exchange
from dso_saref.rest.app import create_app, create_partner_app
from dso_saref.rest.client import DsoClient, PartnerClient, RestRefused
from dso_saref.rest.operations import PARTNER_OPERATIONS, ROLE_ACTS_AS
from dso_saref.rest.server import RestServer
from dso_saref.rest.transport import RestUnavailable

__all__ = ["RestCarrier", "reference_provider", "serve_provider"]


def _canonical(answer: Any) -> Any:
    return [item.dump() for item in answer] if isinstance(answer, list) else answer.dump()


class RestCarrier:
    """The DSO's REST API over ``backend`` and one partner API per service provider that joins."""

    def __init__(self, backend: DsoBackend, *, timeout: float = 30.0) -> None:
        self.backend = backend
        self.timeout = timeout
        app = create_app(backend)
        self.credentials = app.state.credentials
        self.dso = RestServer(app)
        self._clients: dict[str, DsoClient] = {}
        self._partners: dict[str, tuple[str, RestServer, PartnerClient]] = {}
        self._kb = {p.name: p.kb_id for p in PARTIES}

    @property
    def where(self) -> str:
        """Where the DSO's API is."""
        return self.dso.base_url

    def join(self, party: PartySpec, handlers: Mapping[str, Handler]) -> None:
        """Issue ``party`` an API key of the DSO's API and, when it serves exchanges the DSO starts, serve
        its own API with ``handlers``."""
        if party.role == "dso":
            return
        provider = party.role in ("service-provider", "data-service-provider")
        issued = self.credentials.add_party(party.name, party.role, now=self.backend.now(),
                                            knowledge_base_id=None if provider else party.kb_id)
        self._clients[party.kb_id] = DsoClient(self.dso.base_url, api_key=issued.token, timeout=self.timeout)
        served = {op.exchange for op in PARTNER_OPERATIONS
                  if ROLE_ACTS_AS[party.role] in (DEFAULT[op.exchange].interaction.responders or ())}
        mine = {name: handler for name, handler in handlers.items() if name in served}
        if mine:
            token = secrets.token_urlsafe(32)
            server = RestServer(create_partner_app(mine, token=token, dso_knowledge_base=DSO_KB))
            self._partners[party.kb_id] = (party.role, server,
                                           PartnerClient(server.base_url, api_key=token, timeout=self.timeout))

    def send(self, sender: str, name: str, payload: Any, to: str | None = None) -> Exchange:
        """Party ``sender`` (its demo name) starts exchange ``name``: to the DSO's API, or from the DSO to
        partner ``to`` (a knowledge base id; ``None``: every partner whose role serves it)."""
        answers: dict[str, Any] = {}
        failed: dict[str, str] = {}
        if sender == "DSO":
            responders = DEFAULT[name].interaction.responders
            targets = [to] if to else [kb for kb, (role, _, _) in self._partners.items()
                                        if ROLE_ACTS_AS[role] in responders]
            calls = [(kb, self._partners[kb][2]) for kb in targets if kb in self._partners]
            failed.update({kb: "no REST API for this party" for kb in targets if kb not in self._partners})
        else:
            calls = [(DSO_KB, self._clients[self._kb[sender]])]
        message = DEFAULT[name].parse(payload) if DEFAULT[name].interaction.counterpart != name else payload
        for kb, client in calls:
            try:
                answers[kb] = _canonical(client.call(name, message))
            except RestRefused as exc:
                failed[kb] = f"{exc.status}: {exc.detail}"
            except RestUnavailable as exc:
                failed[kb] = str(exc)
        return Exchange(name, answers, failed)

    def close(self) -> None:
        """Stop every server and close every client."""
        for client in self._clients.values():
            client.close()
        for _, server, client in self._partners.values():
            client.close()
            server.close()
        self.dso.close()


def reference_provider(name: str = "SP001", *, seed_value: int = 7) -> ServiceProviderRole:
    """The demo's reference service provider ``name`` (SP001 manages the seed's HEMS, SP002 two meters,
    DSP001 answers disaggregated-data requests: see :meth:`World.create`), from the reproducible seed.
    Raises ValueError for another name."""
    with Storage(":memory:") as storage:
        backend = DsoBackend(storage)
        world = World.create(backend, seed_world(backend, seed_value=seed_value), _no_send, _no_note,
                             seed_value=seed_value)
    if name not in world.providers:
        raise ValueError(f"no reference service provider {name!r} (one of {', '.join(world.providers)})")
    return world.providers[name]


def _no_send(*args: Any, **kwargs: Any) -> Exchange:
    raise RuntimeError("a served reference provider does not start exchanges")


def _no_note(text: str) -> None:
    return None


def serve_provider(name: str, address: str, token: str, stop: threading.Event, *,
                   ready: Callable[[str], None] | None = None, seed_value: int = 7) -> None:
    """Serve the reference service provider ``name``'s API (the endpoints the DSO calls) on ``address``
    until ``stop`` is set; the DSO authenticates with ``token``. Raises ValueError for an unknown
    provider, OSError when the address cannot be bound."""
    provider = reference_provider(name, seed_value=seed_value)
    role = next(p.role for p in PARTIES if p.name == name)
    handlers = {k: h for k, h in provider.handlers().items()
                if ROLE_ACTS_AS[role] in (DEFAULT[k].interaction.responders or ())}
    app = create_partner_app(handlers, token=token, dso_knowledge_base=DSO_KB)
    with RestServer(app, address) as server:
        if ready is not None:
            ready(f"serving {name}'s API (the endpoints the DSO calls) at {server.base_url}/v1 "
                  f"(docs at {server.base_url}/docs)")
        stop.wait()
