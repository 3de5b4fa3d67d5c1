"""HTTP/1.1 for the Knowledge Engine stand-in: uvicorn's h11 protocol with the stand-in's limits.

What :class:`StandinProtocol` adds to uvicorn's ``H11Protocol``:

* a read deadline: a connection that opens, or starts a request, and does not deliver the request
  line and headers within ``read_timeout`` is answered 408 and closed (uvicorn alone waits forever);
* protocol errors (``Content-Length: abc``, HTTP/0.9, oversized headers) answered 400 in the KE's
  error format instead of plain text;
* a bounded lingering close: when a connection is closed while the client is still sending (a body
  refused with 413, a protocol error), the server stops writing, drops what still arrives for at most
  ``linger`` seconds, then closes, so the client reads the refusal rather than a connection reset.

uvicorn builds one protocol per connection from ``functools.partial(StandinProtocol, limits=...)``.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from dso_saref.ke.emulator_asgi import ServerLimits, ke_error_body

__all__ = ["StandinProtocol"]


class _Transport:
    """The connection's transport as uvicorn sees it: closing it may linger (see the module)."""

    def __init__(self, real: asyncio.Transport, protocol: StandinProtocol) -> None:
        self._real = real
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def close(self) -> None:
        self._protocol.close_connection()

    def is_closing(self) -> bool:
        return self._real.is_closing() or self._protocol.lingering


class StandinProtocol(H11Protocol):
    """uvicorn's h11 protocol with a read deadline, KE-format protocol errors and a lingering close."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ServerLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        self._real: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._stopping = False

    @property
    def lingering(self) -> bool:
        """Whether the connection is draining what the client still sends before it closes."""
        return self._linger is not None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A client connected: its request line and headers are due within ``read_timeout``."""
        self._real = transport
        super().connection_made(_Transport(transport, self))  # type: ignore[arg-type]
        self._start_deadline()

    def data_received(self, data: bytes) -> None:
        """Bytes arrived: dropped while lingering; the first of a new request starts its deadline."""
        if self.lingering:
            return  # the unread rest of a request already answered: dropped
        if self._deadline is None and not self._in_request():
            self._start_deadline()
        super().data_received(data)

    def handle_events(self) -> None:
        """Parse what arrived; once a request's headers are complete its read deadline ends."""
        super().handle_events()
        if self._in_request():
            self._stop_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: no timer outlives it."""
        self._stop_deadline()
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    # -- uvicorn hooks -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server stops: close at once from now on (no lingering), as uvicorn does."""
        self._stopping = True
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        """Answer a request that is not valid HTTP/1.1 (uvicorn's ``msg``) in the KE's error format."""
        self._send_raw(400, f"the request is not valid HTTP/1.1: {msg}")
        self.close_connection()

    def close_connection(self) -> None:
        """Close now, or, while the client is still sending a request, linger first (bounded)."""
        real = self._real
        if real is None or real.is_closing():
            return
        if self._stopping or self.conn.their_state not in (h11.SEND_BODY, h11.ERROR):
            real.close()
            return
        if self.lingering:
            return
        self._linger = self.loop.call_later(self._limits.linger, real.close)
        real.resume_reading()
        if real.can_write_eof():
            real.write_eof()

    # -- the read deadline -------------------------------------------------------------------

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _start_deadline(self) -> None:
        self._stop_deadline()
        self._deadline = self.loop.call_later(self._limits.read_timeout, self._read_timed_out)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        real = self._real
        if real is None or real.is_closing() or self._in_request():
            return
        self._send_raw(408, f"the request line and headers did not arrive within {self._limits.read_timeout:g} s")
        real.close()

    def _send_raw(self, status: int, message: str) -> None:
        """Write a whole KE-format error response, bypassing h11 (the connection closes after it)."""
        if self._real is None or self._real.is_closing():
            return
        body = ke_error_body(message)
        head = (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
                "content-type: application/json; charset=UTF-8\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
        self._real.write(head.encode("ascii") + body)
