"""The REST applications: the DSO's API over the reference backend, and a partner's API (the endpoints an
external platform hosts for the DSO to call) over a counterpart's handlers.

:func:`create_app` serves every operation of :data:`~dso_saref.rest.operations.DSO_OPERATIONS` with the
backend's handlers (the same ones the Knowledge Engine adapter calls, on the same database) and its
receivers of pushed answers; API keys are the backend's :class:`~dso_saref.backend.credentials.Credentials`
and every refusal goes to its registry of operations. The result is a plain FastAPI application: mount
more routers or static files on it, and pass ``observers`` for request logs and metrics::

    app = create_app(backend, observers=[access_log])
    app.mount("/portal", StaticFiles(directory="site"))          # public paths: RestConfig.public
    uvicorn.run(app, host="127.0.0.1", port=8080)

:func:`create_partner_app` serves :data:`~dso_saref.rest.operations.PARTNER_OPERATIONS` (needs, plans,
fault-location settings, HEMS status and voltage, ...) with a counterpart's handlers
(:class:`~dso_saref.app.counterparts.ServiceProviderRole`), for the DSO holding ``token``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from dso_saref.backend.credentials import Caller, Credentials, Party, Unauthenticated
from dso_saref.backend.idempotency import IdempotencyKeys
from dso_saref.backend.registry import OperationsRegistry, Outcome
from dso_saref.exchange import Handler
from dso_saref.rest.gate import PUBLIC_PATHS, Gate, Journal, Observer
from dso_saref.rest.openapi import API_VERSION, add_docs, openapi_document
from dso_saref.rest.operations import DSO_OPERATIONS, PARTNER_OPERATIONS, Operation
from dso_saref.rest.problems import RestError, problem_response
from dso_saref.rest.receivers import dso_receivers
from dso_saref.rest.routes import MAX_BODY, Serving
from dso_saref.terms import Settings
from dso_saref.validation import Validator

if TYPE_CHECKING:
    from dso_saref.backend import DsoBackend

__all__ = ["PARTNER_TITLE", "KeyCache", "RegistryJournal", "RestConfig", "StaticKey", "api_document", "create_app",
           "create_partner_app"]

log = logging.getLogger(__name__)

_DESCRIPTION = """The DSO Interface of H2020 InterConnect (deliverable D4.2) as REST resources: every exchange in
which the DSO answers or receives. Send the API key the operator issued you as `Authorization: Bearer <key>`.
Answers are JSON, or SAREF RDF with `Accept: text/turtle`, `application/n-triples` or `application/ld+json`;
bodies may be JSON or RDF (`Content-Type`). Statuses: 200, 201 created, 202 pending, 400 invalid (with the
validation report, each error at its JSON path), 401, 403 not yours, 404, 405, 406, 415, 500."""


#: The title of a partner's API.
PARTNER_TITLE = "dso-saref service provider (the endpoints the DSO calls)"


@dataclass(frozen=True)
class RestConfig:
    """How an API is served: its ``title``, the ``settings`` that mint and read RDF terms, the largest
    body read (bytes), the validation ``engine`` of requests, the paths anyone may read (exact, or
    prefixes ending with ``/``) and whether to serve ``/docs`` and ``/redoc``."""

    title: str = "dso-saref DSO interface"
    settings: Settings = field(default_factory=Settings)
    max_body: int = MAX_BODY
    engine: str = "auto"
    public: tuple[str, ...] = PUBLIC_PATHS
    docs: bool = True


class RegistryJournal:
    """Refusals written to the registry of operations (with the request id)."""

    def __init__(self, registry: OperationsRegistry, clock: Callable[[], datetime]) -> None:
        self._registry = registry
        self._clock = clock

    def refused(self, *, request_id: str, actor: str, operation: str, reason: str) -> None:
        """Append a refused operation."""
        self._registry.log(at=self._clock(), actor=actor, operation=operation, outcome=Outcome.REFUSED,
                           reason=reason, request_id=request_id)


class _LogJournal:
    def refused(self, *, request_id: str, actor: str, operation: str, reason: str) -> None:
        log.info("refused %s from %s (request %s): %s", operation, actor, request_id, reason)


class KeyCache:
    """Authenticates bearer tokens against :class:`Credentials`, remembering each success for ``ttl``
    seconds (never past the key's expiry), so that most requests are authenticated without reading the
    database; :meth:`cached` answers from memory only (the gate calls it on the event loop). A revoked
    key is refused at most ``ttl`` seconds after its revocation (at once after :meth:`forget`)."""

    def __init__(self, credentials: Credentials, clock: Callable[[], datetime], *, ttl: float = 1.0) -> None:
        self._credentials = credentials
        self._clock = clock
        self._ttl = ttl
        self._known: dict[str, tuple[float, Caller]] = {}

    def cached(self, token: str | None) -> Caller | None:
        """The caller of a token authenticated less than ``ttl`` seconds ago, or ``None``."""
        found = self._known.get(token or "")
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def __call__(self, token: str | None) -> Caller:
        now = self._clock()
        caller = self._credentials.authenticate(token, now=now)
        expires = next((k.expires_at for k in self._credentials.keys(caller.party.name) if k.id == caller.key_id), None)
        ttl = self._ttl if expires is None else min(self._ttl, (expires - now).total_seconds())
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[token or ""] = (time.monotonic() + ttl, caller)
        return caller

    def forget(self, key_ids: set[str] | None = None) -> None:
        """Forget the cached keys ``key_ids`` (all when ``None``)."""
        if key_ids is None:
            self._known.clear()
        else:
            self._known = {t: v for t, v in self._known.items() if v[1].key_id not in key_ids}


class StaticKey:
    """Authenticates one caller by one bearer token (a partner's API, called by the DSO)."""

    def __init__(self, token: str, caller: Caller) -> None:
        if len(token) < 16:
            raise ValueError("a partner API's key must be at least 16 characters")
        self._token = token.encode("utf-8")
        self._caller = caller

    def __call__(self, token: str | None) -> Caller:
        if not token:
            raise Unauthenticated("no API key")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self._token):
            raise Unauthenticated("unknown API key")
        return self._caller


def api_document(api: str = "dso", *, title: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of the DSO's API (``dso``) or of a partner's (``partner``), as served at
    ``/openapi.json``; raises ValueError for another ``api``."""
    if api not in ("dso", "partner"):
        raise ValueError(f"api must be dso or partner, not {api!r}")
    operations = DSO_OPERATIONS if api == "dso" else PARTNER_OPERATIONS
    default = RestConfig().title if api == "dso" else PARTNER_TITLE
    return openapi_document(operations, title=title or default, description=_DESCRIPTION)


def _operation_of(operations: Sequence[Operation]) -> Callable[[str, str], str | None]:
    compiled = [(compile_path(op.path)[0], op.exchange) for op in operations]

    def operation_of(method: str, path: str) -> str | None:
        return next((name for regex, name in compiled if regex.match(path)), None)

    return operation_of


def _build(operations: Sequence[Operation], serving: Serving, *, config: RestConfig, journal: Journal,
           authenticate: Callable[[str | None], Caller], observers: Sequence[Observer]) -> FastAPI:
    app = FastAPI(title=config.title, version=API_VERSION, docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    for op in operations:  # plain routes: the endpoint reads its request itself, no dependencies to solve
        app.router.add_route(op.path, serving.endpoint(op), methods=[op.method], name=op.operation_id,
                             include_in_schema=False)
    operation_of = _operation_of(operations)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(operations, title=config.title, description=_DESCRIPTION,
                                                  catalog=serving.catalog, app=app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if config.docs:
        add_docs(app, title=config.title)

    def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = {404: "no such resource", 405: f"{request.method} is not a method of this path"}.get(status, "error")
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        state = request.scope.setdefault("state", {})
        request_id = state.get("request_id", "")
        caller = state.get("caller")
        state["refusal"] = detail
        if caller is not None:
            journal.refused(request_id=request_id, actor=caller.party.provider_id or caller.party.name,
                            operation=operation_of(request.method, request.url.path) or "rest",
                            reason=f"{status} {detail}")
        return problem_response(RestError(status, detail, headers=headers), request_id)

    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(Gate, authenticate=authenticate, journal=journal, operation_of=operation_of,
                       observers=observers, public=config.public)
    return app


def create_app(backend: DsoBackend, *, config: RestConfig | None = None, observers: Sequence[Observer] = (),
               handlers: Mapping[str, Handler] | None = None) -> FastAPI:
    """The DSO's REST API over ``backend`` (see the module doc); ``handlers`` replace some of the
    backend's handlers and receivers (tests). ``app.state.backend`` and ``app.state.credentials`` are set."""
    config = config or RestConfig()
    credentials = Credentials(backend.storage)
    journal = RegistryJournal(backend.registry, backend.now)
    served = {**backend.handlers(), **dso_receivers(backend), **(handlers or {})}
    serving = Serving(served, journal=journal, clock=backend.now, keys=IdempotencyKeys(backend.storage),
                      settings=config.settings, validator=Validator(engine=config.engine), max_body=config.max_body)
    keys = KeyCache(credentials, backend.now)
    app = _build(DSO_OPERATIONS, serving, config=config, journal=journal, observers=observers, authenticate=keys)
    app.state.backend = backend
    app.state.credentials = credentials
    app.state.keys = keys
    return app


def create_partner_app(handlers: Mapping[str, Handler], *, token: str, dso_knowledge_base: str,
                       config: RestConfig | None = None, observers: Sequence[Observer] = (),
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    """A partner's REST API (the operations the DSO calls) over a counterpart's ``handlers``; the DSO
    (knowledge base ``dso_knowledge_base``, the requester the handlers see) authenticates with ``token``."""
    config = config or RestConfig(title=PARTNER_TITLE)
    dso = Caller(Party("DSO", "dso", None, dso_knowledge_base, clock()), "partner")
    journal = _LogJournal()
    operations = tuple(op for op in PARTNER_OPERATIONS if op.exchange in handlers)
    serving = Serving(handlers, journal=journal, clock=clock, settings=config.settings,
                      validator=Validator(engine=config.engine), max_body=config.max_body)
    return _build(operations, serving, config=config, journal=journal, observers=observers,
                  authenticate=StaticKey(token, dso))
