"""The Knowledge Engine stand-in over HTTP, served by uvicorn with limits.

The KE REST API is served under ``/rest`` (``http://127.0.0.1:8280/rest/sc``, as the KE), the
InterConnect generic adapter's paths at the root (``http://127.0.0.1:8280/smartconnector/ask``).
Port 0 picks a free port. In a background thread (tests, demos)::

    with EmulatorServer(port=0) as server:
        client = KnowledgeEngineClient(server.base_url)
        print(client.version())

or in the foreground until SIGINT or SIGTERM (as ``python -m dso_saref.ke.standin --port 8280`` does)::

    serve_emulator("127.0.0.1", 8280, config=EmulatorConfig(exchange_timeout=10), limits=ServerLimits())

Limits (:class:`~dso_saref.ke.emulator_asgi.ServerLimits`): listen backlog, read and keep-alive
timeouts, body size (413), JSON depth (400, from the emulator's config), and a bounded graceful
stop: long polls are answered 410 at once, requests still arriving 503, and whatever remains after
``shutdown_timeout`` is cancelled. Every error, including 404, 405, 408, 413 and 500, is in the KE's
format.
"""

from __future__ import annotations

import functools
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Self

import uvicorn

from dso_saref.ke.emulator import EmulatorConfig, KnowledgeEngineEmulator
from dso_saref.ke.emulator_asgi import ServerLimits, StandinApp
from dso_saref.ke.emulator_protocol import StandinProtocol
from dso_saref.serving import ThreadServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "EmulatorServer", "ServerLimits", "serve_emulator"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8280
_START_TIMEOUT = 10.0


class _Uvicorn(ThreadServer):
    """uvicorn's server that, when asked to stop, first stops the emulator (long polls get 410) and
    answers requests still arriving 503."""

    def __init__(self, config: uvicorn.Config, app: StandinApp) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.app.emulator.close()
        self.app.begin_shutdown()
        await super().shutdown(sockets)


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket; made with an explicit ``IPPROTO_TCP`` so that asyncio turns Nagle's
    algorithm off on its connections (with protocol 0 it does not, and every keep-alive reply
    waits 40 ms for a delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


def _uvicorn(app: StandinApp, limits: ServerLimits) -> _Uvicorn:
    config = uvicorn.Config(
        app,
        http=functools.partial(StandinProtocol, limits=limits),  # type: ignore[arg-type]
        ws="none",
        lifespan="off",
        loop="asyncio",
        interface="asgi3",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        backlog=limits.backlog,
        timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]
        timeout_graceful_shutdown=limits.shutdown_timeout,  # type: ignore[arg-type]
        h11_max_incomplete_event_size=limits.max_header,
    )
    return _Uvicorn(config, app)


class EmulatorServer:
    """Serves a :class:`~dso_saref.ke.emulator.KnowledgeEngineEmulator` over HTTP in a background
    thread. :meth:`start` (or ``with``) to serve, :meth:`close` to stop the emulator (long polls
    get 410) and the server. Binds ``127.0.0.1`` unless told otherwise; the port is bound at
    construction (``OSError`` if it is taken)."""

    def __init__(
        self,
        emulator: KnowledgeEngineEmulator | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        base_path: str = "/rest",
        limits: ServerLimits | None = None,
    ) -> None:
        self.emulator = emulator or KnowledgeEngineEmulator()
        self.limits = limits or ServerLimits()
        self._app = StandinApp(self.emulator, base_path=base_path, limits=self.limits)
        self._socket = _listen(host, port, self.limits.backlog)
        self.host = host
        self.port = int(self._socket.getsockname()[1])
        self.base_path = base_path
        self._server = _uvicorn(self._app, self.limits)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        """``http://host:port`` (where the generic adapter's ``/smartconnector`` paths are)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The KE REST base, ``http://host:port/rest``."""
        return self.root_url + self.base_path

    def start(self) -> Self:
        """Serve in a background thread once the server listens; returns ``self``. Raises
        ``RuntimeError`` if the server does not come up."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                                name=f"ke-standin-{self.port}", daemon=True)
                self._thread.start()
        if not self._server.listening.wait(_START_TIMEOUT):
            raise RuntimeError(f"the knowledge engine stand-in on port {self.port} did not start")
        return self

    def close(self) -> None:
        """Stop the emulator and the server, within about ``limits.shutdown_timeout`` seconds. Idempotent."""
        self.emulator.close()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._server.stop()
            thread.join(self.limits.shutdown_timeout + self.limits.linger + 2.0)
            if thread.is_alive():
                self._server.force_exit = True
                thread.join(2.0)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def serve_emulator(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    config: EmulatorConfig | None = None,
    limits: ServerLimits | None = None,
    base_path: str = "/rest",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a new stand-in in the foreground until SIGINT or SIGTERM, then stop within about
    ``limits.shutdown_timeout`` seconds and return. ``on_ready`` gets the KE REST base URL once the
    port listens. Raises ``OSError`` if the address cannot be bound. Call from the main thread."""
    limits = limits or ServerLimits()
    app = StandinApp(KnowledgeEngineEmulator(config), base_path=base_path, limits=limits)
    listener = _listen(host, port, limits.backlog)
    server = _uvicorn(app, limits)
    shown = f"[{host}]" if ":" in host else host
    base_url = f"http://{shown}:{listener.getsockname()[1]}{base_path}"

    def ignore(signum: int, frame: FrameType | None) -> None:
        """uvicorn raises the signal it stopped for again once it is done: that is no news here."""

    previous = {sig: signal.signal(sig, ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if on_ready is not None:
            watcher = threading.Thread(target=lambda: server.listening.wait() and on_ready(base_url), daemon=True)
            watcher.start()
        server.run(sockets=[listener])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
