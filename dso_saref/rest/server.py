"""An ASGI application served by uvicorn in a thread of this process, on loopback by default.

:class:`RestServer` binds its socket before it starts (port 0 picks a free port, known at once), runs
uvicorn in a daemon thread and returns once uvicorn is serving; :meth:`RestServer.close` stops it and
waits for open requests to finish::

    with RestServer(create_app(backend), "127.0.0.1:0") as server:
        print(server.base_url)            # http://127.0.0.1:40123
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any, Self

import uvicorn

from dso_saref.config import DEFAULT_REST_THREADS
from dso_saref.serving import ThreadServer

__all__ = ["RestServer", "parse_address"]


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT`` alone, on 127.0.0.1) as a host and port; raises ValueError."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"an address is HOST:PORT (port 0 to 65535), got {address!r}")
    return host, int(port)


class RestServer:
    """``app`` served on ``address`` (``HOST:PORT``; port 0: any free one) in a background thread.

    ``limit_concurrency`` bounds the connections served at once (uvicorn answers 503 beyond), ``threads``
    the requests being worked on at once (:data:`~dso_saref.config.DEFAULT_REST_THREADS`; the others wait
    their turn);
    ``timeout_keep_alive`` closes idle connections; ``reuse_port`` lets other processes listen on the
    same port (``SO_REUSEPORT``: the kernel spreads the connections among them). Raises OSError when
    the address cannot be bound, RuntimeError when uvicorn does not start within ``startup_timeout`` seconds."""

    def __init__(self, app: Any, address: str = "127.0.0.1:0", *, limit_concurrency: int | None = 1000,
                 timeout_keep_alive: int = 30, startup_timeout: float = 30.0, reuse_port: bool = False,
                 threads: int = DEFAULT_REST_THREADS) -> None:
        host, port = parse_address(address)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                limit_concurrency=limit_concurrency, timeout_keep_alive=timeout_keep_alive,
                                http="auto")
        self._server = ThreadServer(config, threads=threads)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP (with proto 0,
        # Nagle's algorithm and the client's delayed ACK add ~40 ms to every response)
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host, self.port = self._socket.getsockname()[:2]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"rest-{self.port}", daemon=True)
        self._thread.start()
        if not self._server.listening.wait(startup_timeout):
            self.close()
            raise RuntimeError(f"the REST server on {host}:{self.port} did not start")

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving (open requests finish first) and free the port."""
        self._server.stop()
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
