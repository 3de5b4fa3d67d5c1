"""The gate every request passes (an ASGI middleware): its request id, its caller, and what came of it.

Before any routing, the gate gives the request an id (the client's ``X-Request-Id`` when it is a short
token, else a new one; echoed in the response), and for every path that is not public (the API
documentation) authenticates the bearer token: a request without a valid key is answered 401 and logged
as refused, whatever its path, method or media type, so nothing behind the gate, present or mounted
later, is reached unauthenticated. When the response is done, every :data:`Observer` gets a
:class:`RequestRecord` (operation, status, duration, party, refusal): the hook for access logs and
metrics::

    app.add_middleware(Gate, authenticate=authenticate, journal=journal, observers=[metrics.observe])

``authenticate(token)`` returns the :class:`~dso_saref.backend.credentials.Caller` or raises
:class:`~dso_saref.backend.credentials.Unauthenticated`; it runs in a worker thread (it may read the
database), unless its ``cached(token)`` (when it has one) knows the caller already. ``journal.refused``
writes a refusal to the registry of operations.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from anyio import to_thread

from dso_saref.backend.credentials import Caller, Unauthenticated
from dso_saref.rest.problems import RestError, problem_response

__all__ = ["PUBLIC_PATHS", "Gate", "Journal", "Observer", "RequestRecord", "bearer_token"]

log = logging.getLogger(__name__)

#: Paths anyone may read: the API's documentation (exact paths, or prefixes ending with ``/``).
PUBLIC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static/docs/")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class RequestRecord:
    """What one request was and what came of it: its id, method and path, the catalog exchange of its
    operation (``None`` when no operation matched), the status, the seconds it took, the party (name)
    that made it and, for a refusal, why."""

    request_id: str
    method: str
    path: str
    operation: str | None
    status: int
    seconds: float
    party: str | None
    refusal: str | None


Observer = Callable[[RequestRecord], None]
"""Told of every request when its response is done (must be quick and must not raise)."""


class Journal(Protocol):
    """Where refusals are written (the registry of operations)."""

    def refused(self, *, request_id: str, actor: str, operation: str, reason: str) -> None:
        """Record that a request was refused."""


def bearer_token(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (``None`` when there is none)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _header(scope: dict[str, Any], wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return None


def is_public(path: str, public: Sequence[str]) -> bool:
    """Whether ``path`` is readable without a key (never a path with dot segments)."""
    if "/." in path or "//" in path:
        return False
    return any(path.startswith(p) if p.endswith("/") else path == p for p in public)


class Gate:
    """The ASGI middleware of the module doc. ``operation_of(method, path)`` names the catalog exchange
    of a request (for the registry and the records) or returns ``None``."""

    def __init__(self, app: Any, *, authenticate: Callable[[str | None], Caller], journal: Journal,
                 operation_of: Callable[[str, str], str | None], observers: Sequence[Observer] = (),
                 public: Sequence[str] = PUBLIC_PATHS) -> None:
        self.app = app
        self._authenticate = authenticate
        self._journal = journal
        self._operation_of = operation_of
        self._observers = tuple(observers)
        self._public = tuple(public)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = [500]
        told = [False]
        header = (b"x-request-id", request_id.encode("ascii"))

        def tell() -> None:
            if not told[0]:
                told[0] = True
                self._tell(scope, request_id, status[0], time.perf_counter() - started)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                tell()  # before the last byte leaves: whoever has the reply finds its log line written
            await send(message)

        try:
            if not is_public(scope["path"], self._public):
                cached = getattr(self._authenticate, "cached", None)
                caller = cached(bearer_token(scope.get("headers", ()))) if cached is not None else None
                try:
                    state["caller"] = caller or await to_thread.run_sync(self._check, scope, request_id)
                except RestError as error:
                    state["refusal"] = error.detail
                    await problem_response(error, request_id)(scope, receive, send_with_id)
                    return
            await self.app(scope, receive, send_with_id)
        finally:
            tell()

    def _check(self, scope: dict[str, Any], request_id: str) -> Caller:
        try:
            return self._authenticate(bearer_token(scope.get("headers", ())))
        except Unauthenticated as exc:
            operation = self._operation_of(scope["method"], scope["path"]) or "rest"
            actor = f"API key {exc.key_id}" if exc.key_id else "anonymous"
            self._journal.refused(request_id=request_id, actor=actor, operation=operation, reason=f"401 {exc.reason}")
            missing = exc.reason == "no API key"
            challenge = 'Bearer realm="dso-saref"' + ("" if missing else ', error="invalid_token"')
            detail = ("an API key is required: send it as Authorization: Bearer <key>" if missing
                      else "the API key is not valid (unknown, malformed, expired or revoked)")
            raise RestError(401, detail, headers={"WWW-Authenticate": challenge}) from None

    def _tell(self, scope: dict[str, Any], request_id: str, status: int, seconds: float) -> None:
        if not self._observers:
            return
        state = scope.get("state", {})
        caller = state.get("caller")
        record = RequestRecord(request_id, scope["method"], scope["path"],
                               state.get("operation") or self._operation_of(scope["method"], scope["path"]),
                               status, seconds, caller.party.name if caller is not None else None,
                               state.get("refusal"))
        for observer in self._observers:
            try:
                observer(record)
            except Exception:  # an observer's failure must not fail the request it observes
                log.exception("request observer %r failed", observer)
