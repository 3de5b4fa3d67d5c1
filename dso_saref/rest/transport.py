"""The transport seam of the REST client: one :class:`HttpRequest` in, one :class:`HttpResponse` out.

The same idea as the Knowledge Engine client's seam (:mod:`dso_saref.ke.transport`), for bodies in any
media type (JSON or RDF) and response headers. :class:`HTTPTransport` carries requests over HTTP/1.1
with the standard library's ``http.client`` (one kept-alive connection per thread): no HTTP library is
added to the package's dependencies, and ``requests`` stays the KE client's alone. Tests and other
carriers implement :class:`Transport`::

    with HTTPTransport("http://127.0.0.1:8080") as transport:
        reply = transport.handle(HttpRequest("GET", "/v1/flexibility/needs?start=...&end=...",
                                             {"Authorization": "Bearer dso_..."}))
        reply.status, reply.headers["content-type"], reply.body
"""

from __future__ import annotations

import http.client
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from dso_saref.errors import DsoSarefError

__all__ = ["HTTPTransport", "HttpRequest", "HttpResponse", "RestUnavailable", "Transport"]


class RestUnavailable(DsoSarefError):
    """No reply: the server cannot be reached, closed the connection, or did not answer in time."""


@dataclass(frozen=True)
class HttpRequest:
    """One call: ``target`` is the path and query (``/v1/data/metering?id=U1``), ``body`` the bytes sent."""

    method: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    timeout: float | None = None


@dataclass(frozen=True)
class HttpResponse:
    """The reply: ``status``, ``headers`` (names in lower case) and the ``body`` bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body read as JSON (``None`` for an empty body); raises ValueError."""
        return json.loads(self.body) if self.body else None


class Transport(ABC):
    """Carries REST calls; use as a context manager or call :meth:`close` when done."""

    @abstractmethod
    def handle(self, request: HttpRequest) -> HttpResponse:
        """The reply to ``request``; raises :class:`RestUnavailable` when none arrives."""

    def close(self) -> None:  # noqa: B027 - a transport without resources has nothing to close
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


class HTTPTransport(Transport):
    """HTTP/1.1 to ``base_url`` (``http://host:port``, optionally with a path prefix), one kept-alive
    connection per thread. A request sent on a kept-alive connection that the server had closed is sent
    again on a new one when that is safe: a GET, or a request with an ``Idempotency-Key``."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._closed = False

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and not fresh:
            return connection
        self._drop()
        kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=self._timeout)
        with self._lock:
            if self._closed:
                raise RestUnavailable("the transport is closed")
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Send ``request`` and read the whole reply."""
        retry_safe = request.method in ("GET", "HEAD") or any(k.lower() == "idempotency-key" for k in request.headers)
        reused = getattr(self._local, "connection", None) is not None
        try:
            return self._send(self._connection(), request)
        except _STALE as exc:
            if not (reused and retry_safe):
                raise RestUnavailable(f"{request.method} {self.base_url}{request.target}: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise RestUnavailable(f"{request.method} {self.base_url}{request.target}: {exc}") from exc
        try:
            return self._send(self._connection(fresh=True), request)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise RestUnavailable(f"{request.method} {self.base_url}{request.target}: {exc}") from exc

    def _send(self, connection: http.client.HTTPConnection, request: HttpRequest) -> HttpResponse:
        if request.timeout is not None:
            connection.timeout = request.timeout
            if connection.sock is not None:
                connection.sock.settimeout(request.timeout)
        connection.request(request.method, self._prefix + request.target, body=request.body or None,
                           headers=dict(request.headers))
        reply = connection.getresponse()
        body = reply.read()
        headers = {name.lower(): value for name, value in reply.getheaders()}
        if reply.will_close:
            self._drop()
        return HttpResponse(reply.status, headers, body)

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
