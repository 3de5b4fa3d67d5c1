"""The Knowledge Engine stand-in as an ASGI application: HTTP requests in, emulator calls out.

:class:`StandinApp` reads each request's body within :class:`ServerLimits` (413 above
``max_body`` without reading the rest, 408 when it stops arriving, 503 when the server stops),
decodes it (400 for bytes that are not UTF-8, JSON that is not JSON or nests too deeply), and hands it
to :meth:`~dso_saref.ke.emulator.KnowledgeEngineEmulator.handle` in a worker thread: long polls and
exchanges in a large pool (they wait), everything else in a small one, so the event loop never
waits and a crowd of long polls cannot starve replies. A long poll that finds work queued is answered
on the event loop at once (:meth:`~dso_saref.ke.emulator.KnowledgeEngineEmulator.handle_ready`): under
a burst of exchanges a hop to a thread and back put it behind every one of them (issue 15 item 8,
docs/performance.md). Every answer, errors included, is JSON in the
KE's error format (``{"messageType": "error", "message": ...}``)::

    app = StandinApp(KnowledgeEngineEmulator(), base_path="/rest", limits=ServerLimits(max_body=2**20))
    uvicorn.run(app)  # dso_saref.ke.emulator_http serves it with the stand-in's protocol and limits
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.datastructures import Headers
from starlette.responses import Response

from dso_saref.ke.emulator import WAITING_ROUTES, KnowledgeEngineEmulator
from dso_saref.ke.transport import KERequest, KEResponse, from_generic_adapter

__all__ = ["GA_PREFIX", "ServerLimits", "StandinApp", "ke_error_body"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Where the InterConnect generic adapter's paths start (served at the root, beside the KE base path).
GA_PREFIX = "/smartconnector"
_QUICK_WORKERS = 16
_POLL = ("GET", "/sc/handle")
_JSON = "application/json; charset=UTF-8"
_log = logging.getLogger("dso_saref.ke.emulator")


@dataclass(frozen=True)
class ServerLimits:
    """What the stand-in's HTTP server accepts and how long it waits (sizes in bytes, times in seconds).

    ``max_body``: larger request bodies get 413 (read no further); ``read_timeout``: the request
    line and headers, and then the body, must each arrive within this long (else 408 and the
    connection is dropped); ``keep_alive``: an idle connection is closed after this long;
    ``shutdown_timeout``: how long a stop waits for running requests (long polls are answered 410
    at once); ``backlog``: the listen queue; ``workers``: threads for long polls and exchanges (each
    open one holds a thread while it waits); ``max_header``: the request line and headers together;
    ``linger``: how long the unread rest of a refused request is drained before the connection closes
    (so that the client reads the refusal instead of a reset).
    """

    max_body: int = 32 * 2**20
    read_timeout: float = 30.0
    keep_alive: float = 15.0
    shutdown_timeout: float = 3.0
    backlog: int = 1024
    workers: int = 1000
    max_header: int = 64 * 2**10
    linger: float = 2.0

    def __post_init__(self) -> None:
        for name in ("max_body", "read_timeout", "keep_alive", "shutdown_timeout", "backlog", "workers",
                     "max_header", "linger"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name in ("max_body", "backlog", "workers", "max_header"):
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"{name} must be an integer, got {getattr(self, name)!r}")


def ke_error_body(message: str, kind: str = "error") -> bytes:
    """``message`` in the KE's error format, as UTF-8 JSON bytes."""
    return json.dumps({"messageType": kind, "message": message}, ensure_ascii=False).encode("utf-8")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


class StandinApp:
    """The KE REST API under ``base_path`` and the generic adapter's paths at the root, as ASGI."""

    def __init__(
        self, emulator: KnowledgeEngineEmulator, *, base_path: str = "/rest", limits: ServerLimits | None = None
    ) -> None:
        if not base_path.startswith("/") or base_path.endswith("/"):
            raise ValueError(f"base_path must start and not end with '/', got {base_path!r}")
        self.emulator = emulator
        self.base_path = base_path
        self.limits = limits or ServerLimits()
        self._stopping = asyncio.Event()
        self._pools: tuple[CapacityLimiter, CapacityLimiter] | None = None

    def begin_shutdown(self) -> None:
        """Answer requests whose body is still arriving with 503 (call in the server's event loop)."""
        self._stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        method = str(scope["method"]).upper()
        path = self._ke_path(str(scope["path"]))
        if path is None:
            return _error(404, f"no such path: {scope['path']} (the KE REST API is under {self.base_path})")
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_body:
            return _too_large(self.limits.max_body)
        body = await self._read_body(receive)
        if isinstance(body, Response):
            return body
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        fields = dict(headers.items())
        waiting, quick = self._worker_pools()
        translated = from_generic_adapter(KERequest(method, path))
        route = (method, translated.path if translated else path)
        # a long poll that finds work is answered here, on the event loop: a hop to a thread and back
        # would make it queue behind every waiting exchange for the interpreter
        ready = self._answer(method, path, fields, content_type, body, wait=False) if route == _POLL else None
        if ready is not None:
            status, payload = ready
        else:
            status, payload = await anyio.to_thread.run_sync(
                self._answer, method, path, fields, content_type, body, limiter=waiting if route in WAITING_ROUTES
                else quick
            )
        extra = {"allow": ", ".join(self.emulator.allowed_methods(path))} if status == 405 else None
        return Response(payload, status_code=status, media_type=_JSON if payload else None, headers=extra)

    def _ke_path(self, path: str) -> str | None:
        base = self.base_path
        if path == base or path.startswith(base + "/"):
            return path[len(base):] or "/"
        if path == GA_PREFIX or path.startswith(GA_PREFIX + "/"):
            return path
        return None

    def _worker_pools(self) -> tuple[CapacityLimiter, CapacityLimiter]:
        if self._pools is None:  # created in the event loop, on the first request
            self._pools = (CapacityLimiter(self.limits.workers), CapacityLimiter(_QUICK_WORKERS))
        return self._pools

    async def _read_body(self, receive: Receive) -> bytes | Response:
        """The whole request body, or the refusal to send instead (413, 408, 503)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.read_timeout
        chunks: list[bytes] = []
        size = 0
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            while True:
                receiving = asyncio.ensure_future(receive())
                done, _ = await asyncio.wait({receiving, stop}, timeout=max(0.0, deadline - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    if stop in done:
                        return _error(503, "the knowledge engine stand-in is stopping", close=True)
                    return _error(408, f"the request body did not arrive within {self.limits.read_timeout:g} s",
                                  close=True)
                message = receiving.result()
                if message["type"] == "http.disconnect":
                    return _error(400, "the client went away before the body was complete", close=True)
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limits.max_body:
                    return _too_large(self.limits.max_body)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        finally:
            stop.cancel()

    def _answer(
        self, method: str, path: str, headers: dict[str, str], content_type: str, raw: bytes, wait: bool = True
    ) -> tuple[int, bytes] | None:
        """Decode, ask the emulator, encode (in a worker thread): the status and the JSON body;
        without ``wait``, ``None`` when the emulator would have to wait (see
        :meth:`~dso_saref.ke.emulator.KnowledgeEngineEmulator.handle_ready`)."""
        body: object = None
        text: str | None = None
        if raw:
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return 400, ke_error_body(f"the body is not valid UTF-8 (byte {exc.start}): send UTF-8 JSON")
            if content_type == "text/plain":
                text = decoded
            else:
                try:
                    body = json.loads(decoded, parse_constant=_refuse_constant)
                except RecursionError:
                    depth = self.emulator.config.max_json_depth
                    return 400, ke_error_body(f"the body is nested deeper than {depth} arrays and objects")
                except ValueError as exc:
                    return 400, ke_error_body(f"the body is not valid JSON: {exc}")
        try:
            request = KERequest(method, path, headers, body, text)
            response = self.emulator.handle(request) if wait else self.emulator.handle_ready(request)
            return None if response is None else (response.status, _encode(response))
        except Exception:  # a defect of the stand-in, not of the request: logged in full, answered 500
            _log.exception("the knowledge engine stand-in failed on %s %s", method, path)
            return 500, ke_error_body(f"the knowledge engine stand-in failed on {method} {path}; see its log")


def _encode(response: KEResponse) -> bytes:
    if response.json is not None:
        return json.dumps(response.json, ensure_ascii=False).encode("utf-8")
    if response.text:
        return ke_error_body(response.text, "info")
    return b""


def _error(status: int, message: str, *, close: bool = False) -> Response:
    return Response(ke_error_body(message), status_code=status, media_type=_JSON,
                    headers={"connection": "close"} if close else None)


def _too_large(limit: int) -> Response:
    return _error(413, f"the request body is larger than {limit} bytes", close=True)
